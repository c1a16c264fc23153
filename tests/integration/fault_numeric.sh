#!/bin/sh
# Numerical faults: a learning rate whose decoupled weight decay overshoots (lr 10 x decay 1)
# makes the weights grow tenfold a step until an activation overflows. The run stops at the
# first non-finite value, naming the step and the tensor, is marked failed, and leaves no
# score, checkpoint or non-finite metric; in a sweep the stable cells go on and alone make
# the ablation.
. "$(dirname "$0")/exp_lib.sh"

"$P" train -c tiny.ini --set train.lr=10 --set train.weight_decay=1 --set train.steps=60 \
    2>err.txt; rc=$?
expect "diverging run: exit status" 1 "$rc"
msg=$(cat err.txt)
echo "$msg" | grep -Eq '^pyramask: train: step [0-9]+: (forward|gradient|loss)[^:]*: .*(not finite|is NaN|is Inf)' ||
    { echo "FAIL diverging run: expected the step and the tensor, got '$msg'" >&2; fail=1; }
step=$(echo "$msg" | sed -n 's/^pyramask: train: step \([0-9]*\):.*/\1/p')
expect "diverging run: failed with the message" "failed|1" \
    "$(sql "SELECT status, error = '$(echo "$msg" | sed 's/^pyramask: train: //')' FROM runs" | tr , '|')"
expect "diverging run: no score" 0 "$(sql "SELECT count(*) FROM scores")"
expect "diverging run: no checkpoint" "0|" "$(sql "SELECT count(*), group_concat(kind) FROM artifacts WHERE kind != 'pyramid'" | tr , '|')"
[ ! -d pyramask-runs ] || [ -z "$(find pyramask-runs -type f)" ] ||
    { echo "FAIL diverging run: files left in pyramask-runs" >&2; fail=1; }
expect "diverging run: metrics finite and before the step" 0 \
    "$(sql "SELECT count(*) FROM metrics WHERE value IS NULL OR abs(value) > 1e300 OR step > $step")"
expect "diverging run: in v_final without scores" "failed||" \
    "$(sql "SELECT status, nelbo_bpb, masked_acc FROM v_final" | tr , '|')"

# a sweep over the weight decay: the diverging cells fail, the others finish and make the table
cat > s.ini <<EOT
[sweep]
name = diverge
base = tiny.ini
seeds = 1, 2
train.weight_decay = 0.01, 1
[train]
lr = 10
steps = 60
[score]
samples = 0
EOT
"$P" sweep run s.ini 2>err.txt; rc=$?
expect "sweep: exit status" 1 "$rc"
contains "sweep: summary" "4 cells, 2 finished, 2 failed, 0 interrupted" "$(tail -1 err.txt)"
expect "sweep: the diverging cells failed with the reason" 2 \
    "$(sql "SELECT count(*) FROM runs r JOIN params p ON p.run_id = r.run_id AND p.key = 'train.weight_decay' WHERE r.sweep_id IS NOT NULL AND p.value = '1' AND r.status = 'failed' AND r.error LIKE 'step %not finite%'")"
expect "sweep: only finished runs in the ablation" "0.01|2" \
    "$(sql "SELECT level, n FROM v_ablation WHERE sweep = 'diverge' AND factor = 'train.weight_decay' AND metric = 'nelbo_bpb'" | tr , '|')"
exit $fail
