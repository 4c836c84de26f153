"""Sampling speed: the whole step of ``sketchlib.sampling.IncrementalSampler`` against a straightforward one.

    python -m benchmarks.sample_benchmark
    python -m benchmarks.sample_benchmark --steps 300 --repeats 7

One step is everything a drawing widget waits for between two points: the
recurrent update, the influence layer where the model has one, the mixture
head, drawing the next offset and pen state, and handing the point back as a
numpy row. The reference is the same step written straightforwardly: the
textbook LSTM step of ``benchmarks.train_benchmark`` on ``[x_t; z; c]``, the
model's mixture head and ``sketchlib.models.mdn.sample_mixture``.

Both run on untrained models (the cost of a step does not depend on the
weights) for a fixed number of steps, without stopping at the drawings' ends.
At batch 1 and decoder 2048 a step must read the decoder's weights from memory
(``W_h`` alone is 64 MB); the table gives the rate at which the step reads
them, next to two yardsticks measured in the same run: a plain fp32
``1 x 2048 @ 2048 x 8192`` matmul (the best a step could do) and summing a 256 MB tensor.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from benchmarks.train_benchmark import machine, straightforward_lstm_step
from sketchlib import strokes as S
from sketchlib.models import SketchModel, preset
from sketchlib.models.mdn import sample_mixture
from sketchlib.sampling import IncrementalSampler

CASES = [("sketch_rnn", 1), ("sketch_rnn", 100), ("aisketcher", 1), ("sketch_rnn-small", 1)]


class StraightforwardSampler:
    """The same decoding step, written the obvious way."""

    def __init__(self, model: SketchModel, n: int, seed: int = 0):
        self.model, self.n = model.eval(), n
        self.generator = torch.Generator().manual_seed(seed)
        z = torch.randn(n, model.latent_size, generator=self.generator) if model.latent_size else None
        onehot = torch.nn.functional.one_hot(torch.zeros(n, dtype=torch.long), model.cfg.num_classes).float()
        self.static = model.static_input(z, onehot)
        self.h, self.c = model.initial_state(z, n)
        self.prev = torch.tensor(S.START_TOKEN).repeat(n, 1)

    @torch.no_grad()
    def step(self) -> np.ndarray:
        m = self.model
        x = self.prev if self.static is None else torch.cat([self.prev, self.static], dim=1)
        a = None
        if m.influence is not None:
            a, _, _ = m.influence(self.h, None, 0, torch.randn(self.n, m.cfg.influence_size, generator=self.generator))
        self.h, self.c = straightforward_lstm_step(m.decoder, x, self.h, self.c, None, a)
        self.prev = sample_mixture(m.mixture(self.h), 1.0, False, self.generator)
        return self.prev.numpy().copy()


def weight_bytes(model: SketchModel) -> int:
    """Bytes of the weights one decoding step reads (the rows of ``W_x`` for ``[z; c]`` act once, at the start)."""
    dec = model.decoder
    tensors = [dec.w_x[:5], dec.w_h, model.mixture.linear.weight] + ([dec.w_extra] if dec.w_extra is not None else [])
    return sum(t.numel() * t.element_size() for t in tensors)


def read_bandwidth(megabytes: int = 256) -> tuple[float, float]:
    """The machine's own yardsticks, GB/s: summing a tensor far larger than the caches, and a
    ``1 x 2048 @ 2048 x 8192`` fp32 matmul (reading a 64 MB weight, as a decoder-2048 step does)."""
    x = torch.ones(megabytes * 2**20 // 4)
    h, w = torch.randn(1, 2048), torch.randn(2048, 8192)
    x.sum(), h @ w
    start = time.perf_counter()
    x.sum()
    middle = time.perf_counter()
    h @ w
    end = time.perf_counter()
    return x.numel() * 4 / (middle - start) / 1e9, w.numel() * 4 / (end - middle) / 1e9


def seconds_per_step(sampler, steps: int) -> float:
    sampler.step()
    start = time.perf_counter()
    for _ in range(steps):
        sampler.step()
    return (time.perf_counter() - start) / steps


def benchmark_case(name: str, n: int, args) -> dict:
    torch.manual_seed(0)
    model = SketchModel(preset(name, num_classes=1)).eval()
    steps = max(10, args.steps // (10 if model.cfg.dec_rnn_size >= 2048 else 1))
    fast, ref, bandwidth = [], [], []
    for r in range(args.repeats):
        fast.append(seconds_per_step(IncrementalSampler(model, n, scale=1.0, seed=r), steps))
        ref.append(seconds_per_step(StraightforwardSampler(model, n, seed=r), steps))
        bandwidth.append(read_bandwidth())
    row = {"preset": name, "dec": model.cfg.dec_rnn_size, "batch": n, "influence": model.influence is not None,
           "fast_ms": 1e3 * statistics.median(fast), "ref_ms": 1e3 * statistics.median(ref),
           "sum_gbs": statistics.median(b[0] for b in bandwidth),
           "gemv_gbs": statistics.median(b[1] for b in bandwidth),
           "weights_mb": weight_bytes(model) / 1e6}
    row["speedup"] = row["ref_ms"] / row["fast_ms"]
    row["points_per_s"] = n / row["fast_ms"] * 1e3
    row["gb_per_s"] = row["weights_mb"] / row["fast_ms"]
    return row


def print_table(rows: list[dict]) -> None:
    print("| preset | dec | influence | batch | sketchlib ms/step | reference ms/step | speed-up | points/s "
          "| weights MB | weights GB/s | GEMV GB/s | sum GB/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['preset']} | {r['dec']} | {'yes' if r['influence'] else 'no'} | {r['batch']} | {r['fast_ms']:.3f} "
              f"| {r['ref_ms']:.3f} | {r['speedup']:.2f}x | {r['points_per_s']:,.0f} | {r['weights_mb']:.0f} "
              f"| {r['gb_per_s']:.1f} | {r['gemv_gbs']:.1f} | {r['sum_gbs']:.1f} |")


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", nargs="+", default=[f"{name}:{n}" for name, n in CASES],
                   help="preset:batch pairs, e.g. sketch_rnn:1 aisketcher:1")
    p.add_argument("--steps", type=int, default=200, help="timed steps per run (a tenth of it at decoder 2048)")
    p.add_argument("--repeats", type=int, default=5, help="runs per sampler, interleaved (median reported)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {machine()}\n")
    rows = []
    for case in args.cases:
        name, n = case.rsplit(":", 1)
        rows.append(benchmark_case(name, int(n), args))
        print(f"  {case}: {rows[-1]['fast_ms']:.3f} ms vs {rows[-1]['ref_ms']:.3f} ms", flush=True)
    print()
    print_table(rows)
    return rows


if __name__ == "__main__":
    main()
