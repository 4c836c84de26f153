#!/usr/bin/env bash
# The main command: set up, then build the book, executing every chapter notebook
# (Jupyter Book 1; any failing cell fails the build). Output: _build/html/index.html
# Executed notebooks are cached in _build/.jupyter_cache; pass --all to rebuild every page.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# real offline data beside the repository (../shared/data), when it is there; otherwise the loaders download
if [ -d ../shared/data/quickdraw ]; then export SKETCHLIB_QUICKDRAW_MIRROR="${SKETCHLIB_QUICKDRAW_MIRROR:-$(cd ../shared/data/quickdraw && pwd)}"; fi
if [ -d ../shared/data/spg ]; then export SKETCHLIB_SPG_MIRROR="${SKETCHLIB_SPG_MIRROR:-$(cd ../shared/data/spg && pwd)}"; fi
if [ -d ../shared/data/sketch-rnn-datasets ]; then export SKETCHLIB_SKETCHRNN_MIRROR="${SKETCHLIB_SKETCHRNN_MIRROR:-$(cd ../shared/data/sketch-rnn-datasets && pwd)}"; fi
export MPLBACKEND=Agg
PY=${PYTHON:-python3}
start=$(date +%s)
"$(dirname "$("$PY" -c "import sys; print(sys.executable)")")/jupyter-book" build . "$@"
echo "book built in $(( $(date +%s) - start )) s: $(pwd)/_build/html/index.html"
