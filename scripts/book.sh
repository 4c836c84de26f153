#!/usr/bin/env bash
# The main command: set up, then build the book, executing every chapter notebook
# (Jupyter Book 1; any failing cell fails the build). Output: _build/html/index.html
# Executed notebooks are cached in _build/.jupyter_cache; pass --all to rebuild every page.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/mirrors.sh
export MPLBACKEND=Agg
PY=${PYTHON:-python3}
start=$(date +%s)
"$(dirname "$("$PY" -c "import sys; print(sys.executable)")")/jupyter-book" build . "$@"
echo "book built in $(( $(date +%s) - start )) s: $(pwd)/_build/html/index.html"
