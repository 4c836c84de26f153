"""One LSTM step at a time, fast: :class:`FusedStep` under autograd, :class:`InferenceStep` without.

The step-by-step siblings of :class:`~sketchlib.models.fused.FusedLSTM` (whose
module doc explains the shared point-wise kernels), for the loops that cannot be
one node: the influence-layer decoder, whose extra input depends on ``h``, and
the sampler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from sketchlib.models.fused import _fastest, _MatmulByFixedWeight, _NormGradSums, _PointwiseStep

if TYPE_CHECKING:  # annotations only
    from sketchlib.models.cells import LSTMCell

__all__ = ["FusedStep", "InferenceStep"]


class _PointwiseFunction(torch.autograd.Function):
    """One step's point-wise part as one autograd node: ``(gates, c) -> (h, c')`` (see :class:`FusedStep`)."""

    @staticmethod
    def forward(ctx, gates, c, mask, gate_gamma, gate_beta, cell_gamma, cell_beta, pointwise, grad_enabled=True):
        keep = grad_enabled and any(ctx.needs_input_grad)  # as FusedLSTM: the caller says whether grad mode is on
        h = c.new_empty(c.shape)
        c, kept = pointwise.step(gates.clone(), c, mask, h, keep)  # the native kernel normalises gates in place
        if keep:
            ctx.pointwise, ctx.kept = pointwise, kept
        return h, c

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dh, dc):
        B, H = dh.shape
        sums = _NormGradSums(dh, B, H) if ctx.pointwise.layer_norm else None
        d_gates = dh.new_empty(B, 4 * H)
        dc_prev = ctx.pointwise.backward(ctx.kept, dh, dc, d_gates, sums)
        d_norm = sums.totals() if sums is not None else (None,) * 4
        return (d_gates, dc_prev, None, *d_norm, None, None)


class FusedStep:
    """:meth:`LSTMCell.step` under autograd, with the point-wise part one node with a hand-written backward.

    For loops that must stay under autograd step by step, such as the
    influence-layer decoder, whose extra input depends on ``h``. Build one per
    forward pass (it precomputes constants from the cell's parameters).
    """

    def __init__(self, cell: LSTMCell):
        self.cell, self.pointwise = cell, _fastest(_PointwiseStep.of(cell), cell.w_h, build=torch.is_grad_enabled())
        self.norm = (None,) * 4
        if cell.layer_norm:
            self.norm = (cell.gate_gamma, cell.gate_beta, cell.cell_gamma, cell.cell_beta)

    def __call__(self, xw: torch.Tensor, h: torch.Tensor, c: torch.Tensor, mask: torch.Tensor | None = None,
                 extra: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        gates = torch.addmm(xw, h, self.cell.w_h)
        if extra is not None:
            gates = torch.addmm(gates, extra, self.cell.w_extra)
        return _PointwiseFunction.apply(gates, c, mask, *self.norm, self.pointwise, torch.is_grad_enabled())


class InferenceStep:
    """:meth:`LSTMCell.step` for decoding ``batch_size`` drawings without autograd, one step at a time.

    Same mathematics, cheaper point-wise ops (:class:`_PointwiseStep`) and, on
    CPUs, a pre-packed recurrent weight. It takes a snapshot of the cell's
    parameters when it is built: build a new one after changing them.
    """

    @torch.no_grad()
    def __init__(self, cell: LSTMCell, batch_size: int):
        self.cell, self.pointwise = cell, _fastest(_PointwiseStep.of(cell), cell.w_h, build=False)
        self.recurrent = _MatmulByFixedWeight(cell.w_h, batch_size)

    @torch.no_grad()
    def __call__(self, xw: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
                 extra: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``xw: (B, 4H)`` projected input, ``h, c: (B, H)`` -> the next ``(h, c)``."""
        gates = self.recurrent.add_to(xw, h)
        if extra is not None:
            gates.addmm_(extra, self.cell.w_extra)
        h = c.new_empty(c.shape)
        c, _ = self.pointwise.step(gates, c, None, h, False)
        return h, c
