#!/bin/sh
# Installs the Debian packages pyramask needs, and only those that are missing.
# Usage: scripts/install-deps.sh [build|test|bench|fuzz|slow|lint|slurm]...   (default: build)
# test brings PyTorch (Debian's python3-torch: 299 packages, 220 MB to fetch besides the
# rest of build and test) so that libmodel is checked against it by default; slurm
# brings Slurm and munge for tests/slurm (the test starts and stops its own daemons;
# no service is configured here).
set -eu

build_pkgs="gcc pkg-config meson ninja-build libpcre2-dev libsqlite3-dev libgsl-dev
            libopenblas-dev libinih-dev"
test_pkgs="sqlite3 python3 python3-nbformat jupyter-nbconvert python3-torch python3-dev
           python3-numpy python3-pytest"
fuzz_pkgs="clang libclang-rt-dev"
slow_pkgs="valgrind chromium"
lint_pkgs="clang-format"
slurm_pkgs="slurmctld slurmd slurm-client munge"
bench_pkgs="sentencepiece python3-torch nodejs npm bible-kjv wordnet-base python3.11-doc
            sqlite3-doc postgresql-doc-15 libpython3.11-stdlib golang-1.19-src linux-libc-dev time"

want=""
[ $# -eq 0 ] && set -- build
for group in "$@"; do
    case "$group" in
        build) want="$want $build_pkgs" ;;
        test)  want="$want $build_pkgs $test_pkgs" ;;
        bench) want="$want $build_pkgs $test_pkgs $bench_pkgs" ;;
        fuzz)  want="$want $build_pkgs $fuzz_pkgs" ;;
        slow)  want="$want $build_pkgs $test_pkgs $slow_pkgs" ;;
        lint)  want="$want $lint_pkgs" ;;
        slurm) want="$want $build_pkgs $slurm_pkgs" ;;
        *) echo "pyramask: install-deps: unknown group '$group' (build, test, bench, fuzz, slow, lint, slurm)" >&2; exit 2 ;;
    esac
done

missing=""
for p in $want; do
    # a Node.js installed from elsewhere (with its own npm) conflicts with Debian's npm
    case "$p" in nodejs|npm) command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && continue ;; esac
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        case " $missing " in *" $p "*) ;; *) missing="$missing $p" ;; esac
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing
