-- decoding-model.sql: the trained-model decoding study's table, from the run log alone: per
-- sampler and steps, over the seeds (3 models), the samples' bits per byte under the ar
-- reference (gen_bpb), their bigram Jensen-Shannon divergence from the held-out text (js2,
-- bits), their unigram entropy (bits), repetition rate and model calls.
SELECT json_extract(g.factors_json, '$."score.sample_strategy"') AS sampler,
       json_extract(g.factors_json, '$."score.sample_steps"') AS steps,
       g.n AS seeds,
       round(g.mean, 3) AS gen_bpb,
       round(g.ci95, 3) AS ci95,
       round(j.mean, 4) AS js2,
       round(j.ci95, 4) AS js2_ci95,
       round(e.mean, 2) AS entropy,
       round(r.mean, 3) AS repetition,
       f.mean AS nfe
  FROM v_cells g
  JOIN v_cells j ON j.sweep = g.sweep AND j.config_hash = g.config_hash
                AND j.split = 'samples' AND j.metric = 'sample_js2'
  JOIN v_cells e ON e.sweep = g.sweep AND e.config_hash = g.config_hash
                AND e.split = 'samples' AND e.metric = 'sample_entropy'
  JOIN v_cells r ON r.sweep = g.sweep AND r.config_hash = g.config_hash
                AND r.split = 'samples' AND r.metric = 'sample_repetition'
  JOIN v_cells f ON f.sweep = g.sweep AND f.config_hash = g.config_hash
                AND f.split = 'samples' AND f.metric = 'sample_nfe'
 WHERE g.sweep = 'decoding-model' AND g.split = 'samples' AND g.metric = 'sample_gen_bpb'
 ORDER BY sampler, steps + 0;
