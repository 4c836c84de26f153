"""The fast implementations of the LSTM in :mod:`sketchlib.models.cells`: same mathematics, fewer and larger ops.

:meth:`LSTMCell.step <sketchlib.models.cells.LSTMCell.step>` and
:func:`~sketchlib.models.cells.reference_run` are the code to read; this module
only makes them fast. What each piece speeds up:

- :class:`FusedLSTM`: a whole teacher-forced sequence as one autograd node with
  a hand-written backward pass that gets the weight gradients as a few large
  matmuls over all steps instead of one thin matmul per step (training; the
  default, ``LSTMCell(fused=True)``, picked by :func:`~sketchlib.models.cells.run_recurrent`).
- :class:`~sketchlib.models.fused_step.FusedStep`: one step under autograd with its point-wise part as one
  node, for the influence-layer decoder, whose per-step extra input depends on ``h``.
- :class:`~sketchlib.models.fused_step.InferenceStep`: one step without autograd, for the sampler.

All three share :class:`_PointwiseStep`, the point-wise part of a step (forward
and backward) written with few and cheap ops (``tanh`` through ``sigmoid``, one
sigmoid for all four gates). On CPUs (float32) its native twin
:class:`sketchlib.models.native.NativePointwise` runs instead where it could be
built: the same mathematics in one C++ pass per drawing. On x86 CPUs
:class:`_MatmulByFixedWeight` packs the recurrent weight once into oneDNN's blocked layout.

Private PyTorch ops used (each has a plain fallback or is a documented ATen op):
``torch.ops.mkldnn._reorder_linear_weight`` / ``torch.ops.mkldnn._linear_pointwise``
(only when ``torch.backends.mkldnn`` has them, CPU float32 without autocast;
otherwise ``addmm``), ``torch.native_layer_norm`` and
``torch.ops.aten.native_layer_norm_backward``.

Checked on: torch 2.13.0, CPU build, x86-64 with oneDNN (the tests and
benchmarks below). Elsewhere (GPU, float64, CPU autocast, no oneDNN) the plain
``addmm`` path runs instead of the oneDNN one; the float64 gradchecks exercise it.
Proof of equality with the reference, ``tests/test_fast_path.py``: float64
gradchecks of :class:`FusedLSTM` and ``fused_step.FusedStep`` (plain and layer-norm
cells, with and without a per-drawing static input);
:class:`FusedLSTM` against :func:`~sketchlib.models.cells.reference_run` in
float32 at training sizes (outputs, states, gradients); whole models' losses and
gradients with the fused against the reference loops (Sketch-RNN, Sketch-pix2seq,
AI-Sketcher, the unconditional decoder); ``fused_step.InferenceStep`` against
:meth:`~sketchlib.models.cells.LSTMCell.step` at batch 1 and 100. And
``tests/test_pretrained.py`` reproduces every shipped checkpoint's recorded
validation loss through these kernels. After a PyTorch upgrade, run both before
trusting a number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch

from sketchlib.models import native

if TYPE_CHECKING:  # annotations only: cells imports this module
    from sketchlib.models.cells import LSTMCell

__all__ = ["FusedLSTM"]

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

    def prefix(self, b: int) -> "_NormGradSums":
        """The sums of the first ``b`` rows (views): the rows still drawing at a step of a packed loop."""
        if b == self.gamma.shape[0]:
            return self
        part = object.__new__(_NormGradSums)
        part.gamma, part.beta = self.gamma[:b], self.beta[:b]
        part.cell_gamma, part.cell_beta = self.cell_gamma[:b], self.cell_beta[:b]
        return part


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

    def step(self, gates: torch.Tensor, c: torch.Tensor, mask: torch.Tensor | None, h_out: torch.Tensor,
             keep: bool) -> tuple[torch.Tensor, _Kept | None]:
        """:meth:`__call__` then :meth:`keep` (if ``keep``): ``(c', kept)``, ``h`` into ``h_out``.

        The interface of :class:`sketchlib.models.native.NativePointwise`, which the loops use where it is built.
        """
        v = self(gates, c, mask, h_out=h_out)
        return v.c, (self.keep(v, c, mask) if keep else None)

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


def _fastest(pointwise: _PointwiseStep, like: torch.Tensor, build: bool = True):
    """``pointwise`` itself, or its native twin (the same mathematics in one C++ pass) where that is built
    and applies to tensors like ``like`` (:mod:`sketchlib.models.native`). ``build=False`` never starts the
    compiler: only training builds it; sampling and evaluation take a build already on disk or the Python
    kernels (a click on a pad must not wait ~25 s for the compiler)."""
    return native.NativePointwise(pointwise) if native.usable(like, build) else pointwise


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
                forget_bias, grad_enabled=True, active=None):
        T, B, n = x.shape
        H = h0.shape[1]
        # grad mode is always off inside forward, and needs_input_grad stays True under no_grad: the caller
        # passes torch.is_grad_enabled(), so that sampling and validation keep nothing for a backward pass
        keep = grad_enabled and any(ctx.needs_input_grad)
        ln = (gate_gamma, gate_beta, cell_gamma, cell_beta) if gate_gamma is not None else ()
        pointwise = _fastest(_PointwiseStep(H, forget_bias, h0, *ln), h0, build=keep)  # only training compiles
        per_drawing = static_gates is not None and static_gates.dim() == 2  # else the gates' bias, or nothing
        gates_of = _MatmulByFixedWeight(torch.cat([w_h, w_x]), B, None if per_drawing else static_gates)

        dtype = w_h.dtype  # the state stays in the parameters' dtype (under autocast too)
        hx = h0.new_empty(T + 1, B, H + n, dtype=dtype)  # row t: [h_t, x_{t+1}], the matmul's input at step t + 1
        hx[0, :, :H] = h0
        hx[:T, :, H:] = x
        hx[T, :, H:] = 0
        saved = []  # per step, what its backward needs (_Kept)
        c = c0.to(dtype)
        c_last = c0.to(dtype).clone() if active is not None else None  # the cells of drawings that have ended
        for t in range(T):
            b = B if active is None else active[t]  # rows [0, b) still drawing (lengths sorted, longest first)
            if b < c.shape[0]:  # rows [b, b_prev) ended: their state stays put from here on
                c_last[b : c.shape[0]] = c[b:]
                c = c[:b]
            if b < B:
                hx[t + 1, b:, :H] = hx[t, b:, :H]
            if b == 0:
                saved.append(None)
                continue
            gates = gates_of(hx[t, :b]).to(dtype)  # (b, 4H)
            if per_drawing:
                gates += static_gates[:b]
            mask = None if masks is None else masks[t, :b]
            c, kept = pointwise.step(gates, c, mask, hx[t + 1, :b, :H], keep)
            if keep:
                saved.append(kept)
        if c_last is not None:
            c_last[: c.shape[0]] = c
            c = c_last
        if keep:
            ctx.saved, ctx.hx, ctx.pointwise, ctx.active = saved, hx, pointwise, active
            ctx.save_for_backward(w_x, w_h)
            ctx.static_dim = None if static_gates is None else static_gates.dim()
        return hx[1:, :, :H], c

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, d_out, d_c_last):
        w_x, w_h = ctx.saved_tensors
        hx, pointwise, active = ctx.hx, ctx.pointwise, ctx.active
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
            b = B if active is None else active[t]
            dg = d_gates[t % K]
            if b < B:  # a row that has ended holds its state: dL/dh and dL/dc pass through unchanged
                dg[b:] = 0
            if b > 0:
                part = None if sums is None else sums.prefix(b)
                dc_b = pointwise.backward(ctx.saved[t], dh[:b], dc[:b], dg[:b], part)
                dh_b = dh_of(dg[:b])
                dc = dc_b if b == B else torch.cat([dc_b, dc[b:]])
                dh = dh_b if b == B else torch.cat([dh_b, dh[b:]])
            elif t == T - 1:
                dh = dh.clone()  # d_out's own row: added to below, never in place
            d_static += dg
            if t > 0:
                dh += d_out[t - 1]
            if t % K == 0:  # the chunk of steps t .. t+k-1 is complete: its share of the weight gradient
                k = min(K, T - t)
                dg_chunk = d_gates[:k].view(k * B, 4 * H)
                if active is None or active[t + k - 1] == B:
                    d_w.addmm_(hx[t : t + k].reshape(k * B, H + n).t(), dg_chunk)
                else:  # only the rows still drawing: the others' dG are zero
                    rows = [(s, active[s]) for s in range(t, t + k) if active[s] > 0]
                    if rows:
                        d_w.addmm_(torch.cat([hx[s, :b_s] for s, b_s in rows]).t(),
                                   torch.cat([d_gates[s - t, :b_s] for s, b_s in rows]))
                if d_x is not None:
                    torch.mm(dg_chunk, w_x.t(), out=d_x[t : t + k].view(k * B, n))
        d_norm = sums.totals() if sums is not None else (None,) * 4
        d_static = {None: None, 1: d_static.sum(0), 2: d_static}[ctx.static_dim]
        return (d_x, d_w[H:], d_static, dh, dc, d_w[:H], *d_norm, None, None, None, None)
