"""Length-bucketed batches and schedules sized to the run (the throughput issue)."""

from __future__ import annotations

import numpy as np
import pytest

from sketchlib.checkpoint import load_checkpoint
from sketchlib.datasets import LengthBuckets, SketchDataset, Sketches, SketchSplits
from sketchlib.losses import kl_weight_at, learning_rate_at
from sketchlib.models import SketchConfig, preset
from sketchlib.training import BucketStream, IndexStream, Trainer, read_log


def walks(n: int, seed: int = 0, lo: int = 4, hi: int = 60) -> Sketches:
    rng = np.random.default_rng(seed)
    drawings = []
    for _ in range(n):
        d = np.zeros((int(rng.integers(lo, hi + 1)), 3), np.float32)
        d[:, :2] = rng.normal(0.0, 10.0, (len(d), 2))
        d[-1, 2] = 1.0
        drawings.append(d)
    return Sketches(drawings, np.zeros(n, np.int64), ["walk"], "walks")


def tiny(**overrides) -> SketchConfig:
    sizes = dict(enc_rnn_size=16, dec_rnn_size=32, z_size=8, num_mixture=3, batch_size=8, eval_every=5, eval_batches=2)
    return preset("sketch_rnn-small", **{**sizes, **overrides})


# --------------------------------------------------------------------------- buckets


def test_every_drawing_of_a_batch_padded_batch_ends_with_an_end_row():
    ds = SketchDataset(walks(30), max_seq_len=60, pad_to="batch")
    batch = ds.batch(np.arange(30))
    rows = batch["strokes5"][np.arange(30), batch["lengths"] + 1]  # the row after each drawing's last point
    assert (rows[:, 4] == 1).all()


def test_length_buckets_show_every_drawing_once_per_epoch():
    lengths = np.random.default_rng(1).integers(3, 100, 103)
    buckets = LengthBuckets(lengths, 10, seed=0)
    for _ in range(3):
        batches = buckets.epoch()
        seen = np.concatenate(batches)
        assert sorted(seen.tolist()) == list(range(103))
        assert [len(b) for b in batches].count(10) == 10 and len(batches) == 11


def test_length_buckets_group_drawings_of_similar_length():
    lengths = np.random.default_rng(2).integers(3, 130, 2000)
    batches = LengthBuckets(lengths, 64, seed=0).epoch()
    padded = sum(lengths[b].max() * len(b) for b in batches)
    uniform = sum(lengths[b].max() * len(b) for b in np.array_split(np.random.default_rng(0).permutation(2000), 32))
    assert padded < 0.7 * uniform  # bucketing removes most of the padding
    assert padded < 1.15 * lengths.sum()


def test_length_buckets_change_batch_mates_and_order_between_epochs():
    buckets = LengthBuckets(np.arange(200) % 50 + 5, 8, seed=0)
    a, b = buckets.epoch(), buckets.epoch()
    assert [x.tolist() for x in a] != [x.tolist() for x in b]


def test_bucketed_loader_pads_each_batch_to_its_longest_drawing():
    ds = SketchDataset(walks(50), max_seq_len=60)
    n_seen = 0
    for batch in ds.loader(batch_size=7, bucket=True):
        lengths = batch["lengths"]
        assert batch["strokes5"].shape[1] == int(lengths.max()) + 2  # the start token, the drawing, one end row
        n_seen += len(lengths)
    assert n_seen == 50
    assert next(iter(ds.loader(batch_size=7)))["strokes5"].shape[1] == 61  # the plain loader keeps N_max


def test_bucket_stream_resumes_exactly():
    lengths = np.random.default_rng(3).integers(3, 40, 37)
    stream = BucketStream(lengths, 5, seed=4)
    for _ in range(3):
        stream.next()
    state = stream.state_dict()
    expected = [stream.next() for _ in range(12)]  # crosses into the next epoch
    resumed = BucketStream(lengths, 5, seed=123)
    resumed.load_state_dict(state)
    for a, b in zip(expected, [resumed.next() for _ in range(12)], strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_uniform_stream_state_does_not_resume_a_bucketed_run():
    state = IndexStream(37, 5, seed=0).state_dict()
    with pytest.raises(ValueError, match="batching changed"):
        BucketStream(np.full(37, 10), 5).load_state_dict(state)


def test_bucketed_training_pads_batches_to_their_longest_and_validation_to_n_max(tmp_path):
    data = SketchSplits(walks(40, 0), walks(16, 1), walks(16, 2))
    trainer = Trainer(tiny(), data, tmp_path, progress=False)
    assert trainer.cfg.bucket and isinstance(trainer.stream, BucketStream)
    batch = trainer.train_set.batch(trainer.stream.next())
    assert batch["strokes5"].shape[1] == int(batch["lengths"].max()) + 2 < trainer.cfg.max_seq_len + 1
    valid = trainer.valid_set.batch(np.arange(4))
    assert valid["strokes5"].shape[1] == trainer.cfg.max_seq_len + 1


def test_bucketed_run_resumes_on_the_uninterrupted_trajectory(tmp_path):
    data = SketchSplits(walks(40, 0), walks(16, 1), walks(16, 2))
    Trainer(tiny(), data, tmp_path / "straight", progress=False).train(14)
    Trainer(tiny(), data, tmp_path / "resumed", progress=False).train(7)
    Trainer(tiny(), data, tmp_path / "resumed", progress=False, resume=True).train(14)
    straight, resumed = read_log(tmp_path / "straight"), read_log(tmp_path / "resumed")
    np.testing.assert_allclose([r["train_total"] for r in resumed], [r["train_total"] for r in straight], atol=1e-6)


# --------------------------------------------------------------------------- schedules


def test_budget_schedule_reaches_95_percent_of_the_kl_weight_at_its_fraction_of_the_run():
    cfg = preset("sketch_rnn-small", num_steps=5000, kl_anneal_fraction=0.4)
    progress = lambda s: (kl_weight_at(cfg, s) - cfg.kl_weight_start) / (cfg.kl_weight - cfg.kl_weight_start)  # noqa: E731
    assert progress(0) == pytest.approx(0.0)
    assert progress(2000) == pytest.approx(0.95, abs=1e-9)
    assert progress(1000) < 0.95 < progress(2001)


def test_budget_schedule_lowers_the_learning_rate_tenfold_over_the_run():
    cfg = preset("sketch_rnn-small", num_steps=3000)
    gap = lambda s: (learning_rate_at(cfg, s) - cfg.min_learning_rate) / (cfg.learning_rate - cfg.min_learning_rate)  # noqa: E731
    assert gap(0) == pytest.approx(1.0)
    assert gap(3000) == pytest.approx(0.1)


def test_budget_schedule_scales_with_the_planned_steps():
    short, long = (preset("sketch_rnn-small", num_steps=n) for n in (1000, 10000))
    assert kl_weight_at(short, 400) == pytest.approx(kl_weight_at(long, 4000))


def test_full_presets_keep_magentas_per_step_rates():
    cfg = preset("sketch_rnn")
    assert cfg.schedule == "magenta" and not cfg.bucket
    assert kl_weight_at(cfg, 1000) == pytest.approx(0.5 - (0.5 - 0.01) * 0.99995**1000)
    assert learning_rate_at(cfg, 1000) == pytest.approx((1e-3 - 1e-5) * 0.9999**1000 + 1e-5)
    assert preset("sketch_rnn-small").schedule == "budget" and preset("aisketcher-small").bucket


def test_checkpoints_record_the_schedule_that_trained_them(tmp_path):
    data = SketchSplits(walks(40, 0), walks(16, 1), walks(16, 2))
    Trainer(tiny(num_steps=5), data, tmp_path, progress=False).train()
    cfg = load_checkpoint(tmp_path / "last.pt")["config"]
    assert (cfg.schedule, cfg.kl_anneal_fraction, cfg.bucket) == ("budget", 0.4, True)


def test_configs_written_before_the_schedule_fields_load_as_magenta_and_uniform():
    old = preset("sketch_rnn-small").to_dict()
    for key in ("schedule", "kl_anneal_fraction", "bucket"):
        del old[key]
    cfg = SketchConfig.from_dict(old)
    assert (cfg.schedule, cfg.bucket) == ("magenta", False)


@pytest.mark.parametrize("bad", [dict(schedule="cosine"), dict(kl_anneal_fraction=0.0), dict(kl_anneal_fraction=1.5)])
def test_bad_schedule_settings_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        preset("sketch_rnn-small", **bad)


def test_the_pen_loss_of_a_batch_padded_batch_equals_the_n_max_one_when_predictions_after_the_end_stay_put():
    import torch

    from sketchlib.losses import pen_loss
    from sketchlib.models.mdn import MixtureParams  # noqa: F401 (the params type)

    ds_short = SketchDataset(walks(6, 3), max_seq_len=60, pad_to="batch")
    ds_full = SketchDataset(walks(6, 3), max_seq_len=60)
    idx = np.arange(6)
    short, full = ds_short.batch(idx)["strokes5"][:, 1:], ds_full.batch(idx)["strokes5"][:, 1:]

    class Params:  # pen logits that depend only on the target row: a model whose prediction after the end stays put
        def __init__(self, target):
            self.pen_logits = 3.0 * target[..., 2:5] + torch.tensor([0.2, -0.1, 0.4])

    import sketchlib.losses as L

    original = L.pen_log_probs
    L.pen_log_probs = lambda p: torch.log_softmax(p.pen_logits, -1)
    try:
        got, expected = pen_loss(Params(short), short, 60), pen_loss(Params(full), full, 60)
    finally:
        L.pen_log_probs = original
    assert short.shape[1] < full.shape[1]
    assert float(got) == pytest.approx(float(expected), rel=1e-6)
