"""A plain Sketch-RNN on ``nn.LSTM``: the peer baseline of ``train_benchmark --throughput``.

What a popular single-file PyTorch Sketch-RNN does, at sketchlib's sizes: a
bidirectional ``nn.LSTM`` encoder (packed, so each direction stops at the
drawing's own end), ``mu, sigma -> z``, ``h0, c0 = tanh(W z)``, an ``nn.LSTM``
decoder fed ``[s_{i-1}; z]`` for all ``N_max`` steps, a head of ``M`` bivariate
normals and three pen logits, and Sketch-RNN's loss (eq. 9-12, KL floor). No
layer norm and no recurrent dropout (``nn.LSTM`` has neither).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence


class PlainSketchRNN(nn.Module):
    def __init__(self, enc: int = 256, dec: int = 512, z: int = 128, M: int = 20):
        super().__init__()
        self.M = M
        self.encoder = nn.LSTM(5, enc, batch_first=True, bidirectional=True)
        self.latent = nn.Linear(2 * enc, 2 * z)
        self.init = nn.Linear(z, 2 * dec)
        self.decoder = nn.LSTM(5 + z, dec, batch_first=True)
        self.head = nn.Linear(dec, 6 * M + 3)

    def loss(self, strokes5: torch.Tensor, lengths: torch.Tensor, n_max: int, kl_weight: float = 0.5,
             kl_floor: float = 0.2) -> torch.Tensor:
        """``strokes5: (B, N_max + 1, 5)`` with the start token in row 0, ``lengths: (B,)``."""
        B, M = strokes5.shape[0], self.M
        packed = pack_padded_sequence(strokes5[:, 1:], lengths.clamp(min=1).cpu(), batch_first=True,
                                      enforce_sorted=False)
        _, (h, _) = self.encoder(packed)
        mu, logvar = self.latent(torch.cat([h[0], h[1]], dim=1)).chunk(2, dim=1)
        z = mu + torch.exp(logvar / 2) * torch.randn_like(mu)
        h0, c0 = torch.tanh(self.init(z)).chunk(2, dim=1)
        inputs = strokes5[:, :-1]
        x = torch.cat([inputs, z.unsqueeze(1).expand(-1, inputs.shape[1], -1)], dim=2)
        out, _ = self.decoder(x, (h0.unsqueeze(0).contiguous(), c0.unsqueeze(0).contiguous()))
        y = self.head(out)
        logit_pi, mx, my, log_sx, log_sy, rho = y[..., : 6 * M].split(M, dim=2)
        sx, sy, rho = log_sx.exp(), log_sy.exp(), torch.tanh(rho)
        target = strokes5[:, 1:]
        dx, dy = (target[..., 0:1] - mx) / sx, (target[..., 1:2] - my) / sy
        one_m_r2 = 1 - rho**2
        log_n = (-(dx**2 + dy**2 - 2 * rho * dx * dy) / (2 * one_m_r2)
                 - torch.log(2 * math.pi * sx * sy * torch.sqrt(one_m_r2)))
        log_mix = torch.logsumexp(F.log_softmax(logit_pi, dim=2) + log_n, dim=2)
        T = target.shape[1]
        mask = (torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)).float()
        l_s = -(log_mix * mask).sum() / (B * n_max)
        l_p = -(target[..., 2:] * F.log_softmax(y[..., 6 * M :], dim=2)).sum() / (B * n_max)
        l_kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).mean()
        return l_s + l_p + kl_weight * torch.clamp(l_kl, min=kl_floor)
