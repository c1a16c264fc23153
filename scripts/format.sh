#!/bin/sh
# Formats every tracked C file with the repository's .clang-format, or with --check
# lists the files that differ and exits 1 (CI runs the check).
# Usage: scripts/format.sh [--check]
set -eu
cd "$(dirname "$0")/.."
cf=$(command -v clang-format-14 || command -v clang-format || true)
if [ -z "$cf" ]; then
    echo "pyramask: format: clang-format not found (scripts/install-deps.sh lint)" >&2
    exit 2
fi
if [ "${1:-}" = "--check" ]; then
    bad=""
    for f in $(git ls-files '*.c' '*.h'); do
        "$cf" --dry-run --Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
    done
    if [ -n "$bad" ]; then
        echo "pyramask: format: these files differ from .clang-format (run scripts/format.sh):" >&2
        for f in $bad; do echo "  $f" >&2; done
        exit 1
    fi
    exit 0
fi
git ls-files -z '*.c' '*.h' | xargs -0 "$cf" -i
