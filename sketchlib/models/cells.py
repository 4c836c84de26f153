"""Recurrent cells: LSTM and layer-norm LSTM, built for a fast teacher-forced loop.

The mathematics is Magenta's ``LSTMCell`` / ``LayerNormLSTMCell`` (sketch_rnn/rnn.py):

    gates      = x W_x + h W_h (+ b)                  # one fused matmul per step
    i, g, f, o = gates                                 # layer-norm: each block normalised (one fused op)
    c'         = c * sigmoid(f + forget_bias) + sigmoid(i) * dropout(tanh(g))
    h'         = sigmoid(o) * tanh(c')                 # layer-norm: tanh(LN(c'))

Recurrent dropout is Semeniuta et al.'s "without memory loss": only the
candidate ``tanh(g)`` is dropped, so the cell state is never zeroed.

:meth:`LSTMCell.step` and :func:`reference_run` (the step once per time step
under autograd) are the code to read, and :class:`BiRNN` the encoder built from
them. The fast implementations of the same mathematics (a whole teacher-forced
sequence as one autograd node, a fused step for the influence decoder, a step for
the sampler) are in :mod:`sketchlib.models.fused`; ``tests/test_fast_path.py``
checks them against this module. Training uses the fused loop
(``LSTMCell(fused=True)``, the default; :func:`run_recurrent` picks it).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from sketchlib.losses import length_mask
from sketchlib.models.fused import FusedLSTM

__all__ = ["LSTMCell", "run_recurrent", "reference_run", "BiRNN"]


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
            ``False``: :func:`reference_run`, one :meth:`step` at a time under autograd
            (:mod:`sketchlib.models.fused` has the fast kernels).
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
    lengths: torch.Tensor | None = None,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """The teacher-forced loop over the inputs ``[x_t; static]`` -> ``(outputs: (B, T, H), (h, c))``.

    ``x: (B, T, n)`` changes per step; ``static: (B, m)`` (or None) is the same at
    every step (see :meth:`LSTMCell.split_projection`); ``n + m`` is the cell's
    ``input_size``. ``masks: (T, B, H)`` are the recurrent-dropout masks; None
    draws them (:meth:`LSTMCell.dropout_masks`; none in eval mode). With
    ``cell.fused`` the loop is one :class:`~sketchlib.models.fused.FusedLSTM` node, else :func:`reference_run`.

    ``lengths: (B,)``, sorted longest first (or None: every row runs every step):
    row ``b`` runs its first ``lengths[b]`` steps, and after them its state stays
    put (its outputs repeat its last ``h``; the returned ``(h, c)`` are each row's
    state after its own last step). A packed loop: the steps past a drawing's end
    are not computed, and the result is what a loop over the padding would give
    if the cell kept its state there.
    """
    B, T = x.shape[0], x.shape[1]
    if masks is None:
        masks = cell.dropout_masks(T, B, x)
    active = None if lengths is None else active_rows(lengths, T)
    if not cell.fused:
        return reference_run(cell, cell.split_projection(x, static), state, masks, active)
    ln = (cell.gate_gamma, cell.gate_beta, cell.cell_gamma, cell.cell_beta) if cell.layer_norm else (None,) * 4
    n = x.shape[-1]
    outputs, c = FusedLSTM.apply(
        x.transpose(0, 1), cell.w_x[:n], cell.static_gates(static), *state, cell.w_h, *ln, masks, cell.forget_bias,
        torch.is_grad_enabled(), active,
    )
    return outputs.transpose(0, 1), (outputs[-1], c)


def _longest_first(lengths: torch.Tensor) -> bool:
    """Whether ``lengths`` are sorted longest first (one host sync)."""
    return len(lengths) < 2 or not bool((lengths[1:] > lengths[:-1]).any())


def active_rows(lengths: torch.Tensor, steps: int) -> tuple[int, ...]:
    """How many rows are still running at each of ``steps`` steps, for ``lengths`` sorted longest first."""
    L = lengths.detach().to("cpu", torch.int64)
    if not _longest_first(L):
        raise ValueError(f"a packed loop needs the rows sorted by length, longest first; got lengths {L.tolist()}")
    return tuple(int(k) for k in (L.unsqueeze(0) > torch.arange(steps).unsqueeze(1)).sum(1))


def reference_run(
    cell: LSTMCell,
    xw: torch.Tensor,
    state: tuple[torch.Tensor, torch.Tensor],
    masks: torch.Tensor | None = None,
    active: tuple[int, ...] | None = None,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """The loop one :meth:`LSTMCell.step` at a time under autograd, over projected inputs ``xw: (T, B, 4H)``.

    The readable reference that :class:`~sketchlib.models.fused.FusedLSTM` must agree with.
    ``active[t]``: rows ``[0, active[t])`` step at ``t``, the others keep their state.
    """
    h, c = state
    # unbind, not xw[t]: one backward node for all steps instead of a full-size zero gradient per step
    xs = xw.unbind(0)
    outputs = []
    rows = torch.arange(xw.shape[1], device=xw.device).unsqueeze(1)
    for t in range(xw.shape[0]):
        h_new, c_new = cell.step(xs[t], h, c, None if masks is None else masks[t])
        if active is None:
            h, c = h_new, c_new
        else:  # (h_t, c_t) = step(...) while the drawing runs, else (h_{t-1}, c_{t-1})
            running = rows < active[t]
            h, c = torch.where(running, h_new, h), torch.where(running, c_new, c)
        outputs.append(h)
    return torch.stack(outputs, dim=1), (h, c)



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
        # rows sorted longest first (the packed batches): each direction runs only over its drawing's points
        packed = lengths if _longest_first(lengths) else None
        states_f, _ = run_recurrent(self.fw, x, (zeros, zeros), lengths=packed)
        states_b, _ = run_recurrent(self.bw, _reverse_within_length(x, lengths), (zeros, zeros), lengths=packed)
        states_b = _reverse_within_length(states_b, lengths)
        last = (lengths.to(x.device) - 1).clamp(min=0)
        ar = torch.arange(B, device=x.device)
        # forward: state after the last real point; backward: state after reading back to point 0
        h_last = torch.cat([states_f[ar, last], states_b[:, 0]], dim=1)
        valid = length_mask(lengths.to(x.device), T, x.dtype).unsqueeze(2)
        states = torch.cat([states_f, states_b], dim=2) * valid
        return h_last, states

