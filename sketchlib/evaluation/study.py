"""The user study (AI-Sketcher's experiment 3): machine raters, and the repeated-measures analysis of ratings.

:func:`train_machine_raters` and :func:`machine_ratings` stand in for people
(each rater a :class:`~sketchlib.evaluation.classifiers.RasterClassifier` trained
on its own sample of real drawings, its confidence binned to a 1..5 Likert
rating); :func:`analyse_ratings` analyses ratings from people
(:mod:`sketchlib.rating`) or machines alike and writes the APA-style report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from sketchlib.evaluation.classifiers import RasterClassifier
from sketchlib.evaluation.intervals import mean_ci

__all__ = ["LIKERT_EDGES", "likert_from_confidence", "train_machine_raters", "machine_ratings",
           "RatingAnalysis", "analyse_ratings", "apa_p"]


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
