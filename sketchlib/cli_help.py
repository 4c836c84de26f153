"""The help texts of ``python -m sketchlib`` (:mod:`sketchlib.cli`): examples and what each command writes."""

_EPILOG = """\
examples:
  python -m sketchlib presets                       list the model presets
  python -m sketchlib presets aisketcher-small      every setting of one preset
  python -m sketchlib train --preset aisketcher-small --data faces --steps 3000 --out runs/faces
  python -m sketchlib train --preset aisketcher-small --data faces --steps 6000 --out runs/faces --resume
  python -m sketchlib sample --checkpoint runs/faces/best.pt --n 16 --temperature 0.5 --out samples/
  python -m sketchlib evaluate --checkpoint runs/faces/best.pt --data faces --split test

Run "python -m sketchlib COMMAND --help" for a command's options.
"""

_TRAIN_EPILOG = """\
data specs (see sketchlib.datasets.load):
  faces | quickdraw:face,pig | quickdraw-simplified:face | spg | spg:face,pig |
  kanjivg | kanjivg:10 | path/to/file.npz

examples:
  # a small AI-Sketcher on the faces data, 3000 steps (checkpoints in runs/faces)
  python -m sketchlib train --preset aisketcher-small --data faces --steps 3000 --out runs/faces
  # Sketch-RNN on two QuickDraw classes, changing settings of the preset
  python -m sketchlib train --preset sketch_rnn-small --data quickdraw:face,pig --out runs/qd \\
      --set batch_size=32 --set kl_weight=1.0
  # continue a stopped run up to 6000 steps
  python -m sketchlib train --preset aisketcher-small --data faces --steps 6000 --out runs/faces --resume
  # data-parallel over 2 processes (gloo on CPUs, NCCL with one GPU per process), same batches as one
  torchrun --nproc_per_node 2 -m sketchlib train --preset sketch_rnn-small --data quickdraw:face --out runs/dp

The output folder receives best.pt (lowest validation loss), last.pt, log.jsonl
(one line of losses per step) and config.json.
"""

_SAMPLE_EPILOG = """\
examples:
  python -m sketchlib sample --checkpoint runs/faces/best.pt --n 16 --temperature 0.5 --out samples/
  python -m sketchlib sample --checkpoint runs/faces/best.pt --class happiness-female --seed 0 --out happy/
  python -m sketchlib sample --checkpoint runs/faces/best.pt --n 9 --out faces.svg

--out names a folder: it receives sample_000.svg, sample_000.png, ... for each
drawing, grid.png with all of them, and samples.npz with the stroke-3 arrays
(pixel units). An --out ending in .svg or .png writes that one file instead: the
drawing, or with --n above 1 all of them in a grid. A class-conditional model
without --class cycles through its classes.
"""

_EVALUATE_EPILOG = """\
example:
  python -m sketchlib evaluate --checkpoint runs/faces/best.pt --data faces --split test

Prints the mean loss terms (total, reconstruction l_r = l_s + l_p, KL l_kl, ...)
with the KL term at its full weight, as during validation.
"""
