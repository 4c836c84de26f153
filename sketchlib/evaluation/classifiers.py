"""The measuring instruments: a raster classifier, a stroke classifier and "recognisability".

:class:`RasterClassifier` is the measuring instrument of the book's
experiments: a multinomial logistic regression (scikit-learn) on small binary
rasters of the drawings (28x28 by default, drawn by :func:`sketchlib.raster.render`).
It is deliberately simple: it trains in seconds on a CPU, it has no
recurrent state that could share the generators' biases, and on the face set
it reads the expression of a held-out face far above chance (the chapters
print its held-out accuracy before using it). A generated drawing is
*recognisable* as class ``k`` when the classifier, trained on real drawings,
assigns it to ``k``.

:class:`StrokeClassifier` (same API) reads the pen movements instead of the
picture: a small bidirectional LSTM over stroke-5 sequences. It is the test of
a tracer (:mod:`sketchlib.vectorize`): a traced drawing looks like the original
to the raster classifier, but only a stroke classifier notices when its strokes
come in an order, direction or number no person would draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from sketchlib.evaluation.intervals import wilson_interval
from sketchlib.raster import render

__all__ = ["Recognisability", "RasterClassifier", "StrokeNet", "StrokeClassifier", "confusion_matrix",
           "recognisability_over_seeds"]


@dataclass(frozen=True)
class Recognisability:
    """How well a classifier reads generated drawings as the classes they were asked to be."""

    share: float  # fraction classified as the asked class
    mean_probability: float  # mean probability the classifier gives the asked class
    n: int
    per_class: dict  # class name -> share

    def ci95(self) -> tuple[float, float]:
        """Wilson 95% interval of :attr:`share`."""
        return wilson_interval(round(self.share * self.n), self.n)



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

    def recognisability(self, drawings: Sequence[np.ndarray], asked: Sequence[int],
                        among: Sequence[int] | None = None) -> Recognisability:
        """Share of ``drawings`` read as the class each was asked to be, and the mean probability of it.

        ``among``: the labels the answer is chosen from (a model that knows only
        some of the classifier's classes is judged among those; the probabilities
        are renormalised over them). Default: all classes.
        """
        asked = np.asarray(asked)
        if len(drawings) != len(asked):
            raise ValueError(f"got {len(drawings)} drawings and {len(asked)} asked classes")
        proba = self.predict_proba(drawings)
        if among is not None:
            among = np.asarray(sorted(set(int(a) for a in among)))
            outside = sorted(set(asked.tolist()) - set(among.tolist()))
            if outside:
                raise ValueError(f"asked classes {outside[:5]} are not among the allowed labels {among.tolist()[:10]}")
            keep = np.zeros(proba.shape[1], bool)
            keep[among] = True
            proba = np.where(keep, proba, 0.0)
            proba = proba / np.clip(proba.sum(axis=1, keepdims=True), 1e-12, None)
        hit = proba.argmax(axis=1) == asked
        per_class = {self.class_names[k]: float(hit[asked == k].mean()) for k in np.unique(asked)}
        p_asked = proba[np.arange(len(asked)), asked] if len(asked) else np.zeros(0)
        return Recognisability(float(hit.mean()) if len(hit) else float("nan"),
                               float(p_asked.mean()) if len(p_asked) else float("nan"), int(len(asked)), per_class)



def confusion_matrix(truth: Sequence[int], predicted: Sequence[int], n_classes: int) -> np.ndarray:
    """``(K, K)`` counts: row = true class, column = predicted class."""
    truth, predicted = np.asarray(truth, np.int64), np.asarray(predicted, np.int64)
    if truth.shape != predicted.shape:
        raise ValueError(f"got {len(truth)} true and {len(predicted)} predicted labels")
    out = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(out, (truth, predicted), 1)
    return out



class StrokeNet(nn.Module):
    """A bidirectional LSTM over stroke-5 sequences and a linear layer on its two last hidden states."""

    def __init__(self, n_classes: int, hidden: int = 64):
        super().__init__()
        self.lstm = nn.LSTM(5, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``x: (B, T, 5)``, ``lengths: (B,)`` -> logits ``(B, K)``."""
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)  # h: (2, B, H): the forward direction's last state, the backward's first
        return self.head(torch.cat([h[0], h[1]], dim=1))


class StrokeClassifier:
    """A bidirectional LSTM over the pen movements of stroke-3 drawings (not their pictures).

    Each drawing is scaled so that the longer side of its bounding box is 1 and
    moved so that the box is centred on the origin (so any pixel units and
    canvases work: drawings traced from a raster compare with drawings on
    QuickDraw's 0-255 canvas), cut to ``max_len``
    points, and read as a stroke-5 sequence ``(dx, dy, p1, p2, p3)``. The last
    hidden states of the two directions go through one linear layer to the
    class logits. Unlike :class:`RasterClassifier`, it sees the order and
    direction of the strokes and where the pen lifts, so it notices when the
    same picture is drawn differently.

    Training is short on purpose (``steps`` Adam steps on batches sampled with
    replacement, about half a minute on one CPU core for the face parts); with
    ``balance`` every class is sampled equally often, so a rare class (ears
    among face parts) weighs as much as a common one, at the price of more
    false alarms for it. Same API as
    :class:`RasterClassifier`: ``fit``, ``predict_proba``, ``predict``,
    ``accuracy``, ``recognisability``.

    Args:
        class_names: the classes, in label order.
        hidden: LSTM units per direction.
        max_len: points read per drawing (the rest are dropped).
        steps, batch_size, lr: the training run.
        balance: sample classes equally often.
        scale_factor: stretch ``x`` and ``y`` of every training drawing by independent
            random factors in ``[1 - scale_factor, 1 + scale_factor]`` (Sketch-RNN's
            augmentation); 0 for none.
        seed: weights and batches; equal seeds give equal classifiers.
    """

    def __init__(self, class_names: Sequence[str], hidden: int = 64, max_len: int = 128, steps: int = 600,
                 batch_size: int = 64, lr: float = 3e-3, balance: bool = False, scale_factor: float = 0.15,
                 seed: int = 0):
        if max_len < 1 or steps < 0 or batch_size < 1:
            raise ValueError(f"need max_len >= 1, steps >= 0, batch_size >= 1; got {max_len}, {steps}, {batch_size}")
        self.class_names = list(class_names)
        self.hidden, self.max_len, self.steps = hidden, max_len, steps
        self.batch_size, self.lr, self.balance, self.seed = batch_size, lr, balance, seed
        self.scale_factor = scale_factor
        self.net = None
        self.losses: list[float] = []

    def sequences(self, drawings: Sequence[np.ndarray]):
        """``(x: (B, T, 5) float32 tensor, lengths: (B,) int64 tensor)``: the scaled, cut stroke-5 sequences.

        An empty drawing is one end-of-drawing row ``(0, 0, 0, 0, 1)``.
        """
        from sketchlib import strokes as S

        seqs = []
        for d in drawings:
            d = np.asarray(d, np.float32).reshape(-1, 3)[: self.max_len]
            if len(d) == 0:
                seqs.append(np.array([[0, 0, 0, 0, 1]], np.float32))
                continue
            d = S.center(S.scale_to(d, 1.0))  # where the drawing sat on its canvas says nothing of its class
            d[-1, 2] = 1.0  # a cut drawing still ends with a pen lift
            seqs.append(S.stroke3_to_stroke5(d)[:-1])  # no end row: the length says where it ends
        lengths = np.array([len(s) for s in seqs], np.int64)
        x = np.zeros((len(seqs), max(lengths, default=1), 5), np.float32)
        for i, s in enumerate(seqs):
            x[i, : len(s)] = s
        return torch.from_numpy(x), torch.from_numpy(lengths)

    def fit(self, drawings: Sequence[np.ndarray], labels: Sequence[int]) -> "StrokeClassifier":
        """Train a new network on ``drawings`` (stroke-3, any units) and their ``labels``; records :attr:`losses`."""
        import torch.nn.functional as F

        labels = np.asarray(labels, np.int64)
        if len(drawings) != len(labels):
            raise ValueError(f"got {len(drawings)} drawings and {len(labels)} labels")
        if len(labels) == 0:
            raise ValueError("no drawings to train on")
        bad = labels[(labels < 0) | (labels >= len(self.class_names))]
        if len(bad):
            raise ValueError(f"labels must lie in 0..{len(self.class_names) - 1}; got {sorted(set(bad.tolist()))[:5]}")
        x, lengths = self.sequences(drawings)
        y = torch.from_numpy(labels)
        counts = np.bincount(labels, minlength=len(self.class_names)).astype(np.float64)
        weights = (1.0 / counts[labels]) if self.balance else np.ones(len(labels))
        gen = torch.Generator().manual_seed(self.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.net = StrokeNet(len(self.class_names), self.hidden)
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr)
        sampler = torch.as_tensor(weights, dtype=torch.float64)
        self.losses = []
        self.net.train()
        for _ in range(self.steps):
            idx = torch.multinomial(sampler, self.batch_size, replacement=True, generator=gen)
            n = int(lengths[idx].max())
            batch = x[idx, :n].clone()
            if self.scale_factor:  # Sketch-RNN's augmentation: stretch x and y by independent random factors
                stretch = 1.0 + self.scale_factor * (2.0 * torch.rand(len(idx), 1, 2, generator=gen) - 1.0)
                batch[:, :, :2] *= stretch
            loss = F.cross_entropy(self.net(batch, lengths[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
            opt.step()
            self.losses.append(loss.item())
        self.net.eval()
        return self

    def predict_proba(self, drawings: Sequence[np.ndarray], batch_size: int = 512) -> np.ndarray:
        """``(N, K)`` class probabilities, columns in :attr:`class_names` order."""
        if self.net is None:
            raise RuntimeError("the classifier is not trained yet: call fit(drawings, labels) first")
        out = np.zeros((len(drawings), len(self.class_names)))
        with torch.no_grad():
            for i in range(0, len(drawings), batch_size):
                x, lengths = self.sequences(list(drawings[i : i + batch_size]))
                out[i : i + len(x)] = torch.softmax(self.net(x, lengths), dim=1).numpy()
        return out

    predict = RasterClassifier.predict
    accuracy = RasterClassifier.accuracy
    recognisability = RasterClassifier.recognisability


def recognisability_over_seeds(generate: Callable[[int], tuple[Sequence[np.ndarray], Sequence[int]]],
                               classifier: RasterClassifier, seeds: Sequence[int]):
    """One row per seed: ``seed, share, mean_probability, n``.

    ``generate(seed)`` returns ``(drawings, asked)``: drawings made with that seed and, for each, the index
    (in ``classifier.class_names``) of the class it was asked to be. Summarise a column with
    :func:`~sketchlib.evaluation.intervals.mean_ci`.
    """
    import pandas as pd

    rows = []
    for seed in seeds:
        drawings, asked = generate(int(seed))
        r = classifier.recognisability(list(drawings), np.asarray(asked))
        rows.append({"seed": int(seed), "share": r.share, "mean_probability": r.mean_probability, "n": r.n})
    return pd.DataFrame(rows, columns=["seed", "share", "mean_probability", "n"])
