"""One training process for ``train_benchmark --throughput``; run as a script, never imported.

Run as ``python benchmarks/throughput_worker.py --impl sketchlib|plain --preset NAME ...``
with ``PYTHONPATH`` naming the tree whose ``sketchlib`` to time (this file
imports nothing from the repository but ``sketchlib`` itself and, for
``--impl plain``, ``plain_lstm`` beside it). It builds the trainer, takes
``--warmup`` steps, prints ``ready {json}`` and then answers each ``run K`` on
stdin with one JSON line ``{"seconds": ..., "drawings": ...}`` for K more
training steps, until ``quit``. Under ``torchrun``-style environment variables
(``WORLD_SIZE`` > 1) rank 0 reads the commands and passes them on to the other ranks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import torch


def sketchlib_stepper(args):
    from sketchlib.datasets import load
    from sketchlib.models import preset
    from sketchlib.training import Trainer

    cfg = preset(args.preset, **dict(_parse(s) for s in args.set))
    trainer = Trainer(cfg, load(args.data), tempfile.mkdtemp(prefix="throughput-"), device="cpu", progress=False)
    counted = [0]
    draw = trainer.stream.next

    def counting_next():
        idx = draw()
        counted[0] += len(idx)
        return idx

    trainer.stream.next = counting_next
    world = int(os.environ.get("WORLD_SIZE", "1"))

    def step() -> int:
        counted[0] = 0
        trainer.train_step()
        return counted[0]  # drawings of the global batch, whatever the number of processes

    return step, {"max_seq_len": trainer.cfg.max_seq_len, "batch_size": cfg.batch_size,
                  "bucket": getattr(cfg, "bucket", False), "pack": getattr(cfg, "pack", False),
                  "processes": world}


def plain_stepper(args):
    from plain_lstm import PlainSketchRNN

    from sketchlib.datasets import SketchDataset, load
    from sketchlib.models import preset
    from sketchlib.training import IndexStream

    cfg = preset(args.preset, **dict(_parse(s) for s in args.set))
    data = load(args.data)
    n_max = max(len(d) for split in (data.train, data.valid, data.test) for d in split.drawings)
    n_max = min(n_max, cfg.max_seq_len)
    ds = SketchDataset(data.train, n_max, augment=True, scale_factor=cfg.random_scale_factor,
                       drop_prob=cfg.augment_stroke_prob, seed=cfg.seed)
    stream = IndexStream(len(ds), cfg.batch_size, seed=cfg.seed + 1)
    torch.manual_seed(cfg.seed)
    model = PlainSketchRNN(cfg.enc_rnn_size, cfg.dec_rnn_size, cfg.z_size, cfg.num_mixture)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)

    def step() -> int:
        batch = ds.batch(stream.next())
        loss = model.loss(batch["strokes5"], batch["lengths"], n_max, cfg.kl_weight, cfg.kl_tolerance)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        float(loss.detach())
        return len(batch["lengths"])

    return step, {"max_seq_len": n_max, "batch_size": cfg.batch_size, "bucket": False, "processes": 1}


def _parse(item: str):
    key, value = item.split("=", 1)
    return key, json.loads(value.lower()) if value.lower() in ("true", "false") else _number(value)


def _number(value: str):
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--impl", choices=["sketchlib", "plain"], default="sketchlib")
    p.add_argument("--preset", required=True)
    p.add_argument("--data", default="quickdraw:face")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--set", action="append", default=[])
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        import torch.distributed as dist

        dist.init_process_group("gloo")
    rank = int(os.environ.get("RANK", "0"))
    step, info = (sketchlib_stepper if args.impl == "sketchlib" else plain_stepper)(args)
    import sketchlib

    info["sketchlib"] = os.path.dirname(os.path.dirname(os.path.abspath(sketchlib.__file__)))
    for _ in range(args.warmup):
        step()
    if rank == 0:
        print("ready " + json.dumps(info), flush=True)
    while True:
        k = 0
        if rank == 0:
            line = sys.stdin.readline().split()
            k = int(line[1]) if len(line) == 2 and line[0] == "run" else 0
        if world > 1:
            command = torch.tensor([k])
            dist.broadcast(command, 0)
            k = int(command)
        if k <= 0:
            break
        drawings, start = 0, time.perf_counter()
        for _ in range(k):
            drawings += step()
        seconds = time.perf_counter() - start
        if rank == 0:
            print(json.dumps({"seconds": seconds, "drawings": drawings}), flush=True)
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
