"""Specifications of z-switching towards a target drawing (unconditional models)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sketchlib.models import SketchModel, preset
from sketchlib.sampling import IncrementalSampler, encode, z_switch

TINY = dict(enc_rnn_size=12, dec_rnn_size=16, z_size=6, num_mixture=3, batch_size=4, num_classes=3, max_seq_len=16)


def walks(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(6, 12))
        d = np.column_stack([rng.normal(0, 8, k), rng.normal(0, 8, k), np.zeros(k)]).astype(np.float32)
        d[k // 2, 2] = d[-1, 2] = 1
        out.append(d)
    return out


@pytest.fixture
def model():
    torch.manual_seed(0)
    return SketchModel(preset("cnn_lstm_vae-small", **TINY, raster_size=32))


def test_z_switch_to_a_target_keeps_the_partial_drawing(model):
    partial, target = walks(2, 0)
    out = z_switch(model, partial, scale=8.0, target=target, n=3, seed=0, max_len=20)
    assert len(out) == 3
    for o in out:
        assert np.allclose(o[: len(partial)], partial, atol=1e-4)


def test_z_switch_to_a_target_decodes_under_the_target_latent(model):
    partial, target = walks(2, 1)
    out = z_switch(model, partial, scale=8.0, target=target, n=2, seed=5, max_len=20)
    s = IncrementalSampler(model, 2, scale=8.0, latent=encode(model, [target] * 2, 8.0), temperature=0.5, seed=5)
    s.prime(partial)
    expected = s.run(20)
    for a, b in zip(out, expected):
        assert np.allclose(a, b)


def test_z_switch_takes_one_target_per_continuation(model):
    partial, *targets = walks(3, 2)
    out = z_switch(model, partial, scale=8.0, target=targets, n=2, seed=0, max_len=20)
    assert len(out) == 2


def test_z_switch_rejects_a_wrong_number_of_targets(model):
    partial, *targets = walks(3, 3)
    with pytest.raises(ValueError, match="2 target drawings for n=3"):
        z_switch(model, partial, scale=8.0, target=targets, n=3)


# --------------------------------------------------------------------------- the prior of z = [z_s; z_r]


def test_prior_z_draws_z_s_from_the_normal_and_sets_z_r_to_the_centre_of_the_codes():
    from sketchlib.sampling import prior_z

    torch.manual_seed(0)
    model = SketchModel(preset("aisketcher", **TINY, influence_size=4, ae_z_size=5, ae_raster_size=32))
    z = prior_z(model, 4, torch.Generator().manual_seed(3))
    expected = torch.randn(4, model.latent_size, generator=torch.Generator().manual_seed(3))
    assert z.shape == (4, 6 + 5)
    assert torch.equal(z[:, :6], expected[:, :6])  # z_s: the same draw as a model without autoencoder
    assert torch.equal(z[:, 6:], torch.zeros(4, 5))  # z_r: tanh codes in (-1, 1) have no N(0, I) prior
    sampler = IncrementalSampler(model, 4, scale=8.0, labels=[0, 1, 2, 0], seed=3)
    assert torch.equal(sampler.latent.z, z)


def test_prior_z_of_a_model_without_autoencoder_is_the_standard_normal_draw(model):
    from sketchlib.sampling import prior_z

    z = prior_z(model, 3, torch.Generator().manual_seed(1))
    assert torch.equal(z, torch.randn(3, model.latent_size, generator=torch.Generator().manual_seed(1)))
