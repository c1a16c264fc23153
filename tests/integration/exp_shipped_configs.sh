#!/bin/sh
# Every config and sweep shipped in experiments/sweeps/ is valid as it stands: a sweep file's
# every combination passes `sweep show` (which checks each before anything runs), a plain
# config passes `config show`, and each SQL file of a study parses against the run log's
# schema. Nothing is trained.
. "$(dirname "$0")/exp_lib.sh"
src=$(cd "$DATA/.." && pwd)
n=0
for f in "$src"/experiments/sweeps/*.ini; do
    n=$((n + 1))
    if grep -q '^\[sweep\]' "$f"; then
        out=$("$P" sweep show "$f" 2>&1) || { echo "FAIL sweep show $f: $out" >&2; fail=1; }
    else
        out=$("$P" config show -c "$f" 2>&1) || { echo "FAIL config show $f: $out" >&2; fail=1; }
    fi
done
expect "configs found" 1 "$([ "$n" -ge 8 ] && echo 1)"
"$P" train -c tiny.ini --set train.steps=1 --set score.samples=0 2>err.txt ||
    { cat err.txt >&2; fail=1; }
for q in "$src"/experiments/sweeps/*.sql; do
    out=$("$P" sql - < "$q" 2>&1) || { echo "FAIL $q: $out" >&2; fail=1; }
done
exit $fail
