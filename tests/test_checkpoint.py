"""Checkpoints: round trip, config mismatch, corrupt files, and never overwriting a good one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sketchlib.checkpoint import (
    CheckpointError,
    capture_rng_state,
    load_checkpoint,
    load_model,
    restore_rng_state,
    save_checkpoint,
)
from sketchlib.models import SketchModel, preset

STATS = {"scale": 12.5, "max_seq_len": 20, "class_names": ["cat", "dog"]}


def tiny(**overrides):
    sizes = dict(enc_rnn_size=8, dec_rnn_size=16, z_size=4, num_mixture=2, max_seq_len=20, num_classes=2)
    return preset("sketch_rnn-small", **{**sizes, **overrides})


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    cfg = tiny()
    model = SketchModel(cfg)
    path = save_checkpoint(tmp_path / "model.pt", model=model, cfg=cfg, stats=STATS, step=7, best_valid_loss=1.5)
    return path, model, cfg


def test_load_model_restores_weights_config_and_stats(saved):
    path, model, cfg = saved
    loaded, stats = load_model(path)
    assert loaded.cfg == cfg
    assert not loaded.training
    assert stats == STATS
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])


def test_checkpoint_records_step_best_loss_and_version(saved):
    ckpt = load_checkpoint(saved[0])
    assert ckpt["step"] == 7 and ckpt["best_valid_loss"] == 1.5 and ckpt["version"] == 1


def test_loading_into_a_different_config_lists_the_differing_fields(saved):
    path, _, cfg = saved
    with pytest.raises(ValueError) as err:
        load_checkpoint(path, cfg.replace(z_size=6, num_mixture=5))
    msg = str(err.value)
    assert str(path) in msg and "z_size" in msg and "num_mixture" in msg and "dec_rnn_size" not in msg


def test_a_longer_run_of_the_same_config_is_not_a_mismatch(saved):
    path, _, cfg = saved
    load_checkpoint(path, cfg.replace(num_steps=cfg.num_steps * 2))


def test_truncated_file_gives_an_error_naming_it(saved):
    path = saved[0]
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="truncated"):
        load_model(path)
    with pytest.raises(ValueError, match=str(path)):
        load_checkpoint(path)


def test_missing_file_gives_an_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_model(tmp_path / "nope.pt")


def test_a_foreign_torch_file_is_refused(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a sketchlib checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_nonfinite_weights_are_refused_and_the_good_file_kept(saved):
    path, model, cfg = saved
    good = path.read_bytes()
    with torch.no_grad():
        model.mixture.linear.weight[0, 0] = float("nan")
    with pytest.raises(CheckpointError, match="non-finite"):
        save_checkpoint(path, model=model, cfg=cfg, stats=STATS)
    assert path.read_bytes() == good


def test_a_failed_write_leaves_the_previous_checkpoint_intact(saved, monkeypatch):
    path, model, cfg = saved
    good = path.read_bytes()

    def crash(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model=model, cfg=cfg, stats=STATS)
    assert path.read_bytes() == good
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_rng_state_round_trips(tmp_path):
    gen = np.random.default_rng(1)
    state = capture_rng_state({"augment": gen})
    expected = (torch.rand(3), gen.random(3))
    restore_rng_state(state, {"augment": gen})
    np.testing.assert_array_equal(torch.rand(3), expected[0])
    np.testing.assert_array_equal(gen.random(3), expected[1])
