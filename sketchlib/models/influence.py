"""AI-Sketcher's influence layer (Cao et al. 2019, eq. 9-11).

At decoding step ``j`` the layer looks back at the encoder's per-point states
``h_enc_i`` of the input drawing and samples an extra decoder input ``a_d``:

    e_ij    = h_dec^T W h_enc_i                     (eq. 9, bilinear score)
    alpha_ij = softmax_i(e_ij),  i <= j             (eq. 9, only points drawn so far)
    mu_a    = sum_i alpha_ij h_enc_i                (eq. 10)
    sigma_a = exp(tanh(mu_a) / 2)                   (eq. 10)
    a_d     = mu_a + sigma_a * lambda,  lambda ~ N(0, I)   (eq. 11)

and a KL term ``l_a`` pulls ``N(mu_a, sigma_a^2)`` towards ``N(0, I)`` (eq. 14,
:func:`sketchlib.losses.influence_kl`).

Two implementations of eq. 9-10, picked by ``InfluenceLayer(fused=...)``:
:meth:`InfluenceLayer.attend_reference` is the readable one (plain autograd,
each line tagged with its equation); :meth:`InfluenceLayer.attend` (the
default) computes the same numbers with a hand-written backward
(:class:`_Attend`, :class:`_CollectValuesGrad`) that sums the values' gradient
over all decoding steps in one matmul. ``tests/test_models.py`` checks that the
two agree, outputs and gradients, in float64.

Choices where the paper is open:

- Eq. 5 feeds ``a_d`` into the decoder at step ``j`` while eq. 9 scores with the
  decoder state of step ``j``: circular. We score with the *previous* decoder
  state ``h_{j-1}`` (the initial state ``h_0 = tanh(W z)`` at ``j = 0``).
- **Which states, and what "i <= j" means** (``SketchConfig.influence_states``).
  The paper attends over the states of its *bidirectional* encoder. The
  backward half of every ``h_enc_i`` has read the whole rest of the drawing,
  so the window ``i <= j`` hides nothing: during teacher forcing the decoder
  can read the very point it is asked to predict from ``a_d``. Trained that
  way (``"both"``), the -small models learned to copy the input and ignore the
  class vector (chapter 6 measures the leak: attention on the diagonal, l_r far
  below the models without the layer). The default, ``"forward"``, is causal: the
  layer attends over the forward direction's states only, and ``h_enc_i`` is
  the state after reading ``i`` points (``h_enc_0`` = the zero initial state,
  "nothing drawn yet"). At step ``j`` the decoder has been given points
  ``1..j`` (its input at step ``j`` is point ``j``, point 0 the start token),
  so the window ``i <= j`` covers exactly what it has already seen. A test
  checks that changing later points leaves ``alpha`` and ``mu_a`` unchanged.
  With ``"both"`` the index ``i`` is the ``i+1``-th point (no zero state), as
  the layer was first written; checkpoints from before the option load so.
- The window is clamped to the drawing's length: past its last point the
  layer attends over the whole drawing.
- ``h_enc_i`` is projected linearly to ``n_a`` when the widths differ, so that
  ``mu_a`` has ``n_a`` values as in the paper.
- Without an input drawing (sampling from a random ``z``) there is nothing to
  attend to, and ``a_d`` is drawn from the prior ``N(0, I)`` that ``l_a`` pulls towards.
"""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["InfluenceLayer", "InfluenceContext"]


class _CollectValuesGrad(torch.autograd.Function):
    """Identity on ``values``; its backward sums the gradient every decoding step left in ``record``.

    Each step's attention reads all of ``values`` ``(B, T_enc, n_a)``, so plain
    autograd writes and adds a full ``(B, T_enc, n_a)`` gradient per step (two
    outer products). :class:`_Attend` instead records the factors, and this node,
    which runs after every step's backward, forms the sum in one batched matmul:
    ``sum_j g_scores_j q_j^T + alpha_j g_mu_j^T``.
    """

    @staticmethod
    def forward(ctx, values, record):
        ctx.set_materialize_grads(False)
        ctx.record, ctx.width, ctx.rows = record, values.shape[1], values.shape[0]
        return values.view_as(values)

    @staticmethod
    def backward(ctx, grad):
        record, ctx.record = ctx.record, None
        if record:
            # (B, 2R, T_enc): g_scores_j and alpha_j, zero past each step's window (see _Attend) and in the
            # rows a packed step left out (drawings that had ended)
            B, n_a = grad.shape[0] if grad is not None else ctx.rows, record[0][1].shape[1]
            left = record[0][0].new_zeros(B, len(record), ctx.width)
            right = record[0][1].new_zeros(B, len(record), n_a)  # (B, 2R, n_a): q_j and g_mu_j
            for i, (g_or_alpha, q_or_g_mu) in enumerate(record):
                b, width = g_or_alpha.shape
                left[:b, i, :width] = g_or_alpha
                right[:b, i] = q_or_g_mu
            from_steps = torch.bmm(left.transpose(1, 2), right)
            grad = from_steps if grad is None else grad + from_steps
            record.clear()
        return grad, None


class _Attend(torch.autograd.Function):
    """One step of eq. 9-10: ``(alpha_j, mu_a)`` from the query ``q = W h_dec`` and the values.

    Only the window ``values[:, :width]`` is read, ``width`` being the number of
    columns of ``masked``: the caller leaves out the positions that are masked
    in every drawing at this step (their weight would be exactly 0), and
    ``alpha`` is returned zero-padded to all ``T_ctx`` positions. The gradient for ``values``
    goes to the context's record (see :class:`_CollectValuesGrad`); the one for
    ``q`` is returned as usual.
    """

    @staticmethod
    def forward(ctx, query, values, masked, record):
        (B, width), T_ctx = masked.shape, values.shape[1]
        values = values[:, :width]
        scores = (values * query.unsqueeze(1)).sum(dim=2).masked_fill_(masked, float("-inf"))
        alpha = torch.softmax(scores, dim=1)
        mu = (alpha.unsqueeze(2) * values).sum(dim=1)
        ctx.save_for_backward(query, values, alpha)
        ctx.record = record
        if width < T_ctx:
            alpha = torch.cat([alpha, alpha.new_zeros(B, T_ctx - width)], dim=1)
        return alpha, mu

    @staticmethod
    def backward(ctx, g_alpha, g_mu):
        query, values, alpha = ctx.saved_tensors  # the window's
        g = (values * g_mu.unsqueeze(1)).sum(dim=2)  # mu's share of d/d alpha
        if g_alpha is not None:
            g = g + g_alpha[:, : alpha.shape[1]]
        g_scores = alpha * (g - (alpha * g).sum(dim=1, keepdim=True))  # softmax backward (0 where masked)
        g_query = (g_scores.unsqueeze(2) * values).sum(dim=1)
        ctx.record.append((g_scores, query))
        ctx.record.append((alpha, g_mu))
        return g_query, None, None, None


class InfluenceContext:
    """What the layer precomputes once per input drawing (for all decoding steps)."""

    def __init__(self, values: torch.Tensor, last: torch.Tensor):
        """``values: (B, T_ctx, n_a)``; ``last: (B,)`` the last position each drawing may attend to."""
        self.record: list = []  # the steps' gradient factors for values (see _CollectValuesGrad)
        if values.requires_grad and torch.is_grad_enabled():
            values = _CollectValuesGrad.apply(values, self.record)
        self.values = values  # (B, T_enc, n_a): h_enc_i projected to n_a
        self.last = last  # (B,) index of each drawing's last point
        self.positions = torch.arange(values.shape[1], device=values.device)
        self.reach = int(last.max()) + 1 if len(last) else 1  # positions any drawing may attend to (one host sync)
        self._prefixes: dict[int, InfluenceContext] = {}

    def prefix(self, b: int) -> "InfluenceContext":
        """The context of the first ``b`` drawings (the rows still drawing at a step of a packed batch).

        It shares the values' gradient record, so every step's gradient reaches the full context's values.
        """
        if b == self.values.shape[0]:
            return self
        if b not in self._prefixes:
            part = object.__new__(InfluenceContext)
            part.record, part.values, part.last, part.positions = self.record, self.values[:b], self.last[:b], \
                self.positions
            if "_last_cpu" not in self.__dict__:
                self._last_cpu = self.last.cpu()
            part.reach = int(self._last_cpu[:b].max()) + 1 if b else 1
            part._prefixes = {}
            self._prefixes[b] = part
        return self._prefixes[b]


class InfluenceLayer(nn.Module):
    def __init__(self, enc_size: int, dec_size: int, n_a: int = 512, causal: bool = True, fused: bool = True):
        """``enc_size``: width of the states passed to :meth:`context`; ``causal``: see the module doc;
        ``fused``: the fast :meth:`attend` (default) or the readable :meth:`attend_reference`."""
        super().__init__()
        self.n_a = n_a
        self.causal = causal
        self.fused = fused
        self.project = nn.Linear(enc_size, n_a, bias=False) if enc_size != n_a else nn.Identity()
        self.w = nn.Parameter(torch.empty(n_a, dec_size))  # eq. 9's W (on the projected h_enc)
        nn.init.xavier_uniform_(self.w)

    def context(self, enc_states: torch.Tensor, lengths: torch.Tensor) -> InfluenceContext:
        """``enc_states: (B, T_enc, enc_size)``, ``lengths: (B,)`` -> the per-drawing context.

        Causal: ``enc_states[:, i]`` is the state after reading point ``i + 1``
        (forward direction only); the context puts the zero state "nothing
        read" in front, so its position ``i`` holds the state after ``i`` points
        and has ``T_enc + 1`` positions. Otherwise position ``i`` is point ``i + 1``.
        """
        values = self.project(enc_states)
        lengths = lengths.to(enc_states.device)
        if self.causal:
            values = torch.cat([values.new_zeros(values.shape[0], 1, values.shape[2]), values], dim=1)
            return InfluenceContext(values, lengths.clamp(min=0, max=values.shape[1] - 1))
        return InfluenceContext(values, (lengths - 1).clamp(min=0))

    def attend(self, h_prev: torch.Tensor, ctx: InfluenceContext, j: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(alpha_j: (B, T_ctx), mu_a: (B, n_a))`` of eq. 9-10 at decoding step ``j``.

        ``h_dec^T W h_enc_i`` is computed as ``h_enc_i . (W h_dec)``: one small
        matmul, then a multiply-and-sum over ``n_a`` (a batched matrix-vector
        ``bmm`` per step was five times slower on CPU, forward and backward).
        """
        query = h_prev @ self.w.t()  # (B, n_a)
        width = min(j + 1, ctx.reach)  # the positions past it are masked in every drawing: left out
        masked = ctx.positions[:width].unsqueeze(0) > ctx.last.clamp(max=j).unsqueeze(1)
        return _Attend.apply(query, ctx.values, masked, ctx.record)

    def attend_reference(self, h_prev: torch.Tensor, ctx: InfluenceContext,
                         j: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 9-10 as written, under plain autograd: the reference that :meth:`attend` must agree with."""
        h_enc = ctx.values  # (B, T_ctx, n_a): h_enc_i, projected to n_a
        # e_ij = h_dec^T W h_enc_i                                          (eq. 9)
        scores = torch.einsum("btn,nd,bd->bt", h_enc, self.w, h_prev)
        # alpha_ij = softmax_i(e_ij) over the points drawn so far, i <= j   (eq. 9)
        masked = ctx.positions.unsqueeze(0) > ctx.last.clamp(max=j).unsqueeze(1)
        alpha = torch.softmax(scores.masked_fill(masked, float("-inf")), dim=1)
        # mu_a = sum_i alpha_ij h_enc_i                                      (eq. 10)
        mu = torch.einsum("bt,btn->bn", alpha, h_enc)
        return alpha, mu

    def forward(
        self, h_prev: torch.Tensor, ctx: InfluenceContext | None, j: int, noise: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """One step: ``(a_d: (B, n_a), mu_a, alpha_j)``.

        ``noise`` is ``lambda`` of eq. 11 (``None``: use ``mu_a``, the mean).
        Without a context, ``a_d`` is the noise itself (the prior) and ``mu_a`` is None.
        """
        if ctx is None:
            a = noise if noise is not None else h_prev.new_zeros(h_prev.shape[0], self.n_a)
            return a, None, None
        alpha, mu = self.attend(h_prev, ctx, j) if self.fused else self.attend_reference(h_prev, ctx, j)
        if noise is None:
            return mu, mu, alpha
        # sigma_a = exp(tanh(mu_a) / 2)                                      (eq. 10)
        sigma = torch.exp(torch.tanh(mu) / 2)
        # a_d = mu_a + sigma_a * lambda,  lambda ~ N(0, I)                   (eq. 11)
        return mu + sigma * noise, mu, alpha
