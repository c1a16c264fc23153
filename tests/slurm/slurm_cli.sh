#!/bin/sh
# slurm_cli: the Slurm side of `pyramask sweep` without a cluster: `sweep run --cells` (the
# tasks' command: only the cells listed, and a cell that changed since it was listed is an
# error), bad options, and `sweep submit|status` where the Slurm commands are missing: an
# error that says so, no submission recorded, no files left behind.
# Usage: slurm_cli.sh PYRAMASK DATA_DIR
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/exp_lib.sh"

cat > s.ini <<EOT
[sweep]
name = cells
base = tiny.ini
seeds = 1, 2
mask.structure = token, span
EOT
# cell 2 is span with seed 1; its hash and seed as `sweep show` prints them
line=$("$P" sweep show s.ini | awk '$1 == 2')
hash=$(echo "$line" | cut -f2)
"$P" sweep run s.ini --cells "0,2:$hash:1" 2>err.txt; rc=$?
expect "--cells: exit status" 0 "$rc"
contains "--cells: summary" "sweep cells: 2 cells listed, 2 finished, 0 failed" "$(cat err.txt)"
expect "--cells: those two cells only" "1:token|1:span" "$(sql "SELECT seed || ':' || value FROM runs JOIN params USING (run_id) WHERE key = 'mask.structure' ORDER BY run_id" | tr '\n' '|' | sed 's/|$//')"
# a listed cell that is another one now (the file changed): refused, nothing run
"$P" sweep run s.ini --cells "1:$hash:1" 2>err.txt; rc=$?
expect "--cells, changed cell: exit status" 2 "$rc"
contains "--cells, changed cell: message" "pyramask: sweep: --cells: cell 1 is " "$(cat err.txt)"
contains "--cells, changed cell: why" "changed since the cells were listed" "$(cat err.txt)"
expect "--cells, changed cell: nothing run" 2 "$(sql "SELECT count(*) FROM runs")"
for bad in "4" "-1" "x" "1:abc" ""; do
    "$P" sweep run s.ini --cells "$bad" >/dev/null 2>err.txt; rc=$?
    expect "--cells '$bad': exit status" 2 "$rc"
done
"$P" sweep run s.ini --cells 1 --shard 1/2 2>err.txt; rc=$?
expect "--cells with --shard" 2 "$rc"
# options that belong to other subcommands, and sbatch options pyramask sets itself
for args in "run s.ini --array-limit 2" "show s.ini --cells 1" "status s.ini --jobs 2" \
            "submit s.ini --array-limit 0" "submit s.ini --cells-per-task x" \
            "submit s.ini --sbatch-arg --array=1-3" "submit s.ini --sbatch-arg=-d" \
            "submit s.ini --sbatch-arg --output=x"; do
    "$P" sweep $args >/dev/null 2>err.txt; rc=$?
    expect "sweep $args: exit status" 2 "$rc"
    contains "sweep $args: message" "pyramask: sweep: " "$(cat err.txt)"
done
"$P" sweep submit --help | grep -q -- '--array-limit K' || { echo "FAIL: submit's help" >&2; fail=1; }

# no Slurm commands on PATH (a machine without Slurm): submit fails and says why
mkdir bin
for t in sh sed cat; do ln -s "$(command -v $t)" bin/$t; done
PATH=$T/bin "$P" sweep submit s.ini >out.txt 2>err.txt; rc=$?
expect "submit without Slurm: exit status" 1 "$rc"
contains "submit without Slurm: message" "pyramask: sweep: " "$(cat err.txt)"
contains "submit without Slurm: which command" "is Slurm installed" "$(cat err.txt)"
expect "submit without Slurm: no submission recorded" "" "$(ls pyramask-slurm/cells 2>/dev/null | grep -v '^lock$')"
# status reads the run log alone until something is submitted
st=$(PATH=$T/bin "$P" sweep status s.ini 2>&1); rc=$?
expect "status without Slurm: exit status" 0 "$rc"
contains "status without Slurm" "sweep cells: 4 cells: 2 finished (2 in the run log), 0 failed, 0 running, 0 queued, 2 not run" "$st"
expect "status --list" 4 "$(PATH=$T/bin "$P" sweep status s.ini --list | grep -c '^cell ')"
exit $fail
