"""Measure and show the FaceX-like face set: classifier accuracies and a sample grid.

    python docs/faces_report.py            # prints the accuracies, writes docs/faces_grid.png

A logistic regression on 28x28 rasters (scikit-learn) is trained on faces of
seed 0 and tested on faces of seed 1, for the emotion (7 classes, both genders),
the gender (2 classes) and the 14 classes. It tells how separable the classes
are for a simple model: well above chance means learnable, well below 100%
means not trivial.

When the 112 rendered FaceX images are at hand (``../shared/data/facex-raster``,
or ``$SKETCHLIB_SHARED_DATA/facex-raster``; they are never copied into the
repository), the emotion classifier trained on generated faces is also tested
on them: a rough check of how FaceX-like the generated faces are. The images
were looked at while designing the generator, so this is no independent test.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix

from sketchlib.datasets.faces import EMOTIONS, generate_faces
from sketchlib.plotting import plot_grid
from sketchlib.raster import render

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SKETCHLIB_SHARED_DATA", REPO.parent / "shared" / "data"))
#: FaceX's folder labels (see the shared data README)
FACEX_LABELS = {0: "disgust", 1: "anger", 2: "surprise", 3: "sadness", 4: "neutral", 5: "happiness", 6: "fear"}


def load_facex_rasters(folder: Path, size: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """The FaceX images as binary ``(N, size * size)`` rasters fitted like ``render`` fits strokes, and emotion indices.

    Each image is cropped to its ink, centred in a square, resized to leave a
    one-pixel margin, and thresholded.
    """
    images, labels = [], []
    for label, emotion in FACEX_LABELS.items():
        for path in sorted((folder / str(label)).glob("*.jpg")):
            gray = np.asarray(Image.open(path).convert("L"))
            rows, cols = np.flatnonzero((gray < 160).any(1)), np.flatnonzero((gray < 160).any(0))
            crop = gray[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
            h, w = crop.shape
            side = max(h, w)
            square = np.full((side, side), 255, dtype=np.uint8)
            square[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = crop
            inner = np.asarray(Image.fromarray(square).resize((size - 2, size - 2), Image.BILINEAR))
            raster = np.zeros((size, size), dtype=np.float32)
            raster[1:-1, 1:-1] = inner < 200
            images.append(raster.ravel())
            labels.append(EMOTIONS.index(emotion))
    return np.array(images), np.array(labels)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=200, help="training faces per class (seed 0)")
    ap.add_argument("--test", type=int, default=100, help="test faces per class (seed 1)")
    ap.add_argument("--columns", type=int, default=8, help="faces per class in the grid (seed 2)")
    ap.add_argument("--grid", default=str(Path(__file__).with_name("faces_grid.png")))
    args = ap.parse_args()

    train, test = generate_faces(args.train, seed=0), generate_faces(args.test, seed=1)
    lengths = np.array([len(d) for d in train.drawings + test.drawings])
    print(f"{len(train)} training / {len(test)} test faces; points per face: "
          f"median {np.median(lengths):.0f}, 5-95% {np.percentile(lengths, 5):.0f}-{np.percentile(lengths, 95):.0f}, "
          f"max {lengths.max()}")
    x_train = render(train.drawings, size=28).reshape(len(train), -1).astype(np.float32)
    x_test = render(test.drawings, size=28).reshape(len(test), -1).astype(np.float32)
    targets = {
        "emotion (7 classes, chance 14.3%)": "emotion",
        "gender (2 classes, chance 50%)": "gender",
        "emotion x gender (14 classes, chance 7.1%)": None,
    }
    print("logistic regression on 28x28 rasters, held-out accuracy:")
    for title, key in targets.items():
        y_train = train.labels if key is None else np.array(train.extras[key])
        y_test = test.labels if key is None else np.array(test.extras[key])
        clf = LogisticRegression(max_iter=2000, C=0.1).fit(x_train, y_train)
        print(f"  {title}: {clf.score(x_test, y_test):.1%}")
        if key == "emotion":
            cm = confusion_matrix(y_test, clf.predict(x_test))
            print(f"    confusion (rows true, columns predicted, {args.test * 2} per row):")
            print("    " + " " * 10 + "".join(f"{e[:5]:>6}" for e in EMOTIONS))
            for name, row in zip(EMOTIONS, cm):
                print(f"    {name:>10}" + "".join(f"{v:6d}" for v in row))
            emotion_clf = clf

    facex = SHARED_DATA / "facex-raster" / "images"
    if facex.is_dir():
        x_facex, y_facex = load_facex_rasters(facex)
        predicted = emotion_clf.predict(x_facex)
        print(f"the emotion classifier on the {len(y_facex)} FaceX rasters: {np.mean(predicted == y_facex):.1%}")
        cm = confusion_matrix(y_facex, predicted, labels=range(len(EMOTIONS)))
        print("    " + " " * 10 + "".join(f"{e[:5]:>6}" for e in EMOTIONS))
        for name, row in zip(EMOTIONS, cm):
            print(f"    {name:>10}" + "".join(f"{v:6d}" for v in row))
    else:
        print(f"no FaceX rasters at {facex}; skipped the FaceX check")

    grid = generate_faces(args.columns, seed=2)
    titles = [grid.class_names[k] if i % args.columns == 0 else "" for i, k in enumerate(grid.labels)]
    fig = plot_grid(grid.drawings, ncols=args.columns, titles=titles, cell_size=1.2)
    fig.savefig(args.grid, dpi=80)
    print(f"wrote {args.grid}")


if __name__ == "__main__":
    main()
