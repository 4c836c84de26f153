"""Register training runs as the book's shipped checkpoints (weights only, with their logs and measured losses).

    python scripts/ship_checkpoints.py --runs runs/ablation --steps 1250

Each run folder (``best.pt``, ``log.jsonl``) listed in ``RUNS`` below is written to
``data/checkpoints/`` and recorded in ``registry.json`` by
:func:`sketchlib.pretrained.register`, with the command that trains it. Run
from the repository root after training the runs with exactly those commands.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from sketchlib import pretrained
from sketchlib.datasets import SPG_CLASSES as SPG_ORDER  # the first k are the k-class set

#: registry name -> (run folder name, preset, data spec, description[, extra train arguments])
RUNS = {
    "conditional_sketch_rnn-small/faces": (
        "conditional_sketch_rnn", "conditional_sketch_rnn-small", "faces",
        "Conditional Sketch-RNN (small: encoder 128, decoder 256, z 64; class vector of the 14 expression x gender "
        "classes) on the project's face set: the first model of AI-Sketcher's ablation"),
    "aisketcher_influence_only-small/faces": (
        "influence_only", "aisketcher_influence_only-small", "faces",
        "AI-Sketcher with the influence layer but no CNN autoencoder (small sizes) on the face set"),
    "aisketcher_autoencoder_only-small/faces": (
        "autoencoder_only", "aisketcher_autoencoder_only-small", "faces",
        "AI-Sketcher with the CNN autoencoder but no influence layer (small sizes) on the face set"),
    "aisketcher-small/faces": (
        "aisketcher", "aisketcher-small", "faces",
        "AI-Sketcher, all components (class vector, influence layer, CNN autoencoder), small sizes, on the face set"),
    "sketch_rnn-small/faces": (
        "sketch_rnn", "sketch_rnn-small", "faces",
        "Sketch-RNN without a class vector (small sizes) on the face set: the unconditional comparison of chapter 5"),
    "aisketcher-small/faces-3000": (  # ship with --runs runs/causal --steps 3000
        "aisketcher", "aisketcher-small", "faces",
        "AI-Sketcher (small sizes) on the face set, trained three times as long as the ablation's models: the "
        "library's acceptance model (docs/aisketcher_faces_report.py)"),
    "aisketcher_influence_only-small/faces-bidirectional": (
        "influence_only_bidirectional", "aisketcher_influence_only-small", "faces",
        "The influence-only model attending over both halves of the bidirectional encoder (the paper's literal "
        "reading), which lets the decoder see the point it predicts: chapter 6 measures the leak",
        "--set influence_states=both"),
}

#: chapter 12's mixed-object models (run folders under runs/mixed; ship with --runs runs/mixed --steps 1000)
RUNS.update({
    "cnn_lstm_vae-small/quickdraw-4": (
        "cnn4", "cnn_lstm_vae-small", "quickdraw:face,pig,alarm clock,radio",
        "CNN-LSTM VAE (small: CNN encoder over 64x64 rasters, z 128, LSTM decoder 256) on four real QuickDraw "
        "classes (face, pig, alarm clock, radio; 2,000 training drawings each)"),
    "sketch_rnn-small/quickdraw-4": (
        "rnn4", "sketch_rnn-small", "quickdraw:face,pig,alarm clock,radio",
        "Sketch-RNN (small: bidirectional LSTM encoder) on the same four QuickDraw classes: the RNN-encoder VAE the "
        "CNN-LSTM VAE is compared with"),
    "cnn_lstm_vae-small/spg-face-parts": (
        "cnnparts", "cnn_lstm_vae-small", "spg-parts:eye,nose,mouth,ear",
        "CNN-LSTM VAE (small) on eyes, noses, mouths and ears cut out of SPG's 800 labelled QuickDraw faces"),
    "sketch_rnn-small/spg-face-parts": (
        "sketch_rnn_parts", "sketch_rnn-small", "spg-parts:eye,nose,mouth,ear",
        "Sketch-RNN (small: bidirectional LSTM encoder) on the same SPG face parts: the RNN-encoder VAE the "
        "CNN-LSTM VAE is compared with"),
})

#: the multi-class experiment (chapter 10b): three models on the first k SPG classes, the same budget each
MULTICLASS_MODELS = {"sketch_rnn-small": "Sketch-RNN", "sketch_pix2seq-small": "Sketch-pix2seq",
                     "aisketcher-small": "AI-Sketcher"}
for _k in (5, 10, 15, 20):
    for _preset, _label in MULTICLASS_MODELS.items():
        RUNS[f"{_preset}/spg-{_k}"] = (
            f"{_preset}_spg{_k}", _preset, "spg:" + ",".join(SPG_ORDER[:_k]),
            f"{_label} (small sizes) on the first {_k} SPG classes (800 QuickDraw drawings each): the multi-class "
            "experiment", "--set max_seq_len=128")


#: the runs of the training queue (scripts/training_queue.yml) are defined there, and replace those above
sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_queue import read_queue  # noqa: E402

for _run in read_queue():
    RUNS[_run.name] = (_run.stem, _run.preset, _run.data, _run.description,
                       *([" ".join(f"--set {shlex.quote(s)}" for s in _run.set)] if _run.set else []))


README_HEAD = """# Shipped checkpoints

Weights-only checkpoints the book's chapters load by name
(`from sketchlib import pretrained; model, stats = pretrained.load(name)`), and
`registry.json`, which records for each the preset, the data, the steps, the
exact training command, the commit of the code and the losses measured by
`sketchlib.pretrained.measure` on the first drawings of the data's train and
valid splits (`n` drawings, latent noise seeded). `tests/test_pretrained.py`
reproduces every valid loss. This table is written from the registry by
`python scripts/ship_checkpoints.py --readme`.

`*.train-state.pt` files are full training states (optimiser, RNG, data order)
of runs still going: `python scripts/train_queue.py run` restores the queue's
ones into their run folders and continues them (for another, copy it to
`OUT/last.pt` and run its command with `--resume`).

| name | preset | data | steps | valid total | valid l_r | valid l_kl | MB | command |
|---|---|---|---|---|---|---|---|---|
"""


def write_readme() -> None:
    rows = []
    for name in pretrained.available():
        i = pretrained.info(name)
        v = i.valid
        rows.append(f"| `{name}` | {i.preset} | `{i.data}` | {i.steps} | {v['total']:.4f} | {v['l_r']:.4f} | "
                    f"{v['l_kl']:.4f} | {i.path.stat().st_size / 2**20:.1f} | `{i.command}` |")
    (pretrained.checkpoint_dir() / "README.md").write_text(README_HEAD + "\n".join(rows) + "\n" + model_table())


MODEL_TABLE_HEAD = """
## The model table

Measured by `python scripts/model_report.py` (see its docstring) on the **test** split of
each model's data; `report.json` holds the numbers. Hours: wall-clock training time on the
machine that trained it (2 CPU cores, one thread per run, unless the log says otherwise).
KL weight: the weight reached at the last step / its target. Prior samples (QuickDraw models):
share read as the model's class by a raster classifier of four QuickDraw classes, the share
read so at p >= 0.8, and the share that ended before N_max, at temperature 0.25 and 0.5;
"real" is the same classifier on real test drawings. Retrieval: top-1 among 50 test drawings
after encoding and decoding at temperature 0.25 (chance 2%).

""" + "| " + " | ".join([
    "name", "steps", "hours", "schedule", "KL weight", "test l_r", "test l_kl", "l_r + l_kl",
    "prior T 0.25: read / p>=0.8 / ended", "prior T 0.5", "real: read / p>=0.8", "retrieval", "3x3 samples (T 0.25)",
]) + " |\n" + "|---" * 13 + "|\n"


def model_table() -> str:
    import json

    path = pretrained.checkpoint_dir() / "report.json"
    if not path.exists():
        return ""
    report = json.loads(path.read_text())
    pct = lambda x: f"{100 * x:.0f}%"  # noqa: E731
    rows = []
    for name, e in sorted(report.items()):
        if name not in pretrained.available():
            continue
        t = e["test"]
        rec = e.get("recognisability")
        prior = [" / ".join(pct(rec[k][f]) for f in ("read", "confident", "ended")) if rec else ""
                 for k in ("T0.25", "T0.5")]
        real = f"{pct(rec['real']['read'])} / {pct(rec['real']['confident'])}" if rec else ""
        retrieval = pct(e["retrieval_top1"]) if "retrieval_top1" in e else ""
        hours = f"{e['hours']:.2f}" if e.get("hours") is not None else ""
        rows.append(f"| `{name}` | {e['steps']} | {hours} | {e['schedule']} | "
                    f"{e['kl_weight_reached']:.2f} / {e['kl_weight']:.2f} | {t['l_r']:.3f} | {t['l_kl']:.3f} | "
                    f"{t['l_r'] + t['l_kl']:.3f} | {prior[0]} | {prior[1]} | {real} | {retrieval} | "
                    f"![]({e['grid']}) |")
    return MODEL_TABLE_HEAD + "\n".join(rows) + "\n"


def train_command(name: str, steps: int, out: str = "OUT") -> str:
    """The command that trains registry entry ``name`` for ``steps`` steps into ``out``."""
    _, preset, data, _, *extra = RUNS[name]
    command = f"python -m sketchlib train --preset {preset} --data {shlex.quote(data)} --steps {steps} --out {out}"
    return command + (" " + extra[0] if extra else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="runs/ablation", help="folder holding the run folders")
    ap.add_argument("--steps", type=int, help="the --steps the runs were trained with")
    ap.add_argument("--readme", action="store_true", help="only rewrite data/checkpoints/README.md from the registry")
    ap.add_argument("--only", nargs="*", help="registry names to (re)ship (default: all)")
    ap.add_argument("--print-command", metavar="NAME",
                    help="only print the command that trains NAME into its run folder under --runs")
    args = ap.parse_args()
    if args.readme:
        write_readme()
        return
    if args.steps is None:
        ap.error("--steps is required to ship runs")
    if args.print_command:
        if args.print_command not in RUNS:
            ap.error(f"{args.print_command!r} is not in RUNS; known: {', '.join(sorted(RUNS))}")
        out = shlex.quote(str(Path(args.runs) / RUNS[args.print_command][0]))
        print(train_command(args.print_command, args.steps, out))
        return
    for name, (folder, _, data, description, *_) in RUNS.items():
        if args.only and name not in args.only:
            continue
        run = Path(args.runs) / folder
        info = pretrained.register(name, run / "best.pt", data=data, command=train_command(name, args.steps),
                                   description=description,
                                   log=run / "log.jsonl")
        print(f"{name}: step {info.steps}, valid total {info.valid['total']:.4f} (l_r {info.valid['l_r']:.4f}, "
              f"l_kl {info.valid['l_kl']:.4f}), {info.path.stat().st_size / 2**20:.1f} MB")
    write_readme()


if __name__ == "__main__":
    main()
