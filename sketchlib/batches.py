"""Where the trainer's batches come from: seeded, resumable index streams, and their split across processes.

- :class:`IndexStream`: Sketch-RNN's uniform batches, a fresh permutation per epoch.
- :class:`BucketStream`: length-bucketed batches (:class:`~sketchlib.datasets.LengthBuckets`).
- :func:`shard`: one process's share of a global batch in data-parallel training.

Both streams are endless and resumable: :meth:`state_dict` captures the
generator and the unconsumed indices, so a resumed run draws the same batches
as an uninterrupted one. ``sketchlib.training`` re-exports the two streams.
"""

from __future__ import annotations

import numpy as np
import torch

from sketchlib.datasets import LengthBuckets

__all__ = ["IndexStream", "BucketStream", "shard", "longest_first"]


class IndexStream:
    """An endless, seeded, resumable stream of batch indices into ``n`` items.

    Each epoch is a fresh permutation; a batch that would cross an epoch's end
    takes the rest from the next permutation, so every item is seen once per
    epoch and ``batch_size`` may exceed ``n``. :meth:`state_dict` captures the
    generator and the unconsumed indices.
    """

    def __init__(self, n: int, batch_size: int, seed: int = 0):
        if n < 1 or batch_size < 1:
            raise ValueError(f"IndexStream needs n >= 1 and batch_size >= 1, got n={n}, batch_size={batch_size}")
        self.n, self.batch_size = n, batch_size
        self.rng = np.random.default_rng(seed)
        self.pending = np.zeros(0, dtype=np.int64)
        self.epoch = 0

    def next(self) -> np.ndarray:
        while len(self.pending) < self.batch_size:
            self.pending = np.concatenate([self.pending, self.rng.permutation(self.n)])
            self.epoch += 1
        out, self.pending = self.pending[: self.batch_size], self.pending[self.batch_size :]
        return out

    def state_dict(self) -> dict:
        return {
            "kind": "uniform",
            "n": self.n,
            "batch_size": self.batch_size,
            "epoch": self.epoch,
            "rng": self.rng.bit_generator.state,
            "pending": torch.from_numpy(self.pending.copy()),
        }

    def load_state_dict(self, state: dict) -> None:
        if state.get("kind", "uniform") != "uniform" or (state["n"], state["batch_size"]) != (self.n, self.batch_size):
            raise ValueError(
                f"the checkpoint's batch stream covers {state['n']} drawings in batches of {state['batch_size']}, "
                f"this run has {self.n} drawings in batches of {self.batch_size}; the training data changed"
            )
        self.epoch = int(state["epoch"])
        self.rng.bit_generator.state = state["rng"]
        self.pending = np.asarray(state["pending"], dtype=np.int64).copy()


class BucketStream:
    """:class:`IndexStream`'s protocol over :class:`~sketchlib.datasets.LengthBuckets`.

    An endless, seeded, resumable stream of length-bucketed batches: each epoch's
    batches come in random order, every drawing once per epoch; the last batch of
    an epoch may be smaller than ``batch_size``.
    """

    def __init__(self, lengths: np.ndarray, batch_size: int, seed: int = 0):
        self.buckets = LengthBuckets(lengths, batch_size, seed=seed)
        self.n, self.batch_size = len(self.buckets.lengths), int(batch_size)
        self.pending: list[np.ndarray] = []
        self.epoch = 0

    def next(self) -> np.ndarray:
        if not self.pending:
            self.pending = self.buckets.epoch()
            self.epoch += 1
        return self.pending.pop(0)

    def state_dict(self) -> dict:
        flat = np.concatenate(self.pending) if self.pending else np.zeros(0, dtype=np.int64)
        return {
            "kind": "buckets",
            "n": self.n,
            "batch_size": self.batch_size,
            "epoch": self.epoch,
            "rng": self.buckets.rng.bit_generator.state,
            "pending": torch.from_numpy(flat.astype(np.int64)),
            "pending_sizes": torch.tensor([len(b) for b in self.pending], dtype=torch.int64),
        }

    def load_state_dict(self, state: dict) -> None:
        if state.get("kind") != "buckets" or (state["n"], state["batch_size"]) != (self.n, self.batch_size):
            raise ValueError(
                f"the checkpoint's batch stream ({state.get('kind', 'uniform')}, {state['n']} drawings in batches "
                f"of {state['batch_size']}) is not this run's (length buckets, {self.n} drawings in batches of "
                f"{self.batch_size}); the training data or the batching changed"
            )
        self.epoch = int(state["epoch"])
        self.buckets.rng.bit_generator.state = state["rng"]
        flat = np.asarray(state["pending"], dtype=np.int64)
        cuts = np.cumsum(np.asarray(state["pending_sizes"], dtype=np.int64))[:-1]
        self.pending = [b.copy() for b in np.split(flat, cuts)] if len(flat) else []


def longest_first(batch: dict) -> dict:
    """``batch`` with its rows sorted by length, longest first (ties keep their order), marked ``packed``.

    Sorted after collating, so that the lengths are those after augmentation; a
    :func:`shard` of it stays sorted. See ``SketchConfig.pack``.
    """
    lengths = batch["lengths"]
    B = len(lengths)
    order = torch.argsort(lengths, descending=True, stable=True)
    out = {k: v[order] if torch.is_tensor(v) and v.dim() > 0 and v.shape[0] == B else v for k, v in batch.items()}
    out["packed"] = True
    return out


def shard(batch: dict, rank: int, world_size: int) -> tuple[dict, float]:
    """Process ``rank``'s share of a collated global ``batch``, and the weight of its loss.

    Every process collates the same global batch (same stream, same augmentation
    generator, padded to the global batch's longest drawing) and takes the
    consecutive rows ``np.array_split`` gives it; of a packed batch (sorted
    longest first) every ``world_size``-th row, so that the ranks get equal work
    and each share stays sorted. The weight is ``world_size *
    B_rank / B``: a loss that is a mean over the rank's drawings, times the
    weight, averaged over the processes (what ``DistributedDataParallel`` does
    to gradients), is the mean over the global batch. A rank left without a
    drawing (a global batch smaller than ``world_size``) gets the batch's first
    drawing with weight 0, so that it still takes part in the gradient's all-reduce.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in 0..{world_size - 1}")
    B = len(batch["lengths"])
    bounds = np.linspace(0, B, world_size + 1).round().astype(int) if B >= world_size else None
    if bounds is None:
        lo, hi = (rank, rank + 1) if rank < B else (0, 1)
        weight = float(world_size) / B if rank < B else 0.0
        rows = slice(lo, hi)
    elif batch.get("packed"):  # sorted longest first: every world_size-th row, so each rank gets long and short ones
        rows = torch.arange(rank, B, world_size)
        weight = world_size * len(rows) / B
    else:
        lo, hi = int(bounds[rank]), int(bounds[rank + 1])
        weight = world_size * (hi - lo) / B
        rows = slice(lo, hi)
    local = {k: v[rows] if torch.is_tensor(v) and v.dim() > 0 and v.shape[0] == B else v for k, v in batch.items()}
    return local, weight
