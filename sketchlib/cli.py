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
    from sketchlib.models.config import preset
    from sketchlib.training import Trainer

    overrides = parse_overrides(args.set or [])
    if args.steps is not None:
        overrides["num_steps"] = args.steps
    cfg = preset(args.preset, **overrides)
    device = _device(args.device)
    data = _load_data(args.data)
    trainer = Trainer(cfg, data, args.out, device=device, compile=args.compile, progress=not args.quiet,
                      resume=args.resume)
    k = trainer.cfg.num_classes
    print(f"training {cfg.name} on {args.data} ({len(trainer.train_set)} drawings, "
          f"{k} class{'es' if k > 1 else ''}) on {device}, step {trainer.step} -> {trainer.cfg.num_steps}; "
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
        print(f"stopped at step {trainer.step}; continue with the same command and --resume")
        return 0
    print(f"done: step {trainer.step}, best valid loss {trainer.best_valid_loss:.4f} in {trainer.best_path}")
    return 0


def cmd_sample(args) -> int:
    import numpy as np

    from sketchlib.checkpoint import load_model
    from sketchlib.sampling import sample

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
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "samples.npz", **{f"sample_{i:03d}": d for i, d in enumerate(drawings)})
    _write_images(drawings, out)
    print(f"wrote {len(drawings)} drawings to {out}: sample_NNN.svg / .png, grid.png, samples.npz")
    return 0


def _write_images(drawings, out: Path) -> None:
    """One SVG and one PNG per drawing, and all of them in ``grid.png``."""
    import math

    from sketchlib import plotting

    for i, d in enumerate(drawings):
        plotting.save_svg(d, out / f"sample_{i:03d}.svg")
        plotting.save_png(d, out / f"sample_{i:03d}.png")
    plotting.save_png(list(drawings), out / "grid.png", ncols=math.ceil(math.sqrt(len(drawings))))


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

_EPILOG = """\
examples:
  python -m sketchlib presets                       list the model presets
  python -m sketchlib presets aisketcher-small      every setting of one preset
  python -m sketchlib train --preset aisketcher-small --data faces --steps 3000 --out runs/faces
  python -m sketchlib train --preset aisketcher-small --data faces --steps 6000 --out runs/faces --resume
  python -m sketchlib sample --checkpoint runs/faces/best.pt --n 16 --temperature 0.5 --out samples/
  python -m sketchlib evaluate --checkpoint runs/faces/best.pt --data faces --split test

Run "python -m sketchlib COMMAND --help" for a command's options.
"""

_TRAIN_EPILOG = """\
data specs (see sketchlib.datasets.load):
  faces | quickdraw:face,pig | quickdraw-simplified:face | spg | spg:face,pig |
  kanjivg | kanjivg:10 | path/to/file.npz

examples:
  # a small AI-Sketcher on the faces data, 3000 steps (checkpoints in runs/faces)
  python -m sketchlib train --preset aisketcher-small --data faces --steps 3000 --out runs/faces
  # Sketch-RNN on two QuickDraw classes, changing settings of the preset
  python -m sketchlib train --preset sketch_rnn-small --data quickdraw:face,pig --out runs/qd \\
      --set batch_size=32 --set kl_weight=1.0
  # continue a stopped run up to 6000 steps
  python -m sketchlib train --preset aisketcher-small --data faces --steps 6000 --out runs/faces --resume

The output folder receives best.pt (lowest validation loss), last.pt, log.jsonl
(one line of losses per step) and config.json.
"""

_SAMPLE_EPILOG = """\
examples:
  python -m sketchlib sample --checkpoint runs/faces/best.pt --n 16 --temperature 0.5 --out samples/
  python -m sketchlib sample --checkpoint runs/faces/best.pt --class happiness-female --seed 0 --out happy/

Writes sample_000.svg, sample_000.png, ... for each drawing, grid.png with all of
them, and samples.npz with the stroke-3 arrays (pixel units). A class-conditional
model without --class cycles through its classes.
"""

_EVALUATE_EPILOG = """\
example:
  python -m sketchlib evaluate --checkpoint runs/faces/best.pt --data faces --split test

Prints the mean loss terms (total, reconstruction l_r = l_s + l_p, KL l_kl, ...)
with the KL term at its full weight, as during validation.
"""


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
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="draw new sketches from a trained model", epilog=_SAMPLE_EPILOG,
                       formatter_class=fmt, description="Draw sketches from a trained model.")
    p.add_argument("--checkpoint", required=True, help="a checkpoint file, e.g. runs/faces/best.pt")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--n", type=int, default=16, help="number of drawings (default 16)")
    p.add_argument("--temperature", type=float, default=0.5,
                   help="randomness, 0.01 (tidy) to 1.0 (the model's full variety); default 0.5")
    p.add_argument("--class", dest="class_", metavar="CLASS",
                   help="class name or index, for class-conditional models")
    p.add_argument("--greedy", action="store_true", help="always take the most likely next point")
    p.add_argument("--seed", type=int, help="random seed, for reproducible drawings")
    p.add_argument("--max-len", type=int, help="most points per drawing (default: the model's max_seq_len)")
    p.add_argument("--device", help="cpu or cuda (default: cuda if available)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("evaluate", help="print a checkpoint's losses on a data split", epilog=_EVALUATE_EPILOG,
                       formatter_class=fmt, description="Mean losses of a trained model on a data split.")
    p.add_argument("--checkpoint", required=True, help="a checkpoint file, e.g. runs/faces/best.pt")
    p.add_argument("--data", required=True, help="data spec, as for train")
    p.add_argument("--split", choices=["train", "valid", "test"], default="test", help="default: test")
    p.add_argument("--batch-size", type=int, help="default: the model's batch_size")
    p.add_argument("--device", help="cpu or cuda (default: cuda if available)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_evaluate)
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
