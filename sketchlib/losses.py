"""Loss terms and schedules (Sketch-RNN eq. 9-11, AI-Sketcher eq. 12-14).

    l_s  = -1/N_max  sum_{i <= N_s}   log sum_j Pi_j N(dx_i, dy_i | ...)      (eq. 13, offsets)
    l_p  = -1/N_max  sum_{i <= N_max} sum_k p_k,i log q_k,i                   (eq. 13, pen states)
    l_r  = l_s + l_p
    l_z  = -1/(2 N_z) sum (1 + log sigma^2 - mu^2 - sigma^2)                  (eq. 14)
    l_kl = l_z + beta * l_a                                                   (eq. 14)
    l    = l_r + alpha * max(l_kl, epsilon)                                   (eq. 12)

All are averaged over the batch. The pen loss runs over all ``N_max`` steps,
including the padding after the drawing's end, as Sketch-RNN trains (the model
learns to keep saying "ended"); ``N_max`` is ``cfg.max_seq_len``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from sketchlib.models.mdn import MixtureParams

__all__ = ["reconstruction_losses", "kl_gaussian", "total_loss", "kl_weight_at", "learning_rate_at"]


def reconstruction_losses(
    params: "MixtureParams", target: torch.Tensor, lengths: torch.Tensor, n_max: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(l_s, l_p)`` for ``params`` of shape ``(B, T, M)`` and ``target: (B, T, 5)``."""
    from sketchlib.models.mdn import mixture_log_likelihood, pen_log_probs  # models import this module

    B, T, _ = target.shape
    mask = (torch.arange(T, device=target.device).unsqueeze(0) < lengths.to(target.device).unsqueeze(1)).to(target.dtype)
    logp = mixture_log_likelihood(params, target[..., 0], target[..., 1])
    l_s = -(logp * mask).sum() / (B * n_max)
    # a batch padded to T < N_max rows (length buckets) ends with an end row of every drawing; it stands for the
    # N_max - T + 1 end rows of the paper's padding, so the sum is Sketch-RNN's once predictions after the end
    # stay put (without the weight a drawing's "end" target counts once instead of N_max - L times)
    p_log_q = (target[..., 2:5] * pen_log_probs(params)).sum(2)
    if T < n_max:
        weight = torch.ones(T, dtype=p_log_q.dtype, device=p_log_q.device)
        weight[-1] = n_max - T + 1
        p_log_q = p_log_q * weight
    l_p = -p_log_q.sum() / (B * n_max)
    return l_s, l_p


def kl_gaussian(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``l_z``: KL(N(mu, sigma^2) || N(0, I)) divided by ``N_z``, averaged over the batch."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).mean()


def total_loss(l_r: torch.Tensor, l_kl: torch.Tensor, alpha: float, epsilon: float) -> torch.Tensor:
    """Eq. 12: ``l_r + alpha * max(l_kl, epsilon)``; below the floor the KL term gets no gradient."""
    return l_r + alpha * torch.clamp(l_kl, min=epsilon)


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
