#!/bin/sh
# Installs what is missing, builds pyramask in build/, and runs the main job on the
# shipped data: a three-level vocabulary pyramid of the prose corpus and its statistics.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
[ -f build/build.ninja ] || meson setup build
meson compile -C build
./build/experiments/pyramask vocab build --corpus data/prose/kjv.txt \
    --levels 1024,4096,16384 --superword 24576 -o build/kjv.pyr
./build/experiments/pyramask vocab stats -p build/kjv.pyr --corpus data/prose/kjv.txt
