#!/bin/sh
# Installs what is missing, builds pyramask in build/, and runs the default test
# suites (unit, integration). Extra arguments go to `meson test`.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
[ -f build/build.ninja ] || meson setup build
meson compile -C build
meson test -C build --print-errorlogs "$@"
