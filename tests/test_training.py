"""The trainer: steps, validation and checkpoints, exact resumption, the non-finite guard."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from walks import random_walks

from sketchlib.checkpoint import load_checkpoint
from sketchlib.datasets import SketchSplits
from sketchlib.models import preset
from sketchlib.training import IndexStream, NonFiniteLossError, Trainer, read_log


@pytest.fixture
def data() -> SketchSplits:
    rng = np.random.default_rng(0)
    return SketchSplits(random_walks(40, rng), random_walks(16, rng), random_walks(16, rng))


def tiny(**overrides):
    sizes = dict(enc_rnn_size=16, dec_rnn_size=32, z_size=8, num_mixture=3, batch_size=8, eval_every=5, eval_batches=2)
    return preset("sketch_rnn-small", **{**sizes, **overrides})


def params(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_one_step_changes_parameters_and_logs_one_record(data, tmp_path):
    trainer = Trainer(tiny(), data, tmp_path, progress=False)
    before = params(trainer.model)
    trainer.train(1)
    after = params(trainer.model)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    (record,) = read_log(tmp_path / "log.jsonl")
    assert record["step"] == 1 and record["skipped"] == 0
    assert record["lr"] == pytest.approx(trainer.cfg.learning_rate)
    assert record["kl_weight"] == pytest.approx(trainer.cfg.kl_weight_start)
    for k in ("train_total", "train_l_r", "train_l_kl", "valid_total"):
        assert math.isfinite(record[k])


def test_config_is_fitted_to_the_data(data, tmp_path):
    trainer = Trainer(tiny(), data, tmp_path, progress=False)
    longest = max(len(d) for s in (data.train, data.valid, data.test) for d in s.drawings)
    assert trainer.cfg.max_seq_len == longest
    assert trainer.cfg.num_classes == 2
    assert json.loads((tmp_path / "config.json").read_text())["max_seq_len"] == longest


def test_validation_writes_best_and_last_checkpoints(data, tmp_path):
    trainer = Trainer(tiny(), data, tmp_path, progress=False)
    trainer.train(10)
    records = read_log(tmp_path)
    valid_steps = [r["step"] for r in records if not math.isnan(r.get("valid_total", math.nan))]
    assert valid_steps == [5, 10]
    best = load_checkpoint(tmp_path / "best.pt")
    last = load_checkpoint(tmp_path / "last.pt")
    assert last["step"] == 10
    assert best["best_valid_loss"] == pytest.approx(min(r["valid_total"] for r in records if "valid_total" in r))
    assert best["stats"]["class_names"] == ["class0", "class1"]


def test_validation_is_deterministic_and_leaves_the_rng_alone(data, tmp_path):
    trainer = Trainer(tiny(), data, tmp_path, progress=False)
    state = torch.get_rng_state()
    first, second = trainer.validate(), trainer.validate()
    assert first == second
    assert torch.equal(state, torch.get_rng_state())


def test_resumed_run_repeats_the_uninterrupted_trajectory(data, tmp_path):
    Trainer(tiny(), data, tmp_path / "straight", progress=False).train(20)
    Trainer(tiny(), data, tmp_path / "resumed", progress=False).train(10)  # "killed" at step 10
    Trainer(tiny(), data, tmp_path / "resumed", progress=False, resume=True).train(20)
    straight, resumed = read_log(tmp_path / "straight"), read_log(tmp_path / "resumed")
    assert [r["step"] for r in resumed] == list(range(1, 21))
    for key in ("train_total", "train_l_r", "train_l_kl", "grad_norm"):
        np.testing.assert_allclose([r[key] for r in resumed], [r[key] for r in straight], rtol=0, atol=1e-6)


def test_a_requested_stop_saves_last_checkpoint_at_that_step(data, tmp_path):
    trainer = Trainer(tiny(eval_every=100), data, tmp_path, progress=False)
    step = trainer.train_step

    def step_then_stop_at_3():
        record = step()
        if trainer.step == 3:
            trainer.request_stop()
        return record

    trainer.train_step = step_then_stop_at_3
    trainer.train(10)
    assert trainer.step == 3
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 3


def test_resume_with_a_different_config_is_refused(data, tmp_path):
    Trainer(tiny(), data, tmp_path, progress=False).train(5)
    with pytest.raises(ValueError, match="z_size"):
        Trainer(tiny(z_size=4), data, tmp_path, progress=False, resume=True)


def test_a_fresh_run_does_not_overwrite_existing_checkpoints(data, tmp_path):
    Trainer(tiny(), data, tmp_path, progress=False).train(5)
    with pytest.raises(FileExistsError, match="resume"):
        Trainer(tiny(), data, tmp_path, progress=False)


def nan_losses_on(trainer: Trainer, bad_calls: set[int] | None):
    """Make ``compute_losses`` return a NaN total on the given calls (all calls when None)."""
    real = trainer.model.compute_losses
    calls = {"n": 0}

    def compute_losses(batch, kl_weight):
        calls["n"] += 1
        losses = real(batch, kl_weight)
        if bad_calls is None or calls["n"] in bad_calls:
            losses["total"] = losses["total"] * float("nan")
        return losses

    trainer.model.compute_losses = compute_losses


def test_nonfinite_loss_skips_the_batch_and_counts_it(data, tmp_path):
    trainer = Trainer(tiny(eval_every=100), data, tmp_path, progress=False)
    trainer.train(1)
    nan_losses_on(trainer, bad_calls={1})
    before = params(trainer.model)
    trainer.train(2)  # the NaN step
    assert all(torch.equal(before[k], v) for k, v in params(trainer.model).items())
    trainer.train(3)  # training goes on
    records = read_log(tmp_path)
    assert [r["skipped"] for r in records] == [0, 1, 1]
    assert math.isnan(records[1]["train_total"]) and math.isfinite(records[2]["train_total"])


def test_nonfinite_gradient_skips_the_batch(data, tmp_path):
    trainer = Trainer(tiny(eval_every=100), data, tmp_path, progress=False)
    hook = trainer.model.mixture.linear.weight.register_hook(lambda g: g * float("nan"))
    before = params(trainer.model)
    trainer.train(1)
    hook.remove()
    assert all(torch.equal(before[k], v) for k, v in params(trainer.model).items())
    assert read_log(tmp_path)[0]["skipped"] == 1


def test_too_many_nonfinite_batches_stop_the_run_keeping_the_last_good_checkpoint(data, tmp_path):
    trainer = Trainer(tiny(), data, tmp_path, progress=False, max_bad_steps=3)
    trainer.train(5)  # validation at 5 writes last.pt and best.pt
    best_bytes = (tmp_path / "best.pt").read_bytes()
    nan_losses_on(trainer, bad_calls=None)
    with pytest.raises(NonFiniteLossError, match="4 batches in a row"):
        trainer.train(20)
    assert trainer.step == 9
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 5
    assert (tmp_path / "best.pt").read_bytes() == best_bytes


def test_index_stream_covers_every_item_per_epoch_and_resumes():
    stream = IndexStream(10, 4, seed=3)
    first_epoch = np.concatenate([stream.next(), stream.next()])
    state = stream.state_dict()
    rest = [stream.next() for _ in range(5)]
    resumed = IndexStream(10, 4, seed=99)
    resumed.load_state_dict(state)
    assert len(set(first_epoch.tolist())) == 8
    for a, b in zip(rest, [resumed.next() for _ in range(5)], strict=True):
        np.testing.assert_array_equal(a, b)
