#!/bin/sh
# kill -9 at random moments, many times: each round starts a sweep with two workers, kills
# one worker at a random moment, then the whole sweep at another. After every round the log
# passes PRAGMA integrity_check and every run finished before it is untouched; at the end one
# more `sweep run` runs exactly the cells still missing. FAULT_ROUNDS (30), FAULT_SEED (1).
. "$(dirname "$0")/exp_lib.sh"
command -v sqlite3 >/dev/null || { echo "sqlite3 missing" >&2; exit 77; }
command -v pgrep >/dev/null || { echo "pgrep missing" >&2; exit 77; }
rounds=${FAULT_ROUNDS:-30}
seed=${FAULT_SEED:-1}
# four cells a seed, three seeds a round: a round (at most 1.6 s) finishes a few runs of
# about half a second each, so the sweep outlasts the rounds (checked at the end) and every
# kill lands in the middle of work
seeds=$((rounds < 4 ? 12 : 3 * rounds))
cells=$((4 * seeds))

# a prebuilt pyramid: a round killed while a run builds one would otherwise start over
head -c 150000 "$DATA/prose/kjv.txt" > corpus.txt
"$P" vocab build --corpus corpus.txt --levels 300,400,600 -o tiny.pyr >/dev/null || exit 1
cat > s.ini <<EOT
[sweep]
name = kill
base = tiny.ini
seeds = 1..$seeds
mask.structure = token, span
mask.schedule = linear, cosine
[tokenizer]
pyramid = tiny.pyr
[train]
steps = 500
[score]
samples = 0
EOT
q() { sqlite3 "$PYRAMASK_DB" "$1"; }
finished_state="SELECT group_concat(x, ' ') FROM (SELECT r.run_id || ':' || r.config_hash || ':' || r.seed || ':' || r.finished_at || ':' || (SELECT count(*) FROM scores s WHERE s.run_id = r.run_id) AS x FROM runs r WHERE r.status = 'finished' ORDER BY r.run_id)"
# rand N: a number in [0, N) from the seeded sequence
i_rand=0
rand() { i_rand=$((i_rand + 1)); awk -v s="$seed" -v i=$i_rand -v n="$1" 'BEGIN { srand(s * 7919 + i); print rand() * n }'; }

worker_kills=0
round=1
while [ $round -le $rounds ]; do
    before=$(q "$finished_state" 2>/dev/null)
    setsid "$P" sweep run s.ini --jobs 2 >/dev/null 2>&1 &
    pid=$!
    i=0
    while [ -z "$(pgrep -P $pid)" ] && [ $i -lt 100 ] && kill -0 $pid 2>/dev/null; do
        sleep 0.02; i=$((i + 1))
    done
    sleep "$(rand 1)"
    victim=$(pgrep -P $pid | head -1)
    if [ -n "$victim" ] && kill -KILL "$victim" 2>/dev/null; then
        worker_kills=$((worker_kills + 1))
    fi
    sleep "$(rand 0.6)"
    kill -KILL -$pid 2>/dev/null
    wait $pid 2>/dev/null
    if [ -n "$before" ]; then
        ids=$(echo "$before" | tr ' ' '\n' | cut -d: -f1 | paste -sd, -)
        after=$(q "SELECT group_concat(x, ' ') FROM (SELECT r.run_id || ':' || r.config_hash || ':' || r.seed || ':' || r.finished_at || ':' || (SELECT count(*) FROM scores s WHERE s.run_id = r.run_id) AS x FROM runs r WHERE r.run_id IN ($ids) AND r.status = 'finished' ORDER BY r.run_id)")
        expect "round $round: finished runs untouched" "$before" "$after"
    fi
    expect "round $round: integrity" ok "$(q "PRAGMA integrity_check")"
    expect "round $round: no duplicate cell" 0 "$(q "SELECT count(*) - count(DISTINCT config_hash || '/' || seed) FROM runs")"
    [ $fail -eq 0 ] || exit 1
    round=$((round + 1))
done

# the next sweep run finishes exactly the missing cells
missing=$(q "SELECT $cells - count(*) FROM runs WHERE status = 'finished'")
[ "$missing" -gt 0 ] || { echo "FAIL: the sweep finished before the last round (make it bigger)" >&2; exit 1; }
t0=$(q "SELECT julianday('now')")
before=$(q "$finished_state")
"$P" sweep run s.ini --jobs 2 2>err.txt; rc=$?
expect "final run exit status" 0 "$rc"
contains "final summary" "$cells cells, $cells finished, 0 failed, 0 interrupted" "$(cat err.txt)"
expect "runs started by the final sweep = the missing cells" "$missing" "$(q "SELECT count(*) FROM runs WHERE started_at > $t0")"
ids=$(echo "$before" | tr ' ' '\n' | cut -d: -f1 | paste -sd, -)
[ -z "$ids" ] || expect "runs finished before are untouched" "$before" "$(q "SELECT group_concat(x, ' ') FROM (SELECT r.run_id || ':' || r.config_hash || ':' || r.seed || ':' || r.finished_at || ':' || (SELECT count(*) FROM scores s WHERE s.run_id = r.run_id) AS x FROM runs r WHERE r.run_id IN ($ids) ORDER BY r.run_id)")"
expect "one row per cell" "$cells|$cells" "$(q "SELECT count(*), count(DISTINCT config_hash || '/' || seed) FROM runs")"
expect "integrity" ok "$(q "PRAGMA integrity_check")"
# every finished run's checkpoint is there, whole, under its final name
bad=$(q "SELECT a.path || ' ' || a.bytes FROM artifacts a JOIN runs r USING (run_id) WHERE a.kind = 'checkpoint' AND r.status = 'finished'" |
      while read -r path bytes; do [ "$(stat -c %s "$path" 2>/dev/null)" = "$bytes" ] || echo "$path"; done)
expect "checkpoints whole" "" "$bad"
retried=$(q "SELECT count(*) FROM runs WHERE attempts > 1")
litter=$(find pyramask-runs pyramask-cache -name '*.tmp*' 2>/dev/null | wc -l)
echo "fault-kill: $rounds rounds (seed $seed) on $cells cells, $worker_kills workers and $rounds sweeps killed with SIGKILL; $missing cells left for the final run, $retried runs taken over after a kill, 0 finished runs lost; $litter temporary files of killed writers left" >&2
exit $fail
