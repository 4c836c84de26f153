"""What a trained AI-Sketcher draws on the face set: a Figure-2 style grid, loss curves, recognisability.

    OMP_NUM_THREADS=1 python docs/aisketcher_faces_report.py --name aisketcher-small/faces-3000 --out docs/aisketcher_small_faces
    python docs/aisketcher_faces_report.py --run runs/faces_aisketcher --out /tmp/my_run   # a training folder

For each gender, one test face (neutral) is encoded under every emotion's
class vector and decoded under that class, as in the paper's Figure 2; the
input face and the seven expressions are drawn side by side. Then ``--per-class``
faces are generated per class in three ways (from test faces of that class,
from test faces of random classes re-encoded under it, and from the prior) and
read by a logistic regression trained on 28x28 rasters of the face set
(``docs/faces_report.py``'s instrument): the share read as the emotion that was
asked for, with Wilson 95% intervals (``sketchlib.evaluation.RasterClassifier``).
Sampling differs by a drawing or two between thread counts; the figures in
docs/ were made with one thread.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from sketchlib import pretrained
from sketchlib.checkpoint import load_model
from sketchlib.datasets.faces import EMOTIONS, GENDERS, generate_faces, load_faces
from sketchlib.evaluation import RasterClassifier
from sketchlib.plotting import plot_grid, plot_losses
from sketchlib.sampling import encode, sample
from sketchlib.training import read_log


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="training folder with best.pt and log.jsonl")
    src.add_argument("--name", help="a shipped checkpoint (sketchlib.pretrained), e.g. aisketcher-small/faces-3000")
    ap.add_argument("--out", required=True, help="prefix of the figures to write")
    ap.add_argument("--temperature", type=float, default=0.2)
    ap.add_argument("--per-class", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)

    if args.name:
        model, stats = pretrained.load(args.name)
        logs = pretrained.read_training_log(args.name)
    else:
        model, stats = load_model(Path(args.run) / "best.pt")
        logs = read_log(args.run)
    scale, names = stats["scale"], stats["class_names"]
    test = load_faces(n_per_class=500, seed=0).test  # the split the model never trained on
    assert list(test.class_names) == list(names), "the checkpoint's classes differ from the face set's"

    rows, titles = [], []
    for g, gender in enumerate(GENDERS):
        face = test.of_class(f"neutral-{gender}").drawings[0]
        labels = [names.index(f"{e}-{gender}") for e in EMOTIONS]
        lat = encode(model, [face] * len(labels), scale, labels)
        out = sample(model, len(labels), scale=scale, latent=lat, labels=labels,
                     temperature=args.temperature, seed=args.seed + g)
        rows += [face] + out
        titles += [f"input ({gender})"] + [f"{e}" for e in EMOTIONS]
    fig = plot_grid(rows, ncols=len(EMOTIONS) + 1, titles=titles, cell_size=1.4)
    fig.savefig(f"{args.out}_figure2.png", dpi=90)

    plot_losses({model.cfg.name: logs}, keys=("total", "l_r", "l_kl")).savefig(f"{args.out}_losses.png", dpi=90)
    plot_losses({model.cfg.name: logs}, keys=("total", "l_r", "l_kl"), split="valid").savefig(
        f"{args.out}_valid_losses.png", dpi=90)

    # recognisability, three ways of asking for expression k (all from held-out faces or the prior):
    #   own:    encode test faces OF class k under k, decode under k (the paper's encode-decode generation)
    #   switch: encode test faces of random classes under k, decode under k (Figure 2: change the expression)
    #   prior:  z ~ N(0, I), decode under k (no input drawing)
    ref = generate_faces(200, seed=11)
    clf = RasterClassifier(EMOTIONS, C=0.1).fit(ref.drawings, ref.extras["emotion"])
    rng = np.random.default_rng(args.seed)
    n = args.per_class
    print(f"checkpoint step {int(logs[-1]['step'])}; valid total {min(r.get('valid_total', np.inf) for r in logs):.4f}")
    real_emotion = np.array([EMOTIONS.index(names[k].split("-")[0]) for k in test.labels])
    ceiling = clf.accuracy(test.drawings, real_emotion)
    print(f"emotion classifier: 28x28 logistic regression on 200 generated faces per class; "
          f"{ceiling:.1%} on the {len(test)} real test faces; temperature {args.temperature}; "
          f"{n} drawings per class and way; chance 14.3%")
    for way in ("own", "switch", "prior"):
        asked, drawn = [], []
        for k, name in enumerate(names):
            labels = [k] * n
            if way == "prior":
                drawn += sample(model, n, scale=scale, labels=labels, temperature=args.temperature,
                                seed=args.seed + 300 + k)
            else:
                pool = np.flatnonzero(test.labels == k) if way == "own" else np.arange(len(test))
                starts = [test.drawings[i] for i in rng.choice(pool, n, replace=False)]
                lat = encode(model, starts, scale, labels)
                drawn += sample(model, n, scale=scale, latent=lat, labels=labels, temperature=args.temperature,
                                seed=args.seed + (100 if way == "switch" else 200) + k)
            asked += [EMOTIONS.index(name.split("-")[0])] * n
        r = clf.recognisability(drawn, asked)
        lo, hi = r.ci95()
        per = ", ".join(f"{e} {r.per_class[e]:.0%}" for e in EMOTIONS)
        print(f"  {way:>6}: {r.share:.1%} [95% CI {lo:.1%}, {hi:.1%}] of {r.n} ({per})")
    print(f"wrote {args.out}_figure2.png, {args.out}_losses.png, {args.out}_valid_losses.png")


if __name__ == "__main__":
    main()
