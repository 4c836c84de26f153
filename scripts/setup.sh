#!/usr/bin/env bash
# Install sketchlib with everything the book and the tests need, on a fresh machine.
# Torch first, pinned to the CPU build, so pip never pulls a multi-GB CUDA build
# (on a GPU machine, install the torch you want before running this).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
    "$PY" -m pip install --quiet "torch==2.13.0" \
        || "$PY" -m pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu
fi
"$PY" -m pip install --quiet -e ".[book,dev]"
# The native LSTM kernels (sketchlib/models/native.py): built once here (~25 s) so that neither the first
# training nor the first sampling waits for the compiler. A failed build is not fatal: the Python kernels run.
"$PY" -m sketchlib build-native || echo "warning: the native LSTM kernels did not build; training uses the Python kernels"
