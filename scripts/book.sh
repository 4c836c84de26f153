#!/usr/bin/env bash
# The main command: set up, then build the book, executing every chapter notebook
# (Jupyter Book 1; any failing cell fails the build). Output: _build/html/index.html
# Executed notebooks are cached in _build/.jupyter_cache; pass --all to rebuild every page.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/mirrors.sh
# The kernels must draw with the inline backend: an inherited MPLBACKEND=Agg (tests, CI) makes
# plt.show() a no-op and the pages lose every figure.
unset MPLBACKEND
PY=${PYTHON:-python3}
start=$(date +%s)
bash scripts/fetch_webpad.sh   # the browser sketch pad: onnxruntime-web and the exported models, into _build/webpad
"$(dirname "$("$PY" -c "import sys; print(sys.executable)")")/jupyter-book" build . "$@"
echo "book built in $(( $(date +%s) - start )) s: $(pwd)/_build/html/index.html"
"$PY" scripts/check_pages.py   # what a reader sees: figures, long lines, machine paths, title first, raw $ maths
