"""Recurrent cells: LSTM and layer-norm LSTM, built for a fast teacher-forced loop.

The mathematics is Magenta's ``LSTMCell`` / ``LayerNormLSTMCell`` (sketch_rnn/rnn.py):

    gates      = x W_x + h W_h (+ b)                  # one fused matmul per step
    i, g, f, o = gates                                 # layer-norm: each block normalised (one fused op)
    c'         = c * sigmoid(f + forget_bias) + sigmoid(i) * dropout(tanh(g))
    h'         = sigmoid(o) * tanh(c')                 # layer-norm: tanh(LN(c'))

Recurrent dropout is Semeniuta et al.'s "without memory loss": only the
candidate ``tanh(g)`` is dropped, so the cell state is never zeroed.

:meth:`LSTMCell.step` and :func:`reference_run` (the step once per time step
under autograd) are the code to read. Three faster implementations of the same
mathematics follow them, each checked against them by ``tests/test_fast_path.py``:

- :class:`FusedLSTM`: a whole teacher-forced sequence as one autograd node with
  a hand-written backward pass that gets the weight gradients as a few large
  matmuls over all steps instead of one thin matmul per step. Training uses it
  (``LSTMCell(fused=True)``, the default; :func:`run_recurrent` picks it).
- :class:`FusedStep`: one step under autograd with its point-wise part as one
  node, for the influence-layer decoder, whose per-step extra input depends on ``h``.
- :class:`InferenceStep`: one step without autograd, for the sampler.

All three share :class:`_PointwiseStep`, the point-wise part of a step (forward
and backward) written with few and cheap ops.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["LSTMCell", "run_recurrent", "reference_run", "FusedLSTM", "FusedStep", "InferenceStep", "BiRNN"]


class LSTMCell(nn.Module):
    """An LSTM cell, plain or layer-normalised, with recurrent dropout.

    Args:
        input_size: width of the per-step input ``x``.
        hidden_size: ``H``.
        layer_norm: normalise the four gate blocks and the cell (Ba et al. 2016).
        dropout_keep: keep probability of the recurrent dropout on ``tanh(g)``.
        forget_bias: added to ``f`` before the sigmoid (1.0, as Magenta).
        extra_size: width of an optional second per-step input that is only known
            inside the loop (the influence layer's ``a_d``); it gets its own weights.
        fused: run teacher-forced loops as one :class:`FusedLSTM` node (fast);
            ``False``: :func:`reference_run`, one :meth:`step` at a time under autograd.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        layer_norm: bool = False,
        dropout_keep: float = 1.0,
        forget_bias: float = 1.0,
        extra_size: int = 0,
        fused: bool = True,
    ):
        super().__init__()
        self.fused = fused
        self.input_size, self.hidden_size = input_size, hidden_size
        self.layer_norm, self.dropout_keep, self.forget_bias = layer_norm, dropout_keep, forget_bias
        H = hidden_size
        self.w_x = nn.Parameter(torch.empty(input_size, 4 * H))
        self.w_h = nn.Parameter(torch.empty(H, 4 * H))
        self.w_extra = nn.Parameter(torch.empty(extra_size, 4 * H)) if extra_size else None
        if layer_norm:
            # LN's beta plays the bias's role; gamma/beta per gate block, and for the cell
            self.gate_gamma = nn.Parameter(torch.ones(4, H))
            self.gate_beta = nn.Parameter(torch.zeros(4, H))
            self.cell_gamma = nn.Parameter(torch.ones(H))
            self.cell_beta = nn.Parameter(torch.zeros(H))
            self.bias = None
        else:
            self.bias = nn.Parameter(torch.zeros(4 * H))
        # forget bias as a constant added to the f block (not a parameter), as Magenta does
        fb = torch.zeros(4, H)
        fb[2] = forget_bias
        self.register_buffer("_forget", fb.view(4 * H), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        H = self.hidden_size
        nn.init.xavier_uniform_(self.w_x)
        if self.w_extra is not None:
            nn.init.xavier_uniform_(self.w_extra)
        # orthogonal recurrent weights, one H x H block per gate (Magenta's orthogonal initializer)
        with torch.no_grad():
            for k in range(4):
                nn.init.orthogonal_(self.w_h[:, k * H : (k + 1) * H])

    # -- the two halves of a step
    def input_projection(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (..., input_size) -> (..., 4H)``: the input part of the gates, for all steps at once."""
        out = x @ self.w_x
        if self.bias is not None:
            out = out + self.bias
        return out

    def split_projection(self, x: torch.Tensor, static: torch.Tensor | None) -> torch.Tensor:
        """Input projection of ``[x_t; static]`` for all steps, without building the concatenation.

        ``x: (B, T, n)`` changes per step; ``static: (B, m)`` (the latent ``z`` and
        the class vector ``c``) is the same at every step, so its share of the
        gates is computed once and broadcast: ``[x; s] W = x W[:n] + s W[n:]``.
        Returns ``(T, B, 4H)``.
        """
        n = x.shape[-1]
        xw = x @ self.w_x[:n]
        if self.bias is not None:
            xw = xw + self.bias
        if static is not None:
            xw = xw + (static @ self.w_x[n:]).unsqueeze(1)
        return xw.transpose(0, 1)

    def static_gates(self, static: torch.Tensor | None) -> torch.Tensor | None:
        """The gates' share of what is the same at every step, ``static W_x[n:] + b``.

        ``(B, 4H)``, or the bias ``(4H,)`` alone without ``static``, or None.
        """
        out = None if static is None else static @ self.w_x[self.input_size - static.shape[-1] :]
        if self.bias is not None:
            out = self.bias if out is None else out + self.bias
        return out

    def dropout_masks(self, steps: int, batch: int, like: torch.Tensor) -> torch.Tensor | None:
        """All recurrent-dropout masks ``(T, B, H)`` (already scaled by 1/keep), or None when off."""
        if not self.training or self.dropout_keep >= 1.0:
            return None
        keep = self.dropout_keep
        uniform = torch.rand(steps, batch, self.hidden_size, device=like.device, dtype=like.dtype)
        return (uniform < keep).to(like.dtype).div_(keep)

    def step(
        self,
        xw: torch.Tensor,
        h: torch.Tensor,
        c: torch.Tensor,
        mask: torch.Tensor | None = None,
        extra: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step from the projected input ``xw: (B, 4H)`` and state ``h, c: (B, H)``."""
        gates = torch.addmm(xw, h, self.w_h)
        if extra is not None:
            gates = torch.addmm(gates, extra, self.w_extra)
        B, H = h.shape
        if self.layer_norm:
            g4 = F.layer_norm(gates.view(B, 4, H), (H,), eps=1e-3)
            gates = torch.addcmul(self.gate_beta, g4, self.gate_gamma).view(B, 4 * H)
        gates = gates + self._forget
        i, g, f, o = gates.chunk(4, dim=1)
        g = torch.tanh(g)
        if mask is not None:
            g = g * mask
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * g
        cn = F.layer_norm(c, (H,), self.cell_gamma, self.cell_beta, eps=1e-3) if self.layer_norm else c
        h = torch.sigmoid(o) * torch.tanh(cn)
        return h, c

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Teacher-forced run over ``x: (B, T, input_size)`` -> ``(outputs: (B, T, H), (h, c))``."""
        B = x.shape[0]
        if state is None:
            z = x.new_zeros(B, self.hidden_size)
            state = (z, z)
        return run_recurrent(self, x, state)


def run_recurrent(
    cell: LSTMCell,
    x: torch.Tensor,
    state: tuple[torch.Tensor, torch.Tensor],
    static: torch.Tensor | None = None,
    masks: torch.Tensor | None = None,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """The teacher-forced loop over the inputs ``[x_t; static]`` -> ``(outputs: (B, T, H), (h, c))``.

    ``x: (B, T, n)`` changes per step; ``static: (B, m)`` (or None) is the same at
    every step (see :meth:`LSTMCell.split_projection`); ``n + m`` is the cell's
    ``input_size``. ``masks: (T, B, H)`` are the recurrent-dropout masks; None
    draws them (:meth:`LSTMCell.dropout_masks`; none in eval mode). With
    ``cell.fused`` the loop is one :class:`FusedLSTM` node, else :func:`reference_run`.
    """
    B, T = x.shape[0], x.shape[1]
    if masks is None:
        masks = cell.dropout_masks(T, B, x)
    if not cell.fused:
        return reference_run(cell, cell.split_projection(x, static), state, masks)
    ln = (cell.gate_gamma, cell.gate_beta, cell.cell_gamma, cell.cell_beta) if cell.layer_norm else (None,) * 4
    n = x.shape[-1]
    outputs, c = FusedLSTM.apply(
        x.transpose(0, 1), cell.w_x[:n], cell.static_gates(static), *state, cell.w_h, *ln, masks, cell.forget_bias
    )
    return outputs.transpose(0, 1), (outputs[-1], c)


def reference_run(
    cell: LSTMCell,
    xw: torch.Tensor,
    state: tuple[torch.Tensor, torch.Tensor],
    masks: torch.Tensor | None = None,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """The loop one :meth:`LSTMCell.step` at a time under autograd, over projected inputs ``xw: (T, B, 4H)``.

    The readable reference that :class:`FusedLSTM` must agree with.
    """
    h, c = state
    # unbind, not xw[t]: one backward node for all steps instead of a full-size zero gradient per step
    xs = xw.unbind(0)
    outputs = []
    for t in range(xw.shape[0]):
        h, c = cell.step(xs[t], h, c, None if masks is None else masks[t])
        outputs.append(h)
    return torch.stack(outputs, dim=1), (h, c)


# ----------------------------------------------------------------------------- the fast implementations

_EPS = 1e-3  # layer-norm epsilon (Magenta's)
_CHUNK_ROWS = 2048  # the backward pass's weight-gradient matmuls take this many (step, drawing) rows at once
_FEW_ROWS = 64  # layer norm over fewer rows (but more than one) avoids ATen's multi-threaded kernel
_HAS_ONEDNN_LINEAR = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def _normalise(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Layer norm without gain and shift over the last dimension: ``(x_hat, 1/std)``.

    ATen's fused kernel splits even a handful of rows across threads, which on
    a busy CPU can stall a batch-1 sampling step for milliseconds; a few rows
    take the few-op formula instead (slower than the kernel on an idle CPU).
    """
    rows = x.numel() // x.shape[-1]
    if rows == 1 or rows >= _FEW_ROWS:
        x_hat, _, rstd = torch.native_layer_norm(x, (x.shape[-1],), None, None, _EPS)
        return x_hat, rstd
    var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
    rstd = (var + _EPS).rsqrt_()
    return (x - mean).mul_(rstd), rstd


def _layer_norm_backward(grad: torch.Tensor, x_hat: torch.Tensor, rstd: torch.Tensor) -> torch.Tensor:
    """``dL/dx`` of ``x_hat = LN(x)`` (no affine) over the last dimension, from ``grad = dL/dx_hat``:

        dL/dx = rstd * (grad - mean(grad) - x_hat * mean(grad * x_hat))

    computed by ATen's fused kernel (given ``x_hat`` itself as the input, with mean 0 and 1/std 1).
    """
    return torch.ops.aten.native_layer_norm_backward(
        grad, x_hat, (x_hat.shape[-1],), torch.zeros_like(rstd), torch.ones_like(rstd), None, None,
        (True, False, False),
    )[0].mul_(rstd)


class _MatmulByFixedWeight:
    """``x @ w (+ bias)`` for many ``x`` of ``rows`` rows and one ``w``.

    On x86 CPUs this goes through oneDNN with ``w`` packed once into its blocked
    layout: for one LSTM step (``100 x 512 @ 512 x 2048``) MKL's sgemm spends
    about a third of its time repacking ``w`` on every call. Elsewhere
    (GPU, float64, CPU autocast, no oneDNN) it is the plain matmul.
    """

    def __init__(self, w: torch.Tensor, rows: int, bias: torch.Tensor | None = None):
        self.w, self.bias = w, bias
        self.packed = None
        cpu_fp32 = w.device.type == "cpu" and w.dtype == torch.float32 and not torch.is_autocast_enabled("cpu")
        if cpu_fp32 and rows > 1 and _HAS_ONEDNN_LINEAR:
            self.packed = torch.ops.mkldnn._reorder_linear_weight(w.t().contiguous(), rows)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed is not None:
            return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")
        return x @ self.w if self.bias is None else torch.addmm(self.bias, x, self.w)

    def add_to(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``y + x @ w`` (a new tensor)."""
        if self.packed is not None:
            return self(x).add_(y)
        return torch.addmm(y, x, self.w)


class _StepValues(NamedTuple):
    """One step's values, as :class:`_PointwiseStep` computes them (``(B, H)`` unless noted)."""

    h: torch.Tensor
    c: torch.Tensor
    s: torch.Tensor  # (B, 4, H): sigmoid of the pre-activation gates, g's doubled (tanh(g) = 2 s_g - 1)
    g: torch.Tensor  # tanh(g), times the dropout mask
    s_c: torch.Tensor  # sigmoid(2 cn), so tanh(cn) = 2 s_c - 1
    tanh_cn: torch.Tensor
    gates_hat: torch.Tensor | None  # (B, 4, H): the normalised gates (layer norm only)
    gate_rstd: torch.Tensor | None  # (B, 4, 1): their 1/std
    c_hat: torch.Tensor | None  # the normalised cell
    cell_rstd: torch.Tensor | None  # (B, 1)


class _Kept(NamedTuple):
    """What the backward pass of one step needs from its forward pass."""

    deriv: torch.Tensor  # (B, 4, H): dL/d(pre-activation gates) = deriv * [dc, dc, dc, dh]
    f: torch.Tensor  # the forget gate: dL/dc_{t-1} = dL/dc_t f
    dh_dcn: torch.Tensor  # dL/dcn = dL/dh dh_dcn
    gates_hat: torch.Tensor | None
    gate_rstd: torch.Tensor | None
    c_hat: torch.Tensor | None
    cell_rstd: torch.Tensor | None


class _NormGradSums:
    """Running sums of the layer-norm parameters' gradients over steps, kept per row, reduced over rows at the end."""

    def __init__(self, like: torch.Tensor, B: int, H: int):
        self.gamma, self.beta = like.new_zeros(B, 4, H), like.new_zeros(B, 4, H)
        self.cell_gamma, self.cell_beta = like.new_zeros(B, H), like.new_zeros(B, H)

    def totals(self) -> tuple[torch.Tensor, ...]:
        return self.gamma.sum(0), self.beta.sum(0), self.cell_gamma.sum(0), self.cell_beta.sum(0)


class _PointwiseStep:
    """Everything in a step after the gates' matmul, forward and backward, with few and cheap ops.

    ``tanh(x) = 2 sigmoid(2x) - 1`` (PyTorch's CPU tanh costs about six times its
    sigmoid), so one sigmoid over all four gate blocks, with g's pre-activation
    doubled through the layer norm's gain and shift, gives the three sigmoids and the tanh.

    Derivatives (``s' = s (1 - s)`` for a sigmoid output ``s``; ``tanh' = 1 - tanh^2``):

        h_t = o tanh(cn_t),  cn_t = LN(c_t)     dL/dcn_t  = dh_t o (1 - tanh(cn_t)^2)
        c_t = f c_{t-1} + i m tanh(g)           dL/dc_t  += LN'(dL/dcn_t);   dL/dc_{t-1} = dL/dc_t f
        dL/d(i, g, f, o) = [dc m tanh(g) i',  dc i m tanh'(g),  dc c_{t-1} f',  dh tanh(cn) o']
    """

    @torch.no_grad()
    def __init__(self, H: int, forget_bias: float, like: torch.Tensor, gate_gamma=None, gate_beta=None,
                 cell_gamma=None, cell_beta=None):
        self.H, self.layer_norm = H, gate_gamma is not None
        self.gate_gamma, self.cell_gamma = gate_gamma, cell_gamma
        double_g = like.new_ones(4, H)
        double_g[1] = 2.0
        forget = like.new_zeros(4, H)
        forget[2] = forget_bias
        # pre-activation = LN(gates) * gamma + beta + forget (layer norm) or gates + forget, g doubled
        if self.layer_norm:
            self.scale, self.shift = gate_gamma * double_g, (gate_beta + forget) * double_g
            self.cell_scale, self.cell_shift = 2 * cell_gamma, 2 * cell_beta
        else:
            self.scale, self.shift = double_g, forget * double_g
        self.minus_one = like.new_tensor(-1.0)  # torch.add(minus_one, s, alpha=2) is 2 s - 1 in one op

    @classmethod
    def of(cls, cell: "LSTMCell") -> "_PointwiseStep":
        ln = (cell.gate_gamma, cell.gate_beta, cell.cell_gamma, cell.cell_beta) if cell.layer_norm else ()
        return cls(cell.hidden_size, cell.forget_bias, cell.w_h, *ln)

    def __call__(self, gates: torch.Tensor, c: torch.Tensor, mask: torch.Tensor | None = None,
                 h_out: torch.Tensor | None = None) -> _StepValues:
        """``gates: (B, 4H)`` pre-norm (bias included), ``c: (B, H)`` -> the step's values (``h`` into ``h_out``)."""
        B, H = c.shape[0], self.H
        dtype = self.scale.dtype  # the parameters'; under autocast the matmul gave bf16, the rest runs in fp32
        gates, c = gates.view(B, 4, H).to(dtype), c.to(dtype)
        gates_hat = gate_rstd = c_hat = cell_rstd = None
        if self.layer_norm:
            gates_hat, gate_rstd = _normalise(gates)
            gates = gates_hat
        s = torch.sigmoid(torch.addcmul(self.shift, gates, self.scale))
        i, s_g, f, o = s.unbind(1)
        g = torch.add(self.minus_one, s_g, alpha=2)
        if mask is not None:
            g = g * mask
        c = torch.mul(i, g).addcmul_(f, c)
        if self.layer_norm:
            c_hat, cell_rstd = _normalise(c)
            s_c = torch.sigmoid(torch.addcmul(self.cell_shift, c_hat, self.cell_scale))
        else:
            s_c = torch.sigmoid(2 * c)
        tanh_cn = torch.add(self.minus_one, s_c, alpha=2)
        h = torch.mul(o, tanh_cn, out=h_out) if h_out is not None else o * tanh_cn
        return _StepValues(h, c, s, g, s_c, tanh_cn, gates_hat, gate_rstd, c_hat, cell_rstd)

    def keep(self, v: _StepValues, c_prev: torch.Tensor, mask: torch.Tensor | None) -> _Kept:
        """The local derivatives of step ``v`` (whose cell input was ``c_prev``), for :meth:`backward`."""
        i, _, f, o = v.s.unbind(1)
        deriv = torch.addcmul(v.s, v.s, v.s, value=-1)  # s (1 - s), all four blocks
        d_i, d_g, d_f, d_o = deriv.unbind(1)
        d_i.mul_(v.g)
        d_g.mul_(i if mask is None else i * mask).mul_(4)  # tanh'(g) = 4 s_g (1 - s_g)
        d_f.mul_(c_prev)
        d_o.mul_(v.tanh_cn)
        dh_dcn = torch.addcmul(v.s_c, v.s_c, v.s_c, value=-1).mul_(o).mul_(4)
        return _Kept(deriv, f.clone(), dh_dcn, v.gates_hat, v.gate_rstd, v.c_hat, v.cell_rstd)

    def backward(self, k: _Kept, dh: torch.Tensor, dc: torch.Tensor, d_gates: torch.Tensor,
                 sums: _NormGradSums | None) -> torch.Tensor:
        """From ``dL/dh_t`` and ``dL/dc_t`` (through later steps), write ``dL/dgates`` into ``d_gates: (B, 4H)``
        and add to ``sums``; returns ``dL/dc_{t-1}``."""
        B, H = dh.shape
        if self.layer_norm:
            d_cn = dh * k.dh_dcn
            sums.cell_gamma.addcmul_(d_cn, k.c_hat)
            sums.cell_beta.add_(d_cn)
            dc = _layer_norm_backward(d_cn * self.cell_gamma, k.c_hat, k.cell_rstd).add_(dc)
        else:
            dc = torch.addcmul(dc, dh, k.dh_dcn)
        da = torch.empty_like(k.deriv) if self.layer_norm else d_gates.view(B, 4, H)  # dL/d(pre-activation)
        torch.mul(k.deriv[:, :3], dc.unsqueeze(1), out=da[:, :3])
        torch.mul(k.deriv[:, 3], dh, out=da[:, 3])
        if self.layer_norm:
            sums.gamma.addcmul_(da, k.gates_hat)
            sums.beta.add_(da)
            d_gates.view(B, 4, H).copy_(_layer_norm_backward(da * self.gate_gamma, k.gates_hat, k.gate_rstd))
        return dc * k.f


class FusedLSTM(torch.autograd.Function):
    """The whole teacher-forced loop of :func:`reference_run` as one autograd node.

    ``apply(x, w_x, static_gates, h0, c0, w_h, gate_gamma, gate_beta, cell_gamma, cell_beta, masks, forget_bias)``
    with ``x: (T, B, n)`` the per-step inputs and ``w_x: (n, 4H)`` their weights,
    ``static_gates: (B, 4H)`` or ``(4H,)`` or None the part of the gates that is
    the same at every step (:meth:`LSTMCell.static_gates`), ``h0, c0: (B, H)``,
    the four layer-norm parameters or four ``None`` (plain LSTM), and
    ``masks: (T, B, H)`` or None. Returns ``(outputs: (T, B, H), c_T: (B, H))``.

    Each step's gates are one matmul, ``[h_{t-1}, x_t] [W_h; W_x]``. The forward
    pass runs the loop without autograd and keeps, per step, the local
    derivatives the backward pass needs. The backward pass walks the steps in
    reverse computing only ``dL/dh`` and ``dL/dc`` per step; the gradients
    ``dG_t`` of the pre-norm gates are collected, and the weight gradient is a
    few large matmuls over many steps at once instead of ``T`` thin ones:

        dL/d[W_h; W_x] = sum_t [h_{t-1}, x_t]^T dG_t = [h_0, x_1 .. h_{T-1}, x_T]^T [dG_1 .. dG_T]

    The point-wise part of each step, forward and backward, is :class:`_PointwiseStep`.

    Speed notes (CPU): per-step tensors are small, so they stay in the cache and
    the allocator recycles their memory, while every fresh tensor of tens of MB
    costs a page fault per 4 KB. Hence the derivatives are computed and kept per
    step, and the weight gradient is taken over chunks of ``_CHUNK_ROWS`` rows
    rather than over one ``(T, B, 4H)`` tensor.
    """

    @staticmethod
    def forward(ctx, x, w_x, static_gates, h0, c0, w_h, gate_gamma, gate_beta, cell_gamma, cell_beta, masks,
                forget_bias):
        T, B, n = x.shape
        H = h0.shape[1]
        layer_norm = gate_gamma is not None
        keep = any(ctx.needs_input_grad)  # False under no_grad: nothing to keep for a backward pass
        ln = (gate_gamma, gate_beta, cell_gamma, cell_beta) if gate_gamma is not None else ()
        pointwise = _PointwiseStep(H, forget_bias, h0, *ln)
        per_drawing = static_gates is not None and static_gates.dim() == 2  # else the gates' bias, or nothing
        gates_of = _MatmulByFixedWeight(torch.cat([w_h, w_x]), B, None if per_drawing else static_gates)

        dtype = w_h.dtype  # the state stays in the parameters' dtype (under autocast too)
        hx = h0.new_empty(T + 1, B, H + n, dtype=dtype)  # row t: [h_t, x_{t+1}], the matmul's input at step t + 1
        hx[0, :, :H] = h0
        hx[:T, :, H:] = x
        hx[T, :, H:] = 0
        saved = []  # per step, what its backward needs (_Kept)
        c = c0.to(dtype)
        for t in range(T):
            gates = gates_of(hx[t]).to(dtype)  # (B, 4H)
            if per_drawing:
                gates += static_gates
            mask = None if masks is None else masks[t]
            v = pointwise(gates, c, mask, h_out=hx[t + 1, :, :H])
            if keep:
                saved.append(pointwise.keep(v, c, mask))
            c = v.c
        if keep:
            ctx.saved, ctx.hx, ctx.pointwise = saved, hx, pointwise
            ctx.save_for_backward(w_x, w_h)
            ctx.static_dim = None if static_gates is None else static_gates.dim()
        return hx[1:, :, :H], c

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, d_out, d_c_last):
        w_x, w_h = ctx.saved_tensors
        hx, pointwise = ctx.hx, ctx.pointwise
        T, B, H = d_out.shape
        n = w_x.shape[0]
        dh_of = _MatmulByFixedWeight(w_h.t(), B)  # dL/dh_{t-1} = dG_t W_h^T
        d_w = hx.new_zeros(H + n, 4 * H)  # dL/d[W_h; W_x]
        d_static = hx.new_zeros(B, 4 * H)
        sums = _NormGradSums(hx, B, H) if pointwise.layer_norm else None
        K = max(1, min(T, _CHUNK_ROWS // B))  # steps per weight-gradient chunk
        d_gates = hx.new_empty(K, B, 4 * H)  # dG of the steps of the current chunk
        d_x = hx.new_empty(T, B, n) if ctx.needs_input_grad[0] else None
        dh, dc = d_out[T - 1], d_c_last
        for t in range(T - 1, -1, -1):
            # here dh = dL/dh_t, and dc = dL/dc_t through c_{t+1} (or the final state)
            dg = d_gates[t % K]
            dc = pointwise.backward(ctx.saved[t], dh, dc, dg, sums)
            d_static += dg
            dh = dh_of(dg)
            if t > 0:
                dh += d_out[t - 1]
            if t % K == 0:  # the chunk of steps t .. t+k-1 is complete: its share of the weight gradient
                k = min(K, T - t)
                dg_chunk = d_gates[:k].view(k * B, 4 * H)
                d_w.addmm_(hx[t : t + k].reshape(k * B, H + n).t(), dg_chunk)
                if d_x is not None:
                    torch.mm(dg_chunk, w_x.t(), out=d_x[t : t + k].view(k * B, n))
        d_norm = sums.totals() if sums is not None else (None,) * 4
        d_static = {None: None, 1: d_static.sum(0), 2: d_static}[ctx.static_dim]
        return (d_x, d_w[H:], d_static, dh, dc, d_w[:H], *d_norm, None, None)


class _PointwiseFunction(torch.autograd.Function):
    """One step's point-wise part as one autograd node: ``(gates, c) -> (h, c')`` (see :class:`FusedStep`)."""

    @staticmethod
    def forward(ctx, gates, c, mask, gate_gamma, gate_beta, cell_gamma, cell_beta, pointwise):
        v = pointwise(gates, c, mask)
        if any(ctx.needs_input_grad):
            ctx.pointwise, ctx.kept = pointwise, pointwise.keep(v, c, mask)
        return v.h, v.c

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dh, dc):
        B, H = dh.shape
        sums = _NormGradSums(dh, B, H) if ctx.pointwise.layer_norm else None
        d_gates = dh.new_empty(B, 4 * H)
        dc_prev = ctx.pointwise.backward(ctx.kept, dh, dc, d_gates, sums)
        d_norm = sums.totals() if sums is not None else (None,) * 4
        return (d_gates, dc_prev, None, *d_norm, None)


class FusedStep:
    """:meth:`LSTMCell.step` under autograd, with the point-wise part one node with a hand-written backward.

    For loops that must stay under autograd step by step, such as the
    influence-layer decoder, whose extra input depends on ``h``. Build one per
    forward pass (it precomputes constants from the cell's parameters).
    """

    def __init__(self, cell: LSTMCell):
        self.cell, self.pointwise = cell, _PointwiseStep.of(cell)
        self.norm = (None,) * 4
        if cell.layer_norm:
            self.norm = (cell.gate_gamma, cell.gate_beta, cell.cell_gamma, cell.cell_beta)

    def __call__(self, xw: torch.Tensor, h: torch.Tensor, c: torch.Tensor, mask: torch.Tensor | None = None,
                 extra: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        gates = torch.addmm(xw, h, self.cell.w_h)
        if extra is not None:
            gates = torch.addmm(gates, extra, self.cell.w_extra)
        return _PointwiseFunction.apply(gates, c, mask, *self.norm, self.pointwise)


class InferenceStep:
    """:meth:`LSTMCell.step` for decoding ``batch_size`` drawings without autograd, one step at a time.

    Same mathematics, cheaper point-wise ops (:class:`_PointwiseStep`) and, on
    CPUs, a pre-packed recurrent weight. It takes a snapshot of the cell's
    parameters when it is built: build a new one after changing them.
    """

    @torch.no_grad()
    def __init__(self, cell: LSTMCell, batch_size: int):
        self.cell, self.pointwise = cell, _PointwiseStep.of(cell)
        self.recurrent = _MatmulByFixedWeight(cell.w_h, batch_size)

    @torch.no_grad()
    def __call__(self, xw: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
                 extra: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``xw: (B, 4H)`` projected input, ``h, c: (B, H)`` -> the next ``(h, c)``."""
        gates = self.recurrent.add_to(xw, h)
        if extra is not None:
            gates.addmm_(extra, self.cell.w_extra)
        step = self.pointwise(gates, c)
        return step.h, step.c


# ----------------------------------------------------------------------------- the encoder


def _reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence of ``x: (B, T, ...)`` inside its own length; padding stays in place."""
    B, T = x.shape[:2]
    t = torch.arange(T, device=x.device).unsqueeze(0).expand(B, T)
    L = lengths.to(x.device).unsqueeze(1)
    idx = torch.where(t < L, L - 1 - t, t)
    return x.gather(1, idx.view(B, T, *([1] * (x.dim() - 2))).expand_as(x))


class BiRNN(nn.Module):
    """Bidirectional encoder over stroke-5 (Sketch-RNN section 3.1, AI-Sketcher eq. 2).

    The backward direction reads each drawing from its own last point (not from
    the padding), as TensorFlow's ``bidirectional_dynamic_rnn`` with lengths does.

    Returns ``h_last: (B, 2H)`` (forward state at the last point, backward state
    at the first) and ``states: (B, T, 2H)``, the concatenated per-point states
    ``h_enc_i`` the influence layer attends over (zeros past each length).
    """

    def __init__(self, input_size: int, hidden_size: int, layer_norm: bool = False, dropout_keep: float = 1.0):
        super().__init__()
        self.hidden_size = hidden_size
        self.fw = LSTMCell(input_size, hidden_size, layer_norm, dropout_keep)
        self.bw = LSTMCell(input_size, hidden_size, layer_norm, dropout_keep)

    @property
    def output_size(self) -> int:
        return 2 * self.hidden_size

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, T, _ = x.shape
        zeros = x.new_zeros(B, self.hidden_size)
        states_f, _ = run_recurrent(self.fw, x, (zeros, zeros))
        states_b, _ = run_recurrent(self.bw, _reverse_within_length(x, lengths), (zeros, zeros))
        states_b = _reverse_within_length(states_b, lengths)
        last = (lengths.to(x.device) - 1).clamp(min=0)
        ar = torch.arange(B, device=x.device)
        # forward: state after the last real point; backward: state after reading back to point 0
        h_last = torch.cat([states_f[ar, last], states_b[:, 0]], dim=1)
        valid = (torch.arange(T, device=x.device).unsqueeze(0) < lengths.to(x.device).unsqueeze(1)).unsqueeze(2)
        states = torch.cat([states_f, states_b], dim=2) * valid
        return h_last, states

