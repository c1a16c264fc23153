#!/bin/sh
# Runs the PyTorch example (python/examples/train_denoiser.py) against the built extension.
# Usage: run_example.sh PYTHON BUILD_PYTHON_DIR EXAMPLE DATA_DIR
# Skips (77) where PyTorch is missing (python3-torch).
set -u
py=$1 build=$2 example=$3 data=$4
"$py" -c 'import torch' 2>/dev/null || { echo "SKIP: PyTorch is missing for $py (python3-torch)"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/pyramask-torch.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
PYTHONPATH="$build${PYTHONPATH:+:$PYTHONPATH}" exec "$py" "$example" --corpus "$data/prose/kjv.txt" --check
