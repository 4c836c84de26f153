"""``python -m sketchlib``: train, sample from and evaluate sketch models from the shell.

    python -m sketchlib presets
    python -m sketchlib train --preset aisketcher-small --data faces --steps 3000 --out runs/faces
    python -m sketchlib sample --checkpoint runs/faces/best.pt --n 16 --temperature 0.5 --out samples/
    python -m sketchlib evaluate --checkpoint runs/faces/best.pt --data faces --split test

Unlike the library, this module prints: it is the user interface. Expected
failures (unknown preset, bad ``--set``, missing checkpoint, bad data) end with
a one-line message and exit status 1, not a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import logging
import signal
import sys
import threading
import typing
from pathlib import Path

from sketchlib.cli_help import _EPILOG, _EVALUATE_EPILOG, _SAMPLE_EPILOG, _TRAIN_EPILOG

__all__ = ["main", "build_parser", "parse_overrides"]

log = logging.getLogger("sketchlib")


class CLIError(Exception):
    """A user error the CLI reports in one line."""


# --------------------------------------------------------------------------- --set key=value


def _parse_value(key: str, text: str, default, hint):
    choices = typing.get_args(hint) if typing.get_origin(hint) is typing.Literal else ()
    if choices:
        if text not in choices:
            raise CLIError(f"--set {key}={text}: must be one of {', '.join(map(str, choices))}")
        return text
    try:
        if isinstance(default, bool):
            low = text.lower()
            if low not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError
            return low in ("true", "1", "yes", "on")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, tuple):
            return tuple(int(v) for v in text.replace("(", "").replace(")", "").split(",") if v.strip())
    except ValueError:
        kind = "true or false" if isinstance(default, bool) else (
            "comma-separated integers" if isinstance(default, tuple) else type(default).__name__)
        raise CLIError(f"--set {key}={text}: expected {kind}") from None
    return text


def parse_overrides(items: list[str]) -> dict:
    """``["z_size=64", "conditional=true"]`` -> ``{"z_size": 64, "conditional": True}``, typed by SketchConfig."""
    from sketchlib.models.config import SketchConfig

    fields = {f.name: f for f in dataclasses.fields(SketchConfig)}
    hints = typing.get_type_hints(SketchConfig)
    defaults = SketchConfig()
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CLIError(f"--set {item}: expected key=value, e.g. --set z_size=64")
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise CLIError(f"--set {item}: unknown config field '{key}'{hint} "
                           "(python -m sketchlib presets NAME lists every field)")
        out[key] = _parse_value(key, text.strip(), getattr(defaults, key), hints[key])
    if out.get("pack") and "bucket" not in out:
        out["bucket"] = False  # packed batches replace the -small presets' length buckets (SketchConfig.pack)
    return out


# --------------------------------------------------------------------------- commands


def _device(name: str | None):
    import torch

    if name is None:
        from sketchlib.training import default_device

        return default_device()
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise CLIError(f"--device {name}: not a device name (try cpu or cuda)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise CLIError(f"--device {name}: this machine has no CUDA GPU (use --device cpu)")
    return dev


def _load_data(spec: str):
    from sketchlib.datasets import load

    return load(spec)


def cmd_presets(args) -> int:
    from sketchlib.models.config import PRESETS, preset, preset_names

    if args.name:
        cfg = preset(args.name)
        width = max(len(k) for k in cfg.to_dict())
        for k, v in cfg.to_dict().items():
            print(f"{k:<{width}}  {v}")
        return 0
    width = max(len(n) for n in PRESETS)
    for name in preset_names():
        cfg = preset(name)
        parts = [f"encoder={cfg.encoder}", f"dec={cfg.dec_rnn_size}"]
        if cfg.encoder == "rnn":
            parts.insert(1, f"enc={cfg.enc_rnn_size}")
        if cfg.has_latent:
            parts.append(f"z={cfg.z_size}" + ("" if cfg.variational else " (deterministic)"))
        parts += [flag for flag in ("conditional", "influence", "autoencoder") if getattr(cfg, flag)]
        print(f"{name:<{width}}  {', '.join(parts)}")
    return 0


def cmd_train(args) -> int:
    import torch

    from sketchlib.distributed import init_from_env
    from sketchlib.models.config import preset
    from sketchlib.training import Trainer

    if args.threads is not None:
        if args.threads < 1:
            raise CLIError(f"--threads {args.threads}: give at least 1")
        torch.set_num_threads(args.threads)
    overrides = parse_overrides(args.set or [])
    if args.steps is not None:
        overrides["num_steps"] = args.steps
    cfg = preset(args.preset, **overrides)
    device = _device(args.device)
    data = _load_data(args.data)
    joined = init_from_env(args.device)  # under torchrun: one data-parallel rank (see sketchlib.distributed)
    try:
        return _train(args, cfg, data, device, Trainer)
    finally:
        if joined:
            torch.distributed.destroy_process_group()


def _train(args, cfg, data, device, Trainer) -> int:
    trainer = Trainer(cfg, data, args.out, device=device, compile=args.compile, progress=not args.quiet,
                      resume=args.resume)
    k = trainer.cfg.num_classes
    say = print if trainer.is_main else (lambda *a, **kw: None)  # data-parallel: rank 0 speaks
    ranks = f" x {trainer.world_size} processes" if trainer.world_size > 1 else ""
    say(f"training {cfg.name} on {args.data} ({len(trainer.train_set)} drawings, "
        f"{k} class{'es' if k > 1 else ''}) on {trainer.device}{ranks}, step {trainer.step} -> {trainer.cfg.num_steps}; "  # noqa: E501
        f"writing to {trainer.out_dir}")

    def on_interrupt(signum, frame):  # first Ctrl-C: stop cleanly at a step boundary; second: abort
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("\nstopping after this step and saving last.pt (Ctrl-C again to abort)", file=sys.stderr)
        trainer.request_stop()

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_interrupt) if in_main_thread else None
    try:
        trainer.train()
    except KeyboardInterrupt:
        raise CLIError(f"aborted at step {trainer.step}; continue from the last checkpoint with "
                       "the same command and --resume") from None
    finally:
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)
    if trainer.step < trainer.cfg.num_steps:
        say(f"stopped at step {trainer.step}; continue with the same command and --resume")
        return 0
    say(f"done: step {trainer.step}, best valid loss {trainer.best_valid_loss:.4f} in {trainer.best_path}")
    return 0


#: The temperatures ``sample`` accepts: Sketch-RNN samples with 0 < tau <= 1 (section 3.3); a little
#: above 1 flattens the model's distribution further, beyond 1.5 the drawings dissolve into scribble.
TEMPERATURE_RANGE = (0.0, 1.5)
#: The most drawings ``sample`` makes at once, and the most points per drawing.
MAX_SAMPLES, MAX_POINTS = 10_000, 10_000
IMAGE_SUFFIXES = (".svg", ".png")


def _check_sample_args(args) -> None:
    """Out-of-range ``sample`` arguments end with a one-line message before any model is loaded."""
    low, high = TEMPERATURE_RANGE
    if not low < args.temperature <= high:  # also rejects nan
        raise CLIError(f"--temperature {args.temperature}: must lie in ({low:g}, {high:g}]; 0.01 gives tidy, "
                       "typical drawings, 1.0 the model's full variety")
    if not 1 <= args.n <= MAX_SAMPLES:
        raise CLIError(f"--n {args.n}: the number of drawings must lie in 1..{MAX_SAMPLES}")
    if args.max_len is not None and not 1 <= args.max_len <= MAX_POINTS:
        raise CLIError(f"--max-len {args.max_len}: the points per drawing must lie in 1..{MAX_POINTS}")
    if args.seed is not None and not 0 <= args.seed < 2**63:
        raise CLIError(f"--seed {args.seed}: must be a whole number from 0 to 2^63 - 1")
    out = Path(args.out)
    if out.suffix.lower() not in IMAGE_SUFFIXES and out.is_file():
        raise CLIError(f"--out {out}: is a file; name a folder, or a path ending in .svg or .png")


def cmd_sample(args) -> int:
    from sketchlib.checkpoint import load_model
    from sketchlib.sampling import sample

    _check_sample_args(args)
    model, stats = load_model(args.checkpoint, map_location=_device(args.device))
    names = list(stats["class_names"])
    labels = None
    if args.class_ is not None:
        if not model.cfg.conditional:
            raise CLIError(f"--class {args.class_}: {args.checkpoint} is not a class-conditional model")
        if args.class_ in names:
            labels = names.index(args.class_)
        elif args.class_.isdigit() and int(args.class_) < len(names):
            labels = int(args.class_)
        else:
            raise CLIError(f"--class {args.class_}: unknown class; the model knows {', '.join(names)}")
    elif model.cfg.conditional:
        labels = [i % len(names) for i in range(args.n)]  # cycle through the classes
    drawings = sample(model, args.n, scale=stats["scale"], temperature=args.temperature, labels=labels,
                      greedy=args.greedy, seed=args.seed, max_len=args.max_len)
    print(f"wrote {_write_samples(drawings, Path(args.out))}")
    return 0


def _write_samples(drawings, out: Path) -> str:
    """Write the drawings to ``out`` and say what was written.

    A folder: one SVG and one PNG per drawing, all of them in ``grid.png``, and ``samples.npz``.
    A path ending in .svg or .png: that one file, the drawing or all of them in a grid.
    """
    import math

    import numpy as np

    from sketchlib import plotting

    ncols = math.ceil(math.sqrt(len(drawings)))
    if out.suffix.lower() in IMAGE_SUFFIXES:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".svg" and len(drawings) == 1:
            plotting.save_svg(drawings[0], out)  # the drawing's own strokes, one <path> each
        else:  # matplotlib writes the format the suffix names: a PNG, or an SVG of the grid
            plotting.save_png(drawings[0] if len(drawings) == 1 else list(drawings), out, ncols=ncols)
        return f"{'1 drawing' if len(drawings) == 1 else f'{len(drawings)} drawings in a grid'} to {out}"
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "samples.npz", **{f"sample_{i:03d}": d for i, d in enumerate(drawings)})
    for i, d in enumerate(drawings):
        plotting.save_svg(d, out / f"sample_{i:03d}.svg")
        plotting.save_png(d, out / f"sample_{i:03d}.png")
    plotting.save_png(list(drawings), out / "grid.png", ncols=ncols)
    return f"{len(drawings)} drawings to {out}: sample_NNN.svg / .png, grid.png, samples.npz"


def cmd_evaluate(args) -> int:
    from sketchlib.checkpoint import load_checkpoint, model_from_checkpoint
    from sketchlib.training import LOSS_KEYS, dataset_for_model, evaluate

    device = _device(args.device)
    ckpt = load_checkpoint(args.checkpoint)
    model, stats, step = model_from_checkpoint(ckpt, device, args.checkpoint), ckpt["stats"], ckpt["step"]
    sketches = getattr(_load_data(args.data), args.split)
    dataset = dataset_for_model(sketches, model.cfg, stats)
    cfg = model.cfg
    losses = evaluate(model, dataset, batch_size=args.batch_size or cfg.batch_size, kl_weight=cfg.kl_weight,
                      seed=cfg.seed, progress=not args.quiet)
    dropped = ""
    if dataset.n_dropped:
        dropped = f", {dataset.n_dropped} longer than max_seq_len={dataset.max_seq_len} left out"
    print(f"{args.checkpoint} (step {step}) on {args.data} {args.split}: {len(dataset)} drawings{dropped}")
    print(f"{'term':<6}  {'loss':>10}")
    for k in LOSS_KEYS:
        print(f"{k:<6}  {losses[k]:>10.4f}")
    return 0


# --------------------------------------------------------------------------- parser

def cmd_export(args) -> int:
    from sketchlib.export import export_checkpoint

    manifest = export_checkpoint(args.checkpoint, args.out, temperature=args.temperature,
                                 if_changed=args.if_changed)
    if manifest.get("reused"):
        print(f"{args.out}: already holds this export of {manifest['name']} (same checkpoint and exporter); kept")
        return 0
    sizes = ", ".join(f"{e['file']} {e['bytes'] / 1e6:.2f} MB" for e in manifest["files"].values())
    print(f"exported {manifest['name']} to {args.out}: {sizes}, manifest.json")
    return 0


def cmd_build_native(args) -> int:
    import time
    import warnings

    from sketchlib.models import native

    t0, had = time.perf_counter(), native.is_built()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = native.kernels()
    if module is None:
        why = str(caught[-1].message) if caught else "SKETCHLIB_NATIVE=0 is set, so nothing was built."
        raise CLIError(f"{why} Training and sampling still work, with the Python kernels.")
    print(f"native LSTM kernels {'found' if had else 'built'} in {native.build_directory()[1]} "
          f"({time.perf_counter() - t0:.1f} s)")
    return 0


def _add_sample_parser(sub, fmt) -> None:
    p = sub.add_parser("sample", help="draw new sketches from a trained model", epilog=_SAMPLE_EPILOG,
                       formatter_class=fmt, description="Draw sketches from a trained model.")
    p.add_argument("--checkpoint", required=True, help="a checkpoint file, e.g. runs/faces/best.pt")
    p.add_argument("--out", required=True,
                   help="output folder (one .svg and .png per drawing, grid.png, samples.npz); a path ending in "
                   ".svg or .png writes that one file (several drawings: a grid)")
    p.add_argument("--n", type=int, default=16, help=f"number of drawings, 1 to {MAX_SAMPLES} (default 16)")
    p.add_argument("--temperature", type=float, default=0.5,
                   help="randomness in (0, 1.5]: 0.01 (tidy) to 1.0 (the model's full variety); default 0.5")
    p.add_argument("--class", dest="class_", metavar="CLASS",
                   help="class name or index, for class-conditional models")
    p.add_argument("--greedy", action="store_true", help="always take the most likely next point")
    p.add_argument("--seed", type=int, help="random seed (0 or more), for reproducible drawings")
    p.add_argument("--max-len", type=int, help="most points per drawing (default: the model's max_seq_len)")
    p.add_argument("--device", help="cpu or cuda (default: cuda if available)")
    p.set_defaults(func=cmd_sample)


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="python -m sketchlib",
        description="Train, sample from and evaluate Sketch-RNN / AI-Sketcher models.",
        epilog=_EPILOG,
        formatter_class=fmt,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("presets", help="list the model presets", formatter_class=fmt,
                       description="List the model presets, or show every setting of one.")
    p.add_argument("name", nargs="?", help="a preset whose full config to show")
    p.set_defaults(func=cmd_presets)

    p = sub.add_parser("train", help="train a model", epilog=_TRAIN_EPILOG, formatter_class=fmt,
                       description="Train a model of a preset on a data set.")
    p.add_argument("--preset", required=True, help="model preset (see: python -m sketchlib presets)")
    p.add_argument("--data", required=True, help="data spec, e.g. faces or quickdraw:face,pig or a .npz file")
    p.add_argument("--out", required=True, help="output folder for checkpoints and the log")
    p.add_argument("--steps", type=int, help="total training steps (default: the preset's num_steps)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="change one config setting, e.g. --set z_size=64 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--device", help="cpu, cuda or cuda:1 (default: cuda if available)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (long GPU runs)")
    p.add_argument("--threads", type=int, help="torch threads for this process (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    _add_sample_parser(sub, fmt)

    p = sub.add_parser("evaluate", help="print a checkpoint's losses on a data split", epilog=_EVALUATE_EPILOG,
                       formatter_class=fmt, description="Mean losses of a trained model on a data split.")
    p.add_argument("--checkpoint", required=True, help="a checkpoint file, e.g. runs/faces/best.pt")
    p.add_argument("--data", required=True, help="data spec, as for train")
    p.add_argument("--split", choices=["train", "valid", "test"], default="test", help="default: test")
    p.add_argument("--batch-size", type=int, help="default: the model's batch_size")
    p.add_argument("--device", help="cpu or cuda (default: cuda if available)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("export", help="export a model's decoder to ONNX for the browser sketch pad",
                       formatter_class=fmt, description="Export a checkpoint's decoder step, initial-state map and "
                       "RNN encoder to ONNX, with manifest.json (sizes, class names, scale, sha256 of each file).")
    p.add_argument("--checkpoint", required=True,
                   help="a shipped checkpoint's name (e.g. sketch_rnn-small/quickdraw-face) or a checkpoint file")
    p.add_argument("--out", required=True, help="output folder (*.onnx, manifest.json)")
    p.add_argument("--temperature", type=float, default=0.25, help="the page's default temperature (0.25)")
    p.add_argument("--if-changed", action="store_true",
                   help="keep an earlier export in OUT made from the same checkpoint by the same exporter")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("build-native", help="compile the native LSTM kernels now (training would on first use)",
                       formatter_class=fmt, description="Compile sketchlib/models/csrc/lstm_step.cpp for this CPU "
                       "(about 25 s, needs a C++ compiler and ninja) into the torch extensions cache. Training "
                       "builds it on first use; sampling only uses a build that is already there.")
    p.set_defaults(func=cmd_build_native)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    from sketchlib.training import NonFiniteLossError

    try:
        return args.func(args)
    except BrokenPipeError:  # output piped into head and the like
        sys.stderr.close()
        return 0
    except (CLIError, ValueError, OSError, NonFiniteLossError) as e:
        msg = " ".join(str(e).split()) or type(e).__name__
        print(f"sketchlib {args.command}: error: {msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"sketchlib {args.command}: interrupted", file=sys.stderr)
        return 130
