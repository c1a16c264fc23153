#!/bin/sh
# Load: eight workers on one run log (four `sweep run` processes of two workers each, on the
# same sweep) for 320 short runs: no SQLITE_BUSY failure, every cell run exactly once and
# logged whole, the log intact. LOAD_SEEDS (40) sets the size: 8 cells per seed.
. "$(dirname "$0")/exp_lib.sh"
seeds=${LOAD_SEEDS:-40}
cells=$((seeds * 8))
cat > s.ini <<EOT
[sweep]
name = load
base = tiny.ini
seeds = 1..$seeds
mask.structure = token, span
mask.schedule = linear, cosine
mask.time = stratified, antithetic
[train]
steps = 2
log_every = 1
[score]
max_tokens = 256
samples = 0
EOT
"$P" sweep show s.ini >/dev/null || exit 1
start=$(date +%s)
pids=""
for i in 1 2 3 4; do "$P" sweep run s.ini --jobs 2 2>"err$i.txt" & pids="$pids $!"; done
i=0
for pid in $pids; do
    i=$((i + 1))
    wait "$pid"
    expect "process $i: exit status" 0 $?
done
took=$(( $(date +%s) - start ))
for i in 1 2 3 4; do
    busy=$(grep -ci 'locked\|busy' "err$i.txt")
    expect "process $i: no busy or locked error" 0 "$busy"
    contains "process $i: summary" "0 failed, 0 interrupted" "$(tail -1 "err$i.txt")"
done
expect "every cell once, finished, first attempt" "$cells|$cells|$cells|1" \
    "$(sql "SELECT count(*), sum(status = 'finished'), count(DISTINCT config_hash || '/' || seed), max(attempts) FROM runs" | tr , '|')"
nkeys=$(sql "SELECT count(*) FROM params WHERE run_id = (SELECT min(run_id) FROM runs)")
expect "every run logged whole (params, metrics, scores, artifacts)" 0 \
    "$(sql "SELECT count(*) FROM runs r WHERE (SELECT count(*) FROM params p WHERE p.run_id = r.run_id) != $nkeys OR (SELECT count(*) FROM metrics m WHERE m.run_id = r.run_id AND m.key = 'train_loss') != 2 OR (SELECT count(*) FROM scores s WHERE s.run_id = r.run_id AND s.metric = 'nelbo_bpb') != 1 OR (SELECT count(*) FROM artifacts a WHERE a.run_id = r.run_id AND a.kind = 'checkpoint') != 1")"
expect "integrity" ok "$(sql "PRAGMA integrity_check")"
echo "load: $cells runs by 8 workers (4 processes x 2) on one log in $took s, 0 busy failures, $(sql "SELECT count(*) FROM runs WHERE status = 'finished'") finished" >&2
exit $fail
