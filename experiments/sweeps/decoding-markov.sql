-- decoding-markov.sql: the table of decoding.sql for decoding-markov.ini (a transformer
-- trained on the chain): per sampler and steps, over the seeds, the exact bigram KL of the
-- samples (nats), their exact NLL under the chain (bits per symbol), model calls per sample,
-- and the held-out exact NLL beside the trained model's bound (nelbo_bpb).
SELECT json_extract(k.factors_json, '$."score.sample_strategy"') AS sampler,
       json_extract(k.factors_json, '$."score.sample_steps"') AS steps,
       coalesce(json_extract(k.factors_json, '$."sample.temperature"'), 0) AS temperature,
       k.n AS seeds,
       round(k.mean, 4) AS kl_bigram,
       round(k.ci95, 4) AS ci95,
       round(l.mean, 3) AS true_nll_bpb,
       round(e.mean, 3) AS exact_nll_bpb,
       round(b.mean, 3) AS nelbo_bpb,
       round(f.mean, 1) AS nfe_per_sample
  FROM v_cells k
  JOIN v_cells l ON l.sweep = k.sweep AND l.config_hash = k.config_hash
                AND l.split = 'samples' AND l.metric = 'sample_true_nll_bpb'
  JOIN v_cells e ON e.sweep = k.sweep AND e.config_hash = k.config_hash
                AND e.split = 'valid' AND e.metric = 'exact_nll_bpb'
  JOIN v_cells b ON b.sweep = k.sweep AND b.config_hash = k.config_hash
                AND b.split = 'valid' AND b.metric = 'nelbo_bpb'
  JOIN v_cells f ON f.sweep = k.sweep AND f.config_hash = k.config_hash
                AND f.split = 'samples' AND f.metric = 'sample_nfe'
 WHERE k.sweep = 'decoding-markov' AND k.split = 'samples' AND k.metric = 'sample_kl_bigram'
 ORDER BY sampler, temperature + 0, steps + 0;
