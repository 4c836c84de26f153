"""Data-parallel training on ``torch.distributed``: the :class:`~sketchlib.training.Trainer`'s side of it.

    torchrun --nproc_per_node 2 -m sketchlib train --preset sketch_rnn-small --data quickdraw:face --out runs/dp

``torchrun`` starts one process per rank with ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` and ``MASTER_ADDR/PORT`` set; :func:`init_from_env` joins the
process group (gloo on the CPU, NCCL on GPUs, one GPU per process). A
``Trainer`` built while a process group is up trains data-parallel:

- **The same global batch as one process.** Every rank draws the same global
  batch from the same seeded stream (uniform or length-bucketed), augments and
  collates it with the same generator, pads it to the global batch's longest
  drawing, and keeps its own consecutive rows (:func:`sketchlib.batches.shard`).
  The length buckets survive: each global batch is one bucket.
- **The same gradient.** The model runs inside ``DistributedDataParallel``,
  which averages the ranks' gradients; each rank's loss is weighted by its share
  of the batch, so the average is the gradient of the global batch's mean loss
  for every term that is a mean over drawings (``l_s``, ``l_p``, ``l_z``,
  ``l_ae``). Two terms are taken per rank's share instead: the KL floor
  ``max(l_kl, epsilon)`` and the influence layer's ``l_a`` (a mean over valid
  steps). The logged losses are the global batch's (weighted all-reduce).
- **Random draws.** Rank 0 draws from the stream a one-process run would use;
  every other rank from its own seed (dropout masks, latent noise). Checkpoints
  keep every rank's torch generator, so resuming with the same number of
  processes repeats the uninterrupted run; with another number, ranks other
  than 0 restart from a seed derived from the step.
- **Rank 0** validates, writes ``log.jsonl``, ``config.json`` and the
  checkpoints, and shows the progress bar; a stop request (Ctrl-C) on any rank
  stops every rank after the same step.

``tests/test_distributed.py`` runs two gloo processes and checks the loss
trajectory against one process with the same global batch.
"""

from __future__ import annotations

import inspect
import os

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

__all__ = ["DataParallel", "init_from_env", "world"]


def world() -> tuple[int, int]:
    """``(rank, world_size)`` of the current process group, ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(device: str | None = None) -> bool:
    """Join the process group ``torchrun`` describes in the environment; False when there is none.

    The backend is NCCL when the run is on CUDA (``device`` None or ``"cuda..."``
    with a GPU present), else gloo; on CUDA each process takes the GPU ``LOCAL_RANK``.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or (dist.is_available() and dist.is_initialized()):
        return False
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this PyTorch build has no torch.distributed")
    cuda = torch.cuda.is_available() and (device is None or str(device).startswith("cuda"))
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo")
    return True


def _rank_seed(seed: int, rank: int, step: int = 0) -> int:
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1)[0])


class _Losses(nn.Module):
    """``model.compute_losses`` as a module's forward, so that ``DistributedDataParallel`` sees the call."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: dict, kl_weight: float) -> dict:
        return self.model.compute_losses(batch, kl_weight)


class DataParallel:
    """The trainer's data-parallel state: the wrapped model, this process's rank, the collectives."""

    def __init__(self, model: nn.Module, device: torch.device, seed: int, step: int = 0,
                 rank_rng: list | None = None):
        self.rank, self.world_size = world()
        ids = None
        if device.type == "cuda":
            ids = [device.index if device.index is not None else torch.cuda.current_device()]
        # broadcasts rank 0's weights once; the buffers are constants, so no broadcast at every forward
        # (the argument's name changed in torch 2.13)
        ddp = nn.parallel.DistributedDataParallel
        names = inspect.signature(ddp).parameters
        no_sync = "forward_sync_buffers" if "forward_sync_buffers" in names else "broadcast_buffers"
        self.module = ddp(_Losses(model), device_ids=ids, **{no_sync: False})
        if rank_rng is not None and len(rank_rng) == self.world_size:
            torch.set_rng_state(rank_rng[self.rank][0])
            if rank_rng[self.rank][1] is not None and device.type == "cuda":
                torch.cuda.set_rng_state(rank_rng[self.rank][1], device)
        elif self.rank > 0:
            torch.manual_seed(_rank_seed(seed, self.rank, step))

    @staticmethod
    def device_for(device: torch.device) -> torch.device:
        """On CUDA, this process's GPU (``LOCAL_RANK``) unless ``device`` names one."""
        if device.type == "cuda" and device.index is None:
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return device

    def compute_losses(self, batch: dict, kl_weight: float) -> dict:
        return self.module(batch, kl_weight)

    def reduce(self, values: torch.Tensor, weight: float, stop: bool) -> tuple[torch.Tensor, bool]:
        """Global-batch means of the loss terms ``values[:-1]`` (``values[-1]``, the gradient norm, is the
        same on every rank) and whether any rank asked to stop."""
        share = values[:-1].double() * (weight / self.world_size)
        packed = torch.cat([share, share.new_tensor([float(stop)])])
        dist.all_reduce(packed)
        out = torch.cat([packed[:-1].to(values.dtype), values[-1:]])
        return out, bool(packed[-1] > 0)

    def gather_rng(self) -> list:
        """Every rank's ``[torch state, CUDA state or None]`` (a collective: all ranks call it)."""
        cuda = torch.cuda.get_rng_state() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
        out: list = [None] * self.world_size
        dist.all_gather_object(out, [torch.get_rng_state(), cuda])
        return out
