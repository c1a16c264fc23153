#!/bin/sh
# slurm_sweep: `pyramask sweep submit` and `sweep status` against a real one-node Slurm that
# the test starts itself (munged, slurmctld, slurmd: slurm_lib.sh). A 6-cell sweep runs as a
# job array, its merge job fills the run log; then a task of a second sweep is cancelled,
# the merge job is cancelled with it, and submitting again runs that cell alone and merges
# everything; a failing cell is reported with its error. Skips (77) only where the daemons
# cannot start (not installed, not root); with PYRAMASK_SLURM_REQUIRED set, that fails.
# Usage: slurm_sweep.sh PYRAMASK DATA_DIR
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/exp_lib.sh"
. "$here/slurm_lib.sh"
trap 'slurm_stop; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
trap 'exit 1' INT TERM

if ! slurm_start "$T/cluster"; then
    if [ -n "${PYRAMASK_SLURM_REQUIRED:-}" ]; then
        echo "FAIL: PYRAMASK_SLURM_REQUIRED is set, but Slurm cannot start here: $why" >&2
        exit 1
    fi
    echo "skip: Slurm cannot start here: $why"
    exit 77
fi
# the tasks' progress lines, in their batch output (sbatch passes the environment on)
export PYRAMASK_PROGRESS_SECONDS=0.01
mkdir logs
DB=$T/logs/run.db
export PYRAMASK_DB="$DB"

# submitted job ids of submission N of sweep NAME: "ARRAY,MERGE" (array 0: none)
jobs_of() { awk -v n="$2" '$1 == n { print $2 "," $3 }' "logs/pyramask-slurm/$1/submissions"; }
finished() {
    sql "SELECT count(*) FROM runs r JOIN sweeps s USING (sweep_id)
         WHERE s.name = '$1' AND r.status = 'finished'"
}
wait_jobs() {
    slurm_wait "$1" || {
        echo "FAIL jobs $1 still queued or running after ${SLURM_WAIT:-240} s:" >&2
        squeue -r -t all >&2
        slurm_logs "$T/cluster" >&2
        exit 1
    }
}

# ---- a 6-cell sweep as a job array, at most 2 tasks at once ----
cat > six.ini <<EOT
[sweep]
name = six
base = tiny.ini
seeds = 1, 2, 3
mask.structure = token, span
EOT
out=$("$P" sweep submit six.ini --array-limit 2 --db "$DB" 2>&1); rc=$?
expect "submit exit status ($out)" 0 "$rc"
contains "submit" "6 cells: 0 finished (0 in the run log), 0 queued or running, 6 to submit" "$out"
contains "submit: tasks" "6 tasks of 1 cell" "$out"
ids=$(jobs_of six 1)
# at once again: every cell is queued or running, so nothing is submitted
out=$("$P" sweep submit six.ini --db "$DB" 2>&1); rc=$?
expect "submit again at once: exit status" 0 "$rc"
contains "submit again at once" "6 queued or running, 0 to submit" "$out"
expect "submit again at once: no submission" 1 "$(grep -vc '^#' logs/pyramask-slurm/six/submissions)"
wait_jobs "$ids"

expect "six: finished runs in the run log" 6 "$(finished six)"
expect "six: distinct cells" 6 "$(sql "SELECT count(DISTINCT config_hash || ':' || seed) FROM runs r
    JOIN sweeps s USING (sweep_id) WHERE s.name = 'six'")"
expect "six: one shard log per task" 6 "$(ls logs/run.six.s1-t*.db | wc -l | tr -d ' ')"
for k in 0 1 2 3 4 5; do
    expect "six: shard $k holds its cell" "1|finished" \
        "$("$P" sql --csv --db "logs/run.six.s1-t$k.db" "SELECT count(*), max(status) FROM runs" | tail -n 1 | tr , '|')"
    contains "six: task $k's output shows training progress" "train: step" \
        "$(cat "logs/pyramask-slurm/six/s1-t$k.out")"
done
contains "six: at most 2 tasks at once" "ArrayTaskThrottle=2" "$(scontrol show job "${ids%,*}")"
contains "six: the script says how it was submitted" "--array=0-5%2" "$(cat logs/pyramask-slurm/six/s1.sbatch)"
st=$("$P" sweep status six.ini --db "$DB" 2>&1); rc=$?
expect "status exit status" 0 "$rc"
contains "status" "6 cells: 6 finished (6 in the run log), 0 failed, 0 running, 0 queued, 0 not run" "$st"
contains "status: jobs" "job array ${ids%,*}, 6 tasks (6 completed); merge job ${ids#*,} completed" "$st"
expect "status --list: a line per cell" 6 "$("$P" sweep status six.ini --db "$DB" --list | grep -c '^cell .*: finished in task')"
out=$("$P" sweep submit six.ini --db "$DB" 2>&1); rc=$?
expect "submit when all is done: exit status" 0 "$rc"
contains "submit when all is done" "nothing to submit: every cell is finished" "$out"

# ---- a second sweep: one task cancelled before it runs, then submitted again ----
sed 's/^name = six$/name = six-b/' six.ini > six-b.ini
out=$("$P" sweep submit six-b.ini --array-limit 1 --db "$DB" 2>&1); rc=$?
expect "six-b: submit exit status ($out)" 0 "$rc"
ids=$(jobs_of six-b 1)
# task 5 waits behind tasks 0..4 (one at a time): still pending when cancelled
scancel "${ids%,*}_5" || { echo "FAIL scancel ${ids%,*}_5" >&2; fail=1; }
wait_jobs "$ids"
st=$("$P" sweep status six-b.ini --db "$DB" 2>&1)
contains "six-b status after the cancel" "6 cells: 5 finished (0 in the run log), 0 failed, 0 running, 0 queued, 1 not run" "$st"
contains "six-b: the merge job did not wait forever" "merge job ${ids#*,} cancelled: a task did not succeed (DependencyNeverSatisfied)" "$st"
contains "six-b: the cancelled cell" "cell 5 (mask.structure=span seed=3): not run in task 5 of submission 1" "$st"
contains "six-b: what to do" "to run the 1 unfinished cell and merge every shard: pyramask sweep submit" "$st"
expect "six-b: nothing merged yet" 0 "$(finished six-b)"
out=$("$P" sweep submit six-b.ini --db "$DB" 2>&1); rc=$?
expect "six-b: submit again: exit status ($out)" 0 "$rc"
contains "six-b: submit again: the unfinished cell only" "5 finished (0 in the run log), 0 queued or running, 1 to submit" "$out"
expect "six-b: submission 2 has one task" "5:" "$(cut -c1-2 logs/pyramask-slurm/six-b/s2.cells)"
ids2=$(jobs_of six-b 2)
wait_jobs "$ids2"
expect "six-b: finished runs in the run log" 6 "$(finished six-b)"
st=$("$P" sweep status six-b.ini --db "$DB" 2>&1)
contains "six-b: status at the end" "6 cells: 6 finished (6 in the run log), 0 failed, 0 running, 0 queued, 0 not run" "$st"
contains "six-b: submission 2's jobs" "job array ${ids2%,*}, 1 task (1 completed); merge job ${ids2#*,} completed" "$st"

# ---- a cell that fails: its error in the status, the merge job cancelled ----
cat > bad.ini <<EOT
[sweep]
name = bad
base = tiny.ini
data.corpus = $T/missing.txt, $DATA/prose/kjv.txt
EOT
"$P" sweep submit bad.ini --db "$DB" >/dev/null 2>&1
ids=$(jobs_of bad 1)
wait_jobs "$ids"
st=$("$P" sweep status bad.ini --db "$DB" 2>&1)
contains "bad: status" "2 cells: 1 finished (0 in the run log), 1 failed, 0 running, 0 queued, 0 not run" "$st"
contains "bad: the error" "cell 0 (data.corpus=$T/missing.txt seed=1): failed in task 0 of submission 1: $T/bad.ini:4: data.corpus: cannot read" "$st"
contains "bad: the merge job" "merge job ${ids#*,} cancelled" "$st"
# a merge job the cluster leaves pending (as one without kill_invalid_depend does, had the
# job not asked to be cancelled): status says it will never run, submit cancels it
stuck=$(sbatch --parsable --job-name=pyramask-merge-bad --dependency="afterok:${ids%,*}" \
    -o /dev/null --wrap true)
sed "s/^1 ${ids%,*} ${ids#*,} 2\$/1 ${ids%,*} $stuck 2/" logs/pyramask-slurm/bad/submissions > sub.tmp &&
    cat sub.tmp > logs/pyramask-slurm/bad/submissions
i=0
while [ "$(squeue -h -j "$stuck" -o %r)" != DependencyNeverSatisfied ] && [ $i -lt 100 ]; do
    sleep 0.1; i=$((i + 1))
done
st=$("$P" sweep status bad.ini --db "$DB" 2>&1)
contains "bad: a merge job that waits forever" "merge job $stuck pending, and it never will run: a task did not succeed (DependencyNeverSatisfied)" "$st"
out=$("$P" sweep submit bad.ini --db "$DB" 2>&1)
contains "bad: submit cancels it" "merge job $stuck of submission 1 cancelled" "$out"
expect "bad: it is cancelled" CANCELLED "$(squeue -h -t all -j "$stuck" -o %T)"
contains "bad: the failed cell submitted again" "1 to submit" "$out"
wait_jobs "$(jobs_of bad 2)"

# ---- the merge job cancelled by hand: submitting again submits a merge job alone ----
cat > one.ini <<EOT
[sweep]
name = one
base = tiny.ini
EOT
"$P" sweep submit one.ini --db "$DB" >/dev/null 2>&1
ids=$(jobs_of one 1)
scancel "${ids#*,}"
wait_jobs "$ids"
st=$("$P" sweep status one.ini --db "$DB" 2>&1)
contains "one: status" "1 cells: 1 finished (0 in the run log), 0 failed" "$st"
contains "one: the merge job" "merge job ${ids#*,} cancelled" "$st"
contains "one: what to do" "1 finished cell is not in the run log: pyramask sweep submit" "$st"
out=$("$P" sweep submit one.ini --db "$DB" 2>&1); rc=$?
expect "one: submit again: exit status ($out)" 0 "$rc"
contains "one: a merge job alone" "submission 2: no cells to run" "$out"
expect "one: no array" 0 "$(jobs_of one 2 | cut -d, -f1)"
wait_jobs "$(jobs_of one 2 | cut -d, -f2)"
expect "one: merged" 1 "$(finished one)"

expect "integrity" ok "$(sql "PRAGMA integrity_check")"
[ $fail = 0 ] || slurm_logs "$T/cluster" >&2
exit $fail
