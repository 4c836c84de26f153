"""The decoder's mixture density output and its one sampler (Sketch-RNN eq. 3, 6-8; AI-Sketcher eq. 6-8).

Each decoder output ``y_i`` becomes ``M`` bivariate normals over the next
offset ``(dx, dy)`` with weights ``Pi``, and three pen-state logits ``q``:

    y_i -> [Pi_1 .. Pi_M  mu_x1 .. mu_xM  mu_y1 ..  sigma_x1 ..  sigma_y1 ..  rho_1 .. rho_M  q_1 q_2 q_3]

(the raw output holds ``M`` values of each kind in turn). Numerics: ``log sigma``
is clamped to ``[LOG_SIGMA_MIN, LOG_SIGMA_MAX]`` and ``|rho| <= RHO_MAX``, so no
component can reach zero width or a singular covariance; the log-likelihood
(:func:`sketchlib.losses.mixture_log_likelihood`, re-exported here) is
computed in log space with a log-sum-exp over the components (no
``log(sum + 1e-6)`` as in Magenta).

Sampling (:func:`sample_output`, :func:`sample_mixture`, :meth:`MixtureHead.sample`)
is one function, used by :mod:`sketchlib.sampling`, hence by the widgets and the
notebooks.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from sketchlib.losses import mixture_log_likelihood, pen_log_probs  # the density lives with the loss (eq. 13)

__all__ = ["MixtureParams", "MixtureHead", "mixture_log_likelihood", "pen_log_probs", "sample_output",
           "sample_mixture", "head_output"]

LOG_SIGMA_MIN, LOG_SIGMA_MAX = -5.0, 5.0
RHO_MAX = 0.999


class MixtureParams(NamedTuple):
    """All tensors ``(..., M)`` except ``pen_logits: (..., 3)``."""

    log_pi: torch.Tensor  # log mixture weights (log-softmax of the logits)
    mu_x: torch.Tensor
    mu_y: torch.Tensor
    log_sx: torch.Tensor
    log_sy: torch.Tensor
    rho: torch.Tensor
    pen_logits: torch.Tensor


class MixtureHead(nn.Module):
    """``h: (..., H) -> MixtureParams`` with ``M`` components, in one matmul."""

    def __init__(self, hidden_size: int, num_mixture: int = 20):
        super().__init__()
        self.M = num_mixture
        self.linear = nn.Linear(hidden_size, 6 * num_mixture + 3)

    def forward(self, h: torch.Tensor) -> MixtureParams:
        M = self.M
        y = self.linear(h)
        pi, mx, my, sx, sy, rho = y[..., : 6 * M].split(M, dim=-1)
        return MixtureParams(
            # Pi = softmax(Pi_hat), kept as log Pi                          (Sketch-RNN eq. 6-8, AI-Sketcher eq. 6-8)
            log_pi=F.log_softmax(pi, dim=-1),
            mu_x=mx,
            mu_y=my,
            # sigma = exp(sigma_hat), kept as log sigma (clamped)           (Sketch-RNN eq. 6-8, AI-Sketcher eq. 6-8)
            log_sx=sx.clamp(LOG_SIGMA_MIN, LOG_SIGMA_MAX),
            log_sy=sy.clamp(LOG_SIGMA_MIN, LOG_SIGMA_MAX),
            # rho = tanh(rho_hat), shrunk by RHO_MAX                         (Sketch-RNN eq. 6-8, AI-Sketcher eq. 6-8)
            rho=torch.tanh(rho) * RHO_MAX,
            # q = softmax(q_hat): the logits q_hat                           (Sketch-RNN eq. 6-8, AI-Sketcher eq. 6-8)
            pen_logits=y[..., 6 * M :],
        )

    @torch.no_grad()
    def sample(self, h: torch.Tensor, temperature: float = 1.0, greedy: bool = False,
               generator: torch.Generator | None = None) -> np.ndarray:
        """The next point ``(B, 5)`` stroke-5 (numpy) from decoder states ``h: (B, H)`` (:func:`sample_output`)."""
        return sample_output(self.linear(h), self.M, temperature, greedy, generator)


def sample_output(y: torch.Tensor, num_mixture: int, temperature: float = 1.0, greedy: bool = False,
                  generator: torch.Generator | None = None) -> np.ndarray:
    """The next point of each drawing, ``(B, 5)`` stroke-5 (numpy), from the head's raw output ``y: (B, 6M + 3)``.

    Temperature ``tau`` (Sketch-RNN section 3.3): the mixture weights and the pen
    logits are divided by ``tau`` before the softmax (``tau -> 0`` picks the most
    likely component and pen state), and every sigma is scaled by ``sqrt(tau)``
    (the covariance by ``tau``). ``greedy`` takes the most likely component, its
    mean offset and the most likely pen state: a deterministic drawing.

    Component ``k`` and pen state are each drawn as the first of exponential
    clocks, ``argmin_j E_j / exp(logit_j / tau)`` with ``E_j ~ Exp(1)``, which
    picks ``j`` with probability ``softmax(logit / tau)_j`` exactly (the Gumbel-max
    trick); the offset is ``mu_k + sqrt(tau) diag(sigma_k) L_k e`` with ``e ~ N(0, I)``
    and ``L_k`` the Cholesky factor of ``[[1, rho_k], [rho_k, 1]]``.

    Speed: a sampler decodes one point at a time and wants it on the host, so the
    random numbers are drawn on ``y``'s device with ``generator`` (seeded runs
    repeat), copied to the host with ``y`` in one transfer, and the rest is a few
    numpy ops on a handful of numbers per drawing (a few dozen tiny torch ops would
    cost more than the decoder step's matmul); the head's transforms
    (:meth:`MixtureHead.forward`) are applied to the chosen component only.
    """
    B, M = y.shape[0], num_mixture
    if greedy:
        y = y.cpu().numpy()
        k, pen = y[:, :M].argmax(1), y[:, 6 * M :].argmax(1)
    else:
        tau = max(float(temperature), 1e-6)
        clocks = torch.empty(B, M + 3, device=y.device).exponential_(generator=generator)
        e = torch.randn(B, 2, generator=generator, device=y.device)
        host = torch.cat([y, clocks, e], dim=1).cpu().numpy()
        y, log_clocks, e = host[:, : 6 * M + 3], np.log(host[:, 6 * M + 3 : 7 * M + 6]), host[:, 7 * M + 6 :]
        # k ~ softmax(Pi_hat / tau), pen ~ softmax(q_hat / tau)                      (Sketch-RNN section 3.3)
        k = (log_clocks[:, :M] - y[:, :M] / tau).argmin(1)
        pen = (log_clocks[:, M:] - y[:, 6 * M :] / tau).argmin(1)
    # the chosen component's (mu_x, mu_y, log sigma_x, log sigma_y, rho before tanh): (B, 5)
    rows = np.arange(B)
    chosen = y[rows[:, None], k[:, None] + M * np.arange(1, 6)]
    out = np.zeros((B, 5), dtype=np.float32)
    out[:, :2] = chosen[:, :2]
    if not greedy:
        # sigma -> sigma sqrt(tau)                                                   (Sketch-RNN section 3.3)
        sigma = np.exp(np.minimum(np.maximum(chosen[:, 2:4], LOG_SIGMA_MIN), LOG_SIGMA_MAX)) * math.sqrt(tau)
        rho = np.tanh(chosen[:, 4]) * RHO_MAX
        # (dx, dy) ~ N(mu_k, Sigma_k): dx = mu_x + sigma_x e_1, dy = mu_y + sigma_y (rho e_1 + sqrt(1 - rho^2) e_2)
        out[:, 0] += sigma[:, 0] * e[:, 0]
        out[:, 1] += sigma[:, 1] * (rho * e[:, 0] + np.sqrt(1 - rho * rho) * e[:, 1])
    out[rows, 2 + pen] = 1.0
    return out


def head_output(p: MixtureParams) -> torch.Tensor:
    """The raw head output ``(B, 6M + 3)`` that :meth:`MixtureHead.forward` maps to ``p`` (its transforms undone).

    ``log_pi`` stands in for the weight logits (the softmax ignores the shift) and
    ``rho`` goes back through ``atanh(rho / RHO_MAX)``.
    """
    rho_hat = torch.atanh(p.rho / RHO_MAX)
    return torch.cat([p.log_pi, p.mu_x, p.mu_y, p.log_sx, p.log_sy, rho_hat, p.pen_logits], dim=-1)


def sample_mixture(
    p: MixtureParams, temperature: float = 1.0, greedy: bool = False, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw the next point ``(B, 5)`` stroke-5 from params of shape ``(B, M)``, on their device.

    The same draw as :func:`sample_output` on the head's raw output (see there for
    ``temperature`` and ``greedy``).
    """
    out = sample_output(head_output(p), p.mu_x.shape[-1], temperature, greedy, generator)
    return torch.from_numpy(out).to(device=p.mu_x.device, dtype=p.mu_x.dtype)
