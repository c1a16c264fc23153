#!/bin/sh
# Installs what is missing, builds pyramask in build/, and runs the main job on the
# shipped data: the quickstart ablation sweep (experiments/sweeps/quickstart.ini), then
# prints its ablation table from the run log. Running it again resumes (nothing finished
# is run twice). Extra arguments go to `pyramask sweep run` (e.g. --jobs 4).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
[ -f build/build.ninja ] || meson setup build
meson compile -C build
mkdir -p build/quickstart
db=build/quickstart/pyramask.db
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 4 ] && jobs=4
./build/experiments/pyramask sweep run experiments/sweeps/quickstart.ini --db "$db" --jobs "$jobs" "$@"
./build/experiments/pyramask sql --db "$db" < experiments/sweeps/ablation.sql
./build/experiments/pyramask export --db "$db" -o build/quickstart/report.html
echo
echo "run log: $db (pyramask sql --db $db \"SELECT * FROM v_final\")"
echo "report: build/quickstart/report.html (pyramask export --db $db -o report.ipynb: a notebook)"
