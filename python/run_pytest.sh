#!/bin/sh
# Runs the Python module's pytest suite against the built extension.
# Usage: run_pytest.sh PYTHON BUILD_PYTHON_DIR TESTS_DIR PYRAMASK_EXE DATA_DIR
# Skips (77) where pytest is missing (scripts/install-deps.sh test installs python3-pytest).
set -u
py=$1 build=$2 tests=$3
case $4 in /*) exe=$4 ;; *) exe=$(pwd)/$4 ;; esac
export PYRAMASK_EXE=$exe PYRAMASK_DATA=$5
"$py" -c 'import pytest' 2>/dev/null || { echo "SKIP: pytest is missing for $py (python3-pytest)"; exit 77; }
export PYTHONPATH="$build${PYTHONPATH:+:$PYTHONPATH}"
cd "$tests" || exit 1
exec "$py" -m pytest -q -p no:cacheprovider "$tests"
