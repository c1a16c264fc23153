#!/bin/sh
# Resume after kill -9: a sweep killed (parent and workers) in the middle is marked
# interrupted at the next start; running it again finishes every cell exactly once and
# leaves the runs finished before the kill untouched. train.threads is not part of a run's
# identity: the config hash ignores it, and a resume with another thread count runs nothing.
. "$(dirname "$0")/exp_lib.sh"
command -v sqlite3 >/dev/null || { echo "sqlite3 missing" >&2; exit 77; }

cat > s.ini <<EOT
[sweep]
name = resume
base = tiny.ini
seeds = 1, 2, 3
mask.structure = token, span
[train]
steps = 120
EOT
setsid "$P" sweep run s.ini --jobs 2 2>/dev/null &
pid=$!
i=0
while :; do
    # two runs finished and one under way: the two workers' first runs end together,
    # and a kill just then would find both between runs
    n=$(sqlite3 "$PYRAMASK_DB" "SELECT sum(status = 'finished') >= 2 AND sum(status = 'running') >= 1 FROM runs" 2>/dev/null)
    [ "$n" = 1 ] && break
    i=$((i + 1))
    [ $i -gt 600 ] && { echo "FAIL no run finished in 60 s" >&2; kill -KILL -$pid; exit 1; }
    sleep 0.1
done
kill -KILL -$pid
wait $pid 2>/dev/null
sleep 0.2
ids=$(sqlite3 "$PYRAMASK_DB" "SELECT group_concat(run_id) FROM runs WHERE status = 'finished'")
state="SELECT group_concat(run_id || ':' || finished_at || ':' || attempts) FROM (SELECT * FROM runs WHERE run_id IN ($ids) ORDER BY run_id)"
finished=$(sqlite3 "$PYRAMASK_DB" "$state")
running=$(sqlite3 "$PYRAMASK_DB" "SELECT count(*) FROM runs WHERE status = 'running'")
[ -n "$ids" ] || { echo "FAIL nothing finished before the kill" >&2; exit 1; }
[ "$running" -ge 1 ] || { echo "FAIL the kill interrupted no run" >&2; exit 1; }

# the next start marks the killed runs interrupted
expect "interrupted at the next start" "$running" "$(sql "SELECT count(*) FROM runs WHERE status = 'interrupted'")"
"$P" sweep run s.ini --jobs 2 2>err.txt; rc=$?
expect "resumed sweep exit status" 0 "$rc"
contains "summary" "6 cells, 6 finished, 0 failed, 0 interrupted" "$(cat err.txt)"
expect "no duplicate" "6|6" "$(sql "SELECT count(*), count(DISTINCT config_hash || '/' || seed) FROM runs" | tr , '|')"
expect "nothing finished was lost or re-run" "$finished" "$(sqlite3 "$PYRAMASK_DB" "$state")"
expect "interrupted runs taken over in place" "$running" "$(sql "SELECT count(*) FROM runs WHERE attempts = 2")"
expect "one score set per run" 6 "$(sql "SELECT count(*) FROM scores WHERE metric = 'nelbo_bpb'")"
expect "integrity" ok "$(sql "PRAGMA integrity_check")"

# another thread count is the same configuration (the seed is not, nor is the rate)
hash() { "$P" config hash -c tiny.ini "$@"; }
expect "train.threads is left out of the config hash" "$(hash --set train.threads=1)" \
    "$(hash --set train.threads=4)"
[ "$(hash --set train.lr=0.002)" != "$(hash --set train.lr=0.003)" ] ||
    { echo "FAIL train.lr does not change the config hash" >&2; fail=1; }
t0=$(sqlite3 "$PYRAMASK_DB" "SELECT julianday('now')")
"$P" sweep run s.ini --jobs 2 --set train.threads=2 2>err.txt; rc=$?
expect "resumed with 2 threads: exit status" 0 "$rc"
contains "resumed with 2 threads: summary" "6 cells, 6 finished, 0 failed, 0 interrupted" "$(cat err.txt)"
expect "resumed with 2 threads: no run added or started" "6|0" \
    "$(sqlite3 "$PYRAMASK_DB" "SELECT count(*), sum(started_at > $t0) FROM runs" | tr , '|')"
exit $fail
