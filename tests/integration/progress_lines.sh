#!/bin/sh
# Progress where stderr is not a terminal: plain lines every $PYRAMASK_PROGRESS_SECONDS
# (here a few milliseconds) from training (step, loss, tokens/s, ETA), building a pyramid
# and a sweep with its workers; none at the default period on short work, none when turned
# off, and on a terminal the redrawn line instead of plain lines.
. "$(dirname "$0")/exp_lib.sh"

# train_lines FILE: the plain training lines of FILE
step_re='^train: step [0-9][0-9]*/20 ([0-9]*%), loss [0-9][0-9.]*, [0-9][0-9]* tokens/s, elapsed [0-9]*:[0-9][0-9], eta \([0-9]*:[0-9][0-9]\|?\)$'

# ---- training, with a pyramid built on the way ----
PYRAMASK_PROGRESS_SECONDS=0.002 "$P" train -c tiny.ini 2>err.txt; rc=$?
expect "train exit status" 0 "$rc"
n=$(grep -c "$step_re" err.txt)
[ "$n" -ge 3 ] || { echo "FAIL train: expected 3 or more step lines, got $n:" >&2; cat err.txt >&2; fail=1; }
# the steps only go forward, and stay within the run
steps=$(grep "$step_re" err.txt | sed 's|^train: step \([0-9]*\)/.*|\1|' | tr '\n' ' ')
expect "train: steps increase" "" "$(echo "$steps" | awk '{ for (i = 2; i <= NF; i++) if ($i + 0 <= $(i - 1) + 0) print "step " $i " after " $(i - 1) }')"
expect "train: the last line" "train: done in M:SS" "$(tail -n 1 err.txt | sed 's/ [0-9]*:[0-9][0-9]$/ M:SS/')"
contains "train: the pyramid's build" "building the pyramid: " "$(cat err.txt)"
expect "train: pyramid lines" "" "$(grep '^building the pyramid: ' err.txt | grep -v '^building the pyramid: \(\(counting\|merges\) [0-9.]*%, elapsed [0-9]*:[0-9][0-9], eta of \(counting\|merges\) \([0-9]*:[0-9][0-9]\|?\)\|done in [0-9]*:[0-9][0-9]\)$')"
expect "train: every stderr line is progress" "" "$(grep -v -e "$step_re" -e '^train: done in' -e '^building the pyramid: ' err.txt)"

# ---- the default period (30 s): short work prints nothing; 0 and off print nothing ----
"$P" train -c tiny.ini --set train.seed=2 2>err.txt; rc=$?
expect "default period: exit status" 0 "$rc"
expect "default period: quiet" "" "$(cat err.txt)"
for off in 0 off; do
    PYRAMASK_PROGRESS_SECONDS=$off "$P" train -c tiny.ini --set train.seed=3 --set tokenizer.train_bytes=140000 2>err.txt
    expect "PYRAMASK_PROGRESS_SECONDS=$off: quiet" "" "$(cat err.txt)"
done

# ---- a sweep: its own lines, and each worker's prefixed with its cell ----
cat > s.ini <<EOT
[sweep]
name = tiny
base = tiny.ini
mask.structure = token, span
EOT
# one worker: the sweep's line comes while the first cell runs too (a timer, not only when a
# worker ends)
PYRAMASK_PROGRESS_SECONDS=0.02 "$P" sweep run s.ini --jobs 1 --set train.steps=60 2>err.txt; rc=$?
expect "sweep exit status" 0 "$rc"
grep -q '^sweep tiny: cells 0/2 (0%), running 1, elapsed [0-9]*:[0-9][0-9], eta ?$' err.txt ||
    { echo "FAIL sweep: no sweep progress line during the first cell:" >&2; cat err.txt >&2; fail=1; }
for cell in "mask.structure=token seed=1" "mask.structure=span seed=1"; do
    grep -q "^sweep tiny: $cell: train: step [0-9]*/60 " err.txt ||
        { echo "FAIL sweep: no training line of cell '$cell'" >&2; fail=1; }
done
contains "sweep: the summary" "sweep tiny: 2 cells, 2 finished" "$(tail -n 1 err.txt)"

# ---- vocab build ----
PYRAMASK_PROGRESS_SECONDS=0.002 "$P" vocab build --corpus "$DATA/prose/kjv.txt" --levels 400,800 -o v.pyr >/dev/null 2>err.txt; rc=$?
expect "vocab build exit status" 0 "$rc"
grep -q '^vocab build: merges [0-9.]*%, elapsed [0-9]*:[0-9][0-9], eta of merges ' err.txt ||
    { echo "FAIL vocab build: no merges line:" >&2; cat err.txt >&2; fail=1; }

# ---- on a terminal: the line redrawn in place, no plain lines ----
if command -v script >/dev/null 2>&1; then
    PYRAMASK_PROGRESS_SECONDS=0.002 script -qec "'$P' train -c tiny.ini --set train.seed=4" tty.txt >/dev/null 2>&1 </dev/null
    contains "terminal: the redrawn line" "$(printf '\r\033[K')train " "$(cat tty.txt)"
    expect "terminal: no plain lines" 0 "$(grep -c 'train: step' tty.txt)"
else
    echo "note: no 'script' command: the terminal case is not checked"
fi
exit $fail
