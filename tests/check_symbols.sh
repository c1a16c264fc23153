#!/bin/sh
# Lists the external symbols a static library defines and fails on any without one of the
# library's prefixes, so that a program linking pyramask's libraries next to its own code
# (llm.c-style kernels, another Python extension) cannot meet a duplicate symbol.
# Usage: check_symbols.sh LIB.a PREFIX [PREFIX...]      (exit 77: nm is missing)
set -eu
lib=$1
shift
nm=$(command -v nm || true)
[ -n "$nm" ] || { echo "SKIP: nm not found"; exit 77; }
[ -f "$lib" ] || { echo "FAIL: $lib: no such library"; exit 1; }
# (symbols the sanitizers' instrumentation adds, __odr_asan.NAME and the like, are not ours)
bad=$("$nm" -g --defined-only "$lib" | awk 'NF == 3 { print $3 }' | grep -v '^__\(odr_\)\?asan' |
    sort -u |
    while read -r sym; do
        ok=0
        for p in "$@"; do
            case "$sym" in "$p"*) ok=1 ;; esac
        done
        [ $ok -eq 1 ] || echo "$sym"
    done)
if [ -n "$bad" ]; then
    echo "FAIL: $(basename "$lib") exports symbols without the prefix ($*):"
    echo "$bad" | sed 's/^/  /'
    exit 1
fi
echo "ok: every external symbol of $(basename "$lib") starts with one of: $*"
