-- ablation.sql: the quickstart's ablation tables, from the run log alone.
-- Per configuration: canonical held-out NELBO (bits per byte) over the seeds with its 95%
-- interval, the run's own corruption's NELBO, masked-token accuracy, and the unigram
-- code length of the same tokens (where a denoiser that learned nothing from context sits).
SELECT json_extract(c.factors_json, '$."mask.structure"') AS structure,
       json_extract(c.factors_json, '$."mask.types"') AS types,
       c.n AS seeds,
       round(c.mean, 4) AS nelbo_bpb,
       round(c.ci95, 4) AS ci95,
       round(s.mean, 4) AS nelbo_bpb_sched,
       round(a.mean, 4) AS masked_acc,
       round(u.mean, 4) AS unigram_bpb
  FROM v_cells c
  JOIN v_cells s ON s.sweep = c.sweep AND s.config_hash = c.config_hash
                AND s.split = 'valid' AND s.metric = 'nelbo_bpb_sched'
  JOIN v_cells a ON a.sweep = c.sweep AND a.config_hash = c.config_hash
                AND a.split = 'valid' AND a.metric = 'masked_acc'
  JOIN v_cells u ON u.sweep = c.sweep AND u.config_hash = c.config_hash
                AND u.split = 'valid' AND u.metric = 'unigram_bpb'
 WHERE c.sweep = 'quickstart' AND c.split = 'valid' AND c.metric = 'nelbo_bpb'
 ORDER BY c.mean;
-- Per factor level, pooled over the other factor and the seeds.
SELECT factor, level, n, round(mean, 4) AS nelbo_bpb, round(ci95, 4) AS ci95
  FROM v_ablation
 WHERE sweep = 'quickstart' AND split = 'valid' AND metric = 'nelbo_bpb'
 ORDER BY factor_position, mean;
