"""Latent coherence (AI-Sketcher's experiment 1): do the encoder's vectors of one class lie together?

The encoder's view of each drawing (:func:`latent_vectors`), a t-SNE map of it
(:func:`tsne_embedding`) and the silhouette of the classes in both
(:func:`silhouette`, :func:`latent_coherence`). Chapter 10 uses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["latent_vectors", "tsne_embedding", "silhouette", "LatentCoherence", "latent_coherence"]


def latent_vectors(model, stats: dict, drawings: Sequence[np.ndarray], labels=None, *, part="mu",
                   batch_size: int = 256):
    """The encoder's view of each drawing: ``(N, Z)``, no sampling noise.

    ``part="mu"``: the mean of the sketch encoder's posterior, ``mu`` (``z_size`` values; conditional models
    encode under ``labels``). ``part="z"``: the whole latent the decoder reads, ``z = [mu; z_r]`` for models
    with the CNN autoencoder (AI-Sketcher eq. 5, Fig. 1c), ``mu`` otherwise. A tuple such as ``("mu", "z")`` gives
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
