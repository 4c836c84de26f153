"""Where a training step's time goes: ``torch.profiler`` over real ``Trainer.train_step`` calls.

    python -m benchmarks.profile_train                                  # the three presets, 1 and 2 threads
    python -m benchmarks.profile_train --presets aisketcher-small --threads 1 --steps 10 --top 20

Each preset is profiled in its own process (the thread count is fixed at process
start) on the QuickDraw face data (``--data``, any spec ``sketchlib.datasets.load``
takes), with the preset's own batching (the -small presets: length buckets),
after ``--warmup`` steps. Prints, per preset and thread count, the mean step time,
the share of the step spent collating the batch (data loading and augmentation),
and the ``--top`` operators by self CPU time as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

DEFAULT_PRESETS = ["sketch_rnn-small", "sketch_rnn", "aisketcher-small"]


def profile_one(preset_name: str, data: str, threads: int, steps: int, warmup: int, top: int,
                sets: list[str]) -> dict:
    """Profile ``steps`` training steps of ``preset_name`` in this process (``threads`` torch threads)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from sketchlib.cli import parse_overrides
    from sketchlib.datasets import load
    from sketchlib.models import preset
    from sketchlib.training import Trainer

    torch.set_num_threads(threads)
    cfg = preset(preset_name, **parse_overrides(sets))
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(cfg, load(data), out, progress=False)
        for _ in range(warmup):
            trainer.train_step()
        # the batch alone: what collation (augmentation, padding, rasters) costs
        state = trainer.stream.state_dict(), trainer.train_set.rng.bit_generator.state
        drawings = 0
        start = time.perf_counter()
        for _ in range(steps):
            drawings += len(trainer.train_set.batch(trainer.stream.next())["lengths"])
        collate_s = (time.perf_counter() - start) / steps
        trainer.stream.load_state_dict(state[0])  # the profiled steps draw the same batches
        trainer.train_set.rng.bit_generator.state = state[1]
        start = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                trainer.train_step()
        step_s = (time.perf_counter() - start) / steps
    events = prof.key_averages()
    total_us = sum(e.self_cpu_time_total for e in events)
    rows = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return {
        "preset": preset_name, "threads": threads, "step_s": step_s, "collate_s": collate_s,
        "drawings_per_step": drawings / steps,
        "top": [{"op": e.key, "calls": e.count // steps, "self_ms": e.self_cpu_time_total / 1e3 / steps,
                 "share": e.self_cpu_time_total / max(total_us, 1)} for e in rows],
    }


def print_profile(r: dict) -> None:
    print(f"\n#### {r['preset']}, {r['threads']} thread{'s' if r['threads'] > 1 else ''}: "
          f"{r['step_s']:.3f} s/step (profiled), {r['drawings_per_step']:.0f} drawings/step, "
          f"collating the batch {1e3 * r['collate_s']:.1f} ms\n")
    print("| operator | calls/step | self ms/step | share of self CPU |")
    print("|---|---|---|---|")
    for e in r["top"]:
        print(f"| `{e['op']}` | {e['calls']} | {e['self_ms']:.1f} | {100 * e['share']:.1f}% |")


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", nargs="+", default=DEFAULT_PRESETS)
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--data", default="quickdraw:face")
    p.add_argument("--steps", type=int, default=6, help="profiled steps per run")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--top", type=int, default=12, help="operators to list")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeatable)")
    p.add_argument("--_one", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._one:  # the child process: one preset, one thread count, JSON on the last line
        r = profile_one(args.presets[0], args.data, args.threads[0], args.steps, args.warmup, args.top, args.set)
        print(json.dumps(r))
        return [r]
    print(f"load average {os.getloadavg()[0]:.1f} at the start; data {args.data}")
    results = []
    for name in args.presets:
        for threads in args.threads:
            env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
            cmd = [sys.executable, "-m", "benchmarks.profile_train", "--_one", "--presets", name,
                   "--threads", str(threads), "--data", args.data, "--steps", str(args.steps),
                   "--warmup", str(args.warmup), "--top", str(args.top)] + [f"--set={s}" for s in args.set]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"profiling {name} with {threads} threads failed:\n{out.stderr[-3000:]}")
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print_profile(results[-1])
            sys.stdout.flush()
    return results


if __name__ == "__main__":
    main()
