#!/bin/sh
# A tiny sweep end to end, checked with SQL: every cell finished once, params, scores,
# artifacts on disk, the ablation views' counts and intervals, resume skipping everything.
. "$(dirname "$0")/exp_lib.sh"

cat > s.ini <<EOT
[sweep]
name = tiny
base = tiny.ini
seeds = 1, 2
mask.structure = token, span
mask.types = single, class
EOT
"$P" sweep run s.ini --jobs 2 2>err.txt; rc=$?
expect "sweep exit status" 0 "$rc"
contains "sweep summary" "8 cells, 8 finished, 0 failed" "$(cat err.txt)"
expect "quiet when piped: the summary only" 1 "$(wc -l < err.txt | tr -d ' ')"

expect "runs" "8|8|0" "$(sql "SELECT count(*), sum(status = 'finished'), sum(error IS NOT NULL) FROM runs" | tr , '|')"
expect "distinct cells" 8 "$(sql "SELECT count(DISTINCT config_hash || seed) FROM runs")"
expect "configs" 4 "$(sql "SELECT count(DISTINCT config_hash) FROM runs")"
nkeys=$("$P" config show | grep -c ' = ')
expect "params per run" "$nkeys" "$(sql "SELECT min(n) FROM (SELECT count(*) n FROM params GROUP BY run_id)")"
expect "canonical scores" 8 "$(sql "SELECT count(*) FROM scores WHERE split = 'valid' AND metric = 'nelbo_bpb' AND value > 0 AND stderr > 0")"
expect "sched scores" 8 "$(sql "SELECT count(*) FROM scores WHERE metric = 'nelbo_bpb_sched' AND value > 0")"
# the unigram code length depends on the data only: one value per seed (the seed splits the
# documents), whatever the masking
expect "unigram scores" "8|2" "$(sql "SELECT count(*), count(DISTINCT r.seed || ':' || s.value) FROM scores s JOIN runs r USING (run_id) WHERE s.split = 'valid' AND s.metric = 'unigram_bpb' AND s.value > 1" | tr , '|')"
expect "accuracy buckets" 32 "$(sql "SELECT count(*) FROM scores WHERE metric LIKE 'masked_acc_b%'")"
expect "type cost only for class" "0|1" "$(sql "SELECT max(s.value > 0) FILTER (WHERE p.value = 'single'), min(s.value > 0) FILTER (WHERE p.value = 'class') FROM scores s JOIN params p ON p.run_id = s.run_id AND p.key = 'mask.types' WHERE s.metric = 'type_bpb'" | tr , '|')"
expect "train loss logged" 16 "$(sql "SELECT count(*) FROM metrics WHERE key = 'train_loss'")"
# where each run's time went: the preparation at step 0, the rest at the last step
expect "phase timings" 32 "$(sql "SELECT count(*) FROM metrics m JOIN (SELECT run_id, max(step) AS last FROM metrics GROUP BY run_id) l USING (run_id) WHERE m.value > 0 AND ((m.key = 'prepare_seconds' AND m.step = 0) OR (m.key IN ('train_seconds', 'checkpoint_seconds', 'score_seconds') AND m.step = l.last))")"
for f in $(sql "SELECT path FROM artifacts WHERE kind IN ('checkpoint', 'samples')"); do
    [ -s "$f" ] || { echo "FAIL artifact missing: $f" >&2; fail=1; }
done
expect "artifacts" 24 "$(sql "SELECT count(*) FROM artifacts")"
expect "one pyramid" 1 "$(sql "SELECT count(*) FROM pyramids")"
# v_ablation: per factor level, 4 runs pooled over the other factor and the seeds
expect "ablation rows" "4|4|4" "$(sql "SELECT count(*), min(n), max(n) FROM v_ablation WHERE metric = 'nelbo_bpb'" | tr , '|')"
expect "ablation ci" 4 "$(sql "SELECT count(*) FROM v_ablation WHERE metric = 'nelbo_bpb' AND ci95_lo < mean AND mean < ci95_hi AND abs(ci95 - 3.182446305284263 * sd / 2) < 1e-9")"
expect "cells" "4|2" "$(sql "SELECT count(*), min(n) FROM v_cells WHERE metric = 'nelbo_bpb'" | tr , '|')"
expect "v_final factors" "mask.structure=span mask.types=class" "$(sql "SELECT factors FROM v_final ORDER BY factors LIMIT 1")"
# the JSON output is valid JSON with typed values
json=$("$P" sql --json "SELECT run_id, factors, nelbo_bpb, NULL AS empty FROM v_final ORDER BY run_id")
expect "json" "8 <class 'float'> None" "$(printf '%s' "$json" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(len(r), type(r[0]["nelbo_bpb"]), r[0]["empty"])')"
# resume: nothing left to do, nothing re-run
before=$(sql "SELECT sum(finished_at) FROM runs")
"$P" sweep run s.ini 2>/dev/null; rc=$?
expect "resume exit status" 0 "$rc"
expect "resume re-ran nothing" "$before|8" "$(sql "SELECT sum(finished_at), count(*) FROM runs" | tr , '|')"
expect "integrity" ok "$(sql "PRAGMA integrity_check")"
exit $fail
