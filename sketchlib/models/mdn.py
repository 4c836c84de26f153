"""The mixture density output of the decoder (Sketch-RNN eq. 3-4, AI-Sketcher eq. 6-8).

Each decoder output ``y_i`` becomes ``M`` bivariate normals over the next
offset ``(dx, dy)`` with weights ``Pi``, and three pen-state logits ``q``:

    y_i -> [Pi_1 mu_x1 mu_y1 sigma_x1 sigma_y1 rho_1 ... Pi_M ... rho_M  q_1 q_2 q_3]

Numerics: the log-likelihood is computed in log space with a log-sum-exp over
the components (no ``log(sum + 1e-6)`` as in Magenta), ``log sigma`` is
clamped to ``[LOG_SIGMA_MIN, LOG_SIGMA_MAX]`` and ``|rho| <= RHO_MAX``, so no
component can reach zero width or a singular covariance.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["MixtureParams", "MixtureHead", "mixture_log_likelihood", "pen_log_probs", "sample_mixture"]

LOG_SIGMA_MIN, LOG_SIGMA_MAX = -5.0, 5.0
RHO_MAX = 0.999
_LOG_2PI = math.log(2 * math.pi)


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
            log_pi=F.log_softmax(pi, dim=-1),
            mu_x=mx,
            mu_y=my,
            log_sx=sx.clamp(LOG_SIGMA_MIN, LOG_SIGMA_MAX),
            log_sy=sy.clamp(LOG_SIGMA_MIN, LOG_SIGMA_MAX),
            rho=torch.tanh(rho) * RHO_MAX,
            pen_logits=y[..., 6 * M :],
        )


def mixture_log_likelihood(p: MixtureParams, dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """``log sum_j Pi_j N(dx, dy | mu_j, sigma_j, rho_j)``, shape of ``dx`` (Sketch-RNN eq. 9's inner term)."""
    zx = (dx.unsqueeze(-1) - p.mu_x) * torch.exp(-p.log_sx)
    zy = (dy.unsqueeze(-1) - p.mu_y) * torch.exp(-p.log_sy)
    one_m_rho2 = 1 - p.rho.pow(2)
    z = zx.pow(2) + zy.pow(2) - 2 * p.rho * zx * zy
    log_n = -_LOG_2PI - p.log_sx - p.log_sy - 0.5 * torch.log(one_m_rho2) - z / (2 * one_m_rho2)
    return torch.logsumexp(p.log_pi + log_n, dim=-1)


def pen_log_probs(p: MixtureParams) -> torch.Tensor:
    """``log q: (..., 3)``."""
    return F.log_softmax(p.pen_logits, dim=-1)


def sample_mixture(
    p: MixtureParams, temperature: float = 1.0, greedy: bool = False, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw the next point ``(B, 5)`` stroke-5 from params of shape ``(B, M)``.

    Temperature ``tau`` (Sketch-RNN section 3.3): the mixture weights and the pen
    logits are divided by ``tau`` before the softmax (``tau -> 0`` picks the most
    likely component and pen state), and every sigma is scaled by ``sqrt(tau)``
    (the covariance by ``tau``). ``greedy`` takes the most likely component, its
    mean offset and the most likely pen state: a deterministic drawing.
    """
    B = p.mu_x.shape[0]
    ar = torch.arange(B, device=p.mu_x.device)
    if greedy:
        k = p.log_pi.argmax(dim=-1)
        dx, dy = p.mu_x[ar, k], p.mu_y[ar, k]
        pen = p.pen_logits.argmax(dim=-1)
    else:
        tau = max(float(temperature), 1e-6)
        k = torch.multinomial(torch.softmax(p.log_pi / tau, dim=-1), 1, generator=generator).squeeze(1)
        pen = torch.multinomial(torch.softmax(p.pen_logits / tau, dim=-1), 1, generator=generator).squeeze(1)
        sx = torch.exp(p.log_sx[ar, k]) * math.sqrt(tau)
        sy = torch.exp(p.log_sy[ar, k]) * math.sqrt(tau)
        rho = p.rho[ar, k]
        e = torch.randn(B, 2, device=p.mu_x.device, dtype=p.mu_x.dtype, generator=generator)
        dx = p.mu_x[ar, k] + sx * e[:, 0]
        dy = p.mu_y[ar, k] + sy * (rho * e[:, 0] + torch.sqrt(1 - rho.pow(2)) * e[:, 1])
    out = torch.zeros(B, 5, device=p.mu_x.device, dtype=p.mu_x.dtype)
    out[:, 0], out[:, 1] = dx, dy
    out[ar, 2 + pen] = 1.0
    return out
