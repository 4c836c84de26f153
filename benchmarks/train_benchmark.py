"""Training-step speed: ``sketchlib`` against a straightforward PyTorch LSTM, and against the GEMM rate.

    python -m benchmarks.train_benchmark                     # sketch_rnn and the -small presets, CPU
    python -m benchmarks.train_benchmark --presets sketch_rnn --repeats 9
    python -m benchmarks.train_benchmark --device cuda --presets aisketcher --max-seq-len 250 --bf16

One training step is what ``sketchlib.training.Trainer`` does: ``compute_losses``,
backward, gradient clipping, an Adam step, at batch 100 on real QuickDraw faces
(the drawings' own lengths: the encoder reads up to the batch's longest drawing,
the decoder runs ``N_max`` steps, the longest drawing in the data).

The reference is the same model with the same parameters, where every LSTM is
the straightforward per-step loop (:func:`straightforward_lstm_step`: one matmul
for the input and one for the state, a separate layer norm per gate block, the
textbook point-wise ops) under autograd. The script first checks that both give
the same losses and gradients on the same batch (same seed, so the same dropout
masks and latent noise), then times them interleaved, with a plain fp32
``2048 x 2048`` matmul between them, and prints medians and their ratios.

Model GFLOP/s counts the matmul and convolution FLOPs of the reference step
(forward and backward, by ``torch.utils.flop_counter``): the model's nominal
FLOPs, counting the decoder input ``[x_t; z]`` at every step as the paper's
equations do, whatever the implementation saves.

CUDA graphs do not apply to a whole step: ``SketchModel.encode`` reads the
batch's longest length back to the host to size the encoder loop.

``--throughput`` measures something else: whole training steps of the real
``Trainer`` (the preset's own batching: the -small presets bucket by length;
batch collation and augmentation included) in drawings per second on the face
data, for this tree against another commit's ``sketchlib`` (``--baseline-tree``,
e.g. ``git worktree add /tmp/main-719f872 719f872``) and against a plain
``nn.LSTM`` Sketch-RNN (``benchmarks/plain_lstm.py``), each in its own process
(``benchmarks/throughput_worker.py``, with ``PYTHONPATH`` naming its tree), the
processes taking turns: every round runs ``--steps`` steps in each, in a rotated
order, so that a change in the machine's load hits all of them alike. It prints
drawings per second over all rounds and the ratios of every round::

    python -m benchmarks.train_benchmark --throughput --baseline-tree /tmp/main-719f872
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from sketchlib.datasets import SketchDataset, Sketches
from sketchlib.models import SketchModel, preset
from sketchlib.models.cells import BiRNN, LSTMCell, _reverse_within_length

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "quickdraw" / "sketchrnn"
DEFAULT_PRESETS = ["sketch_rnn", "sketch_rnn-small", "conditional_sketch_rnn-small", "sketch_pix2seq-small",
                   "aisketcher-small"]

# ----------------------------------------------------------------------------- the reference


def straightforward_lstm_step(
    cell: LSTMCell, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, mask: torch.Tensor | None,
    extra: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of ``cell`` as a textbook writes it: ``x: (B, input_size)``, ``h, c: (B, H)``."""
    H = cell.hidden_size
    gates = x @ cell.w_x + h @ cell.w_h
    if extra is not None:
        gates = gates + extra @ cell.w_extra
    if cell.bias is not None:
        gates = gates + cell.bias
    i, g, f, o = gates.chunk(4, dim=1)
    if cell.layer_norm:
        i, g, f, o = (F.layer_norm(v, (H,), cell.gate_gamma[k], cell.gate_beta[k], eps=1e-3)
                      for k, v in enumerate((i, g, f, o)))
    g = torch.tanh(g)
    if mask is not None:
        g = g * mask
    c = torch.sigmoid(f + cell.forget_bias) * c + torch.sigmoid(i) * g
    cn = F.layer_norm(c, (H,), cell.cell_gamma, cell.cell_beta, eps=1e-3) if cell.layer_norm else c
    return torch.sigmoid(o) * torch.tanh(cn), c


class StraightforwardBiRNN(BiRNN):
    """``BiRNN`` with both directions stepped by :func:`straightforward_lstm_step`."""

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, T, _ = x.shape
        x_rev = _reverse_within_length(x, lengths)
        mf, mb = self.fw.dropout_masks(T, B, x), self.bw.dropout_masks(T, B, x)  # as the fused path draws them
        hf = cf = hb = cb = x.new_zeros(B, self.hidden_size)
        out_f, out_b = [], []
        for t in range(T):
            hf, cf = straightforward_lstm_step(self.fw, x[:, t], hf, cf, None if mf is None else mf[t])
            hb, cb = straightforward_lstm_step(self.bw, x_rev[:, t], hb, cb, None if mb is None else mb[t])
            out_f.append(hf)
            out_b.append(hb)
        states_f = torch.stack(out_f, dim=1)
        states_b = _reverse_within_length(torch.stack(out_b, dim=1), lengths)
        last = (lengths - 1).clamp(min=0)
        h_last = torch.cat([states_f[torch.arange(B, device=x.device), last], states_b[:, 0]], dim=1)
        valid = (torch.arange(T, device=x.device).unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(2)
        return h_last, torch.cat([states_f, states_b], dim=2) * valid


class StraightforwardModel(SketchModel):
    """The same model (parameter names, losses, random draws) with straightforward LSTM loops."""

    def __init__(self, cfg):
        super().__init__(cfg)
        if self.rnn_encoder is not None:
            self.rnn_encoder = StraightforwardBiRNN(
                5, cfg.enc_rnn_size, cfg.enc_cell == "layer_norm", cfg.recurrent_dropout_keep
            )

    def decode(self, inputs5, lat, onehot=None, state=None, start_step=0, sample_influence=True):
        B, T, _ = inputs5.shape
        h, c = self.initial_state(lat.z, B) if state is None else state
        static = self.static_input(lat.z, onehot)
        x = inputs5 if static is None else torch.cat([inputs5, static.unsqueeze(1).expand(B, T, -1)], dim=2)
        masks = self.decoder.dropout_masks(T, B, x)
        noise = None
        if self.influence is not None and sample_influence:
            noise = torch.randn(T, B, self.cfg.influence_size, device=x.device, dtype=x.dtype)
        outs, mus, alphas = [], [], []
        for t in range(T):
            a = None
            if self.influence is not None:
                a, mu_a, alpha = self.influence(h, lat.influence, start_step + t, None if noise is None else noise[t])
                if mu_a is not None:
                    mus.append(mu_a)
                    alphas.append(alpha)
            h, c = straightforward_lstm_step(self.decoder, x[:, t], h, c, None if masks is None else masks[t], a)
            outs.append(h)
        mu_a = torch.stack(mus, dim=1) if mus else None
        alpha = torch.stack(alphas, dim=1) if alphas else None
        return self.mixture(torch.stack(outs, dim=1)), (h, c), mu_a, alpha


# ----------------------------------------------------------------------------- data, machine, timing


def load_sketches(data_dir: Path, classes: list[str], seed: int = 0) -> tuple[Sketches, str]:
    """QuickDraw Sketch-RNN ``.npz`` training drawings, or random walks of similar lengths without them."""
    paths = [data_dir / f"{name}.npz" for name in classes]
    if all(p.is_file() for p in paths):
        drawings, labels = [], []
        for k, p in enumerate(paths):
            train = np.load(p, allow_pickle=True, encoding="latin1")["train"]
            drawings += [d.astype(np.float32) for d in train]
            labels += [k] * len(train)
        return Sketches(drawings, np.array(labels), list(classes)), f"QuickDraw {', '.join(classes)} (train split)"
    rng = np.random.default_rng(seed)
    drawings = []
    for _ in range(2000):
        n = int(np.clip(rng.gamma(4.0, 17.0), 8, 131))
        d = np.column_stack([rng.normal(0, 12, n), rng.normal(0, 12, n), rng.random(n) < 0.1]).astype(np.float32)
        d[-1, 2] = 1
        drawings.append(d)
    return Sketches(drawings, np.zeros(len(drawings), dtype=np.int64), ["walk"]), f"random walks ({data_dir} is absent)"


def make_config_and_batch(name: str, sketches: Sketches, batch_size: int, max_seq_len: int | None, seed: int = 0):
    """The preset at the data's ``N_max`` (or ``max_seq_len``) and one fixed training batch of ``batch_size``."""
    n_max = max_seq_len or max(len(d) for d in sketches.drawings)
    cfg = preset(name, num_classes=sketches.num_classes, max_seq_len=n_max, batch_size=batch_size)
    ds = SketchDataset(sketches, max_seq_len=n_max, raster_size=cfg.needs_raster, pad_to=cfg.pad_to)
    idx = np.random.default_rng(seed).permutation(len(ds))[:batch_size]
    return cfg, ds.batch(idx)


def to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}


def machine() -> str:
    """CPU model and core count (or the GPU), torch version and threads, and the load, in one line."""
    cpu = platform.processor() or "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        cpu = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        pass
    parts = [f"{cpu}, {os.cpu_count()} cores", f"torch {torch.__version__}, {torch.get_num_threads()} threads"]
    if torch.cuda.is_available():
        parts.insert(1, torch.cuda.get_device_name())
    if hasattr(os, "getloadavg"):
        parts.append(f"1-min load average {os.getloadavg()[0]:.1f} at the start")
    return "; ".join(parts)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: torch.device) -> float:
    """Seconds one call of ``fn`` takes (the GPU finished)."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def gemm_gflops(device: torch.device, n: int = 2048) -> float:
    """The rate of one plain fp32 ``n x n`` matmul, in GFLOP/s (the machine's own yardstick)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    return 2 * n**3 / timed(lambda: a @ b, device) / 1e9


def autocast(device: torch.device, bf16: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


# ----------------------------------------------------------------------------- the step


def train_step(model: SketchModel, opt: torch.optim.Optimizer, batch: dict, bf16: bool = False) -> torch.Tensor:
    """What ``Trainer.train_step`` does: losses, backward, clip to norm 1, Adam."""
    model.train()
    with autocast(batch["strokes5"].device, bf16):
        losses = model.compute_losses(batch, kl_weight=0.5)
    opt.zero_grad(set_to_none=True)
    losses["total"].backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return losses["total"].detach()


def losses_and_grads(model: SketchModel, batch: dict, seed: int) -> tuple[float, dict[str, torch.Tensor]]:
    model.train()
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    loss = model.compute_losses(batch, kl_weight=0.5)["total"]
    loss.backward()
    return loss.item(), {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def agreement(fast: SketchModel, ref: SketchModel, batch: dict) -> tuple[float, float]:
    """``(|loss difference|, largest gradient difference relative to that gradient's largest value)``."""
    loss_f, grads_f = losses_and_grads(fast, batch, seed=123)
    loss_r, grads_r = losses_and_grads(ref, batch, seed=123)
    rel = max(((grads_f[n] - g).abs().max() / g.abs().max().clamp(min=1e-12)).item() for n, g in grads_r.items())
    fast.zero_grad(set_to_none=True)
    ref.zero_grad(set_to_none=True)
    return abs(loss_f - loss_r), rel


def step_flops(model: SketchModel, batch: dict) -> int:
    """Matmul and convolution FLOPs of one forward + backward pass of ``model``."""
    with FlopCounterMode(display=False) as counter:
        model.compute_losses(batch, kl_weight=0.5)["total"].backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def benchmark_preset(name: str, sketches: Sketches, args, device: torch.device) -> dict:
    cfg, batch = make_config_and_batch(name, sketches, args.batch, args.max_seq_len)
    batch = to_device(batch, device)
    torch.manual_seed(0)
    fast = SketchModel(cfg).to(device)
    ref = StraightforwardModel(cfg).to(device)
    ref.load_state_dict(fast.state_dict())
    row = {"preset": name, "enc": cfg.enc_rnn_size if cfg.encoder == "rnn" else cfg.encoder,
           "dec": cfg.dec_rnn_size, "T_enc": int(batch["lengths"].max()), "T_dec": batch["strokes5"].shape[1] - 1}
    if not args.no_check:
        row["d_loss"], row["d_grad"] = agreement(fast, ref, batch)
    row["gflop"] = step_flops(ref, batch) / 1e9
    opt_f = torch.optim.Adam(fast.parameters(), lr=1e-4)
    opt_r = torch.optim.Adam(ref.parameters(), lr=1e-4)
    times_f, times_r, gemm = [], [], []
    train_step(fast, opt_f, batch, args.bf16)  # warm-up (allocator, oneDNN weight packing)
    if not args.no_reference:
        train_step(ref, opt_r, batch, args.bf16)
    for _ in range(args.repeats):
        times_f.append(timed(lambda: train_step(fast, opt_f, batch, args.bf16), device))
        if not args.no_reference:
            times_r.append(timed(lambda: train_step(ref, opt_r, batch, args.bf16), device))
        gemm.append(gemm_gflops(device))
    row["fast_s"] = statistics.median(times_f)
    row["ref_s"] = statistics.median(times_r) if times_r else float("nan")
    row["gemm"] = statistics.median(gemm)
    row["speedup"] = row["ref_s"] / row["fast_s"]
    row["model_gflops"] = row["gflop"] / row["fast_s"]
    row["of_gemm"] = row["model_gflops"] / row["gemm"]
    return row


def print_table(rows: list[dict]) -> None:
    print("| preset | enc | dec | T enc / dec | model GFLOP | sketchlib s/step | reference s/step | speed-up "
          "| model GFLOP/s | GEMM GFLOP/s | of GEMM | max dloss | max rel dgrad |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['preset']} | {r['enc']} | {r['dec']} | {r['T_enc']} / {r['T_dec']} | {r['gflop']:.1f} "
              f"| {r['fast_s']:.3f} | {r['ref_s']:.3f} | {r['speedup']:.2f}x | {r['model_gflops']:.0f} "
              f"| {r['gemm']:.0f} | {100 * r['of_gemm']:.0f}% | {r.get('d_loss', float('nan')):.1e} "
              f"| {r.get('d_grad', float('nan')):.1e} |")


# ----------------------------------------------------------------------------- throughput in drawings per second

WORKER = Path(__file__).resolve().parent / "throughput_worker.py"
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Worker:
    """One training run in its own process(es), stepped on demand (see ``throughput_worker.py``)."""

    def __init__(self, label: str, tree: Path, preset_name: str, data: str, threads: int = 1, processes: int = 1,
                 impl: str = "sketchlib", sets: tuple[str, ...] = (), warmup: int = 2, env_extra: dict | None = None):
        self.label, self.preset, self.threads, self.processes, self.impl = label, preset_name, threads, processes, impl
        cmd = [sys.executable, str(WORKER), "--impl", impl, "--preset", preset_name, "--data", data,
               "--threads", str(threads), "--warmup", str(warmup)] + [f"--set={x}" for x in sets]
        env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": str(threads),
               "MKL_NUM_THREADS": str(threads), **(env_extra or {})}
        port = free_port()
        self.procs = []
        for rank in range(processes):
            rank_env = env if processes == 1 else {**env, "RANK": str(rank), "LOCAL_RANK": str(rank),
                                                   "WORLD_SIZE": str(processes), "MASTER_ADDR": "127.0.0.1",
                                                   "MASTER_PORT": str(port)}
            self.procs.append(subprocess.Popen(
                cmd, env=rank_env, text=True, stdin=subprocess.PIPE if rank == 0 else subprocess.DEVNULL,
                stdout=subprocess.PIPE if rank == 0 else subprocess.DEVNULL))
        self.seconds, self.drawings, self.rounds = 0.0, 0, []

    def wait_ready(self) -> dict:
        line = self.procs[0].stdout.readline()
        if not line.startswith("ready "):
            raise RuntimeError(f"{self.label}: the worker did not start (see its error above)")
        self.info = json.loads(line[6:])
        return self.info

    def run(self, steps: int) -> None:
        self.procs[0].stdin.write(f"run {steps}\n")
        self.procs[0].stdin.flush()
        out = json.loads(self.procs[0].stdout.readline())
        self.seconds += out["seconds"]
        self.drawings += out["drawings"]
        self.rounds.append(out["drawings"] / out["seconds"])

    def close(self) -> None:
        self.procs[0].stdin.write("quit\n")
        self.procs[0].stdin.flush()
        for proc in self.procs:
            proc.wait(timeout=120)

    @property
    def rate(self) -> float:
        return self.drawings / self.seconds


def throughput_workers(preset_name: str, args) -> tuple[list[_Worker], list[tuple[str, str]]]:
    """The processes to compare for ``preset_name``, and the (numerator, denominator) ratios to print."""
    now, base, data = REPO, Path(args.baseline_tree), args.data
    t = args.threads or 1
    Worker = functools.partial(_Worker, warmup=args.warmup)  # noqa: N806
    workers = [Worker(f"{base.name} {t}t", base, preset_name, data, t), Worker(f"now {t}t", now, preset_name, data, t)]
    ratios = [(f"now {t}t", f"{base.name} {t}t")]
    # the same code with the native LSTM kernels switched off (sketchlib.models.native): what they add
    workers.append(Worker(f"now {t}t python kernels", now, preset_name, data, t, env_extra={"SKETCHLIB_NATIVE": "0"}))
    ratios += [(f"now {t}t", f"now {t}t python kernels"), (f"now {t}t python kernels", f"{base.name} {t}t")]
    cfg = preset(preset_name)
    if not cfg.bucket and not cfg.pack:  # the full presets keep Sketch-RNN's N_max batches; packing is one --set away
        workers.append(Worker(f"now {t}t buckets", now, preset_name, data, t, sets=("bucket=true",)))
        workers.append(Worker(f"now {t}t packed", now, preset_name, data, t, sets=("pack=true", "bucket=false")))
        ratios += [(f"now {t}t buckets", f"{base.name} {t}t"), (f"now {t}t packed", f"{base.name} {t}t"),
                   (f"now {t}t packed", f"now {t}t buckets")]
    elif cfg.pack:  # packed batches against the length buckets they replaced
        workers.append(Worker(f"now {t}t buckets", now, preset_name, data, t, sets=("pack=false", "bucket=true")))
        ratios += [(f"now {t}t", f"now {t}t buckets"), (f"now {t}t buckets", f"{base.name} {t}t")]
    if preset_name in args.plain:
        workers.append(Worker(f"plain nn.LSTM {t}t", now, preset_name, data, t, impl="plain"))
        ratios += [(w.label, f"plain nn.LSTM {t}t") for w in workers if w.label.startswith("now")]
    if preset_name in args.parallel:
        workers.append(Worker("now 2t", now, preset_name, data, 2))
        workers.append(Worker("now 2x1t", now, preset_name, data, 1, processes=2))
        ratios += [("now 2x1t", "now 2t"), ("now 2t", f"now {t}t"), ("now 2x1t", f"now {t}t")]
    return workers, ratios


def throughput_main(args) -> None:
    print(f"machine: {machine()}")
    print(f"data: {args.data}; {args.rounds} rounds of {args.steps} steps per process, interleaved\n")
    for name in args.presets:
        workers, ratios = throughput_workers(name, args)
        try:
            for w in workers:
                w.wait_ready()
            for r in range(args.rounds):
                for w in workers[r % len(workers):] + workers[: r % len(workers)]:
                    w.run(args.steps)
        finally:
            for w in workers:
                with contextlib.suppress(Exception):
                    w.close()
        print(f"#### {name} ({os.getloadavg()[0]:.1f} load at the end)\n")
        print("| run | code | batch | batches | processes x threads | drawings/s | per round |")
        print("|---|---|---|---|---|---|---|")
        for w in workers:
            info = w.info
            code = "plain_lstm.py" if w.impl == "plain" else f"sketchlib of {Path(info['sketchlib']).name}"
            kind = "packed" if info.get("pack") else "buckets" if info["bucket"] else "N_max"
            print(f"| {w.label} | {code} | {info['batch_size']} | {kind} "
                  f"| {w.processes} x {w.threads} | {w.rate:.1f} | {', '.join(f'{x:.1f}' for x in w.rounds)} |")
        by = {w.label: w for w in workers}
        print("\n| ratio | over all rounds | per round (min - max) |")
        print("|---|---|---|")
        for a, b in ratios:
            per_round = [x / y for x, y in zip(by[a].rounds, by[b].rounds, strict=True)]
            print(f"| {a} / {b} | {by[a].rate / by[b].rate:.2f}x | {min(per_round):.2f} - {max(per_round):.2f} |")
        print(flush=True)


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", nargs="+", default=DEFAULT_PRESETS)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--repeats", type=int, default=5, help="timed steps per model (median reported)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of QuickDraw Sketch-RNN .npz files")
    p.add_argument("--classes", nargs="+", default=["face"])
    p.add_argument("--max-seq-len", type=int, default=None, help="N_max (default: the data's longest drawing)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA)")
    p.add_argument("--no-reference", action="store_true", help="time sketchlib only (slow reference on big presets)")
    p.add_argument("--no-check", action="store_true", help="skip the loss / gradient agreement check")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--throughput", action="store_true",
                   help="drawings per second of whole Trainer steps against --baseline-tree (see the module doc)")
    p.add_argument("--baseline-tree", default="/tmp/main-719f872", help="--throughput: the other commit's checkout")
    p.add_argument("--data-spec", default="quickdraw:face", help="--throughput: data spec")
    p.add_argument("--rounds", type=int, default=4, help="--throughput: interleaved rounds")
    p.add_argument("--steps", type=int, default=3, help="--throughput: training steps per process and round")
    p.add_argument("--warmup", type=int, default=2, help="--throughput: untimed steps per process first")
    p.add_argument("--plain", nargs="*", default=["sketch_rnn"], help="--throughput: presets also run as plain nn.LSTM")
    p.add_argument("--parallel", nargs="*", default=["sketch_rnn-small"],
                   help="--throughput: presets also run at 1 process x 2 threads and 2 processes x 1 thread")
    args = p.parse_args(argv)
    if args.throughput:
        if args.presets == DEFAULT_PRESETS:
            args.presets = ["sketch_rnn-small", "aisketcher-small", "sketch_rnn"]
        args.data = args.data_spec
        throughput_main(args)
        return []
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sketches, source = load_sketches(args.data, args.classes)
    print(f"machine: {machine()}")
    print(f"data: {source}; batch {args.batch}; median of {args.repeats} steps\n")
    rows = []
    for name in args.presets:
        rows.append(benchmark_preset(name, sketches, args, device))
        print(f"  {name}: {rows[-1]['fast_s']:.3f} s vs {rows[-1]['ref_s']:.3f} s", flush=True)
    print()
    print_table(rows)
    return rows


if __name__ == "__main__":
    main()
