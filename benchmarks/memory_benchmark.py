"""Peak memory of a training step: ``sketchlib`` against the straightforward reference.

    python -m benchmarks.memory_benchmark                               # the full aisketcher preset, CPU
    python -m benchmarks.memory_benchmark --presets aisketcher sketch_rnn --max-seq-len 250
    python -m benchmarks.memory_benchmark --device cuda

Each measurement runs in a fresh process: it builds the model, an Adam
optimiser and one batch of 100 real QuickDraw faces, then takes two training
steps (``benchmarks.train_benchmark.train_step``). On the CPU the peak is the
process's peak resident set size (``VmHWM``, reset just before the steps); on
a GPU ``torch.cuda.max_memory_allocated``. "Before" is the memory with the
model, optimiser and batch in place, so "peak - before" is what the steps
themselves add: activations kept for the backward pass, gradients, Adam's
moments (allocated at the first step) and temporaries.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

from benchmarks.train_benchmark import (
    DEFAULT_DATA,
    StraightforwardModel,
    load_sketches,
    machine,
    make_config_and_batch,
    to_device,
    train_step,
)
from sketchlib.models import SketchModel


def rss_mb(field: str) -> float:
    """``VmRSS`` or ``VmHWM`` of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def measure(name: str, impl: str, args) -> dict:
    """Build one model and take two steps; memory in MB."""
    device = torch.device(args.device)
    sketches, _ = load_sketches(args.data, args.classes)
    cfg, batch = make_config_and_batch(name, sketches, args.batch, args.max_seq_len)
    batch = to_device(batch, device)
    torch.manual_seed(0)
    model = (SketchModel if impl == "sketchlib" else StraightforwardModel)(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    if device.type == "cuda":
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated() / 2**20
        torch.cuda.reset_peak_memory_stats()
    else:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current VmRSS
        before = rss_mb("VmRSS")
    for _ in range(2):
        train_step(model, opt, batch, args.bf16)
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else rss_mb("VmHWM")
    n_params = sum(p.numel() for p in model.parameters())
    return {"preset": name, "impl": impl, "before": before, "peak": peak, "params_mb": n_params * 4 / 2**20,
            "T_dec": batch["strokes5"].shape[1] - 1, "T_enc": int(batch["lengths"].max())}


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", nargs="+", default=["aisketcher"])
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--classes", nargs="+", default=["face"])
    p.add_argument("--max-seq-len", type=int, default=None, help="N_max (default: the data's longest drawing)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA)")
    p.add_argument("--no-reference", action="store_true")
    p.add_argument("--child", nargs=2, metavar=("PRESET", "IMPL"), help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(measure(*args.child, args)))
        return []

    forwarded = list(argv if argv is not None else sys.argv[1:])
    print(f"machine: {machine()}; device {args.device}\n")
    rows = []
    for name in args.presets:
        for impl in ["sketchlib"] + ([] if args.no_reference else ["reference"]):
            command = [sys.executable, "-m", "benchmarks.memory_benchmark", *forwarded, "--child", name, impl]
            out = subprocess.run(command, capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(f"  {name} {impl}: peak {r['peak']:.0f} MB (before {r['before']:.0f} MB)", flush=True)
    what = "peak RSS" if args.device == "cpu" else "max_memory_allocated"
    print(f"\n| preset | T enc / dec | implementation | parameters MB | before MB | {what} MB | step adds MB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['preset']} | {r['T_enc']} / {r['T_dec']} | {r['impl']} | {r['params_mb']:.0f} | {r['before']:.0f} "
              f"| {r['peak']:.0f} | {r['peak'] - r['before']:.0f} |")
    return rows


if __name__ == "__main__":
    main()
