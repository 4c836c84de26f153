"""Every loss term of Sketch-RNN and AI-Sketcher, one function each, and the annealing schedules.

Each line that computes a term has its equation as a comment right above it,
tagged with the paper's equation number (Sketch-RNN's as chapter 3 numbers
them, Ha & Eck 2017; AI-Sketcher's as the paper, Cao et al. 2019):

========  ================================  ==========================  ==============================
term      what                              Sketch-RNN                  AI-Sketcher
========  ================================  ==========================  ==============================
``l_s``   offsets' negative log-likelihood  eq. 9 (L_s), density eq. 3  eq. 13, density eq. 6-8
``l_p``   pen states' cross-entropy         eq. 9 (L_p)                 eq. 13
``l_r``   ``l_s + l_p``                     eq. 9 (L_R)                 eq. 13
``l_z``   KL of the latent ``z``            eq. 10 (L_KL)               eq. 14
``l_a``   KL of the influence ``a_d``       --                          eq. 14 (``sigma_a`` of eq. 10)
``l_kl``  ``l_z + beta l_a``                eq. 10 (``beta = 0``)       eq. 14
``l_ae``  autoencoder's squared error       --                          Fig. 1c ("Euclidean loss")
total     ``l_r + alpha max(l_kl, eps)``    eq. 11-12 (KL floor)        eq. 12, plus ``l_ae``
========  ================================  ==========================  ==============================

All are averaged over the batch. The pen loss runs over all ``N_max`` steps,
including the padding after the drawing's end, as Sketch-RNN trains (the model
learns to keep saying "ended"); ``N_max`` is ``cfg.max_seq_len``. The KL weight
``alpha`` (Sketch-RNN's ``w_KL``) is annealed by :func:`kl_weight_at`.

This module imports nothing from :mod:`sketchlib.models` (the models import it).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F

if TYPE_CHECKING:  # annotations only: sketchlib.models imports this module
    from sketchlib.models.mdn import MixtureParams

__all__ = [
    "length_mask",
    "mixture_log_likelihood",
    "pen_log_probs",
    "offset_loss",
    "pen_loss",
    "reconstruction_losses",
    "Packed",
    "packed_positions",
    "packed_reconstruction_losses",
    "gaussian_kl",
    "kl_gaussian",
    "influence_kl",
    "kl_term",
    "autoencoder_loss",
    "total_loss",
    "all_losses",
    "kl_weight_at",
    "learning_rate_at",
]

_LOG_2PI = math.log(2 * math.pi)


def length_mask(lengths: torch.Tensor, steps: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(B, steps)``: 1 at the steps ``i < N_s`` of each drawing (its length), 0 over the padding."""
    positions = torch.arange(steps, device=lengths.device).unsqueeze(0)
    return (positions < lengths.unsqueeze(1)).to(dtype)


# ----------------------------------------------------------------------------- reconstruction (l_r)


def mixture_log_likelihood(p: "MixtureParams", dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """``log p(dx, dy)`` under the mixture ``p``, shape of ``dx``; log space throughout (log-sum-exp over ``M``)."""
    zx = (dx.unsqueeze(-1) - p.mu_x) * torch.exp(-p.log_sx)
    zy = (dy.unsqueeze(-1) - p.mu_y) * torch.exp(-p.log_sy)
    one_m_rho2 = 1 - p.rho.pow(2)
    # Z = zx^2 + zy^2 - 2 rho zx zy,  zx = (dx - mu_x) / sigma_x,  zy = (dy - mu_y) / sigma_y
    z = zx.pow(2) + zy.pow(2) - 2 * p.rho * zx * zy
    # log N(dx, dy | mu, sigma, rho) = -log(2 pi sigma_x sigma_y sqrt(1 - rho^2)) - Z / (2 (1 - rho^2))
    log_n = -_LOG_2PI - p.log_sx - p.log_sy - 0.5 * torch.log(one_m_rho2) - z / (2 * one_m_rho2)
    # log p(dx, dy) = log sum_j Pi_j N(dx, dy | mu_j, sigma_j, rho_j)        (Sketch-RNN eq. 3, AI-Sketcher eq. 6-8)
    return torch.logsumexp(p.log_pi + log_n, dim=-1)


def pen_log_probs(p: "MixtureParams") -> torch.Tensor:
    """``log q: (..., 3)``, the pen states' log-probabilities ``log softmax(q_hat)`` (Sketch-RNN eq. 6-8)."""
    return F.log_softmax(p.pen_logits, dim=-1)


def offset_loss(params: "MixtureParams", target: torch.Tensor, lengths: torch.Tensor, n_max: int,
                per_drawing: bool = False) -> torch.Tensor:
    """``l_s`` for ``params`` of shape ``(B, T, M)`` and ``target: (B, T, 5)``: a scalar, or ``(B,)`` per drawing."""
    B, T, _ = target.shape
    mask = length_mask(lengths.to(target.device), T, target.dtype)
    logp = mixture_log_likelihood(params, target[..., 0], target[..., 1]) * mask
    # l_s = -1/N_max sum_{i <= N_s} log p(dx_i, dy_i)                       (Sketch-RNN eq. 9, AI-Sketcher eq. 13)
    return -logp.sum(1) / n_max if per_drawing else -logp.sum() / (B * n_max)


def pen_loss(params: "MixtureParams", target: torch.Tensor, n_max: int, per_drawing: bool = False) -> torch.Tensor:
    """``l_p`` over all ``N_max`` steps, padding included: a scalar, or ``(B,)`` per drawing.

    A batch padded to fewer than ``N_max`` rows (length buckets, ``pad_to="batch"``) ends with
    an end row of every drawing; that last row is counted ``N_max - T + 1`` times, standing for
    the end rows of the paper's padding that the batch leaves out. The sum is then Sketch-RNN's
    whenever the model's prediction after a drawing's end stays put, as a trained model's does;
    without the weight the "end" target of a drawing would count once instead of ``N_max - L``
    times, and the model learns to end its drawings far less often.
    """
    B, T = target.shape[:2]
    p_log_q = (target[..., 2:5] * pen_log_probs(params)).sum(2)  # (B, T)
    if T < n_max:
        weight = torch.ones(T, dtype=p_log_q.dtype, device=p_log_q.device)
        weight[-1] = n_max - T + 1
        p_log_q = p_log_q * weight
    # l_p = -1/N_max sum_{i <= N_max} sum_k p_k,i log q_k,i                 (Sketch-RNN eq. 9, AI-Sketcher eq. 13)
    return -p_log_q.sum(1) / n_max if per_drawing else -p_log_q.sum() / (B * n_max)


class Packed(NamedTuple):
    """The decoder positions a packed batch computes (:func:`packed_positions`)."""

    rows: torch.Tensor  # (N,) indices into the (B * T) flattened positions: each drawing's points and end rows
    is_point: torch.Tensor  # (N,) 1 at a point (i < N_s), 0 at an end row
    pen_weight: torch.Tensor  # (N,) 1 except at a drawing's last computed row, which stands for the padding
    batch_size: int
    steps: torch.Tensor  # (B,) the decoder steps each drawing runs: its points and end rows


def packed_positions(lengths: torch.Tensor, steps: int, n_max: int, end_rows: int = 1,
                     dtype: torch.dtype = torch.float32) -> Packed:
    """Each drawing's ``N_s`` points and its first ``end_rows`` end rows, out of ``steps`` padded positions.

    The last of a drawing's end rows stands for the rest of the paper's padding,
    up to ``N_max``: past it the packed decoder keeps its state, so its
    prediction there would be the same (as :func:`pen_loss`'s weight on a short
    batch's last row). A drawing gets fewer end rows where ``steps`` ends first, and
    one of exactly ``N_max`` points none, as in the paper. The result's ``steps``
    is how many decoder steps each drawing runs.
    """
    positions = torch.arange(steps, device=lengths.device).unsqueeze(0)
    L = lengths.unsqueeze(1)
    if bool((L > steps).any()):
        raise ValueError(f"a drawing of {int(L.max())} points does not fit a batch of {steps} positions")
    last = (L + end_rows - 1).clamp(max=steps - 1)  # each drawing's last computed position
    keep = positions <= last  # (B, steps)
    point = (positions < L).to(dtype)
    weight = torch.where(positions < last, 1, n_max - last).to(dtype)
    return Packed(keep.reshape(-1).nonzero().squeeze(1), point[keep], weight[keep], len(lengths),
                  last.squeeze(1) + 1)


def packed_reconstruction_losses(params: "MixtureParams", target: torch.Tensor, packed: Packed,
                                 n_max: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(l_s, l_p)`` as :func:`reconstruction_losses`, from ``params: (N, M)`` and ``target: (N, 5)`` at the
    positions ``packed`` keeps; equal to it on the padded batch when the state stays put after each drawing."""
    B = packed.batch_size
    # l_s = -1/N_max sum_{i <= N_s} log p(dx_i, dy_i)                       (Sketch-RNN eq. 9, AI-Sketcher eq. 13)
    l_s = -(mixture_log_likelihood(params, target[:, 0], target[:, 1]) * packed.is_point).sum() / (B * n_max)
    # l_p = -1/N_max sum_{i <= N_max} sum_k p_k,i log q_k,i, the last end row counted for the rest of the padding
    p_log_q = (target[:, 2:5] * pen_log_probs(params)).sum(1)
    return l_s, -(p_log_q * packed.pen_weight).sum() / (B * n_max)


def reconstruction_losses(
    params: "MixtureParams", target: torch.Tensor, lengths: torch.Tensor, n_max: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(l_s, l_p)``, each averaged over the batch; ``l_r = l_s + l_p`` (Sketch-RNN eq. 9, AI-Sketcher eq. 13)."""
    return offset_loss(params, target, lengths, n_max), pen_loss(params, target, n_max)


# ----------------------------------------------------------------------------- KL terms (l_kl)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, sigma^2) || N(0, 1))`` of each value, ``logvar = log sigma^2``: the one KL formula."""
    # KL = -1/2 (1 + log sigma^2 - mu^2 - sigma^2)                         (Sketch-RNN eq. 10, AI-Sketcher eq. 14)
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())


def kl_gaussian(mu: torch.Tensor, logvar: torch.Tensor, per_drawing: bool = False) -> torch.Tensor:
    """``l_z``: KL(N(mu, sigma^2) || N(0, I)) divided by ``N_z``, averaged over the batch (or ``(B,)`` per drawing)."""
    # l_z = -1/(2 N_z) sum_k (1 + log sigma_k^2 - mu_k^2 - sigma_k^2)        (Sketch-RNN eq. 10, AI-Sketcher eq. 14)
    kl = gaussian_kl(mu, logvar)
    return kl.mean(1) if per_drawing else kl.mean()


def influence_kl(mu_a: torch.Tensor, lengths: torch.Tensor, per_drawing: bool = False) -> torch.Tensor:
    """``l_a``: KL(N(mu_a, sigma_a^2) || N(0, I)) averaged over ``n_a`` and the valid steps.

    ``mu_a: (B, T, n_a)``, the influence layer's means at every decoding step;
    the steps past each drawing's length do not count. ``per_drawing``: ``(B,)``, each drawing's
    mean over its own steps (the batch's value weights the drawings by their lengths).
    """
    mask = length_mask(lengths.to(mu_a.device), mu_a.shape[1])
    # log sigma_a^2 = tanh(mu_a)                                             (AI-Sketcher eq. 10)
    logvar = torch.tanh(mu_a)
    per_step = gaussian_kl(mu_a, logvar).mean(dim=2)
    # l_a = 1/N_s sum_{j <= N_s} 1/n_a sum KL(N(mu_a,j, sigma_a,j^2) || N(0, I))    (AI-Sketcher eq. 14)
    if per_drawing:
        return (per_step * mask).sum(1) / mask.sum(1).clamp(min=1)
    return (per_step * mask).sum() / mask.sum().clamp(min=1)


def kl_term(l_z: torch.Tensor, l_a: torch.Tensor, beta: float) -> torch.Tensor:
    """``l_kl``: the latent's and the influence layer's KL terms, the latter weighted by ``beta``."""
    # l_kl = l_z + beta l_a                                                  (AI-Sketcher eq. 14)
    return l_z + beta * l_a


# ----------------------------------------------------------------------------- the autoencoder and the total


def autoencoder_loss(recon: torch.Tensor, rasters: torch.Tensor) -> torch.Tensor:
    """``l_ae``: the CNN autoencoder's Euclidean loss, the mean squared error per pixel over the batch."""
    # l_ae = 1/(B R^2) sum (x_hat - x)^2                                     (AI-Sketcher Fig. 1c)
    return F.mse_loss(recon, rasters)


def total_loss(l_r: torch.Tensor, l_kl: torch.Tensor, alpha: float, epsilon: float) -> torch.Tensor:
    """``l_r + alpha * max(l_kl, epsilon)``; below the floor the KL term gets no gradient."""
    # l = l_r + alpha max(l_kl, epsilon)                                     (Sketch-RNN eq. 11-12, AI-Sketcher eq. 12)
    return l_r + alpha * torch.clamp(l_kl, min=epsilon)


def all_losses(out: dict, batch: dict, cfg, kl_weight: float) -> dict[str, torch.Tensor]:
    """Every term for one batch from the model's output ``out`` (:meth:`SketchModel.forward`).

    Keys: total, l_r, l_s, l_p, l_kl, l_z, l_a, l_ae (zeros for the parts the
    config switches off); ``kl_weight`` is ``alpha`` of eq. 12 at this step.
    Without a KL term (no variational latent, no influence layer) the total is
    ``l_r``; with the autoencoder, ``ae_loss_weight * l_ae`` is added: one
    optimiser trains both parts.
    """
    lengths, target = batch["lengths"], batch["strokes5"][:, 1:]
    if out.get("packed") is not None:
        flat = target.reshape(-1, target.shape[-1])[out["packed"].rows]
        l_s, l_p = packed_reconstruction_losses(out["params"], flat, out["packed"], cfg.max_seq_len)
    else:
        l_s, l_p = reconstruction_losses(out["params"], target, lengths, cfg.max_seq_len)
    # l_r = l_s + l_p                                                        (Sketch-RNN eq. 9, AI-Sketcher eq. 13)
    l_r = l_s + l_p
    zero = l_r.new_zeros(())
    lat, mu_a = out["latent"], out["mu_a"]
    l_z = kl_gaussian(lat.mu, lat.logvar) if lat.logvar is not None else zero
    l_a = influence_kl(mu_a, lengths) if mu_a is not None else zero
    l_kl = kl_term(l_z, l_a, cfg.influence_beta)
    has_kl = lat.logvar is not None or mu_a is not None
    total = total_loss(l_r, l_kl, kl_weight, cfg.kl_tolerance) if has_kl else l_r
    l_ae = zero
    if lat.raster_recon is not None:
        l_ae = autoencoder_loss(lat.raster_recon, batch["rasters"])
        total = total + cfg.ae_loss_weight * l_ae
    return {"total": total, "l_r": l_r, "l_s": l_s, "l_p": l_p, "l_kl": l_kl, "l_z": l_z, "l_a": l_a, "l_ae": l_ae}


# ----------------------------------------------------------------------------- schedules


def kl_weight_at(cfg, step: int) -> float:
    """KL annealing as Magenta: ``w - (w - w_start) * decay^step``, rising from ``w_start`` to ``w``.

    ``decay`` is ``cfg.kl_decay_rate``, or sized to the run when ``cfg.schedule == "budget"``
    (:meth:`SketchConfig.schedule_rates`).
    """
    kl_decay_rate, _ = cfg.schedule_rates()
    return cfg.kl_weight - (cfg.kl_weight - cfg.kl_weight_start) * kl_decay_rate**step


def learning_rate_at(cfg, step: int) -> float:
    """Exponential decay to a floor: ``(lr - lr_min) * decay^step + lr_min`` (``decay`` as for the KL weight)."""
    _, decay_rate = cfg.schedule_rates()
    return (cfg.learning_rate - cfg.min_learning_rate) * decay_rate**step + cfg.min_learning_rate
