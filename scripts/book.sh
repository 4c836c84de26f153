#!/usr/bin/env bash
# The main command. Until the book's chapters land, it runs a short end-to-end
# demo with the library's command line: train a small Sketch-RNN on real
# QuickDraw faces for a few steps, sample drawings, write SVG/PNG to runs/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -d ../shared/data/quickdraw ]; then export SKETCHLIB_QUICKDRAW_MIRROR="${SKETCHLIB_QUICKDRAW_MIRROR:-$(cd ../shared/data/quickdraw && pwd)}"; fi
PY=${PYTHON:-python3}
OUT=runs/demo
rm -rf "$OUT"
"$PY" -m sketchlib train --preset sketch_rnn-small --data quickdraw:face --steps "${DEMO_STEPS:-40}" \
    --set eval_every=20 --set batch_size=32 --out "$OUT/model" --quiet
"$PY" -m sketchlib evaluate --checkpoint "$OUT/model/best.pt" --data quickdraw:face --split test
"$PY" -m sketchlib sample --checkpoint "$OUT/model/best.pt" --n 9 --temperature 0.5 --seed 0 --out "$OUT/samples"
echo "demo drawings written to $OUT/samples"
