#!/usr/bin/env bash
# The test command: set up, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# real offline data beside the repository (../shared/data), when it is there
if [ -d ../shared/data/quickdraw ]; then export SKETCHLIB_QUICKDRAW_MIRROR="${SKETCHLIB_QUICKDRAW_MIRROR:-$(cd ../shared/data/quickdraw && pwd)}"; fi
if [ -d ../shared/data/spg ]; then export SKETCHLIB_SPG_MIRROR="${SKETCHLIB_SPG_MIRROR:-$(cd ../shared/data/spg && pwd)}"; fi
if [ -d ../shared/data/sketch-rnn-datasets ]; then export SKETCHLIB_SKETCHRNN_MIRROR="${SKETCHLIB_SKETCHRNN_MIRROR:-$(cd ../shared/data/sketch-rnn-datasets && pwd)}"; fi
exec "${PYTHON:-python3}" -m pytest -q "$@"
