"""Checkpoints: a trained model and everything needed to use it, or to resume its training exactly.

One checkpoint is one ``torch.save`` file holding a plain dict:

- ``format``, ``version``: what this file is (``"sketchlib-checkpoint"``, :data:`VERSION`)
- ``config``: the full :class:`SketchConfig` as a dict (``cfg.to_dict()``)
- ``model``: the model's ``state_dict``
- ``stats``: the data normalisation the model was trained with
  (``SketchDataset.stats()``: ``scale``, ``max_seq_len``, ``class_names``)
- ``step``, ``best_valid_loss``, ``skipped``: where the run stood
- ``optimizer``, ``rng``, ``index_stream``: what the trainer needs to resume
  (``None`` in checkpoints written only to ship a model)

Everything in it is a tensor or a plain Python value, so it loads with
``torch.load(..., weights_only=True)``: opening a checkpoint never runs code.

Writes are atomic (a temporary file, then ``os.replace``), so a crash while
saving leaves the previous checkpoint intact, and a model with non-finite
weights is refused rather than written over a good one.
"""

from __future__ import annotations

import logging
import math
import os
import random
from pathlib import Path

import numpy as np
import torch

from sketchlib.models.config import SketchConfig, config_diff

__all__ = [
    "VERSION",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "load_model",
    "model_from_checkpoint",
    "capture_rng_state",
    "restore_rng_state",
]

log = logging.getLogger(__name__)

FORMAT = "sketchlib-checkpoint"
#: Bumped whenever the layout of the dict changes; older versions stay readable.
VERSION = 1
#: Config fields that may differ between a checkpoint and the config it is loaded into.
RESUMABLE_FIELDS = ("name", "num_steps")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit; the message names the file."""


# --------------------------------------------------------------------------- RNG state


def capture_rng_state(numpy_generators: dict[str, np.random.Generator] | None = None) -> dict:
    """Every random number generator a training step draws from: torch (CPU and CUDA),
    Python's ``random``, and the named numpy generators (e.g. the augmentation's)."""
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        "numpy": {k: g.bit_generator.state for k, g in (numpy_generators or {}).items()},
    }


def restore_rng_state(state: dict, numpy_generators: dict[str, np.random.Generator] | None = None) -> None:
    """Inverse of :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate(state["python"])
    for k, g in (numpy_generators or {}).items():
        if k not in state["numpy"]:
            raise CheckpointError(f"the checkpoint holds no state for the numpy generator '{k}'")
        g.bit_generator.state = state["numpy"][k]


# --------------------------------------------------------------------------- save


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: torch.nn.Module,
    cfg: SketchConfig,
    stats: dict,
    step: int = 0,
    best_valid_loss: float = math.inf,
    optimizer: torch.optim.Optimizer | None = None,
    rng: dict | None = None,
    index_stream: dict | None = None,
    skipped: int = 0,
) -> Path:
    """Write a checkpoint atomically; refuses a model whose weights are not all finite.

    Returns the path written.
    """
    path = Path(path)
    bad = [n for n, p in model.state_dict().items() if p.is_floating_point() and not bool(torch.isfinite(p).all())]
    if bad:
        raise CheckpointError(
            f"{path}: refusing to save a model with non-finite weights ({', '.join(bad[:3])}"
            f"{', ...' if len(bad) > 3 else ''}); the previous checkpoint is kept"
        )
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": cfg.to_dict(),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "stats": {"scale": float(stats["scale"]), "max_seq_len": int(stats["max_seq_len"]),
                  "class_names": list(stats["class_names"])},
        "step": int(step),
        "best_valid_loss": float(best_valid_loss),
        "skipped": int(skipped),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "rng": rng,
        "index_stream": index_stream,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


# --------------------------------------------------------------------------- load


def load_checkpoint(
    path: str | os.PathLike,
    cfg: SketchConfig | None = None,
    *,
    map_location: str | torch.device = "cpu",
    ignore: tuple[str, ...] = RESUMABLE_FIELDS,
) -> dict:
    """Read and check a checkpoint; ``ckpt["config"]`` comes back as a :class:`SketchConfig`.

    With ``cfg``, the checkpoint's config must equal it (apart from the fields in
    ``ignore``), otherwise a :class:`CheckpointError` (a ``ValueError``) lists the
    differing fields.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for truncated / foreign files
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"{path}: cannot read this checkpoint ({reason}); the file is truncated, corrupt "
            "or not a sketchlib checkpoint"
        ) from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a sketchlib checkpoint (no '{FORMAT}' marker)")
    if ckpt.get("version", 0) > VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {ckpt['version']} is newer than this sketchlib "
            f"reads ({VERSION}); upgrade sketchlib"
        )
    try:
        ckpt["config"] = SketchConfig.from_dict(ckpt["config"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: {e}") from e
    if cfg is not None:
        diff = config_diff(ckpt["config"], cfg, ignore=ignore)
        if diff:
            fields = "; ".join(f"{k}: checkpoint={a!r}, given={b!r}" for k, (a, b) in diff.items())
            n = len(diff)
            raise CheckpointError(
                f"{path}: the checkpoint was trained with a different config ({n} field"
                f"{'s differ' if n > 1 else ' differs'}: {fields})"
            )
    return ckpt


def model_from_checkpoint(ckpt: dict, map_location: str | torch.device | None = None, path: str | os.PathLike = ""):
    """The model a :func:`load_checkpoint` dict describes, with its weights, in eval mode on ``map_location``."""
    from sketchlib.models import SketchModel

    model = SketchModel(ckpt["config"])
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(
            f"{path or 'checkpoint'}: the weights do not fit the model its config describes ({first})"
        ) from e
    return model.to(map_location or "cpu").eval()


def load_model(path: str | os.PathLike, map_location: str | torch.device | None = None):
    """A trained model, in eval mode, and its data stats: ``(model, stats)``.

    ``stats`` holds ``scale`` (pass it to :func:`sketchlib.sampling.sample`),
    ``max_seq_len`` and ``class_names``. ``map_location`` is the device the model
    goes to (default: CPU).
    """
    ckpt = load_checkpoint(path)
    return model_from_checkpoint(ckpt, map_location, path), ckpt["stats"]
