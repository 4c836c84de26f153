"""Measure the shipped models as a reader would judge them, and write the model table.

    python scripts/model_report.py                       # every registry entry (skips ones measured at this step)
    python scripts/model_report.py --only sketch_rnn-small/quickdraw-face --force

For every shipped checkpoint it records, in ``data/checkpoints/report.json``:

- how it was trained: preset, data, steps, wall-clock hours (from its log), schedule,
  the KL weight reached at its last step;
- the losses on the **test** split (``pretrained.measure``): l_r, l_kl and the bound l_r + l_kl;
- a 3x3 grid of samples from the prior at temperature 0.25 (``<name>.grid.png``);
- for models of QuickDraw classes, judged by a raster classifier
  (:class:`sketchlib.evaluation.RasterClassifier`) trained on the training splits of the four
  QuickDraw classes face, pig, alarm clock and radio: 100 prior samples at temperature 0.25 and
  0.5, the share read as the model's class (as any class for a multi-class model), the share
  read so with probability >= 0.8, and the share that ended by itself before N_max; the same
  classifier on the real test drawings gives the ceiling to compare with;
- for models with an encoder, retrieval top-1: 50 test drawings are encoded and decoded at
  temperature 0.25, and a reconstruction counts when its nearest test drawing (raster
  distance, among the 50) is its own input (chance 2%).

``python scripts/ship_checkpoints.py --readme`` writes the table into ``data/checkpoints/README.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
QUICKDRAW_4 = ["face", "pig", "alarm clock", "radio"]
TEMPERATURES = (0.25, 0.5)
CONFIDENT = 0.8


def report_path() -> Path:
    from sketchlib import pretrained

    return pretrained.checkpoint_dir() / "report.json"


def read_report() -> dict:
    path = report_path()
    return json.loads(path.read_text()) if path.exists() else {}


_CLASSIFIER = {}


def quickdraw_classifier():
    """The raster classifier of the four QuickDraw classes (trained once per process)."""
    if "clf" not in _CLASSIFIER:
        from sketchlib.datasets import load
        from sketchlib.evaluation import RasterClassifier

        data = load("quickdraw:" + ",".join(QUICKDRAW_4))
        names = data.train.class_names
        clf = RasterClassifier(names).fit(data.train.drawings, data.train.labels)
        _CLASSIFIER.update(clf=clf, test=data.test, names=names)
    return _CLASSIFIER["clf"], _CLASSIFIER["test"], _CLASSIFIER["names"]


def judged(proba: np.ndarray, classes: list[int]) -> dict:
    """Shares read as one of ``classes`` (the top class), and so at probability >= 0.8."""
    top, p = proba.argmax(1), proba.max(1)
    ok = np.isin(top, classes)
    return {"read": float(ok.mean()), "confident": float((ok & (p >= CONFIDENT)).mean()), "n": int(len(proba))}


def recognisability(model, stats, data_classes: list[str], n: int) -> dict:
    from sketchlib.sampling import sample

    clf, test, names = quickdraw_classifier()
    classes = [names.index(c) for c in data_classes]
    real = [d for d, y in zip(test.drawings, test.labels) if y in classes]
    out = {"real": judged(clf.predict_proba(real), classes)}
    for tau in TEMPERATURES:
        drawings = sample(model, n, scale=stats["scale"], temperature=tau, seed=0)
        r = judged(clf.predict_proba(drawings), classes)
        r["ended"] = float(np.mean([len(d) < model.cfg.max_seq_len for d in drawings]))
        out[f"T{tau}"] = r
    return out


def retrieval_top1(model, stats, data: str, n: int = 50) -> float:
    """:func:`sketchlib.evaluation.retrieval_top1` of the first ``n`` test drawings of ``data`` (that fit N_max)."""
    from sketchlib.datasets import load
    from sketchlib.evaluation import retrieval_top1 as top1

    test = load(data).test
    drawings = [d for d in test.drawings if len(d) <= model.cfg.max_seq_len][:n]
    labels = None
    if model.cfg.conditional:
        labels = [stats["class_names"].index(test.class_names[y]) for y in test.labels[: len(drawings)]]
    return top1(model, drawings, stats["scale"], labels, temperature=0.25, seed=0)


def grid_image(model, stats, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from sketchlib.plotting import plot_grid
    from sketchlib.sampling import sample

    labels = [i % model.cfg.num_classes for i in range(9)] if model.cfg.conditional else None
    drawings = sample(model, 9, scale=stats["scale"], temperature=0.25, seed=0, labels=labels)
    fig = plot_grid(drawings, ncols=3, cell_size=1.0)
    fig.savefig(path, dpi=50)
    import matplotlib.pyplot as plt

    plt.close(fig)


def measure_one(name: str, n: int) -> dict:
    from sketchlib import pretrained
    from sketchlib.checkpoint import load_checkpoint
    from sketchlib.losses import kl_weight_at

    info = pretrained.info(name)
    model, stats = pretrained.load(name)
    cfg = load_checkpoint(info.path)["config"]
    records = pretrained.read_training_log(name) if info.log else []
    test = pretrained.measure(model, stats, info.data, "test")
    entry = {
        "steps": info.steps, "preset": info.preset, "data": info.data,
        "hours": round(pretrained.training_minutes(records) / 60, 3) if records else None,
        "schedule": cfg.schedule, "kl_weight_reached": kl_weight_at(cfg, info.steps), "kl_weight": cfg.kl_weight,
        "test": {k: test[k] for k in ("l_r", "l_kl", "total", "n")},
    }
    stem = name.replace("/", "_")
    grid_image(model, stats, pretrained.checkpoint_dir() / f"{stem}.grid.png")
    entry["grid"] = f"{stem}.grid.png"
    if info.data.startswith("quickdraw:"):
        classes = info.data.split(":", 1)[1].split(",")
        if set(classes) <= set(QUICKDRAW_4):
            entry["recognisability"] = recognisability(model, stats, classes, n)
    if cfg.has_latent and cfg.encoder != "none" and info.data.startswith("quickdraw:"):
        entry["retrieval_top1"] = retrieval_top1(model, stats, info.data)
    return entry


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", help="registry names (default: all)")
    ap.add_argument("--n", type=int, default=100, help="prior samples per temperature (default 100)")
    ap.add_argument("--force", action="store_true", help="measure again even if measured at the same step")
    args = ap.parse_args(argv)
    import torch

    from sketchlib import pretrained

    torch.set_num_threads(1)
    names = args.only or pretrained.available()
    report = read_report()
    for name in names:
        info = pretrained.info(name)
        measured = report.get(name, {})
        if not args.force and measured.get("steps") == info.steps and measured.get("commit") == info.commit:
            continue
        entry = measure_one(name, args.n)
        entry["commit"] = info.commit
        report[name] = entry
        path = report_path()
        path.write_text(json.dumps(dict(sorted(report.items())), indent=1) + "\n")
        print(f"{name}: {json.dumps(entry)}", flush=True)
    sys.path.insert(0, str(REPO / "scripts"))
    import ship_checkpoints

    ship_checkpoints.write_readme()
    return 0


if __name__ == "__main__":
    sys.exit(main())
