"""Losses of single drawings: the numbers behind "model A's loss is lower than model B's" with an interval.

A comparison of two models' validation losses needs the loss of every drawing, so that the difference
can be paired over the same drawings (:func:`~sketchlib.evaluation.intervals.mean_ci`). The reconstruction
loss ``l_r`` alone compares models fairly only when they were trained to the same KL weight: a smaller
weight buys a lower ``l_r`` with a latent that carries more (Sketch-RNN's trade-off, chapter 4). Between
variational models of different KL weights compare the bound ``l_r + l_kl``; a deterministic encoder
(Sketch-pix2seq) has no KL term and no bound.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from sketchlib import losses

__all__ = ["per_drawing_losses"]


@torch.no_grad()
def per_drawing_losses(model, stats: dict, drawings: Sequence[np.ndarray], labels=None,
                       seed: int = 0) -> dict[str, np.ndarray]:
    """``{"l_r", "l_kl", "bound"}``: each ``(len(drawings),)``, the losses of eq. 12-14 of every drawing.

    The drawings (pixel stroke-3, ``labels`` for conditional models) are decoded once in eval mode with
    the latent noise seeded by ``seed``, as validation does. ``l_r = l_s + l_p`` (eq. 13, divided by
    N_max) and ``l_kl = l_z + beta l_a`` (eq. 14, ``l_a`` averaged over the drawing's own steps) are the
    library's loss functions per drawing; ``bound = l_r + l_kl``. The mean of ``l_r`` and of ``l_z`` is
    the batch value of :func:`sketchlib.losses.all_losses`.
    """
    from sketchlib.sampling import make_batch

    model.eval()
    batch = make_batch(model, drawings, stats["scale"], labels)
    torch.manual_seed(seed)
    out = model(batch)
    target, lengths, n_max = batch["strokes5"][:, 1:], batch["lengths"], model.cfg.max_seq_len
    l_r = (losses.offset_loss(out["params"], target, lengths, n_max, per_drawing=True)
           + losses.pen_loss(out["params"], target, n_max, per_drawing=True))
    lat, zero = out["latent"], torch.zeros_like(l_r)
    l_z = losses.kl_gaussian(lat.mu, lat.logvar, per_drawing=True) if lat.logvar is not None else zero
    l_a = losses.influence_kl(out["mu_a"], lengths, per_drawing=True) if out["mu_a"] is not None else zero
    l_kl = losses.kl_term(l_z, l_a, model.cfg.influence_beta)
    return {"l_r": l_r.cpu().numpy(), "l_kl": l_kl.cpu().numpy(), "bound": (l_r + l_kl).cpu().numpy()}
