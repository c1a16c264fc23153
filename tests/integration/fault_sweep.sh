#!/bin/sh
# Faults in the middle of a sweep: the corpus disappears, another writer locks the run log
# past the busy timeout, the log's file system turns read-only. Each affected run stops with
# its reason (recorded as failed where the log can be written), the sweep goes on with the
# other cells, the log stays intact, and the next sweep run finishes exactly what is missing.
. "$(dirname "$0")/exp_lib.sh"
command -v sqlite3 >/dev/null || { echo "sqlite3 missing" >&2; exit 77; }

# wait_finished DB SWEEP N: until N runs of the sweep are finished (60 s at most)
wait_finished() {
    i=0
    until n=$(sqlite3 -readonly "$1" "SELECT count(*) FROM runs r JOIN sweeps s USING (sweep_id) WHERE s.name = '$2' AND r.status = 'finished'" 2>/dev/null) &&
          [ "${n:-0}" -ge "$3" ]; do
        i=$((i + 1)); [ $i -gt 600 ] && { echo "FAIL $2: $3 runs not finished in 60 s" >&2; return 1; }
        sleep 0.1
    done
}
# sweep_ini NAME CORPUS: six cells of 300 steps, one worker: a few tenths of a second a run,
# so that the fault lands while at least three cells are still to run (at 10 steps, a
# quiet machine finished all six between two looks at the log)
sweep_ini() {
    cat > "$1.ini" <<EOT
[sweep]
name = $1
base = tiny.ini
seeds = 1..6
[data]
corpus = $2
[train]
steps = 300
[score]
samples = 0
EOT
}
# resume DB SWEEP: the next run of the sweep finishes exactly the cells not finished
resume() {
    done_before=$(sqlite3 "$1" "SELECT count(*) FROM runs r JOIN sweeps s USING (sweep_id) WHERE s.name = '$2' AND r.status = 'finished'")
    t0=$(sqlite3 "$1" "SELECT julianday('now')")
    $P sweep run "$2.ini" --db "$1" 2>err.txt; rc=$?
    expect "$2: the next sweep run: exit status" 0 "$rc"
    contains "$2: the next sweep run: summary" "6 cells, 6 finished, 0 failed, 0 interrupted" "$(cat err.txt)"
    expect "$2: the next sweep run ran exactly the missing cells" $((6 - done_before)) \
        "$(sqlite3 "$1" "SELECT count(*) FROM runs WHERE started_at > $t0")"
    expect "$2: integrity" ok "$(sqlite3 "$1" "PRAGMA integrity_check")"
}

# the corpus disappears after two runs: the other four fail with the reason, the sweep goes on
head -c 200000 "$DATA/prose/kjv.txt" > corpus.txt
sweep_ini corpus corpus.txt
"$P" sweep run corpus.ini 2>err.txt &
sweep=$!
wait_finished "$PYRAMASK_DB" corpus 2
mv corpus.txt away.txt
wait $sweep; rc=$?
expect "missing corpus: sweep exit status" 1 "$rc"
summary=$(tail -1 err.txt)
expect "missing corpus: every cell ran" 6 "$(sql "SELECT count(*) FROM runs r JOIN sweeps s USING (sweep_id) WHERE s.name = 'corpus' AND r.status IN ('finished', 'failed')")"
expect "missing corpus: failed runs give the reason" 0 "$(sql "SELECT count(*) FROM runs WHERE status = 'failed' AND error NOT LIKE '%corpus.txt%No such file%'")"
echo "missing corpus: $summary" >&2
mv away.txt corpus.txt
resume "$PYRAMASK_DB" corpus
expect "missing corpus: failed runs taken over in place" 0 "$(sql "SELECT count(*) FROM runs WHERE attempts > 1 AND status != 'finished'")"

# another writer holds the log past the busy timeout (1 s) for 3 s after two runs
sweep_ini locked corpus.txt
PYRAMASK_BUSY_TIMEOUT=1 "$P" sweep run locked.ini 2>err.txt &
sweep=$!
wait_finished "$PYRAMASK_DB" locked 2
(echo ".timeout 10000"; echo "BEGIN EXCLUSIVE;"; echo "SELECT 1;"; sleep 3; echo "COMMIT;") | sqlite3 "$PYRAMASK_DB" >/dev/null
unlocked=$(sqlite3 "$PYRAMASK_DB" "SELECT julianday('now')")
wait $sweep; rc=$?
contains "locked log: the reason" "database is locked" "$(cat err.txt)"
echo "locked log: $(tail -1 err.txt) (exit $rc)" >&2
expect "locked log: runs stopped by the lock are recorded with the reason" 0 \
    "$(sql "SELECT count(*) FROM runs r JOIN sweeps s USING (sweep_id) WHERE s.name = 'locked' AND r.status = 'failed' AND r.error NOT LIKE '%database is locked%'")"
expect "locked log: the sweep went on after the lock" 1 \
    "$(sql "SELECT count(*) > 0 FROM runs r JOIN sweeps s USING (sweep_id) WHERE s.name = 'locked' AND r.started_at > $unlocked")"
resume "$PYRAMASK_DB" locked

# the log turns read-only after two runs (its files and folder lose their write permission;
# as root the sweep runs as nobody, for whom permissions hold)
as=""
if [ "$(id -u)" -eq 0 ]; then
    command -v setpriv >/dev/null || { echo "setpriv missing: read-only check skipped" >&2; exit $fail; }
    as="setpriv --reuid=nobody --regid=nogroup --clear-groups"
    chmod 755 "$T"
fi
mkdir ro
chmod 777 ro
db=ro/log.db
sweep_ini readonly "$T/corpus.txt"
$as "$P" sweep run readonly.ini --db $db 2>err.txt &
sweep=$!
wait_finished $db readonly 2
chmod a-w ro ro/*
wait $sweep; rc=$?
[ $rc -ne 0 ] || { echo "FAIL read-only log: exit 0" >&2; fail=1; }
contains "read-only log: the reason" "readonly database" "$(cat err.txt)"
echo "read-only log: $(tail -1 err.txt) (exit $rc)" >&2
chmod 777 ro; chmod u+w ro/*
for s in $(sqlite3 $db "SELECT value FROM json_each('[1,2,3,4,5,6]') WHERE value NOT IN (SELECT seed FROM runs WHERE status = 'finished')"); do
    grep -q "seed=$s: " err.txt || { echo "FAIL read-only log: cell seed=$s was not tried or gave no reason" >&2; fail=1; }
done
before=$(sqlite3 $db "SELECT group_concat(run_id || ':' || finished_at) FROM runs WHERE status = 'finished'")
P="$as $P" resume $db readonly
expect "read-only log: finished runs untouched" "$before" "$(sqlite3 $db "SELECT group_concat(run_id || ':' || finished_at) FROM runs WHERE status = 'finished' AND run_id IN ($(echo "$before" | tr ',' '\n' | cut -d: -f1 | paste -sd, -))")"
exit $fail
