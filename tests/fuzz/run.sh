#!/bin/sh
# run.sh: builds the libFuzzer harnesses (clang, ASan+UBSan) and fuzzes each for a while.
# Usage: tests/fuzz/run.sh [SECONDS] [HARNESS...]   (default 60 s each, every harness)
# The corpus grows in BUILD/fuzz-corpus/HARNESS (seeds and past crashes are read from
# tests/fuzz, never written); a crash is kept in BUILD/fuzz-artifacts and fails the run.
# FUZZ_BUILD names the build directory (default build-fuzz), FUZZ_TIMEOUT the seconds an input
# may take before it counts as a hang (default 20). FUZZ_RUNS=N runs N inputs a harness instead
# of SECONDS, and FUZZ_SEED fixes libFuzzer's seed: together, the same work on every machine,
# however fast (CI's check). Exit 77 without clang.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
harnesses=${*:-encode pretok pyr tiktoken config rules ckpt}
build=${FUZZ_BUILD:-$root/build-fuzz}
command -v clang >/dev/null ||
    { echo "fuzz: clang is missing (scripts/install-deps.sh fuzz)" >&2; exit 77; }

if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" "$root" -Dfuzz=true -Dbuildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
targets=""
for h in $harnesses; do targets="$targets tests/fuzz/fuzz_$h"; done
# shellcheck disable=SC2086
meson compile -C "$build" $targets >/dev/null

if [ -d /dev/shm ] && [ -w /dev/shm ]; then scratch=/dev/shm; else scratch=${TMPDIR:-/tmp}; fi
work=$(mktemp -d "$scratch/pyramask-fuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
export FUZZ_TMPDIR="$work"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$build/fuzz-artifacts"

status=0
printf '%-9s %10s %8s %7s %7s  %s\n' harness executions exec/s corpus seconds result
for h in $harnesses; do
    case $h in
        pyr) max=16384 ;; ckpt) max=40000 ;; tiktoken|config) max=8192 ;; pretok) max=2048 ;;
        *) max=4096 ;;
    esac
    dict=""
    [ -f "$root/tests/fuzz/$h.dict" ] && dict="-dict=$root/tests/fuzz/$h.dict"
    corpus="$build/fuzz-corpus/$h"
    mkdir -p "$corpus"
    export FUZZ_SEED_DIR="$corpus" # harnesses may add seeds in this build's file formats
    log="$work/$h.log"
    start=$(date +%s)
    rc=0
    if [ -n "${FUZZ_RUNS:-}" ]; then limit="-runs=$FUZZ_RUNS"; else limit="-max_total_time=$secs"; fi
    [ -n "${FUZZ_SEED:-}" ] && limit="$limit -seed=$FUZZ_SEED"
    # shellcheck disable=SC2086
    "$build/tests/fuzz/fuzz_$h" $limit -max_len=$max -timeout="${FUZZ_TIMEOUT:-20}" \
        -rss_limit_mb=2560 -print_final_stats=1 $dict \
        -artifact_prefix="$build/fuzz-artifacts/$h-" \
        "$corpus" "$root/tests/fuzz/corpus/$h" $( [ -d "$root/tests/fuzz/regress/$h" ] &&
        echo "$root/tests/fuzz/regress/$h") >"$log" 2>&1 || rc=$?
    took=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    size=$(ls "$corpus" | wc -l)
    if [ $rc -eq 0 ]; then
        result=ok
    elif grep -q 'libFuzzer: timeout' "$log"; then
        result="HANG (an input took over ${FUZZ_TIMEOUT:-20} s): see $build/fuzz-artifacts"
        status=1
        grep -E '^(SUMMARY|Slowest)' "$log" | head -5 >&2
    else
        result="CRASH (exit $rc): see $build/fuzz-artifacts"
        status=1
        grep -E '^(fuzz:|==[0-9]+==ERROR|SUMMARY)|runtime error' "$log" | head -5 >&2
    fi
    printf '%-9s %10s %8s %7s %7s  %s\n' "$h" "${execs:-?}" "${rate:-?}" "$size" "$took" "$result"
done
exit $status
