"""Specifications of the model family: shapes, losses, gradients, attention, sampling."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from sketchlib import strokes as S
from sketchlib.datasets import SketchDataset, Sketches
from sketchlib.losses import influence_kl, kl_weight_at, learning_rate_at
from sketchlib.models import SketchConfig, SketchModel, config_diff, preset, preset_names
from sketchlib.models.cells import BiRNN, LSTMCell
from sketchlib.models.encoders import CNNEncoder, RasterAutoencoder
from sketchlib.models.influence import InfluenceLayer
from sketchlib.models.mdn import MixtureParams, mixture_log_likelihood, sample_mixture
from sketchlib.sampling import IncrementalSampler, complete, encode, interpolate, sample, slerp, z_switch

TINY = dict(enc_rnn_size=12, dec_rnn_size=16, z_size=6, num_mixture=3, influence_size=8, ae_z_size=5, batch_size=4)


def random_walks(n: int, rng: np.random.Generator, lo: int = 6, hi: int = 14) -> list[np.ndarray]:
    out = []
    for _ in range(n):
        k = int(rng.integers(lo, hi))
        d = np.column_stack([rng.normal(0, 8, k), rng.normal(0, 8, k), np.zeros(k)]).astype(np.float32)
        d[k // 2, 2] = 1
        d[-1, 2] = 1
        out.append(d)
    return out


def tiny(name: str, **kw):
    return preset(name, **{**TINY, "num_classes": 3, "max_seq_len": 16, **kw})


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return Sketches(random_walks(12, rng), np.arange(12) % 3, ["a", "b", "c"])


def batch_for(cfg, sketches, n=4):
    ds = SketchDataset(sketches, max_seq_len=cfg.max_seq_len, raster_size=cfg.needs_raster)
    return ds.batch(range(n))


BASE_PRESETS = [p for p in preset_names() if not p.endswith("-small")]


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_builds_with_its_documented_parts(name):
    cfg = preset(name, num_classes=3)
    model = SketchModel(cfg)
    assert (model.rnn_encoder is not None) == (cfg.encoder == "rnn")
    assert (model.cnn_encoder is not None) == (cfg.encoder == "cnn")
    assert (model.influence is not None) == cfg.influence
    assert (model.autoencoder is not None) == cfg.autoencoder


@pytest.mark.parametrize("name", BASE_PRESETS)
def test_one_optimisation_step_runs_and_changes_the_weights(name, data):
    torch.manual_seed(0)
    cfg = tiny(name)
    model = SketchModel(cfg)
    batch = batch_for(cfg, data)
    before = [p.detach().clone() for p in model.parameters()]
    losses = model.compute_losses(batch, kl_weight=0.5)
    assert set(losses) == {"total", "l_r", "l_s", "l_p", "l_kl", "l_z", "l_a", "l_ae"}
    assert all(torch.isfinite(v) for v in losses.values())
    assert torch.allclose(losses["l_r"], losses["l_s"] + losses["l_p"])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    opt.zero_grad()
    losses["total"].backward()
    opt.step()
    changed = [not torch.equal(a, b.detach()) for a, b in zip(before, model.parameters())]
    assert all(changed)


@pytest.mark.parametrize("name", BASE_PRESETS)
def test_gradients_reach_every_parameter_the_preset_uses(name, data):
    torch.manual_seed(1)
    cfg = tiny(name)
    model = SketchModel(cfg)
    model.compute_losses(batch_for(cfg, data), kl_weight=1.0)["total"].backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert missing == []


def test_forward_shapes_follow_the_batch(data):
    cfg = tiny("aisketcher")
    model = SketchModel(cfg)
    batch = batch_for(cfg, data)
    out = model(batch)
    B, T = batch["strokes5"].shape[0], batch["strokes5"].shape[1] - 1
    assert out["params"].mu_x.shape == (B, T, cfg.num_mixture)
    assert out["params"].pen_logits.shape == (B, T, 3)
    assert out["latent"].z.shape == (B, cfg.z_size + cfg.ae_z_size)
    assert out["mu_a"].shape == (B, T, cfg.influence_size)
    assert out["latent"].raster_recon.shape == (B, 1, 128, 128)


def test_mixture_log_likelihood_matches_a_hand_computed_value():
    # one component of weight 1: the plain bivariate normal density
    mx, my, sx, sy, rho, x, y = 0.5, -1.0, 2.0, 0.5, 0.3, 1.0, -0.8
    zx, zy = (x - mx) / sx, (y - my) / sy
    z = zx**2 + zy**2 - 2 * rho * zx * zy
    expected = -math.log(2 * math.pi * sx * sy * math.sqrt(1 - rho**2)) - z / (2 * (1 - rho**2))
    t = lambda v: torch.tensor([[v]], dtype=torch.float64)  # noqa: E731
    p = MixtureParams(t(0.0), t(mx), t(my), t(math.log(sx)), t(math.log(sy)), t(rho), torch.zeros(1, 3))
    got = mixture_log_likelihood(p, torch.tensor([x], dtype=torch.float64), torch.tensor([y], dtype=torch.float64))
    assert got.item() == pytest.approx(expected, rel=1e-12)


def test_mixture_log_likelihood_of_two_components_is_the_log_of_the_weighted_sum():
    t = lambda *v: torch.tensor([list(v)], dtype=torch.float64)  # noqa: E731
    w = [0.25, 0.75]
    p = MixtureParams(t(*np.log(w)), t(0.0, 1.0), t(0.0, 1.0), t(0.0, 0.0), t(0.0, 0.0), t(0.0, 0.0), torch.zeros(1, 3))
    dens = [math.exp(-(0.2**2 + 0.1**2) / 2) / (2 * math.pi), math.exp(-(0.8**2 + 0.9**2) / 2) / (2 * math.pi)]
    got = mixture_log_likelihood(p, torch.tensor([0.2], dtype=torch.float64), torch.tensor([0.1], dtype=torch.float64))
    assert got.item() == pytest.approx(math.log(w[0] * dens[0] + w[1] * dens[1]), rel=1e-12)


def test_greedy_mixture_sampling_takes_the_likeliest_mean_and_pen():
    t = lambda *v: torch.tensor([list(v)])  # noqa: E731
    p = MixtureParams(t(-3.0, -0.1), t(5.0, 7.0), t(1.0, 2.0), t(0.0, 0.0), t(0.0, 0.0), t(0.0, 0.0), t(0.0, 3.0, 1.0))
    out = sample_mixture(p, greedy=True)
    assert out.tolist() == [[7.0, 2.0, 0.0, 1.0, 0.0]]


@pytest.mark.parametrize("causal", [True, False])
def test_influence_attention_sums_to_one_and_only_sees_points_drawn_so_far(causal):
    torch.manual_seed(0)
    layer = InfluenceLayer(enc_size=6, dec_size=5, n_a=4, causal=causal)
    states = torch.randn(3, 7, 6)
    lengths = torch.tensor([7, 3, 1])
    ctx = layer.context(states, lengths)
    assert ctx.values.shape[1] == (8 if causal else 7)  # causal: the zero state "nothing read yet" in front
    h = torch.randn(3, 5)
    for j in range(9):
        alpha, _ = layer.attend(h, ctx, j)
        assert torch.allclose(alpha.sum(1), torch.ones(3))
        for b, n in enumerate(lengths.tolist()):
            limit = min(j, n) if causal else min(j, n - 1)
            assert torch.all(alpha[b, limit + 1 :] == 0)
            assert torch.all(alpha[b, : limit + 1] > 0)


def test_causal_influence_never_sees_the_point_it_predicts():
    """With influence_states='forward', a_d up to step j depends on points 1..j only (the decoder's inputs so far).

    Changing point j+1 (the target of step j) and everything after it leaves alpha and mu_a of steps 0..j
    unchanged; with 'both' (the bidirectional states) it does not, which is the leak the option removes.
    """
    torch.manual_seed(0)
    j = 4
    for states_kind, leaks in (("forward", False), ("both", True)):
        model = SketchModel(preset("aisketcher_influence_only", **TINY, influence_states=states_kind,
                                   recurrent_dropout_keep=1.0))
        model.eval()
        T = 9
        x = torch.zeros(1, T + 1, 5)
        x[0, 0, 2] = 1
        x[0, 1:, :2] = torch.randn(T, 2)
        x[0, 1:, 2] = 1
        y = x.clone()
        y[0, j + 1 :, :2] = torch.randn(T - j, 2)  # points j+1.. differ: what steps j.. are asked to predict
        outs = []
        for s5 in (x, y):
            batch = {"strokes5": s5, "lengths": torch.tensor([T]), "onehot": torch.eye(1)[[0]]}
            with torch.no_grad():
                lat = model.encode(batch, sample=False)
                lat.z = torch.zeros_like(lat.z)  # the same z for both, so only the attention can differ
                _, _, mu_a, alpha = model.decode(s5[:, :-1], lat, batch["onehot"], sample_influence=False)
            outs.append((mu_a[0, : j + 1], alpha[0, : j + 1]))
        same = torch.allclose(outs[0][0], outs[1][0], atol=1e-6) and torch.allclose(outs[0][1], outs[1][1], atol=1e-6)
        assert same != leaks, states_kind


def test_checkpoint_configs_from_before_influence_states_load_as_both():
    d = preset("aisketcher_influence_only").to_dict()
    del d["influence_states"]
    assert SketchConfig.from_dict(d).influence_states == "both"
    assert preset("aisketcher_influence_only").influence_states == "forward"


def _run_influence(layer, states, lengths, h0, steps, noise, sub=None):
    """A recurrent toy loop around the layer: the next query depends on this step's output, as in the decoder."""
    if sub is not None:  # a batch that repeats drawings: their values' gradients must add up
        states, lengths, h0 = states[sub], lengths[sub], h0[sub]
    ctx = layer.context(states, lengths)
    h, outs = h0, []
    for j in range(steps):
        a, mu, alpha = layer(h, ctx, j, noise[j])
        h = torch.tanh(a @ layer.w + h)
        outs.append((a, mu, alpha))
    return outs


def _reference_copy(layer: InfluenceLayer) -> InfluenceLayer:
    """The same layer (shared parameters) with eq. 9-10 computed by :meth:`InfluenceLayer.attend_reference`."""
    ref = copy.copy(layer)
    ref.fused = False
    return ref


@pytest.mark.parametrize("causal", [True, False])
def test_influence_fast_forward_equals_the_readable_equations(causal):
    torch.manual_seed(1)
    layer = InfluenceLayer(enc_size=6, dec_size=4, n_a=4, causal=causal).double()
    states, lengths = torch.randn(3, 7, 6, dtype=torch.float64), torch.tensor([7, 3, 1])
    h0, noise = torch.randn(3, 4, dtype=torch.float64), torch.randn(9, 3, 4, dtype=torch.float64)
    with torch.no_grad():
        fast = _run_influence(layer, states, lengths, h0, 9, noise)
        readable = _run_influence(_reference_copy(layer), states, lengths, h0, 9, noise)
    for got, expected in zip(fast, readable, strict=True):
        for g, e in zip(got, expected, strict=True):
            assert torch.allclose(g, e, atol=1e-12)


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("use_subset", [False, True])
def test_influence_gradients_equal_the_readable_equations(use_subset, causal):
    """The layer's own backward (values' gradient summed over steps in one matmul) against plain autograd, float64."""
    torch.manual_seed(0)
    layer = InfluenceLayer(enc_size=6, dec_size=4, n_a=4, causal=causal).double()
    states = torch.randn(3, 7, 6, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([7, 3, 1])
    h0 = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    noise = torch.randn(9, 3, 4, dtype=torch.float64)
    weights = [torch.randn(3, 4, dtype=torch.float64) for _ in range(3)]
    sub = torch.tensor([2, 0, 0]) if use_subset else None

    def loss_of(outs):
        return sum((o * w[: o.shape[0], : o.shape[1]]).sum() for a, mu, alpha in outs
                   for o, w in zip((a, mu, alpha[:, :4]), weights, strict=True))

    params = [states, h0, *layer.parameters()]
    readable = _run_influence(_reference_copy(layer), states, lengths, h0, 9, noise, sub)
    expected = torch.autograd.grad(loss_of(readable), params)
    got = torch.autograd.grad(loss_of(_run_influence(layer, states, lengths, h0, 9, noise, sub)), params)
    for g, e in zip(got, expected, strict=True):
        assert torch.allclose(g, e, atol=1e-10), (g - e).abs().max()


def test_influence_kl_is_zero_only_at_the_prior_mean():
    lengths = torch.tensor([2])
    assert influence_kl(torch.zeros(1, 2, 4), lengths).item() == pytest.approx(0.0, abs=1e-7)
    assert influence_kl(torch.ones(1, 2, 4), lengths).item() > 0


def test_influence_kl_ignores_the_steps_past_each_drawings_length():
    mu = torch.zeros(1, 3, 4)
    mu[0, 2] = 5.0  # the third step is padding for a drawing of two points
    assert influence_kl(mu, torch.tensor([2])).item() == pytest.approx(0.0, abs=1e-7)
    assert influence_kl(mu, torch.tensor([3])).item() > 0


def test_birnn_backward_direction_starts_at_each_drawings_own_end():
    torch.manual_seed(0)
    enc = BiRNN(5, 4).eval()
    x = torch.randn(1, 5, 5)
    h_short, _ = enc(x[:, :3], torch.tensor([3]))
    padded = torch.cat([x[:, :3], torch.randn(1, 2, 5)], dim=1)  # garbage after the end
    h_padded, states = enc(padded, torch.tensor([3]))
    assert torch.allclose(h_short, h_padded, atol=1e-6)
    assert torch.all(states[0, 3:] == 0)


def test_layer_norm_cell_normalises_its_gates():
    cell = LSTMCell(3, 8, layer_norm=True).eval()
    with torch.no_grad():
        cell.w_h.mul_(100.0)  # huge recurrent weights: layer norm keeps the state bounded
    out, (h, c) = cell(torch.randn(2, 5, 3) * 100)
    assert torch.isfinite(out).all() and out.abs().max() <= 1.0


def test_recurrent_dropout_only_acts_in_training_mode():
    torch.manual_seed(0)
    cell = LSTMCell(3, 8, dropout_keep=0.5)
    x = torch.randn(2, 4, 3)
    cell.eval()
    a, _ = cell(x)
    b, _ = cell(x)
    assert torch.equal(a, b)
    cell.train()
    c, _ = cell(x)
    assert not torch.allclose(a, c)


def test_cnn_encoder_of_sketch_pix2seq_gives_8x6x6_features_on_48x48():
    enc = CNNEncoder()
    assert enc.out_shape == (8, 6, 6)
    assert enc(torch.zeros(2, 1, 48, 48)).shape == (2, 288)


def test_raster_autoencoder_mirrors_its_encoder_back_to_128x128():
    ae = RasterAutoencoder()
    z, recon = ae(torch.zeros(2, 1, 128, 128))
    assert z.shape == (2, 128) and z.abs().max() < 1
    assert recon.shape == (2, 1, 128, 128) and recon.min() >= 0 and recon.max() <= 1
    ae.freeze()
    assert not any(p.requires_grad for p in ae.parameters())


def test_channels_last_convolutions_give_the_plain_modules_numbers():
    """The channels-last layout (encoders.NHWC, a speed-up) changes no output and no gradient."""
    torch.manual_seed(0)
    ae = RasterAutoencoder(z_size=16)
    x = (torch.rand(3, 1, 128, 128) < 0.05).float()
    fast = ae(x)[1]
    (fast * torch.linspace(0, 1, fast.numel()).view_as(fast)).sum().backward()
    fast_grads = [p.grad.clone() for p in ae.parameters()]
    ae.zero_grad()
    plain = ae.forward_reference(x)[1]
    (plain * torch.linspace(0, 1, plain.numel()).view_as(plain)).sum().backward()
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)
    for a, p in zip(fast_grads, ae.parameters()):
        assert p.is_contiguous()  # the parameters keep PyTorch's default layout
        torch.testing.assert_close(a, p.grad, rtol=1e-4, atol=1e-6)


def test_raster_autoencoder_code_depends_on_the_drawing_at_init():
    """Regression: with PyTorch's default init the six tiny ReLU layers left z_r almost a constant
    (std over faces 1e-5 to 2e-3), and training collapsed to the mean face."""
    from sketchlib.datasets.faces import generate_faces
    from sketchlib.raster import render

    torch.manual_seed(0)
    faces = generate_faces(n_per_class=2, seed=0)
    x = torch.from_numpy(render(faces.drawings, size=128)).float().unsqueeze(1)
    z = RasterAutoencoder().encode(x)
    assert z.std(dim=0).mean() > 0.01  # PyTorch's default init gives 1e-5 to 2e-3 here


def test_raster_autoencoder_code_stays_alive_under_adam():
    """Regression: starting from an output of 0.5 everywhere, Adam at lr 1e-3 saturated the tanh code
    (z_r = +-1 for every drawing) within 25 steps; the output bias now starts at the ink prior."""
    from sketchlib.datasets.faces import generate_faces
    from sketchlib.raster import render

    torch.manual_seed(0)
    x = torch.from_numpy(render(generate_faces(n_per_class=3, seed=3).drawings, size=128)).float().unsqueeze(1)
    ae = RasterAutoencoder(z_size=32)
    assert float(ae(x)[1].mean()) < 0.1  # starts near the blank page, not at 0.5
    opt = torch.optim.Adam(ae.parameters(), lr=1e-3)
    for _ in range(30):
        loss = ae.reconstruction_loss(ae(x)[1], x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert ae.encode(x).std(dim=0).mean() > 0.02


def test_separate_autoencoder_learns_only_from_its_reconstruction(data):
    torch.manual_seed(0)
    cfg = tiny("aisketcher_autoencoder_only", ae_mode="separate", ae_loss_weight=0.0)
    model = SketchModel(cfg)
    model.compute_losses(batch_for(cfg, data), kl_weight=1.0)["total"].backward()
    assert all(p.grad is None or torch.all(p.grad == 0) for p in model.autoencoder.parameters())


def test_non_variational_model_has_no_kl_term(data):
    cfg = tiny("sketch_pix2seq")
    losses = SketchModel(cfg).compute_losses(batch_for(cfg, data), kl_weight=1.0)
    assert losses["l_kl"].item() == 0.0
    assert torch.equal(losses["total"], losses["l_r"])


def test_kl_floor_applies_to_the_kl_term(data):
    torch.manual_seed(0)
    cfg = tiny("sketch_rnn", kl_tolerance=1e6)
    losses = SketchModel(cfg).compute_losses(batch_for(cfg, data), kl_weight=0.5)
    assert losses["total"].item() == pytest.approx(losses["l_r"].item() + 0.5 * 1e6, rel=1e-6)


def test_schedules_follow_magenta():
    cfg = preset("sketch_rnn")
    assert kl_weight_at(cfg, 0) == pytest.approx(cfg.kl_weight_start)
    assert kl_weight_at(cfg, 10**7) == pytest.approx(cfg.kl_weight)
    assert learning_rate_at(cfg, 0) == pytest.approx(cfg.learning_rate)
    assert learning_rate_at(cfg, 10**7) == pytest.approx(cfg.min_learning_rate)


def test_small_preset_overfits_a_handful_of_drawings(shared_data):
    npz = np.load(shared_data / "quickdraw" / "sketchrnn" / "face.npz", allow_pickle=True, encoding="latin1")
    arr = npz["train"][:8]
    sk = Sketches([a.astype(np.float32) for a in arr], np.zeros(8), ["face"])
    torch.manual_seed(0)
    cfg = preset("sketch_rnn-small", num_classes=1, max_seq_len=max(len(a) for a in arr), enc_rnn_size=64,
                 dec_rnn_size=128, recurrent_dropout_keep=1.0)
    ds = SketchDataset(sk, max_seq_len=cfg.max_seq_len)
    batch = ds.batch(range(8))
    model = SketchModel(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        losses = model.compute_losses(batch, kl_weight=0.01)
        opt.zero_grad()
        losses["total"].backward()
        opt.step()
        first = losses["l_r"].item() if first is None else first
    assert losses["l_r"].item() < first - 1.0


def test_config_diff_lists_the_fields_that_differ():
    a, b = preset("sketch_rnn"), preset("sketch_rnn", dec_rnn_size=256, z_size=64)
    assert config_diff(a, b) == {"dec_rnn_size": (512, 256), "z_size": (128, 64)}


def test_unknown_preset_suggests_close_names():
    with pytest.raises(ValueError, match="sketch_rnn"):
        preset("sketch_rn")


def test_influence_with_a_cnn_encoder_is_refused():
    with pytest.raises(ValueError, match="influence"):
        preset("sketch_pix2seq", influence=True)


# --------------------------------------------------------------------------- sampling


@pytest.mark.parametrize("name", BASE_PRESETS)
def test_seeded_sampling_is_reproducible(name):
    model = SketchModel(tiny(name))
    a = sample(model, 3, scale=10.0, labels=[0, 1, 2], seed=7, max_len=12)
    b = sample(model, 3, scale=10.0, labels=[0, 1, 2], seed=7, max_len=12)
    c = sample(model, 3, scale=10.0, labels=[0, 1, 2], seed=8, max_len=12)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_sampled_drawings_are_pixel_stroke3_that_stop_at_the_end_token():
    torch.manual_seed(0)
    model = SketchModel(tiny("sketch_rnn"))
    out = sample(model, 5, scale=10.0, seed=0, max_len=12)
    assert len(out) == 5
    for d in out:
        assert d.ndim == 2 and d.shape[1] == 3 and len(d) <= 12
        assert set(np.unique(d[:, 2])) <= {0.0, 1.0}


def test_incremental_steps_equal_teacher_forced_decoding():
    torch.manual_seed(0)
    model = SketchModel(tiny("conditional_sketch_rnn")).eval()
    s = IncrementalSampler(model, 2, scale=1.0, labels=[1, 2], seed=3)
    rows = np.stack([s.step() for _ in range(6)], axis=1)  # (2, 6, 5)
    inputs = torch.cat([torch.tensor(S.START_TOKEN).repeat(2, 1, 1), torch.from_numpy(rows[:, :5])], dim=1)
    onehot = torch.nn.functional.one_hot(torch.tensor([1, 2]), 3).float()
    with torch.no_grad():
        params, _, _, _ = model.decode(inputs, s.latent, onehot)
        s2 = IncrementalSampler(model, 2, scale=1.0, labels=[1, 2], seed=3)
        h = []
        for t in range(6):
            s2._advance(inputs[:, t])
            h.append(s2.h)
        direct = model.mixture(torch.stack(h, 1))
    assert torch.allclose(params.mu_x, direct.mu_x, atol=1e-5)


def test_completion_keeps_the_given_strokes():
    rng = np.random.default_rng(1)
    model = SketchModel(tiny("aisketcher"))
    partial = random_walks(1, rng)[0]
    outs = complete(model, partial, 2, scale=8.0, label=1, seed=0, max_len=20)
    for o in outs:
        assert np.allclose(o[: len(partial)], partial, atol=1e-4)


def test_z_switch_reencodes_under_the_new_class_and_continues():
    rng = np.random.default_rng(2)
    model = SketchModel(tiny("conditional_sketch_rnn"))
    partial = random_walks(1, rng)[0]
    out = z_switch(model, partial, scale=8.0, new_label=2, n=2, seed=0, max_len=20)
    assert len(out) == 2 and np.allclose(out[0][: len(partial)], partial, atol=1e-4)


def test_encode_is_deterministic_without_sampling():
    rng = np.random.default_rng(3)
    model = SketchModel(tiny("sketch_rnn"))
    d = random_walks(2, rng)
    assert torch.equal(encode(model, d, 8.0).z, encode(model, d, 8.0).z)


def test_slerp_keeps_the_norm_between_equal_norm_latents():
    torch.manual_seed(0)
    z0, z1 = torch.randn(16), torch.randn(16)
    z1 = z1 / z1.norm() * z0.norm()
    path = interpolate(z0, z1, 7, "spherical")
    assert torch.allclose(path.norm(dim=1), z0.norm().expand(7), rtol=1e-4)
    assert torch.allclose(path[0], z0, atol=1e-5) and torch.allclose(path[-1], z1, atol=1e-5)
    lin = interpolate(z0, z1, 7, "linear")
    assert lin.norm(dim=1)[3] < z0.norm() * 0.99
    assert torch.allclose(slerp(z0, z0, 0.3), z0)


@pytest.mark.parametrize("name", ["sketch_rnn-small", "aisketcher-small", "sketch_pix2seq-small"])
def test_per_drawing_losses_average_to_the_batch_losses(name, data):
    """evaluation.per_drawing_losses splits all_losses by drawing: l_r and l_z average to the batch values,
    l_a does so weighted by the drawings' lengths (as the batch value counts steps), and bound = l_r + l_kl."""
    from sketchlib.evaluation import per_drawing_losses
    from sketchlib.losses import all_losses
    from sketchlib.sampling import make_batch

    torch.manual_seed(0)
    cfg = tiny(name)
    model = SketchModel(cfg).eval()
    drawings, labels = data.drawings[:6], list(data.labels[:6])
    per = per_drawing_losses(model, {"scale": 1.0}, drawings, labels, seed=3)
    batch = make_batch(model, drawings, 1.0, labels)
    torch.manual_seed(3)
    with torch.no_grad():
        whole = all_losses(model(batch), batch, cfg, kl_weight=1.0)
    assert per["l_r"].shape == (6,) and np.allclose(per["bound"], per["l_r"] + per["l_kl"])
    assert per["l_r"].mean() == pytest.approx(float(whole["l_r"]), rel=1e-5)
    if cfg.influence:  # l_kl = l_z + beta l_a per drawing; recover the batch l_kl with l_a length-weighted
        lengths = batch["lengths"].numpy().astype(float)
        with torch.no_grad():
            lat = model.encode(batch, sample=False)
        l_z = -0.5 * (1 + lat.logvar - lat.mu ** 2 - lat.logvar.exp()).mean(1).numpy()
        l_a = (per["l_kl"] - l_z) / cfg.influence_beta
        weighted = float(l_z.mean() + cfg.influence_beta * (l_a * lengths).sum() / lengths.sum())
        assert weighted == pytest.approx(float(whole["l_kl"]), rel=1e-4)
    else:
        assert per["l_kl"].mean() == pytest.approx(float(whole["l_kl"]), rel=1e-5, abs=1e-7)
    if not cfg.variational:
        assert np.all(per["l_kl"] == 0)


def test_decoder_input_dropout_hides_previous_points_only_in_training(data):
    cfg = tiny("sketch_rnn", decoder_input_dropout=0.5, recurrent_dropout_keep=1.0)
    model = SketchModel(cfg)
    inputs = batch_for(cfg, data)["strokes5"][:, :-1]
    torch.manual_seed(0)
    dropped = model.train().drop_decoder_inputs(inputs)
    hidden = (dropped == 0).all(-1) & ~(inputs == 0).all(-1)
    assert torch.equal(dropped[:, 0], inputs[:, 0])  # the start token stays
    assert 0.3 < hidden[:, 1:].float().mean() < 0.7  # about half of the points
    kept = ~hidden
    assert torch.equal(dropped[kept], inputs[kept])  # the rest are untouched
    assert torch.equal(model.eval().drop_decoder_inputs(inputs), inputs)  # sampling and evaluation see everything
    with pytest.raises(ValueError, match="decoder_input_dropout=1.0"):
        tiny("sketch_rnn", decoder_input_dropout=1.0)
