#!/bin/sh
# A full disk (a small tmpfs, root only: skipped when it cannot be mounted) while writing a
# pyramid (`vocab build`, and a run's pyramid cache) and while writing the run log: a clear
# error, no file left under its final name or half-written, the log intact, and the next
# `sweep run` after space is freed runs exactly the cells that did not finish.
# (A checkpoint on a full disk: exp_bad_input.sh.)
. "$(dirname "$0")/exp_lib.sh"
command -v sqlite3 >/dev/null || { echo "sqlite3 missing" >&2; exit 77; }
command -v flock >/dev/null || { echo "flock (util-linux) missing" >&2; exit 77; }
mkdir mnt
mount -t tmpfs -o size=2m tmpfs mnt 2>/dev/null ||
    { echo "cannot mount a tmpfs (needs root): skipped" >&2; exit 77; }
trap 'umount "$T/mnt" 2>/dev/null; rm -rf "$T"' EXIT

err() { err=$("$@" 2>&1 >/dev/null); rc=$?; echo "[$rc] $err" >&2; }
# fill: leaves no free block on the tmpfs; unfill frees it again
fill() { dd if=/dev/zero of=mnt/fill bs=4k 2>/dev/null; sync; }
unfill() { rm -f mnt/fill; }
leftovers() { find mnt -name '*.tmp*' | tr '\n' ' '; }

# `vocab build -o` on a full disk
head -c 200000 "$DATA/prose/kjv.txt" > small.txt
fill
err "$P" vocab build --corpus small.txt --levels 300,400 -o mnt/small.pyr
expect "vocab build on a full disk: exit status" 1 "$rc"
contains "vocab build on a full disk: the error" "mnt/small.pyr" "$err"
[ ! -e mnt/small.pyr ] || { echo "FAIL a pyramid was left under its final name" >&2; fail=1; }
expect "vocab build on a full disk: no temporary file" "" "$(leftovers)"
unfill

# a run's pyramid cache on a full disk (the run log elsewhere): the run fails with its reason
mkdir mnt/cache
ln -s mnt/cache pyramask-cache
fill
err "$P" train -c tiny.ini --set train.steps=2
expect "pyramid cache on a full disk: exit status" 1 "$rc"
contains "pyramid cache on a full disk: the error" "pyramask-cache/" "$err"
expect "pyramid cache on a full disk: the run failed with its reason" "failed|1" \
    "$(sql "SELECT status, error LIKE '%pyramask-cache/%.pyr%' FROM runs" | tr , '|')"
expect "pyramid cache on a full disk: nothing cached" "" "$(find mnt/cache -name '*.pyr' | tr '\n' ' ')"
expect "pyramid cache on a full disk: no temporary file" "" "$(leftovers)"
unfill
"$P" train -c tiny.ini --set train.steps=2 2>/dev/null || { echo "FAIL no run after space was freed" >&2; fail=1; }
rm pyramask-cache

# the run log on a full disk (pyramids and checkpoints elsewhere): half of a sweep is done,
# then the disk fills; after space is freed the next sweep run does exactly the rest
db=mnt/log.db
mkdir cache2 runs2
ln -s "$T/cache2" mnt/pyramask-cache
ln -s "$T/runs2" mnt/pyramask-runs
cat > s.ini <<EOT
[sweep]
name = disk
base = tiny.ini
seeds = 1..4
[train]
steps = 5
[score]
samples = 0
EOT
"$P" sweep run s.ini --shard 1/2 --db $db 2>/dev/null || { echo "FAIL the first half" >&2; fail=1; }
finished="SELECT group_concat(run_id || ':' || seed || ':' || finished_at) FROM runs WHERE status = 'finished'"
before=$(sqlite3 $db "$finished")
sqlite3 $db "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
fill
err "$P" sweep run s.ini --db $db
[ $rc -ne 0 ] || { echo "FAIL a sweep on a full disk: exit 0" >&2; fail=1; }
contains "run log on a full disk: the error" "No space left on device" "$err"
unfill
expect "run log on a full disk: integrity" ok "$(sqlite3 $db "PRAGMA integrity_check")"
expect "run log on a full disk: finished runs untouched" "$before" "$(sqlite3 $db "$finished")"
t0=$(sqlite3 $db "SELECT julianday('now')")
err "$P" sweep run s.ini --db $db
expect "after space is freed: exit status" 0 "$rc"
contains "after space is freed: the summary" "4 cells, 4 finished, 0 failed, 0 interrupted" "$err"
expect "after space is freed: only the missing cells ran" 2 "$(sqlite3 $db "SELECT count(*) FROM runs WHERE started_at > $t0")"
# the disk fills in the middle of a sweep: the runs that cannot write fail or are left to be
# taken over, the sweep ends with an error, and once space is freed the next sweep run
# finishes exactly the cells not finished. Two cells are finished first; the disk fills
# while the third waits, claimed, at a gate the test holds: the lock of its pyramid in the
# cache, which every run takes after claiming its cell (as in fault_sweep.sh)
mid_ini() {
    cat > s2.ini <<EOT
[sweep]
name = disk-mid
base = tiny.ini
seeds = $1
[score]
samples = 0
EOT
}
mid_ini 1..2
"$P" sweep run s2.ini --db $db 2>/dev/null || { echo "FAIL the first two cells" >&2; fail=1; }
mid_ini 1..6
set -- cache2/*.lock
[ $# -eq 1 ] && [ -f "$1" ] || { echo "FAIL expected one pyramid lock, found: $*" >&2; exit 1; }
exec 9>>"$1"
flock 9
"$P" sweep run s2.ini --db $db 2>err.txt 9>&- &
sweep=$!
trap 'kill $sweep 2>/dev/null; umount "$T/mnt" 2>/dev/null; rm -rf "$T"' EXIT
i=0
until [ "$(sqlite3 -readonly $db "SELECT count(*) FROM runs r JOIN sweeps s USING (sweep_id) WHERE s.name = 'disk-mid' AND r.status = 'running'" 2>/dev/null)" = 1 ]; do
    i=$((i + 1)); [ $i -gt 600 ] && { echo "FAIL the third cell did not start in 60 s" >&2; exit 1; }
    sleep 0.1
done
before=$(sqlite3 $db "$finished")
fill
flock -u 9
exec 9>&-
wait $sweep; rc=$?
unfill
[ $rc -ne 0 ] || { echo "FAIL a sweep that filled the disk: exit 0" >&2; fail=1; }
contains "disk full mid-sweep: the error" "disk is full" "$(cat err.txt)"
expect "disk full mid-sweep: integrity" ok "$(sqlite3 $db "PRAGMA integrity_check")"
expect "disk full mid-sweep: finished runs untouched" "$before" "$(sqlite3 $db "SELECT group_concat(run_id || ':' || seed || ':' || finished_at) FROM runs WHERE status = 'finished' AND run_id IN ($(echo "$before" | tr ',' '\n' | cut -d: -f1 | paste -sd, -))")"
done_before=$(sqlite3 $db "SELECT count(*) FROM runs r JOIN sweeps s USING (sweep_id) WHERE s.name = 'disk-mid' AND r.status = 'finished'")
t0=$(sqlite3 $db "SELECT julianday('now')")
err "$P" sweep run s2.ini --db $db
expect "disk full mid-sweep, then freed: exit status" 0 "$rc"
contains "disk full mid-sweep, then freed: the summary" "6 cells, 6 finished, 0 failed, 0 interrupted" "$err"
expect "disk full mid-sweep, then freed: only the missing cells ran" $((6 - done_before)) "$(sqlite3 $db "SELECT count(*) FROM runs WHERE started_at > $t0")"
expect "no half-written file" "" "$(leftovers)"
exit $fail
