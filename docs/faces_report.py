"""Measure and show the FaceX-like face set: classifier accuracies and a sample grid.

    python docs/faces_report.py            # prints the accuracies, writes docs/faces_grid.png

A logistic regression on 28x28 rasters (scikit-learn) is trained on faces of
seed 0 and tested on faces of seed 1, for the emotion (7 classes, both genders),
the gender, and the 14 classes. It tells how separable the classes are for a
simple model: well above chance means learnable, below 100% means not trivial.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix

from sketchlib.datasets.faces import CLASS_NAMES, EMOTIONS, generate_faces
from sketchlib.plotting import plot_grid
from sketchlib.raster import render


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=200, help="training faces per class (seed 0)")
    ap.add_argument("--test", type=int, default=100, help="test faces per class (seed 1)")
    ap.add_argument("--grid", default=str(Path(__file__).with_name("faces_grid.png")))
    args = ap.parse_args()

    train, test = generate_faces(args.train, seed=0), generate_faces(args.test, seed=1)
    x_train = render(train.drawings, size=28).reshape(len(train), -1).astype(np.float32)
    x_test = render(test.drawings, size=28).reshape(len(test), -1).astype(np.float32)
    targets = {
        "emotion (7 classes, chance 14.3%)": ("emotion", 7),
        "gender (2 classes, chance 50%)": ("gender", 2),
        "emotion x gender (14 classes, chance 7.1%)": (None, 14),
    }
    print(f"logistic regression on 28x28 rasters, {len(train)} training / {len(test)} test faces")
    for title, (key, _) in targets.items():
        y_train = train.labels if key is None else np.array(train.extras[key])
        y_test = test.labels if key is None else np.array(test.extras[key])
        clf = LogisticRegression(max_iter=3000, C=0.1).fit(x_train, y_train)
        print(f"  {title}: held-out accuracy {clf.score(x_test, y_test):.1%}")
        if key == "emotion":
            cm = confusion_matrix(y_test, clf.predict(x_test))
            print("  confusion (rows: true, columns: predicted):", ", ".join(EMOTIONS))
            for name, row in zip(EMOTIONS, cm):
                print(f"    {name:>10}: " + " ".join(f"{v:4d}" for v in row))

    per_row = 8
    grid = generate_faces(per_row, seed=2)
    titles = [CLASS_NAMES[label] if i % per_row == 0 else "" for i, label in enumerate(grid.labels)]
    fig = plot_grid(grid.drawings, ncols=per_row, titles=titles, cell_size=1.2)
    fig.savefig(args.grid, dpi=80)
    print(f"wrote {args.grid}")


if __name__ == "__main__":
    main()
