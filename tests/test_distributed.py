"""Data-parallel training: two gloo processes on this machine train as one process with the same global batch.

The processes are started with ``torch.multiprocessing.spawn`` on 127.0.0.1 at a
free port, one torch thread each, with a tiny model on random-walk drawings.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from walks import random_walks

from sketchlib.batches import shard
from sketchlib.checkpoint import load_checkpoint
from sketchlib.datasets import SketchSplits
from sketchlib.models import preset
from sketchlib.training import Trainer, read_log

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="this PyTorch build has no torch.distributed")


def data() -> SketchSplits:
    rng = np.random.default_rng(0)
    return SketchSplits(random_walks(40, rng, 1), random_walks(14, rng, 1), random_walks(14, rng, 1))


def tiny(**overrides):
    """sketch_rnn-small shrunk; batches of 7 from 40 drawings, so that an epoch ends with a batch of 5
    (shares 2 + 3 on two ranks). Length buckets and augmentation on, as the preset trains."""
    sizes = dict(enc_rnn_size=16, dec_rnn_size=32, z_size=8, num_mixture=3, batch_size=7, eval_every=4,
                 eval_batches=2, num_steps=8)
    return preset("sketch_rnn-small", **{**sizes, **overrides})


#: Without random draws in the model (no recurrent dropout, z = mu) and with every loss term a mean
#: over drawings, the data-parallel gradient is the one-process gradient up to float rounding.
DETERMINISTIC = dict(recurrent_dropout_keep=1.0, variational=False, kl_weight=0.0, kl_weight_start=0.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, world_size: int, port: int, cfg_dict: dict, out: str, steps: int, resume: bool) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        from sketchlib.models import SketchConfig

        trainer = Trainer(SketchConfig.from_dict(cfg_dict), data(), out, device="cpu", progress=False, resume=resume)
        trainer.train(steps)
    finally:
        dist.destroy_process_group()


def train_ranks(world_size: int, cfg, out: Path, steps: int, resume: bool = False) -> list[dict]:
    mp.spawn(_rank, args=(world_size, free_port(), cfg.to_dict(), str(out), steps, resume), nprocs=world_size)
    return read_log(out)


def train_one(cfg, out: Path, steps: int) -> list[dict]:
    Trainer(cfg, data(), out, device="cpu", progress=False).train(steps)
    return read_log(out)


def losses(log: list[dict], key: str = "train_total") -> np.ndarray:
    return np.array([r[key] for r in log])


@pytest.fixture(scope="module")
def deterministic_runs(tmp_path_factory) -> dict[str, list[dict]]:
    cfg = tiny(**DETERMINISTIC)
    root = tmp_path_factory.mktemp("dp")
    return {"one": train_one(cfg, root / "one", 8), "two": train_ranks(2, cfg, root / "two", 8),
            "two_dir": root / "two"}


# --------------------------------------------------------------------------- sharding a global batch


def test_shard_splits_the_global_batch_into_consecutive_rows_weighted_by_their_share():
    batch = {"strokes5": torch.arange(5 * 3 * 5.0).view(5, 3, 5), "lengths": torch.arange(5), "scale": 2.0}
    parts = [shard(batch, r, 2) for r in range(2)]
    assert torch.equal(torch.cat([p["lengths"] for p, _ in parts]), batch["lengths"])
    assert [len(p["lengths"]) for p, _ in parts] == [2, 3]
    assert [w for _, w in parts] == pytest.approx([2 * 2 / 5, 2 * 3 / 5])  # mean of weighted means = global mean
    assert parts[1][0]["strokes5"].shape[1] == 3  # padded to the global batch's length
    assert parts[0][0]["scale"] == 2.0


def test_shard_deals_a_packed_batch_row_by_row_so_each_rank_gets_long_and_short_drawings():
    batch = {"strokes5": torch.arange(5 * 3 * 5.0).view(5, 3, 5), "lengths": torch.tensor([9, 7, 4, 2, 1]),
             "packed": True}
    parts = [shard(batch, r, 2) for r in range(2)]
    assert [p["lengths"].tolist() for p, _ in parts] == [[9, 4, 1], [7, 2]]
    assert torch.equal(parts[1][0]["strokes5"], batch["strokes5"][[1, 3]]) and parts[1][0]["packed"]
    assert [w for _, w in parts] == pytest.approx([2 * 3 / 5, 2 * 2 / 5])


def test_shard_gives_a_rank_without_drawings_a_zero_weight_copy():
    batch = {"lengths": torch.tensor([4])}
    (first, w0), (second, w1) = shard(batch, 0, 2), shard(batch, 1, 2)
    assert len(first["lengths"]) == len(second["lengths"]) == 1
    assert (w0, w1) == (2.0, 0.0)


def test_shard_in_one_process_is_the_whole_batch_with_weight_one():
    batch = {"lengths": torch.arange(7)}
    local, weight = shard(batch, 0, 1)
    assert torch.equal(local["lengths"], batch["lengths"]) and weight == 1.0


# --------------------------------------------------------------------------- two gloo processes


def test_two_processes_follow_the_one_process_loss_trajectory(deterministic_runs):
    one, two = deterministic_runs["one"], deterministic_runs["two"]
    assert [r["step"] for r in two] == list(range(1, 9))
    for key in ("train_total", "train_l_s", "train_l_p", "grad_norm"):
        np.testing.assert_allclose(losses(two, key), losses(one, key), rtol=2e-5, err_msg=key)
    np.testing.assert_allclose([two[3]["valid_total"], two[7]["valid_total"]],
                               [one[3]["valid_total"], one[7]["valid_total"]], rtol=2e-5)


def test_rank_0_alone_writes_the_log_and_the_checkpoints(deterministic_runs):
    out = deterministic_runs["two_dir"]
    assert sorted(p.name for p in out.iterdir()) == ["best.pt", "config.json", "last.pt", "log.jsonl"]
    lines = (out / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == list(range(1, 9))  # one record per step, not one per rank
    assert len(load_checkpoint(out / "last.pt")["rng"]["ranks"]) == 2  # both ranks' generators, for resuming


def test_packed_batches_dealt_to_two_processes_follow_the_one_process_trajectory(tmp_path):
    # each rank takes every other row of the sorted global batch (batches.shard), and its loops stop at its rows' ends
    cfg = tiny(**DETERMINISTIC, pack=True, bucket=False, pack_full_every=3)
    one, two = train_one(cfg, tmp_path / "one", 6), train_ranks(2, cfg, tmp_path / "two", 6)
    for key in ("train_total", "train_l_s", "train_l_p", "grad_norm"):
        np.testing.assert_allclose(losses(two, key), losses(one, key), rtol=2e-5, err_msg=key)


def test_a_stopped_and_resumed_two_process_run_repeats_the_uninterrupted_one(deterministic_runs, tmp_path):
    cfg = tiny(**DETERMINISTIC)
    train_ranks(2, cfg, tmp_path / "resumed", 4)  # last.pt at step 4 (eval_every)
    resumed = train_ranks(2, cfg, tmp_path / "resumed", 8, resume=True)
    assert [r["step"] for r in resumed] == list(range(1, 9))
    np.testing.assert_allclose(losses(resumed), losses(deterministic_runs["two"]), rtol=2e-5)
