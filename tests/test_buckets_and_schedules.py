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
    trainer = Trainer(tiny(bucket=True, pack=False), data, tmp_path, progress=False)
    assert trainer.cfg.bucket and isinstance(trainer.stream, BucketStream)
    batch = trainer.train_set.batch(trainer.stream.next())
    assert batch["strokes5"].shape[1] == int(batch["lengths"].max()) + 2 < trainer.cfg.max_seq_len + 1
    valid = trainer.valid_set.batch(np.arange(4))
    assert valid["strokes5"].shape[1] == trainer.cfg.max_seq_len + 1


def test_bucketed_run_resumes_on_the_uninterrupted_trajectory(tmp_path):
    data = SketchSplits(walks(40, 0), walks(16, 1), walks(16, 2))
    cfg = tiny(bucket=True, pack=False)
    Trainer(cfg, data, tmp_path / "straight", progress=False).train(14)
    Trainer(cfg, data, tmp_path / "resumed", progress=False).train(7)
    Trainer(cfg, data, tmp_path / "resumed", progress=False, resume=True).train(14)
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
    assert cfg.schedule == "magenta" and not cfg.bucket and not cfg.pack
    assert kl_weight_at(cfg, 1000) == pytest.approx(0.5 - (0.5 - 0.01) * 0.99995**1000)
    assert learning_rate_at(cfg, 1000) == pytest.approx((1e-3 - 1e-5) * 0.9999**1000 + 1e-5)
    assert preset("sketch_rnn-small").schedule == "budget" and preset("aisketcher-small").bucket


def test_checkpoints_record_the_schedule_that_trained_them(tmp_path):
    data = SketchSplits(walks(40, 0), walks(16, 1), walks(16, 2))
    Trainer(tiny(num_steps=5), data, tmp_path, progress=False).train()
    cfg = load_checkpoint(tmp_path / "last.pt")["config"]
    assert (cfg.schedule, cfg.kl_anneal_fraction, cfg.bucket, cfg.pack) == ("budget", 0.4, True, False)


def test_configs_written_before_the_schedule_fields_load_as_magenta_and_uniform():
    old = preset("sketch_rnn-small").to_dict()
    for key in ("schedule", "kl_anneal_fraction", "bucket", "pack"):
        del old[key]
    cfg = SketchConfig.from_dict(old)
    assert (cfg.schedule, cfg.bucket, cfg.pack) == ("magenta", False, False)


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


# --------------------------------------------------------------------------- packed batches


def test_longest_first_sorts_every_row_and_a_shard_of_it_stays_sorted():
    import torch

    from sketchlib.batches import longest_first, shard

    ds = SketchDataset(walks(9, 4), max_seq_len=70, pad_to="batch")
    batch = ds.batch(np.arange(9))
    packed = longest_first(batch)
    order = torch.argsort(batch["lengths"], descending=True, stable=True)
    assert packed["packed"] and torch.equal(packed["lengths"], batch["lengths"][order])
    assert torch.equal(packed["strokes5"], batch["strokes5"][order])
    for rank in range(2):
        part, _ = shard(packed, rank, 2)
        assert bool((part["lengths"][1:] <= part["lengths"][:-1]).all())


def test_packed_losses_equal_the_padded_ones_of_a_decoder_that_keeps_its_state(tmp_path):
    # the packed pass (head and loss at each drawing's points and end row) against the same decoder states
    # on every padded position, scored by the padded losses: equal values and equal gradients
    import torch

    from sketchlib.batches import longest_first
    from sketchlib.losses import all_losses, packed_positions
    from sketchlib.models import SketchModel

    torch.manual_seed(0)
    cfg = tiny(max_seq_len=70, pack=True, bucket=False)
    model = SketchModel(cfg).double().eval()  # eval: no dropout masks to match between the two passes
    batch = longest_first(SketchDataset(walks(7, 5), max_seq_len=70, pad_to="batch").batch(np.arange(7)))
    batch = {k: v.double() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in batch.items()}

    def losses(packed: bool):
        model.zero_grad()
        torch.manual_seed(1)  # the same z
        if packed:
            out = model(batch)
        else:
            lat = model.encode(batch, sample=True)
            T = batch["strokes5"].shape[1] - 1
            steps = packed_positions(batch["lengths"], T, cfg.max_seq_len, cfg.pack_end_rows).steps
            assert int(steps.min()) > int(batch["lengths"].min()) + 1  # several end rows where the batch has room
            h, _, _, _ = model.decoder_states(batch["strokes5"][:, :-1], lat, lengths=steps)
            out = {"params": model.mixture(h), "latent": lat, "mu_a": None, "alpha": None}
        got = all_losses(out, batch, cfg, 0.5)
        got["total"].backward()
        return {k: float(v) for k, v in got.items()}, [p.grad.clone() for p in model.parameters()]

    (a, ga), (b, gb) = losses(True), losses(False)
    assert a == pytest.approx(b, rel=1e-10)
    for x, y in zip(ga, gb, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-8, atol=1e-10)


def test_packed_training_takes_uniform_batches_and_resumes_on_its_trajectory(tmp_path):
    data = SketchSplits(walks(40, 0), walks(16, 1), walks(16, 2))
    cfg = tiny(pack=True, bucket=False)
    trainer = Trainer(cfg, data, tmp_path / "straight", progress=False)
    assert isinstance(trainer.stream, IndexStream) and trainer.train_set.pad_to == "batch"
    trainer.train(14)
    Trainer(cfg, data, tmp_path / "resumed", progress=False).train(7)
    Trainer(cfg, data, tmp_path / "resumed", progress=False, resume=True).train(14)
    straight, resumed = read_log(tmp_path / "straight"), read_log(tmp_path / "resumed")
    np.testing.assert_allclose([r["train_total"] for r in resumed], [r["train_total"] for r in straight], atol=1e-6)
    assert load_checkpoint(tmp_path / "straight" / "last.pt")["config"].pack is True


@pytest.mark.parametrize("name", ["sketch_rnn-small", "aisketcher-small", "cnn_lstm_vae-small"])
def test_a_packed_decoder_gives_each_drawing_what_decoding_it_alone_gives(name):
    # rows sorted longest first and decoded together, each over its own points and end row, against each drawing
    # encoded and decoded alone over exactly those inputs (float64, eval mode, the influence layer's mean)
    import torch

    from sketchlib.batches import longest_first
    from sketchlib.models import SketchModel

    torch.manual_seed(2)
    sizes = dict(enc_rnn_size=12, dec_rnn_size=16, z_size=6, num_mixture=3, influence_size=8, ae_z_size=5)
    cfg = preset(name, max_seq_len=70, num_classes=2, pack=True, bucket=False, **sizes)
    model = SketchModel(cfg).double().eval()
    sketches = walks(6, 6)
    sketches = Sketches(sketches.drawings, np.array([0, 1, 1, 0, 1, 0]), ["a", "b"], "walks")
    ds = SketchDataset(sketches, max_seq_len=70, pad_to="batch", raster_size=cfg.needs_raster)
    batch = longest_first(ds.batch(np.arange(6)))
    batch = {k: v.double() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in batch.items()}
    lengths = batch["lengths"]

    def decode(b: dict, lengths=None):
        lat = model.encode(b, sample=False)
        return model.decoder_states(b["strokes5"][:, :-1], lat, b.get("onehot"), sample_influence=False,
                                    lengths=lengths)

    with torch.no_grad():
        h, _, mu_a, _ = decode(batch, lengths + 1)
        for row in range(6):
            L = int(lengths[row])
            alone = {k: v[row : row + 1] if torch.is_tensor(v) and v.dim() > 0 and v.shape[0] == 6 else v
                     for k, v in batch.items() if k != "packed"}
            alone["strokes5"] = alone["strokes5"][:, : L + 2]  # start row, L points, one end row
            h_alone, _, mu_alone, _ = decode(alone)
            torch.testing.assert_close(h[row, : L + 1], h_alone[0], rtol=1e-9, atol=1e-11)
            if mu_a is not None:
                torch.testing.assert_close(mu_a[row, : L + 1], mu_alone[0], rtol=1e-9, atol=1e-11)


def test_packed_ai_sketcher_gradients_equal_the_readable_paths():
    # the packed influence loop with the fast attention (its values' gradient gathered from steps of varying
    # rows) and fused cells, against the readable attention and cells under plain autograd
    import copy

    import torch

    from sketchlib.batches import longest_first
    from sketchlib.losses import all_losses
    from sketchlib.models import SketchModel

    torch.manual_seed(3)
    sizes = dict(enc_rnn_size=12, dec_rnn_size=16, z_size=6, num_mixture=3, influence_size=8, ae_z_size=5)
    cfg = preset("aisketcher-small", max_seq_len=70, num_classes=1, pack=True, bucket=False, **sizes)
    fast = SketchModel(cfg).double().eval()
    slow = copy.deepcopy(fast)
    slow.influence.fused = False
    for m in slow.modules():
        if hasattr(m, "fused") and m is not slow.influence:
            m.fused = False
    batch = longest_first(SketchDataset(walks(5, 7), max_seq_len=70, pad_to="batch",
                                        raster_size=cfg.needs_raster).batch(np.arange(5)))
    batch = {k: v.double() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in batch.items()}
    grads = []
    for model in (fast, slow):
        torch.manual_seed(4)
        all_losses(model(batch), batch, cfg, 0.7)["total"].backward()
        grads.append({n: p.grad for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and "influence.w" in grads[0]
    for n in grads[0]:
        torch.testing.assert_close(grads[0][n], grads[1][n], rtol=1e-7, atol=1e-9, msg=n)


def test_packed_positions_count_every_padding_row_once():
    import torch

    from sketchlib.losses import packed_positions

    lengths = torch.tensor([9, 7, 3, 1])
    p = packed_positions(lengths, steps=10, n_max=30, end_rows=4)
    assert p.steps.tolist() == [10, 10, 7, 5]  # points + 4 end rows, at most the batch's 10 positions
    starts = np.r_[0, np.cumsum(p.steps.numpy())]
    for b, L in enumerate(lengths.tolist()):
        w, point = p.pen_weight[starts[b] : starts[b + 1]], p.is_point[starts[b] : starts[b + 1]]
        assert float(w.sum()) == 30 and float(point.sum()) == L  # N_max pen rows, N_s offsets
    full = packed_positions(torch.tensor([10]), steps=10, n_max=10)  # N_max points: no end row, as in the paper
    assert float(full.is_point.sum()) == 10 and float(full.pen_weight.sum()) == 10
    with pytest.raises(ValueError, match="does not fit"):
        packed_positions(torch.tensor([11]), steps=10, n_max=30)


def test_a_resumed_run_without_its_best_checkpoint_writes_one_again(tmp_path):
    """last.pt copied alone (an old training state) must not leave the run without a best.pt to ship."""
    data = SketchSplits(walks(40, 0), walks(16, 1), walks(16, 2))
    cfg = tiny(bucket=True, pack=False)
    Trainer(cfg, data, tmp_path / "run", progress=False).train(7)
    (tmp_path / "run" / "best.pt").unlink()
    trainer = Trainer(cfg, data, tmp_path / "run", progress=False, resume=True)
    assert trainer.best_valid_loss == float("inf")  # else a later validation that is no better writes nothing
    trainer.train(7 + cfg.eval_every)
    assert (tmp_path / "run" / "best.pt").exists()
