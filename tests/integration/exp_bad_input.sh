#!/bin/sh
# Bad input: unknown keys and bad values with file:line, missing files, a locked and a
# read-only run log, a full disk during a run: a clear error, exit status 2 for the
# caller's input, the run marked failed with its reason, the log intact.
. "$(dirname "$0")/exp_lib.sh"

# err CMD...: runs a command, keeps its stderr in $err and its exit status in $rc
err() { err=$("$@" 2>&1 >/dev/null); rc=$?; }

printf '[model]\nd = 32\nbogus = 1\n' > bad.ini
err "$P" train -c bad.ini
expect "unknown key exit" 2 "$rc"
expect "unknown key" "pyramask: train: bad.ini:3: unknown key 'model.bogus' (see experiments/sweeps/reference.ini)" "$err"
[ ! -e pyramask.db ] || { echo "FAIL a bad config created the run log" >&2; fail=1; }
printf '[train]\nsteps = -4\n' > bad.ini
err "$P" train -c bad.ini
contains "bad value" "bad.ini:2: train.steps: -4 is out of range" "$err"
err "$P" train -c tiny.ini --set model.heads=3
contains "bad relation" "--set: model.heads: 3 does not divide model.d = 32" "$err"
printf '[sweep]\nseeds = 1\nmask.structure = token, spam\n' > bad.ini
err "$P" sweep run bad.ini
expect "bad factor exit" 2 "$rc"
contains "bad factor" "pyramask: sweep: bad.ini:3: mask.structure: unknown value 'spam'" "$err"
err "$P" sweep run nosuch.ini
expect "missing sweep exit" 2 "$rc"
contains "missing sweep" "nosuch.ini: No such file or directory" "$err"
err "$P" score -c tiny.ini --checkpoint nosuch.ckpt
expect "missing checkpoint exit" 2 "$rc"
contains "missing checkpoint" "pyramask: score: nosuch.ckpt:" "$err"

# a missing corpus: the run is logged as failed with the reason
printf '[data]\ncorpus = nosuch.txt\n' > missing.ini
err "$P" train -c missing.ini
expect "missing corpus exit" 2 "$rc"
contains "missing corpus" "missing.ini:2: data.corpus: cannot read" "$err"
expect "failed run" "failed|1" "$(sql "SELECT status, error LIKE '%missing.ini:2: data.corpus: cannot read%' FROM runs" | tr , '|')"

# a locked run log: a clear error after the busy timeout
"$P" train -c tiny.ini --set train.steps=2 2>/dev/null || fail=1
if command -v sqlite3 >/dev/null; then
    (echo "BEGIN EXCLUSIVE;"; echo "SELECT 1;"; sleep 3; echo "COMMIT;") | sqlite3 "$PYRAMASK_DB" >/dev/null &
    sleep 1
    PYRAMASK_BUSY_TIMEOUT=0.5 "$P" train -c tiny.ini --set train.steps=2 2>err.txt; rc=$?
    [ $rc -ne 0 ] || { echo "FAIL a locked log: exit 0" >&2; fail=1; }
    contains "locked" "database is locked" "$(cat err.txt)"
    wait
fi
expect "integrity after lock" ok "$(sql "PRAGMA integrity_check")"

# a read-only file system and a full disk need a small tmpfs (root)
mkdir mnt
if mount -t tmpfs -o size=3m tmpfs mnt 2>/dev/null; then
    trap 'umount "$T/mnt" 2>/dev/null; rm -rf "$T"' EXIT
    db=mnt/log.db
    "$P" train -c tiny.ini --set train.steps=2 --db $db 2>/dev/null || fail=1
    mount -o remount,ro mnt
    err "$P" train -c tiny.ini --set train.steps=2 --db $db
    [ $rc -ne 0 ] || { echo "FAIL a read-only log: exit 0" >&2; fail=1; }
    contains "read-only" "pyramask: train: $db:" "$err"
    mount -o remount,rw mnt
    # fill the disk but for ~200 kB: the log fits, a 0.8 MB checkpoint does not
    dd if=/dev/zero of=mnt/fill bs=64k 2>/dev/null
    truncate -s -200k mnt/fill
    err "$P" train -c tiny.ini --set model.d=96 --set model.layers=2 --set train.steps=3 --set train.seed=7 --db $db
    expect "full disk exit" 1 "$rc"
    contains "full disk" "checkpoint" "$err"
    rm mnt/fill
    expect "full disk: run failed with its reason" "failed|1" "$("$P" sql --csv --db $db "SELECT status, error LIKE '%checkpoint%' FROM runs WHERE seed = 7" | tail -1 | tr , '|')"
    expect "full disk: log intact" ok "$("$P" sql --csv --db $db "PRAGMA integrity_check" | tail -1)"
    left=$(find mnt -name '*.tmp*' | head -1)
    expect "no half-written file" "" "$left"
    umount mnt
else
    echo "read-only and full-disk checks skipped: cannot mount a tmpfs" >&2
fi
exit $fail
