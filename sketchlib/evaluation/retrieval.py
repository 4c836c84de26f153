"""Retrieval: does the latent carry the drawing? (The measure behind chapter 4's trade-off table.)

Encode each of ``N`` drawings, decode it again, and ask whether the reconstruction is nearer to its own
input than to any of the other ``N - 1`` inputs (squared distance between 28x28 rasters, each drawing
fitted to the canvas). Top-1 retrieval is the share of drawings for which it is. Chance is ``1/N``;
a decoder that ignores ``z`` and draws a generic drawing stays near chance however good its drawings
are. :func:`retrieved` is the comparison alone, so it can be checked on known pairs;
:func:`retrieval_top1` runs a model through it. ``scripts/model_report.py`` uses 50 test drawings.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["retrieved", "retrieval_top1"]


def retrieved(reconstructions: Sequence[np.ndarray], originals: Sequence[np.ndarray], *, size: int = 28) -> np.ndarray:
    """``(N,)`` bool: whether reconstruction ``i``'s nearest original (raster distance) is original ``i``."""
    from sketchlib.raster import render

    if len(reconstructions) != len(originals):
        raise ValueError(f"{len(reconstructions)} reconstructions for {len(originals)} originals: "
                         "pass one reconstruction per original, in the same order")
    a = render(list(originals), size=size).reshape(len(originals), -1).astype(np.float32)
    b = render(list(reconstructions), size=size).reshape(len(reconstructions), -1).astype(np.float32)
    # d_ij = ||raster(recon_i) - raster(orig_j)||^2; retrieved when argmin_j d_ij = i
    dist = ((b[:, None, :] - a[None, :, :]) ** 2).sum(-1)
    return dist.argmin(1) == np.arange(len(originals))


def retrieval_top1(model, drawings: Sequence[np.ndarray], scale: float, labels=None, *, temperature: float = 0.25,
                   seed: int = 0) -> float:
    """Top-1 retrieval of ``drawings`` by ``model``: encode (``z = mu``), decode at ``temperature``, compare."""
    from sketchlib.sampling import reconstruct

    recon = reconstruct(model, list(drawings), scale=scale, labels=labels, temperature=temperature, seed=seed)
    return float(np.mean(retrieved(recon, drawings)))
