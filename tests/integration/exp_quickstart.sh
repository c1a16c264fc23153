#!/bin/sh
# The quickstart sweep as shipped (16 runs, minutes): every run finishes and the ablation
# tables have a row per configuration and per factor level.
. "$(dirname "$0")/exp_lib.sh"
src=$(cd "$DATA/.." && pwd)
"$P" sweep run "$src/experiments/sweeps/quickstart.ini" --jobs 2 2>err.txt; rc=$?
expect "quickstart exit status" 0 "$rc"
contains "summary" "16 cells, 16 finished, 0 failed" "$(cat err.txt)"
"$P" sql --csv < "$src/experiments/sweeps/ablation.sql" > table.csv
expect "a row per configuration, two seeds each" 8 "$(grep -cE '^(token|span|unit|regex),(single|class),2,' table.csv)"
expect "a row per factor level" 6 "$(grep -cE '^mask\.(structure|types),' table.csv)"
exit $fail
