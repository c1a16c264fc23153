#!/bin/sh
# The quickstart sweep as shipped (16 runs, minutes): every run finishes and the ablation
# tables have a row per configuration and per factor level, and the denoiser learns from
# context: every run masking single tokens ends well below the unigram code length (the
# plateau a denoiser that cannot use its neighbours sits on).
. "$(dirname "$0")/exp_lib.sh"
src=$(cd "$DATA/.." && pwd)
"$P" sweep run "$src/experiments/sweeps/quickstart.ini" --jobs 2 2>err.txt; rc=$?
expect "quickstart exit status" 0 "$rc"
contains "summary" "16 cells, 16 finished, 0 failed" "$(cat err.txt)"
"$P" sql --csv < "$src/experiments/sweeps/ablation.sql" > table.csv
expect "a row per configuration, two seeds each" 8 "$(grep -cE '^(token|span|unit|regex),(single|class),2,' table.csv)"
expect "a row per factor level" 6 "$(grep -cE '^mask\.(structure|types),' table.csv)"
stuck=$(sql "SELECT count(*) FROM v_final f
  JOIN params p ON p.run_id = f.run_id AND p.key = 'mask.structure' AND p.value = 'token'
  JOIN scores u ON u.run_id = f.run_id AND u.split = 'valid' AND u.metric = 'unigram_bpb'
 WHERE f.status = 'finished' AND NOT f.nelbo_bpb < u.value - 0.5")
expect "token-structure runs within 0.5 bit per byte of the unigram code length" 0 "$stuck"
expect "token-structure runs scored" 4 "$(sql "SELECT count(*) FROM scores s
  JOIN params p ON p.run_id = s.run_id AND p.key = 'mask.structure' AND p.value = 'token'
 WHERE s.split = 'valid' AND s.metric = 'unigram_bpb'")"
exit $fail
