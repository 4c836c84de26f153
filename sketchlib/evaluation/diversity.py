"""Generation diversity (AI-Sketcher's Figure 5): perceptual-hash distances between drawings, and their t-test."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from sketchlib.raster import render

__all__ = ["phash_distance_matrix", "pairwise_distances", "mean_distance_per_drawing", "diversity_table"]


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
