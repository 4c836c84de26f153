"""Judge training runs (run folders) the way ``scripts/model_report.py`` judges shipped models.

    python -m benchmarks.judge_runs runs/ab/pack-seed1 runs/ab/bucket-seed1 --data quickdraw:face --classes face

For each folder's ``last.pt``: the test-split losses (``pretrained.measure``: l_r, l_kl and the bound
l_r + l_kl), 100 prior samples at temperature 0.25 and 0.5 read by the raster classifier of the four
QuickDraw classes (the share read as one of ``--classes``, the share read so at p >= 0.8, the share that
ended by itself before N_max), and retrieval top-1 of 50 test drawings (see ``model_report``). Prints one
Markdown row per run, so A/B arms can be compared before one of them is shipped. ``--paired A B`` (two
folders, repeatable) adds the paired per-drawing difference of the bound on the test split, A minus B,
with its 95% interval (``evaluation.per_drawing_losses``, ``mean_ci``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import model_report  # noqa: E402


def judge(folder: Path, data: str, classes: list[str]) -> dict:
    from sketchlib import pretrained
    from sketchlib.checkpoint import load_checkpoint, load_model

    model, stats = load_model(folder / "last.pt")
    test = pretrained.measure(model, stats, data, "test")
    return {"step": load_checkpoint(folder / "last.pt")["step"], "l_r": test["l_r"], "l_kl": test["l_kl"],
            "rec": model_report.recognisability(model, stats, classes, 100),
            "retrieval": model_report.retrieval_top1(model, stats, data) if model.cfg.has_latent else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="*", type=Path)
    ap.add_argument("--paired", nargs=2, action="append", type=Path, metavar=("A", "B"), default=[],
                    help="also print the paired test-split bound difference A minus B")
    ap.add_argument("--data", default="quickdraw:face")
    ap.add_argument("--classes", nargs="+", default=["face"], help="the QuickDraw classes the runs draw")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.folders:
        print("| run | step | test l_r | test l_kl | bound | T 0.25 read / p >= 0.8 / ended "
              "| T 0.5 read / p >= 0.8 / ended | retrieval top-1 |")
        print("|---|---|---|---|---|---|---|---|")
    real = None
    for folder in args.folders:
        r = judge(folder, args.data, args.classes)
        real = r["rec"]["real"]
        t = [r["rec"][f"T{tau}"] for tau in model_report.TEMPERATURES]
        shares = [f"{x['read']:.0%} / {x['confident']:.0%} / {x['ended']:.0%}" for x in t]
        ret = "" if r["retrieval"] is None else f"{r['retrieval']:.0%}"
        print(f"| {folder} | {r['step']} | {r['l_r']:.3f} | {r['l_kl']:.3f} | {r['l_r'] + r['l_kl']:.3f} | "
              f"{shares[0]} | {shares[1]} | {ret} |", flush=True)
    if real is not None:
        print(f"\nreal test drawings: read {real['read']:.1%}, at p >= 0.8 {real['confident']:.1%} (n = {real['n']})")
    for a, b in args.paired:
        d, lo, hi = paired_bound(a, b, args.data)
        print(f"bound per test drawing, {a} minus {b}: {d:+.4f} (95% CI {lo:+.4f} to {hi:+.4f})")
    return 0


def paired_bound(a: Path, b: Path, data: str) -> tuple[float, float, float]:
    from sketchlib.checkpoint import load_model
    from sketchlib.datasets import load
    from sketchlib.evaluation import mean_ci, per_drawing_losses

    test = load(data).test
    bounds = []
    for folder in (a, b):
        model, stats = load_model(folder / "last.pt")
        drawings = [d for d in test.drawings if len(d) <= model.cfg.max_seq_len]
        bounds.append(per_drawing_losses(model, stats, drawings, seed=0)["bound"])
    return mean_ci(bounds[0] - bounds[1])


if __name__ == "__main__":
    raise SystemExit(main())
