"""The book's shipped checkpoints: a name -> a trained model, with where it came from.

The files live in ``data/checkpoints/`` of the repository (or the folder named by
``$SKETCHLIB_CHECKPOINT_DIR``), described by ``registry.json`` beside them::

    >>> from sketchlib import pretrained
    >>> pretrained.available()                                  # doctest: +SKIP
    ['aisketcher-small/faces', ..., 'sketch_rnn-small/quickdraw-face']
    >>> model, stats = pretrained.load("sketch_rnn-small/quickdraw-face")   # doctest: +SKIP
    >>> pretrained.info("sketch_rnn-small/quickdraw-face").command          # doctest: +SKIP

Each entry records the preset, the data spec it was trained on, the number of
steps, the training and validation losses measured by :func:`measure` when it
was registered, the exact command that trained
it and the commit of the code. The shipped files are weights only (no optimiser
state); :func:`register` writes them from a training run's ``best.pt``.
``tests/test_pretrained.py`` checks that every entry loads, matches its preset
and reproduces its recorded validation loss.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path

import numpy as np

from sketchlib.checkpoint import CheckpointError, load_checkpoint, load_model, model_from_checkpoint, save_checkpoint

__all__ = ["PretrainedInfo", "checkpoint_dir", "available", "info", "path", "load", "measure", "log_path",
           "read_training_log", "training_minutes", "register"]

CHECKPOINT_DIR_ENV = "SKETCHLIB_CHECKPOINT_DIR"
REGISTRY_FILE = "registry.json"
#: Drawings of the valid split a registered loss is measured on (the first ones, in file order).
VALID_LIMIT = 500


@dataclasses.dataclass(frozen=True)
class PretrainedInfo:
    """One shipped checkpoint, as ``registry.json`` describes it."""

    name: str
    file: str
    preset: str
    data: str
    steps: int
    description: str
    command: str
    commit: str
    train: dict  # measured by measure() on the train split: total, l_r, l_kl, n (drawings), seed
    valid: dict  # the same on the valid split
    log: str | None = None  # the gzipped training log, when shipped

    @property
    def path(self) -> Path:
        return checkpoint_dir() / self.file


def checkpoint_dir() -> Path:
    """``$SKETCHLIB_CHECKPOINT_DIR``, else the repository's ``data/checkpoints``."""
    env = os.environ.get(CHECKPOINT_DIR_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[1] / "data" / "checkpoints"


def _registry(folder: Path | None = None) -> dict:
    folder = folder or checkpoint_dir()
    f = folder / REGISTRY_FILE
    if not f.is_file():
        raise FileNotFoundError(
            f"{f}: no checkpoint registry; the shipped checkpoints come with the book's repository "
            f"(clone it and `pip install -e .`), or set ${CHECKPOINT_DIR_ENV} to a folder holding them"
        )
    try:
        return json.loads(f.read_text())
    except ValueError as e:
        raise CheckpointError(f"{f}: not valid JSON ({e}); restore it with `git checkout {REGISTRY_FILE}`") from None


def available() -> list[str]:
    """Names of the shipped checkpoints, sorted."""
    return sorted(_registry())


def info(name: str) -> PretrainedInfo:
    """What the registry records about ``name``."""
    reg = _registry()
    if name not in reg:
        import difflib

        close = difflib.get_close_matches(name, reg, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"no shipped checkpoint {name!r}{hint} (available: {', '.join(sorted(reg))})")
    fields = {f.name for f in dataclasses.fields(PretrainedInfo)}
    return PretrainedInfo(name=name, **{k: v for k, v in reg[name].items() if k in fields and k != "name"})


def path(name: str) -> Path:
    """The file of checkpoint ``name`` (checked to exist)."""
    p = info(name).path
    if not p.is_file():
        raise FileNotFoundError(f"{p}: the registry lists {name!r} but its file is missing; "
                                f"`git checkout {p.name}` or retrain it with: {info(name).command}")
    return p


def load(name: str, map_location=None):
    """``(model, stats)`` of checkpoint ``name``, the model in eval mode (:func:`sketchlib.checkpoint.load_model`)."""
    return load_model(path(name), map_location)


def measure(model, stats: dict, data: str, split: str = "valid", *, limit: int = VALID_LIMIT, seed: int = 0) -> dict:
    """Losses of ``model`` on the first ``limit`` drawings of a split of ``data``, as the trainer's validation
    computes them (eval mode, the KL term at the final ``kl_weight``, latent noise seeded by ``seed``)."""
    from sketchlib.datasets import load as load_data
    from sketchlib.training import dataset_for_model, evaluate

    sketches = getattr(load_data(data), split)
    ds = dataset_for_model(sketches, model.cfg, stats)
    idx = np.arange(min(limit, len(ds)))
    out = evaluate(model, ds, batch_size=model.cfg.batch_size, kl_weight=model.cfg.kl_weight, indices=idx, seed=seed)
    return {"total": out["total"], "l_r": out["l_r"], "l_kl": out["l_kl"], "n": int(len(idx)), "seed": seed}


def log_path(name: str) -> Path | None:
    """The training log shipped with ``name`` (``*.log.jsonl.gz``), or ``None``."""
    f = info(name).log
    return checkpoint_dir() / f if f else None


def read_training_log(name: str) -> list[dict]:
    """The records of the training log shipped with ``name`` (see :func:`sketchlib.training.read_log`)."""
    from sketchlib.training import read_log

    p = log_path(name)
    if p is None:
        raise FileNotFoundError(f"no training log was shipped with {name!r}")
    return read_log(p)


def training_minutes(records: list[dict]) -> float:
    """Wall-clock minutes of a training from its log records (:func:`read_training_log`): the
    ``time`` of a log restarts at 0 on every resume, so the segments are added up."""
    total, last = 0.0, 0.0
    for r in records:
        t = r.get("time")
        if t is None:
            continue
        if t < last:  # a resumed segment starts
            total += last
        last = t
    return (total + last) / 60


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def register(
    name: str,
    checkpoint: str | os.PathLike,
    *,
    data: str,
    command: str,
    description: str,
    log: str | os.PathLike | None = None,
    folder: str | os.PathLike | None = None,
) -> PretrainedInfo:
    """Ship ``checkpoint`` (a run's ``best.pt``) as ``name``: write its weights without optimiser state into the
    checkpoint folder, copy its ``log.jsonl`` (gzipped) when given, measure its train and valid losses and record
    everything in ``registry.json``."""
    import gzip
    import shutil

    checkpoint = Path(checkpoint)
    folder = Path(folder) if folder is not None else checkpoint_dir()
    ckpt = load_checkpoint(checkpoint)
    model = model_from_checkpoint(ckpt, "cpu", checkpoint)
    stem = name.replace("/", "_")
    save_checkpoint(folder / f"{stem}.pt", model=model, cfg=model.cfg, stats=ckpt["stats"], step=ckpt["step"],
                    best_valid_loss=ckpt["best_valid_loss"], skipped=ckpt.get("skipped", 0))
    log_file = None
    if log is not None:
        log_file = f"{stem}.log.jsonl.gz"
        with open(log, "rb") as src, open(folder / log_file, "wb") as raw, \
                gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as dst:
            shutil.copyfileobj(src, dst)
    entry = {
        "file": f"{stem}.pt",
        "log": log_file,
        "preset": model.cfg.name,
        "data": data,
        "steps": int(ckpt["step"]),
        "description": description,
        "command": command,
        "commit": _git_commit(),
        "train": measure(model, ckpt["stats"], data, "train"),
        "valid": measure(model, ckpt["stats"], data, "valid"),
    }
    reg = _registry(folder) if (folder / REGISTRY_FILE).is_file() else {}
    reg[name] = entry
    tmp = folder / f".{REGISTRY_FILE}.tmp"
    tmp.write_text(json.dumps(dict(sorted(reg.items())), indent=2) + "\n")
    os.replace(tmp, folder / REGISTRY_FILE)
    return info(name) if folder == checkpoint_dir() else PretrainedInfo(name=name, **entry)
