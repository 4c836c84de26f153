"""Measuring generated drawings: a raster classifier and "recognisability".

:class:`RasterClassifier` is the measuring instrument of the book's
experiments: a multinomial logistic regression (scikit-learn) on small binary
rasters of the drawings (28x28 by default, drawn by :func:`sketchlib.raster.render`).
It is deliberately simple: it trains in seconds on a CPU, it has no
recurrent state that could share the generators' biases, and on the face set
it reads the expression of a held-out face far above chance (the chapters
print its held-out accuracy before using it). A generated drawing is
*recognisable* as class ``k`` when the classifier, trained on real drawings,
assigns it to ``k``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from sketchlib.raster import render

__all__ = ["RasterClassifier", "Recognisability"]


@dataclass(frozen=True)
class Recognisability:
    """How well a classifier reads generated drawings as the classes they were asked to be."""

    share: float  # fraction classified as the asked class
    mean_probability: float  # mean probability the classifier gives the asked class
    n: int
    per_class: dict  # class name -> share

    def ci95(self) -> tuple[float, float]:
        """Wilson 95% interval of :attr:`share`."""
        if self.n == 0:
            return (float("nan"), float("nan"))
        z, p, n = 1.959964, self.share, self.n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return (float(centre - half), float(centre + half))


class RasterClassifier:
    """Logistic regression on ``size x size`` binary rasters of stroke-3 drawings.

    Args:
        class_names: the classes, in label order.
        size: raster side in pixels.
        C: inverse L2 strength of the regression.
    """

    def __init__(self, class_names: Sequence[str], size: int = 28, C: float = 0.1, seed: int = 0):
        self.class_names = list(class_names)
        self.size, self.C, self.seed = size, C, seed
        self._clf = None

    def features(self, drawings: Sequence[np.ndarray]) -> np.ndarray:
        if len(drawings) == 0:
            return np.zeros((0, self.size * self.size), np.float32)
        return render(list(drawings), size=self.size).reshape(len(drawings), -1).astype(np.float32)

    def fit(self, drawings: Sequence[np.ndarray], labels: Sequence[int]) -> "RasterClassifier":
        from sklearn.linear_model import LogisticRegression

        labels = np.asarray(labels)
        if len(drawings) != len(labels):
            raise ValueError(f"got {len(drawings)} drawings and {len(labels)} labels")
        bad = labels[(labels < 0) | (labels >= len(self.class_names))]
        if len(bad):
            raise ValueError(f"labels must lie in 0..{len(self.class_names) - 1}; got {sorted(set(bad.tolist()))[:5]}")
        self._clf = LogisticRegression(max_iter=2000, C=self.C, random_state=self.seed)
        self._clf.fit(self.features(drawings), labels)
        return self

    def _check(self):
        if self._clf is None:
            raise RuntimeError("the classifier is not trained yet: call fit(drawings, labels) first")
        return self._clf

    def predict_proba(self, drawings: Sequence[np.ndarray]) -> np.ndarray:
        """``(N, K)`` class probabilities, columns in :attr:`class_names` order."""
        clf = self._check()
        proba = np.zeros((len(drawings), len(self.class_names)))
        if len(drawings):
            proba[:, clf.classes_] = clf.predict_proba(self.features(drawings))
        return proba

    def predict(self, drawings: Sequence[np.ndarray]) -> np.ndarray:
        return self.predict_proba(drawings).argmax(axis=1)

    def accuracy(self, drawings: Sequence[np.ndarray], labels: Sequence[int]) -> float:
        return float(np.mean(self.predict(drawings) == np.asarray(labels))) if len(drawings) else float("nan")

    def recognisability(self, drawings: Sequence[np.ndarray], asked: Sequence[int]) -> Recognisability:
        """Share of ``drawings`` read as the class each was asked to be, and the mean probability of it."""
        asked = np.asarray(asked)
        if len(drawings) != len(asked):
            raise ValueError(f"got {len(drawings)} drawings and {len(asked)} asked classes")
        proba = self.predict_proba(drawings)
        hit = proba.argmax(axis=1) == asked
        per_class = {self.class_names[k]: float(hit[asked == k].mean()) for k in np.unique(asked)}
        p_asked = proba[np.arange(len(asked)), asked] if len(asked) else np.zeros(0)
        return Recognisability(float(hit.mean()) if len(hit) else float("nan"),
                               float(p_asked.mean()) if len(p_asked) else float("nan"), int(len(asked)), per_class)
