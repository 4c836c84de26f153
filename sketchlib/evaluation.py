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

:class:`StrokeClassifier` (same API) reads the pen movements instead of the
picture: a small bidirectional LSTM over stroke-5 sequences. It is the test of
a tracer (:mod:`sketchlib.vectorize`): a traced drawing looks like the original
to the raster classifier, but only a stroke classifier notices when its strokes
come in an order, direction or number no person would draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from sketchlib.raster import render

__all__ = ["RasterClassifier", "Recognisability", "wilson_interval"]


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


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of the share ``k / n`` (95% by default); ``(nan, nan)`` when ``n`` is 0."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
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


# ----------------------------------------------------------------------------- a classifier of pen movements

__all__ += ["StrokeNet", "StrokeClassifier", "confusion_matrix"]  # noqa: E305


def confusion_matrix(truth: Sequence[int], predicted: Sequence[int], n_classes: int) -> np.ndarray:
    """``(K, K)`` counts: row = true class, column = predicted class."""
    truth, predicted = np.asarray(truth, np.int64), np.asarray(predicted, np.int64)
    if truth.shape != predicted.shape:
        raise ValueError(f"got {len(truth)} true and {len(predicted)} predicted labels")
    out = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(out, (truth, predicted), 1)
    return out


import torch  # noqa: E402
from torch import nn  # noqa: E402


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


# =====================================================================================================
# The AI-Sketcher evaluation (the paper's experiments 1 and 3 and its user study, Cao et al. 2019):
# latent coherence, recognisability over seeds, machine raters, the repeated-measures analysis of
# ratings, and generation diversity. Chapter 10 of the book uses all of it.
# =====================================================================================================

from typing import Callable, Mapping  # noqa: E402

__all__ += [
    "latent_vectors", "tsne_embedding", "silhouette", "LatentCoherence", "latent_coherence",
    "mean_ci", "recognisability_over_seeds",
    "LIKERT_EDGES", "likert_from_confidence", "train_machine_raters", "machine_ratings",
    "RatingAnalysis", "analyse_ratings", "apa_p",
    "phash_distance_matrix", "pairwise_distances", "mean_distance_per_drawing", "diversity_table",
]


# ----------------------------------------------------------------------------- latent coherence


def latent_vectors(model, stats: dict, drawings: Sequence[np.ndarray], labels=None, *, part="mu",
                   batch_size: int = 256):
    """The encoder's view of each drawing: ``(N, Z)``, no sampling noise.

    ``part="mu"``: the mean of the sketch encoder's posterior, ``mu`` (``z_size`` values; conditional models
    encode under ``labels``). ``part="z"``: the whole latent the decoder reads, ``z = [mu; z_r]`` for models
    with the CNN autoencoder (AI-Sketcher eq. 9-10), ``mu`` otherwise. A tuple such as ``("mu", "z")`` gives
    a dict of both from one pass of the encoders.
    """
    from sketchlib.sampling import encode

    parts = (part,) if isinstance(part, str) else tuple(part)
    for p in parts:
        if p not in ("mu", "z"):
            raise ValueError(f"part must be 'mu' or 'z', got {p!r}")
    labels = None if labels is None else np.asarray(labels)
    out: dict[str, list] = {p: [] for p in parts}
    for i in range(0, len(drawings), batch_size):
        lab = None if labels is None else labels[i:i + batch_size]
        lat = encode(model, list(drawings[i:i + batch_size]), stats["scale"], lab)
        for p in parts:
            t = lat.mu if p == "mu" else lat.z
            if t is None:
                raise ValueError(f"the model has no {p!r} latent (encoder {model.cfg.encoder!r})")
            out[p].append(t.detach().cpu().numpy())
    arrays = {p: np.concatenate(v) if v else np.zeros((0, 0), np.float32) for p, v in out.items()}
    return arrays[part] if isinstance(part, str) else arrays


def tsne_embedding(x: np.ndarray, *, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE (van der Maaten and Hinton 2008, scikit-learn) of ``x: (N, D)`` -> ``(N, 2)``."""
    from sklearn.manifold import TSNE

    x = np.asarray(x, np.float64)
    perplexity = min(perplexity, (len(x) - 1) / 3)  # scikit-learn needs perplexity < N
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def silhouette(x: np.ndarray, groups: Sequence[int]) -> float:
    """Mean silhouette (Euclidean) of the clusters ``groups`` in ``x``: -1..1, higher = tighter, better separated.

    For point ``i`` with mean distance ``a_i`` to its own group and ``b_i`` to the nearest other group,
    ``s_i = (b_i - a_i) / max(a_i, b_i)``. Random labels give about 0.
    """
    from sklearn.metrics import silhouette_score

    return float(silhouette_score(np.asarray(x, np.float64), np.asarray(groups)))


@dataclass(frozen=True)
class LatentCoherence:
    """How well latent vectors cluster by class: silhouettes in the latent space and in its t-SNE map."""

    embedding: np.ndarray  # (N, 2) t-SNE
    groups: np.ndarray  # (N,) class of each vector
    silhouette_latent: float
    silhouette_embedding: float


def latent_coherence(vectors: np.ndarray, groups: Sequence[int], *, seed: int = 0,
                     perplexity: float = 30.0) -> LatentCoherence:
    """t-SNE map of ``vectors`` and the silhouette of ``groups`` in the latent space itself and in the map.

    The silhouette in the latent space is the number to compare; t-SNE keeps neighbourhoods, not distances,
    so the map's silhouette depends on its perplexity and seed.
    """
    groups = np.asarray(groups)
    emb = tsne_embedding(vectors, seed=seed, perplexity=perplexity)
    return LatentCoherence(emb, groups, silhouette(vectors, groups), silhouette(emb, groups))


# ----------------------------------------------------------------------------- recognisability over seeds


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: Student-t interval of the mean of ``values`` (e.g. one value per seed)."""
    from scipy import stats as st

    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return (float("nan"),) * 3
    m = float(v.mean())
    if len(v) < 2:
        return (m, float("nan"), float("nan"))
    half = float(st.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return (m, m - half, m + half)


def recognisability_over_seeds(generate: Callable[[int], tuple[Sequence[np.ndarray], Sequence[int]]],
                               classifier: RasterClassifier, seeds: Sequence[int]):
    """One row per seed: ``seed, share, mean_probability, n``.

    ``generate(seed)`` returns ``(drawings, asked)``: drawings made with that seed and, for each, the index
    (in ``classifier.class_names``) of the class it was asked to be. Summarise a column with :func:`mean_ci`.
    """
    import pandas as pd

    rows = []
    for seed in seeds:
        drawings, asked = generate(int(seed))
        r = classifier.recognisability(list(drawings), np.asarray(asked))
        rows.append({"seed": int(seed), "share": r.share, "mean_probability": r.mean_probability, "n": r.n})
    return pd.DataFrame(rows, columns=["seed", "share", "mean_probability", "n"])


# ----------------------------------------------------------------------------- machine raters

#: Likert bins of a machine rater's probability ``p`` of the asked class: rating = 1 + number of edges <= p,
#: so p < .2 -> 1, .2 <= p < .4 -> 2, .4 <= p < .6 -> 3, .6 <= p < .8 -> 4, p >= .8 -> 5.
LIKERT_EDGES = (0.2, 0.4, 0.6, 0.8)


def likert_from_confidence(p, edges: Sequence[float] = LIKERT_EDGES) -> np.ndarray:
    """Map probabilities of the asked class to ratings 1..5: ``1 + #{edges <= p}`` (equal bins by default)."""
    edges = np.asarray(edges, np.float64)
    if len(edges) != 4 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"need 4 increasing edges for a 5-point scale, got {edges.tolist()}")
    p = np.asarray(p, np.float64)
    if np.any((p < 0) | (p > 1)):
        raise ValueError("probabilities must lie in [0, 1]")
    return (1 + np.searchsorted(edges, p, side="right")).astype(np.int64)


def train_machine_raters(drawings: Sequence[np.ndarray], labels: Sequence[int], class_names: Sequence[str], *,
                         n_raters: int = 20, fraction: float = 0.5, seed: int = 0,
                         **classifier_kw) -> list[RasterClassifier]:
    """``n_raters`` :class:`RasterClassifier`\\ s, rater ``r`` trained with seed ``seed + r`` on its own random
    ``fraction`` of the real drawings (every rater sees a different sample, as people have seen different faces)."""
    labels = np.asarray(labels)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    drawings = list(drawings)
    rng = np.random.default_rng(seed)
    n = max(len(class_names), int(round(fraction * len(labels))))
    raters = []
    for r in range(n_raters):
        idx = np.sort(rng.choice(len(labels), size=min(n, len(labels)), replace=False))
        clf = RasterClassifier(class_names, seed=seed + r, **classifier_kw)
        raters.append(clf.fit([drawings[i] for i in idx], labels[idx]))
    return raters


def machine_ratings(raters: Sequence[RasterClassifier], items, asked: Sequence[int],
                    edges: Sequence[float] = LIKERT_EDGES, prefix: str = "machine-"):
    """Every rater rates every item 1..5 by :func:`likert_from_confidence` of its probability of the asked class.

    ``items``: :class:`sketchlib.rating.RatingItem` list (e.g. ``rating.make_items({model: drawings})``);
    ``asked[i]``: the class item ``i`` was asked to be. Returns the long table of
    :meth:`sketchlib.rating.RatingStore.to_dataframe` (``participant, model, item, rating``), participants
    named ``machine-01``, ... so they are never taken for people.
    """
    import pandas as pd

    asked = np.asarray(asked)
    if len(asked) != len(items):
        raise ValueError(f"got {len(items)} items and {len(asked)} asked classes")
    drawings = [it.strokes3 for it in items]
    frames = []
    for r, clf in enumerate(raters, start=1):
        p = clf.predict_proba(drawings)[np.arange(len(items)), asked]
        frames.append(pd.DataFrame({"participant": f"{prefix}{r:02d}", "model": [it.model for it in items],
                                    "item": [it.item for it in items], "rating": likert_from_confidence(p, edges)}))
    if not frames:
        return pd.DataFrame(columns=["participant", "model", "item", "rating"])
    return pd.concat(frames, ignore_index=True).astype({"rating": "int64"})


# ----------------------------------------------------------------------------- the analysis of ratings


def apa_p(p: float) -> str:
    """``p < .001`` or ``p = .034`` (APA: three decimals, no leading zero)."""
    if not np.isfinite(p):
        return "p = n/a"
    return "p < .001" if p < 0.001 else f"p = {p:.3f}".replace("0.", ".", 1)


def _apa_num(x: float, digits: int = 2, leading_zero: bool = True) -> str:
    s = f"{x:.{digits}f}"
    return s if leading_zero else s.replace("0.", ".", 1)


@dataclass
class RatingAnalysis:
    """A repeated-measures analysis of Likert ratings (see :func:`analyse_ratings`)."""

    source: str  # what the ratings are ("machine raters", "participants")
    means: object  # DataFrame participant, model, rating: each participant's mean per model
    descriptives: object  # DataFrame model, n, mean, sd, ci_low, ci_high
    anova: object  # pingouin.rm_anova table (correction=True) with np2 and ng2
    posthoc: object  # pingouin.pairwise_tests, Holm-corrected, Hedges' g
    apa: str  # the write-up
    alpha: float = 0.05

    def plot(self, ax=None, title: str | None = None, labels: Mapping[str, str] | None = None):
        """Mean rating per model with its 95% interval (over participants); returns the figure."""
        from matplotlib.figure import Figure

        if ax is None:
            fig = Figure(figsize=(1.4 * len(self.descriptives) + 1.5, 3.2), layout="constrained")
            ax = fig.subplots()
        else:
            fig = ax.figure
        d = self.descriptives
        x = np.arange(len(d))
        ax.errorbar(x, d["mean"], yerr=[d["mean"] - d["ci_low"], d["ci_high"] - d["mean"]], fmt="o", capsize=4)
        ax.set_xticks(x, [(labels or {}).get(m, m) for m in d["model"]], rotation=15, ha="right")
        ax.set_ylim(0.8, 5.2)
        ax.set_yticks(range(1, 6))
        ax.set_ylabel("mean rating (1-5)")
        ax.grid(axis="y", alpha=0.3)
        ax.set_title(title or f"{self.source}: mean and 95% CI")
        return fig


def analyse_ratings(df, *, source: str = "participants", alpha: float = 0.05,
                    order: Sequence[str] | None = None) -> RatingAnalysis:
    """One-way repeated-measures ANOVA of rating over model, post-hoc tests and an APA-style write-up.

    ``df``: the long table of :meth:`sketchlib.rating.RatingStore.to_dataframe` or :func:`machine_ratings`.
    Each participant's ratings are averaged per model (:func:`sketchlib.rating.mean_ratings`); participants
    who did not rate every model are left out (a repeated-measures design needs every cell). Then:
    pingouin ``rm_anova`` with Mauchly's sphericity test and the Greenhouse-Geisser correction, partial and
    generalised eta squared; paired t-tests between all models with Holm's correction and Hedges' g; mean
    and 95% t-interval per model over participants.
    """
    import pingouin as pg

    from sketchlib.rating import mean_ratings

    means = mean_ratings(df)
    models = list(order) if order is not None else sorted(means["model"].unique())
    complete = means.groupby("participant")["model"].transform("nunique") == means["model"].nunique()
    means = means[complete & means["model"].isin(models)].reset_index(drop=True)
    n_sub = means["participant"].nunique()
    if len(models) < 2 or n_sub < 2:
        raise ValueError(f"a repeated-measures ANOVA needs 2+ models and 2+ participants who rated all of them; "
                         f"got {len(models)} models and {n_sub} complete participants")
    kw = dict(data=means, dv="rating", within="model", subject="participant", correction=True)
    anova = pg.rm_anova(effsize="np2", **kw)
    anova["ng2"] = pg.rm_anova(effsize="ng2", **kw)["ng2"]
    posthoc = pg.pairwise_tests(data=means, dv="rating", within="model", subject="participant",
                                padjust="holm", effsize="hedges")
    rows = []
    for m in models:
        v = means.loc[means["model"] == m, "rating"].to_numpy()
        mean, lo, hi = mean_ci(v)
        rows.append({"model": m, "n": len(v), "mean": mean, "sd": float(v.std(ddof=1)), "ci_low": lo, "ci_high": hi})
    import pandas as pd

    descriptives = pd.DataFrame(rows)
    apa = _write_up(source, anova.iloc[0], posthoc, descriptives, n_sub, alpha)
    return RatingAnalysis(source, means, descriptives, anova, posthoc, apa, alpha)


def _write_up(source, a, posthoc, desc, n_sub, alpha) -> str:
    df1, df2, F, p = int(a["ddof1"]), int(a["ddof2"]), float(a["F"]), float(a["p_unc"])
    eps = float(a.get("eps", 1.0))
    sig = "a significant" if p < alpha else "no significant"
    parts = [f"{source} (N = {n_sub}) rated {len(desc)} models. Mean ratings [95% CI]: "
             + "; ".join(f"{r.model} M = {r.mean:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}], SD = {r.sd:.2f}"
                         for r in desc.itertuples()) + "."]
    parts.append(f"A one-way repeated-measures ANOVA showed {sig} effect of model on the rating, "
                 f"F({df1}, {df2}) = {F:.2f}, {apa_p(p)}, eta_p^2 = {_apa_num(float(a['np2']), 2, False)}, "
                 f"eta_G^2 = {_apa_num(float(a['ng2']), 2, False)}.")
    if "W_spher" in a and np.isfinite(float(a["W_spher"])):
        violated = float(a["p_spher"]) < alpha
        parts.append(f"Mauchly's test {'indicated' if violated else 'did not indicate'} a violation of sphericity, "
                     f"W = {_apa_num(float(a['W_spher']), 2, False)}, {apa_p(float(a['p_spher']))}; "
                     f"with the Greenhouse-Geisser correction (epsilon = {_apa_num(eps, 2, False)}), "
                     f"F({eps * df1:.2f}, {eps * df2:.2f}) = {F:.2f}, {apa_p(float(a['p_GG_corr']))}"
                     + (", the result to report." if violated else "."))
    # with two models there is one test and pingouin leaves out the (unneeded) corrected p
    tests = [f"{r.A} vs {r.B}: t({r.dof:.0f}) = {r.T:.2f}, {apa_p(getattr(r, 'p_corr', r.p_unc))}, g = {r.hedges:.2f}"
             for r in posthoc.itertuples()]
    parts.append(("Post-hoc paired t-tests (Holm-corrected): " if len(tests) > 1 else "Paired t-test: ")
                 + "; ".join(tests) + ".")
    return " ".join(parts)


# ----------------------------------------------------------------------------- diversity


def phash_distance_matrix(drawings: Sequence[np.ndarray], *, size: int = 128, hash_size: int = 8) -> np.ndarray:
    """``(N, N)`` Hamming distances between the perceptual hashes (imagehash ``phash``, ``hash_size**2`` bits)
    of the drawings' rasters (:func:`sketchlib.raster.render` at ``size``)."""
    import imagehash

    from sketchlib.raster import raster_to_image

    rasters = render(list(drawings), size=size) if len(drawings) else np.zeros((0, size, size))
    bits = np.array([imagehash.phash(raster_to_image(r), hash_size=hash_size).hash.reshape(-1) for r in rasters],
                    dtype=np.int64).reshape(len(rasters), hash_size * hash_size)
    return (bits[:, None, :] != bits[None, :, :]).sum(-1)


def pairwise_distances(matrix: np.ndarray) -> np.ndarray:
    """The ``N (N - 1) / 2`` distances of all pairs ``i < j`` of a distance matrix."""
    i, j = np.triu_indices(len(matrix), k=1)
    return np.asarray(matrix)[i, j]


def mean_distance_per_drawing(matrix: np.ndarray) -> np.ndarray:
    """Each drawing's mean distance to the other ``N - 1`` (one value per drawing: independent units)."""
    m = np.asarray(matrix, np.float64)
    return (m.sum(1) - np.diag(m)) / (len(m) - 1)


def diversity_table(values: Mapping[str, Mapping[str, np.ndarray]], models: Sequence[str]):
    """The paper's Figure 5 table: per class, Mean and SD of each model's distances and the unpaired t-test.

    ``values[class][model]``: the distances of one set (all pairs, or one mean per drawing). Columns:
    ``<model> Mean``, ``<model> SD`` for both models, then ``n``, ``dof``, ``t``, ``p`` and ``cohen_d``
    (pingouin ``ttest``, Student's when the sets are of equal size, Welch's otherwise; ``t > 0``: the first
    model's distances are larger; pingouin gives ``|d|``).
    """
    import pandas as pd
    import pingouin as pg

    a, b = models
    rows = []
    for cls, sets in values.items():
        x, y = np.asarray(sets[a], np.float64), np.asarray(sets[b], np.float64)
        t = pg.ttest(x, y, paired=False).iloc[0]
        rows.append({"class": cls, f"{a} Mean": x.mean(), f"{a} SD": x.std(ddof=1), f"{b} Mean": y.mean(),
                     f"{b} SD": y.std(ddof=1), "n": f"{len(x)} / {len(y)}", "dof": float(t["dof"]),
                     "t": float(t["T"]), "p": float(t["p_val"]), "cohen_d": float(t["cohen_d"])})
    return pd.DataFrame(rows).set_index("class")
