#!/usr/bin/env bash
# The multi-class experiment's runs (chapter 10b): Sketch-RNN, Sketch-pix2seq and AI-Sketcher (small sizes) on the
# first 5, 10, 15 and 20 SPG classes, STEPS steps each, in two parallel lanes of one thread each, then shipped.
#
#   bash scripts/train_multiclass.sh 600          # the shipped runs: about an hour on 2 CPU cores
#   bash scripts/train_multiclass.sh 20000        # a GPU budget (then ship with the same number)
#
# The commands come from RUNS in scripts/ship_checkpoints.py (the first k SPG classes; --set max_seq_len=128
# drops the ~1% of SPG drawings longer than 128 points so every model pads to the same N_max).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mirrors.sh
STEPS=${1:?usage: train_multiclass.sh STEPS [OUT]}
OUT=${2:-runs/multiclass}
mkdir -p "$OUT"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
run() {  # preset k: the command scripts/ship_checkpoints.py records for "<preset>/spg-<k>", into OUT
  local cmd
  cmd=$(python scripts/ship_checkpoints.py --runs "$OUT" --steps "$STEPS" --print-command "$1/spg-$2")
  eval "$cmd --quiet" > "$OUT/$1_spg$2.stdout" 2>&1
}
( for k in 5 10 15 20; do run sketch_pix2seq-small $k; done
  for k in 5 10 15; do run aisketcher-small $k; done ) &
( for k in 5 10 15 20; do run sketch_rnn-small $k; done
  run aisketcher-small 20 ) &
wait
python scripts/ship_checkpoints.py --runs "$OUT" --steps "$STEPS" --only \
  $(for k in 5 10 15 20; do for p in sketch_rnn-small sketch_pix2seq-small aisketcher-small; do echo "$p/spg-$k"; done; done)
