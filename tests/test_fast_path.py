"""The fast paths compute what the readable reference computes.

- ``FusedLSTM`` (the whole teacher-forced loop, hand-written backward) against
  ``reference_run`` (``LSTMCell.step`` per step under autograd);
- ``InferenceStep`` (the sampler's step) against ``LSTMCell.step``;
- the sampler's point drawing against the mixture's distribution.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from sketchlib.datasets import SketchDataset, Sketches
from sketchlib.models import SketchModel, preset
from sketchlib.models.cells import LSTMCell, run_recurrent
from sketchlib.models.fused import FusedLSTM
from sketchlib.models.fused_step import FusedStep, InferenceStep
from sketchlib.models.mdn import RHO_MAX, MixtureHead, sample_mixture, sample_output
from sketchlib.sampling import IncrementalSampler

TINY = dict(enc_rnn_size=12, dec_rnn_size=16, z_size=6, num_mixture=3, influence_size=8, ae_z_size=5, batch_size=4)


def perturbed_cell(layer_norm: bool, n_in: int, hidden: int, keep: float = 1.0, dtype=torch.float32) -> LSTMCell:
    """A cell whose layer-norm gains/shifts and bias are not at their initial 1 / 0 (so their gradients show)."""
    cell = LSTMCell(n_in, hidden, layer_norm=layer_norm, dropout_keep=keep).to(dtype)
    with torch.no_grad():
        for p in cell.parameters():
            if p is not cell.w_x and p is not cell.w_h:
                p.add_(0.3 * torch.randn_like(p))
    return cell


def run_both(cell: LSTMCell, x, static, h0, c0, masks, lengths=None):
    """Outputs, final state and every gradient of a fixed loss, fused and reference."""
    results = []
    weights = torch.linspace(-1, 1, cell.hidden_size, dtype=x.dtype)
    for fused in (True, False):
        cell.fused = fused
        leaves = [t for t in (x, static, h0, c0) if t is not None and t.requires_grad] + list(cell.parameters())
        for t in leaves:
            t.grad = None
        out, (h, c) = run_recurrent(cell, x, (h0, c0), static, masks, lengths)
        ((out * weights).sum() + (c**2).sum() + 0.5 * h.sum()).backward()
        results.append([out.detach(), h.detach(), c.detach()] + [t.grad.clone() for t in leaves])
    cell.fused = True
    return results


@pytest.mark.parametrize("layer_norm", [True, False])
@pytest.mark.parametrize("static_kind", ["none", "per_drawing"])
def test_fused_lstm_gradients_pass_gradcheck_in_float64(layer_norm, static_kind):
    torch.manual_seed(0)
    T, B, n, H = 4, 3, 2, 5
    cell = perturbed_cell(layer_norm, n + (3 if static_kind == "per_drawing" else 0), H, dtype=torch.float64)
    x = torch.randn(T, B, n, dtype=torch.float64, requires_grad=True)
    static = None if static_kind == "none" else torch.randn(B, 4 * H, dtype=torch.float64, requires_grad=True)
    if static is None and cell.bias is not None:
        static = cell.bias  # the plain cell's bias arrives as (4H,) static gates
    h0 = torch.randn(B, H, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(B, H, dtype=torch.float64, requires_grad=True)
    masks = (torch.rand(T, B, H, dtype=torch.float64) < 0.7).double() / 0.7
    ln = (cell.gate_gamma, cell.gate_beta, cell.cell_gamma, cell.cell_beta) if layer_norm else (None,) * 4

    def f(x, w_x, static, h0, c0, w_h, *ln_params):
        return FusedLSTM.apply(x, w_x, static, h0, c0, w_h, *(ln_params or ln), masks, 1.0)

    w_x = cell.w_x[:n].detach().clone().requires_grad_(True)
    inputs = (x, w_x, static, h0, c0, cell.w_h) + (ln if layer_norm else ())
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("layer_norm", [True, False])
def test_fused_step_gradients_pass_gradcheck_in_float64(layer_norm):
    # the per-step node of the influence-layer decoder's loop
    torch.manual_seed(10)
    B, H = 3, 5
    cell = LSTMCell(4, H, layer_norm=layer_norm, extra_size=2).double()
    with torch.no_grad():
        for p in cell.parameters():
            p.add_(0.3 * torch.randn_like(p))
    mask = (torch.rand(B, H, dtype=torch.float64) < 0.7).double() / 0.7
    xw, h, c, extra = (torch.randn(B, k, dtype=torch.float64, requires_grad=True) for k in (4 * H, H, H, 2))

    def two_steps(xw, h, c, extra, *params):
        step = FusedStep(cell)
        h, c = step(xw, h, c, mask, extra)
        return step(xw, h, c, None, extra)

    assert torch.autograd.gradcheck(two_steps, (xw, h, c, extra, *cell.parameters()), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("layer_norm", [True, False])
def test_fused_and_reference_loops_agree_in_float32_at_training_sizes(layer_norm):
    # batch 100 and 50 steps: several weight-gradient chunks, and the packed-weight matmul on x86
    torch.manual_seed(1)
    T, B, n, m, H = 50, 100, 5, 20, 64
    cell = perturbed_cell(layer_norm, n + m, H, keep=0.9)
    x = torch.randn(B, T, n)
    static = torch.randn(B, m, requires_grad=True)
    h0 = torch.randn(B, H, requires_grad=True)
    c0 = torch.randn(B, H, requires_grad=True)
    masks = cell.dropout_masks(T, B, x)
    fused, reference = run_both(cell, x, static, h0, c0, masks)
    for a, b in zip(fused, reference, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4 * b.abs().max().item())


@pytest.mark.parametrize("layer_norm", [True, False])
def test_packed_fused_lstm_gradients_pass_gradcheck_in_float64(layer_norm):
    # rows sorted longest first, one of them empty: each runs its own steps, then keeps its state
    torch.manual_seed(5)
    T, B, n, m, H = 5, 4, 2, 3, 4
    cell = perturbed_cell(layer_norm, n + m, H, dtype=torch.float64)
    active = (4, 3, 3, 1, 0)  # rows running at each step: lengths 4, 3, 3, 1, and no row runs the last step
    x = torch.randn(T, B, n, dtype=torch.float64, requires_grad=True)
    static = torch.randn(B, 4 * H, dtype=torch.float64, requires_grad=True)
    h0, c0 = (torch.randn(B, H, dtype=torch.float64, requires_grad=True) for _ in range(2))
    masks = (torch.rand(T, B, H, dtype=torch.float64) < 0.7).double() / 0.7
    w_x = cell.w_x[:n].detach().clone().requires_grad_(True)
    ln = (cell.gate_gamma, cell.gate_beta, cell.cell_gamma, cell.cell_beta) if layer_norm else (None,) * 4

    def f(x, w_x, static, h0, c0, w_h, *ln_params):
        return FusedLSTM.apply(x, w_x, static, h0, c0, w_h, *(ln_params or ln), masks, 1.0, True, active)

    inputs = (x, w_x, static, h0, c0, cell.w_h) + (ln if layer_norm else ())
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("layer_norm", [True, False])
@pytest.mark.parametrize("chunk_rows", [None, 250])
def test_packed_and_reference_loops_agree_in_float32_at_training_sizes(layer_norm, chunk_rows, monkeypatch):
    # lengths sorted longest first; 250 rows per weight-gradient chunk puts the rows' ends inside chunks
    from sketchlib.models import fused

    if chunk_rows:
        monkeypatch.setattr(fused, "_CHUNK_ROWS", chunk_rows)
    torch.manual_seed(6)
    T, B, n, m, H = 40, 100, 5, 20, 64
    cell = perturbed_cell(layer_norm, n + m, H, keep=0.9)
    lengths = torch.randint(1, T + 1, (B,)).sort(descending=True).values
    lengths[0] = T
    x = torch.randn(B, T, n)
    static = torch.randn(B, m, requires_grad=True)
    h0, c0 = torch.randn(B, H, requires_grad=True), torch.randn(B, H, requires_grad=True)
    masks = cell.dropout_masks(T, B, x)
    fused_run, reference = run_both(cell, x, static, h0, c0, masks, lengths)
    for a, b in zip(fused_run, reference, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4 * b.abs().max().item())
    # a row's state stays put after its last step: its outputs repeat, its final state is its last step's
    out, (h, c) = run_recurrent(cell.eval(), x, (h0, c0), static, None, lengths)
    full, _ = run_recurrent(cell, x, (h0, c0), static, None)
    for b in (0, B // 2, B - 1):
        L = int(lengths[b])
        assert torch.allclose(out[b, :L], full[b, :L], atol=1e-5)
        assert torch.equal(out[b, L:], out[b, L - 1 : L].expand(T - L, H)) and torch.equal(h[b], out[b, L - 1])


def test_a_packed_loop_refuses_rows_not_sorted_longest_first():
    cell = perturbed_cell(True, 5, 8)
    z = torch.zeros(3, 8)
    with pytest.raises(ValueError, match="longest first"):
        run_recurrent(cell, torch.randn(3, 6, 5), (z, z), lengths=torch.tensor([3, 6, 2]))


def test_fused_loop_gives_the_input_gradient_when_asked():
    torch.manual_seed(2)
    cell = perturbed_cell(True, 4, 6, dtype=torch.float64)
    x = torch.randn(3, 7, 4, dtype=torch.float64, requires_grad=True)
    z = torch.zeros(3, 6, dtype=torch.float64)
    fused, reference = run_both(cell, x, None, z, z, None)
    assert torch.allclose(fused[3], reference[3])  # x.grad, the first of the leaves


def test_fused_loop_under_no_grad_matches_and_keeps_nothing_for_backward():
    torch.manual_seed(3)
    cell = perturbed_cell(True, 5, 8).eval()
    x = torch.randn(4, 9, 5)
    with torch.no_grad():
        out, (h, c) = run_recurrent(cell, x, (torch.zeros(4, 8), torch.zeros(4, 8)))
    assert out.grad_fn is None
    cell.fused = False
    ref, (h_ref, c_ref) = run_recurrent(cell, x, (torch.zeros(4, 8), torch.zeros(4, 8)))
    assert torch.allclose(out, ref, atol=1e-5) and torch.allclose(c, c_ref, atol=1e-5)


def test_backward_through_the_fused_loop_twice_with_retain_graph_gives_the_same_gradients():
    torch.manual_seed(4)
    cell = perturbed_cell(True, 5, 8)
    out, _ = run_recurrent(cell, torch.randn(2, 6, 5), (torch.zeros(2, 8), torch.zeros(2, 8)))
    out.sum().backward(retain_graph=True)
    first = cell.w_h.grad.clone()
    out.sum().backward()
    assert torch.allclose(cell.w_h.grad, 2 * first)


def tiny_batch(cfg, n=4):
    rng = np.random.default_rng(0)
    drawings = []
    for _ in range(8):
        k = int(rng.integers(6, 14))
        d = np.column_stack([rng.normal(0, 8, k), rng.normal(0, 8, k), np.zeros(k)]).astype(np.float32)
        d[k // 2, 2] = d[-1, 2] = 1
        drawings.append(d)
    ds = SketchDataset(Sketches(drawings, np.arange(8) % 3, ["a", "b", "c"]), max_seq_len=cfg.max_seq_len,
                       raster_size=cfg.needs_raster)
    return ds.batch(range(n))


def use_reference_loops(model: SketchModel) -> SketchModel:
    ref = copy.deepcopy(model)
    for module in ref.modules():
        if isinstance(module, LSTMCell):
            module.fused = False
    return ref


@pytest.mark.parametrize("name", ["sketch_rnn", "sketch_pix2seq", "aisketcher", "sketch_rnn_unconditional"])
def test_model_losses_and_gradients_agree_between_fused_and_reference_loops(name):
    torch.manual_seed(5)
    cfg = preset(name, **{**TINY, "num_classes": 3, "max_seq_len": 16})
    fast = SketchModel(cfg)
    ref = use_reference_loops(fast)
    batch = tiny_batch(cfg)
    grads = []
    for model in (fast, ref):
        torch.manual_seed(6)  # the same dropout masks and latent noise
        losses = model.compute_losses(batch, kl_weight=0.5)
        losses["total"].backward()
        grads.append((losses, {n: p.grad for n, p in model.named_parameters() if p.grad is not None}))
    (l_fast, g_fast), (l_ref, g_ref) = grads
    for key in l_fast:
        assert torch.allclose(l_fast[key], l_ref[key], rtol=1e-5, atol=1e-6), key
    assert g_fast.keys() == g_ref.keys()
    for n in g_ref:
        assert torch.allclose(g_fast[n], g_ref[n], rtol=1e-4, atol=1e-5 * g_ref[n].abs().max().item() + 1e-7), n


@pytest.mark.parametrize("batch", [1, 100])
@pytest.mark.parametrize("layer_norm", [True, False])
def test_inference_step_equals_the_reference_step(batch, layer_norm):
    torch.manual_seed(7)
    cell = perturbed_cell(layer_norm, 9, 32).eval()
    cell_with_extra = LSTMCell(9, 32, layer_norm=layer_norm, extra_size=6).eval()
    for c_ in (cell, cell_with_extra):
        xw, h, c = torch.randn(batch, 128), torch.randn(batch, 32), torch.randn(batch, 32)
        extra = torch.randn(batch, 6) if c_.w_extra is not None else None
        with torch.no_grad():
            expected = c_.step(xw, h, c, None, extra)
        got = InferenceStep(c_, batch)(xw, h, c, extra)
        assert torch.allclose(got[0], expected[0], atol=1e-5) and torch.allclose(got[1], expected[1], atol=1e-5)


def head_output(logits, pen_logits, mu=(0.0, 0.0), log_sigma=(0.0, 0.0), rho=0.0, batch=1) -> torch.Tensor:
    """A mixture head's raw output ``(batch, 6M + 3)`` with the same component parameters for every ``k``."""
    M = len(logits)
    rho_raw = float(np.arctanh(rho / RHO_MAX))
    blocks = [list(logits)] + [[v] * M for v in (*mu, *log_sigma, rho_raw)] + [list(pen_logits)]
    return torch.tensor([sum(blocks, [])], dtype=torch.float32).expand(batch, -1).clone()


def identity_head(M: int) -> MixtureHead:
    """A head whose linear layer is the identity: ``head(y)`` applies the transforms to ``y``."""
    head = MixtureHead(6 * M + 3, M)
    with torch.no_grad():
        head.linear.weight.copy_(torch.eye(6 * M + 3))
        head.linear.bias.zero_()
    return head


def test_greedy_draw_equals_greedy_sample_mixture():
    torch.manual_seed(11)
    y = torch.randn(6, 6 * 4 + 3)
    with torch.no_grad():
        expected = sample_mixture(identity_head(4)(y), greedy=True)
    assert np.allclose(sample_output(y, 4, 1.0, True, torch.Generator()), expected.numpy())


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_drawn_components_and_pen_states_follow_the_tempered_softmax(temperature):
    n = 40000
    logits, pen = [0.0, 1.0, -1.0], [0.5, -0.5, 0.0]
    y = head_output(logits, pen, batch=n)
    y[:, 3:6] = torch.tensor([-100.0, 0.0, 100.0])  # far-apart mu_x: the offset tells which component was drawn
    out = torch.from_numpy(sample_output(y, 3, temperature, False, torch.Generator().manual_seed(0)))
    k = torch.bucketize(out[:, 0].contiguous(), torch.tensor([-50.0, 50.0]))
    freq_k = torch.bincount(k, minlength=3).float() / n
    freq_pen = out[:, 2:].mean(0)
    assert torch.allclose(freq_k, torch.softmax(torch.tensor(logits) / temperature, 0), atol=0.01)
    assert torch.allclose(freq_pen, torch.softmax(torch.tensor(pen) / temperature, 0), atol=0.01)
    assert torch.all(out[:, 2:].sum(1) == 1)


def test_drawn_offsets_have_the_components_mean_and_tempered_covariance():
    n, tau = 40000, 0.5
    y = head_output([0.0], [0.0, 0.0, 0.0], mu=(1.0, -2.0), log_sigma=(np.log(2.0), np.log(0.5)), rho=0.6, batch=n)
    out = torch.from_numpy(sample_output(y, 1, tau, False, torch.Generator().manual_seed(1)))[:, :2].double()
    cov = torch.cov(out.T)
    expected = tau * torch.tensor([[4.0, 0.6 * 2 * 0.5], [0.6 * 2 * 0.5, 0.25]], dtype=torch.float64)
    assert torch.allclose(out.mean(0), torch.tensor([1.0, -2.0], dtype=torch.float64), atol=0.02)
    assert torch.allclose(cov, expected, rtol=0.05, atol=0.01)


def test_priming_in_one_fused_run_equals_priming_step_by_step():
    torch.manual_seed(8)
    model = SketchModel(preset("conditional_sketch_rnn", **{**TINY, "num_classes": 3}))
    partial = np.array([[3.0, 1.0, 0.0], [2.0, -4.0, 0.0], [-1.0, 2.0, 1.0], [5.0, 0.0, 0.0]], dtype=np.float32)
    s = IncrementalSampler(model, 2, scale=4.0, labels=[0, 2], seed=0)
    s.prime(partial)
    s2 = IncrementalSampler(model, 2, scale=4.0, labels=[0, 2], seed=0)
    for row in [s2.prev] + s.points[:-1]:
        s2._advance(row)
    assert torch.allclose(s.h, s2.h, atol=1e-5) and torch.allclose(s.c, s2.c, atol=1e-5)
    assert s.step_index == s2.step_index == len(partial)


def test_the_sampler_keeps_its_state_between_calls():
    torch.manual_seed(9)
    model = SketchModel(preset("sketch_rnn", **{**TINY, "num_classes": 1}))
    whole = IncrementalSampler(model, 3, scale=1.0, seed=5)
    rows = [whole.step() for _ in range(8)]
    parts = IncrementalSampler(model, 3, scale=1.0, seed=5)
    first = [parts.step() for _ in range(3)]
    rest = [parts.step() for _ in range(5)]
    assert all(np.array_equal(a, b) for a, b in zip(rows, first + rest, strict=True))


@pytest.mark.parametrize("name", ["sketch_rnn", "aisketcher"])
def test_training_under_bf16_autocast_gives_finite_gradients(name):
    # the GPU recipe (bf16 autocast), here on the CPU: matmuls in bf16, the recurrent state in fp32
    torch.manual_seed(12)
    cfg = preset(name, **{**TINY, "num_classes": 3, "max_seq_len": 16})
    model = SketchModel(cfg)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model.compute_losses(tiny_batch(cfg), kl_weight=0.5)["total"]
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert torch.isfinite(loss) and all(torch.isfinite(g).all() and g.dtype == torch.float32 for g in grads)


@pytest.mark.parametrize("temperature", [1.0, 0.3])
def test_sample_mixture_on_the_heads_params_draws_what_the_sampler_draws_from_its_output(temperature):
    torch.manual_seed(12)
    y = torch.randn(50, 6 * 4 + 3)
    with torch.no_grad():
        params = identity_head(4)(y)
    got = sample_mixture(params, temperature, generator=torch.Generator().manual_seed(3))
    expected = sample_output(y, 4, temperature, False, torch.Generator().manual_seed(3))
    assert torch.equal(got[:, 2:], torch.from_numpy(expected[:, 2:]))  # the same pen states
    assert np.allclose(got[:, :2].numpy(), expected[:, :2], atol=1e-5)  # the same offsets, up to rounding
