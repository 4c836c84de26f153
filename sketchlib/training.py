"""One trainer for every preset: Sketch-RNN, AI-Sketcher, Sketch-pix2seq, CNN-LSTM VAE.

The loop is Magenta's ``sketch_rnn_train.py``, step by step:

    lr_s  = (lr - lr_min) * decay_rate^s + lr_min              learning-rate decay
    w_s   = w_KL - (w_KL - w_start) * kl_decay_rate^s          KL annealing (alpha of AI-Sketcher eq. 12)
    loss  = model.compute_losses(batch, w_s)["total"]          eq. 12 (Sketch-RNN eq. 11)
    Adam step on the gradient, clipped to norm ``grad_clip``

with, around it:

- validation every ``cfg.eval_every`` steps on a fixed subset of the valid split
  (``cfg.eval_batches`` batches, eval mode, no gradient, its own RNG seed), keeping
  ``best.pt`` (lowest valid total loss) and ``last.pt`` in ``out_dir``;
- ``log.jsonl``: one JSON line per step (``step``, ``lr``, ``kl_weight``,
  ``train_total``, ``train_l_r``, ``train_l_kl``, ... and ``valid_*`` at
  validation steps) which :func:`read_log` reads back;
- exact resumption: batches come from a seeded :class:`IndexStream` (a numpy
  permutation per epoch), and its state, the augmentation's generator and the
  torch RNG are all saved, so a resumed run repeats the uninterrupted run's
  losses step for step;
- a guard against non-finite losses: such a batch is skipped (no optimiser step)
  and counted; ``max_bad_steps`` of them in a row stop the run with
  :class:`NonFiniteLossError`, leaving the last good checkpoint in place.

On CUDA the forward pass runs under bf16 autocast; ``compile=True`` wraps the model in ``torch.compile``.
Inside a ``torch.distributed`` process group (``torchrun``) the trainer is data-parallel with the same
global batches (:mod:`sketchlib.distributed`). Steps count batches drawn, skipped ones included.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from sketchlib.batches import BucketStream, IndexStream, longest_first, shard
from sketchlib.checkpoint import CheckpointError, capture_rng_state, load_checkpoint, restore_rng_state, save_checkpoint
from sketchlib.datasets import SketchDataset, Sketches, SketchSplits
from sketchlib.distributed import DataParallel, world
from sketchlib.errors import SketchDataError
from sketchlib.losses import kl_weight_at, learning_rate_at
from sketchlib.models import SketchConfig, SketchModel

__all__ = ["Trainer", "IndexStream", "BucketStream", "NonFiniteLossError", "evaluate", "dataset_for_model",
           "read_log", "default_device", "fit_config", "LOSS_KEYS"]

log = logging.getLogger(__name__)

#: The loss terms ``SketchModel.compute_losses`` returns, in the order logs and tables show them.
LOSS_KEYS = ("total", "l_r", "l_s", "l_p", "l_kl", "l_z", "l_a", "l_ae")


class NonFiniteLossError(RuntimeError):
    """Too many batches in a row gave a NaN or infinite loss or gradient."""


def default_device() -> torch.device:
    """CUDA when there is a GPU, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _autocast(device: torch.device):
    """bf16 autocast on CUDA; nothing elsewhere (CPU bf16 is slower and less accurate here)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


# --------------------------------------------------------------------------- evaluation


@torch.no_grad()
def evaluate(
    model: SketchModel,
    dataset: SketchDataset,
    *,
    batch_size: int,
    kl_weight: float,
    indices: np.ndarray | None = None,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, float]:
    """Mean loss terms of ``model`` over ``dataset`` (or its ``indices``), deterministically.

    Runs in eval mode without gradients, with the torch RNG seeded to ``seed``
    inside a fork (the latent's reparameterisation noise is still drawn), so the
    caller's RNG stream is untouched and two calls give the same numbers.
    Returns ``{"total": ..., "l_r": ..., ...}`` averaged over drawings.
    """
    device = model.device
    was_training = model.training
    model.eval()
    idx = np.arange(len(dataset)) if indices is None else np.asarray(indices, dtype=np.int64)
    sums = {k: 0.0 for k in LOSS_KEYS}
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        chunks = range(0, len(idx), batch_size)
        for start in tqdm(chunks, desc="evaluate", leave=False, disable=not progress):
            chunk = idx[start : start + batch_size]
            batch = _to_device(dataset.batch(chunk), device)
            with _autocast(device):
                losses = model.compute_losses(batch, kl_weight)
            for k in LOSS_KEYS:
                sums[k] += float(losses[k]) * len(chunk)
    model.train(was_training)
    return {k: v / max(len(idx), 1) for k, v in sums.items()}


def dataset_for_model(sketches: Sketches, cfg: SketchConfig, stats: dict) -> SketchDataset:
    """A data set that feeds ``sketches`` to a trained model exactly as its training data was fed.

    Uses the checkpoint's ``stats`` (scale, ``max_seq_len``) and maps the class
    labels onto the model's class order by name.
    """
    names = list(stats["class_names"])
    unknown = [n for n in sketches.class_names if n not in names]
    if unknown:
        raise SketchDataError(
            f"classes {unknown} are not among the {len(names)} the model was trained on ({', '.join(names[:10])}"
            f"{', ...' if len(names) > 10 else ''})",
            source=sketches.source or None,
        )
    remap = np.array([names.index(n) for n in sketches.class_names], dtype=np.int64)
    remapped = Sketches(sketches.drawings, remap[sketches.labels] if len(sketches) else sketches.labels,
                        names, sketches.source, sketches.extras)
    return SketchDataset(remapped, stats["max_seq_len"], scale=stats["scale"], raster_size=cfg.needs_raster,
                         pad_to=cfg.pad_to)


# --------------------------------------------------------------------------- the log


def _clean(x: float) -> float | None:
    """JSON has no NaN: non-finite numbers are written as null."""
    return x if math.isfinite(x) else None


def read_log(path: str | os.PathLike) -> list[dict]:
    """The records of a ``log.jsonl`` (a run's folder, or a gzipped ``.jsonl.gz``, works too);
    ``null`` values come back as ``nan``."""
    path = Path(path)
    if path.is_dir():
        path = path / "log.jsonl"
    records = []
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        for line in f:
            line = line.strip()
            if line:
                rec = json.loads(line)
                records.append({k: (math.nan if v is None else v) for k, v in rec.items()})
    return records


def _truncate_log(path: Path, step: int) -> None:
    """Drop records after ``step`` (a run resumed from a checkpoint written before it was killed)."""
    if not path.exists():
        return
    with open(path) as f:
        lines = [ln for ln in f if ln.strip() and json.loads(ln)["step"] <= step]
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(lines))
    os.replace(tmp, path)


# --------------------------------------------------------------------------- the trainer


def fit_config(cfg: SketchConfig, data: SketchSplits) -> SketchConfig:
    """``cfg`` fitted to the data: its number of classes, and ``max_seq_len`` lowered to the longest drawing."""
    longest = max((len(d) for split in (data.train, data.valid, data.test) for d in split.drawings), default=0)
    cfg = cfg.replace(num_classes=len(data.class_names))
    if 0 < longest < cfg.max_seq_len:
        log.info("max_seq_len lowered from %d to %d, the longest drawing in the data", cfg.max_seq_len, longest)
        cfg = cfg.replace(max_seq_len=longest)
    return cfg


class Trainer:
    """Trains a :class:`SketchModel` configured by ``cfg`` on ``data``, writing to ``out_dir``.

    Args:
        cfg: the model and run hyper-parameters. Copied; the copy's ``num_classes``
            is set from the data and its ``max_seq_len`` lowered to the longest drawing
            (as Magenta does). The copy is ``trainer.cfg``.
        data: the train / valid / test splits (pixel units), or a spec for
            :func:`sketchlib.datasets.load` such as ``"faces"``.
        out_dir: receives ``best.pt``, ``last.pt``, ``log.jsonl`` and ``config.json``.
        device: ``"cuda"``, ``"cpu"``, ...; ``None`` picks CUDA when there is a GPU.
        compile: ``torch.compile`` the model (worth it for long GPU runs only).
        progress: show a tqdm bar.
        resume: continue from ``out_dir/last.pt`` (its config must match ``cfg``).
            Without it, an ``out_dir`` that already holds checkpoints is refused, so a
            user's trained model is never overwritten by accident.
        max_bad_steps: stop after this many non-finite batches in a row (default 10:
            a single bad batch is noise; ten in a row means the run has diverged).

    ``trainer.train(num_steps)`` runs until the run has taken ``num_steps`` steps in total.
    """

    def __init__(
        self,
        cfg: SketchConfig,
        data: SketchSplits | str,
        out_dir: str | os.PathLike,
        device: str | torch.device | None = None,
        compile: bool = False,
        progress: bool = True,
        resume: bool = False,
        max_bad_steps: int = 10,
    ):
        if isinstance(data, str):
            from sketchlib.datasets import load

            data = load(data)
        self.out_dir = Path(out_dir)
        self.device = torch.device(device) if device is not None else default_device()
        self.rank, self.world_size = world()  # data-parallel inside a torch.distributed process group
        self.device = DataParallel.device_for(self.device) if self.world_size > 1 else self.device
        self.is_main = self.rank == 0  # writes the log, config.json and the checkpoints
        self.progress = progress and self.is_main
        self.max_bad_steps = max_bad_steps
        self.log_path = self.out_dir / "log.jsonl"
        self.last_path, self.best_path = self.out_dir / "last.pt", self.out_dir / "best.pt"

        self.cfg = cfg = fit_config(cfg, data)
        self._make_data(data)

        # ---- model and optimiser
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        self.model = SketchModel(cfg).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.learning_rate)
        self.step = 0
        self.best_valid_loss = math.inf
        self.skipped = 0  # non-finite batches over the whole run
        self.bad_in_a_row = 0
        self._stop_requested = self._stop_agreed = False  # data-parallel: stop when any rank asked
        self._rank_rng: list | None = None  # every rank's torch generator state (data-parallel)

        if resume and self.last_path.exists():
            self._resume()
        else:
            if resume:
                log.warning("nothing to resume in %s: starting from step 0", self.out_dir)
            elif self.last_path.exists() or self.best_path.exists():
                raise FileExistsError(
                    f"{self.out_dir} already holds checkpoints of an earlier run; pass resume=True "
                    "(--resume) to continue it, or choose another out_dir"
                )
            if self.is_main:
                self.out_dir.mkdir(parents=True, exist_ok=True)
                (self.out_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
                self.log_path.unlink(missing_ok=True)
        self.dp = DataParallel(self.model, self.device, cfg.seed, self.step, self._rank_rng) if self.world_size > 1 else None  # noqa: E501
        if compile:
            self.model.compile()

    def _make_data(self, data: SketchSplits) -> None:
        """The training and validation sets, the batch stream and the fixed validation subset."""
        cfg = self.cfg
        augment = cfg.random_scale_factor > 0 or cfg.augment_stroke_prob > 0
        self.train_set = SketchDataset(
            data.train, cfg.max_seq_len, augment=augment, raster_size=cfg.needs_raster,
            pad_to="batch" if cfg.bucket or cfg.pack else cfg.pad_to,
            scale_factor=cfg.random_scale_factor, drop_prob=cfg.augment_stroke_prob, seed=cfg.seed,
        )
        if len(data.valid) == 0:
            raise SketchDataError("the valid split is empty; the trainer needs it to pick the best checkpoint "
                                  "(SketchSplits.from_single makes one)", source=data.train.source or None)
        self.valid_set = SketchDataset(
            data.valid, cfg.max_seq_len, scale=self.train_set.scale, raster_size=cfg.needs_raster, pad_to=cfg.pad_to,
        )
        for name, ds in (("train", self.train_set), ("valid", self.valid_set)):
            if ds.n_dropped:
                log.warning("%s: dropped %d drawings longer than max_seq_len=%d", name, ds.n_dropped, cfg.max_seq_len)
        self.stats = self.train_set.stats()
        if cfg.bucket:
            self.stream: IndexStream | BucketStream = BucketStream(self.train_set.lengths(), cfg.batch_size,
                                                                  seed=cfg.seed + 1)
        else:
            self.stream = IndexStream(len(self.train_set), cfg.batch_size, seed=cfg.seed + 1)
        # a fixed random subset of valid: the valid split may be ordered by class
        n_eval = min(len(self.valid_set), cfg.eval_batches * cfg.batch_size)
        self.eval_indices = np.sort(np.random.default_rng(cfg.seed + 2).permutation(len(self.valid_set))[:n_eval])

    # -- checkpoints
    def _numpy_generators(self) -> dict[str, np.random.Generator]:
        return {"augment": self.train_set.rng}

    def save(self, path: str | os.PathLike) -> Path:
        """Write a full (resumable) checkpoint of the current state."""
        rng = capture_rng_state(self._numpy_generators())
        rng.update({"ranks": self._rank_rng} if self.dp is not None else {})  # gathered by _gather_rng just before
        return save_checkpoint(
            path, model=self.model, cfg=self.cfg, stats=self.stats, step=self.step,
            best_valid_loss=self.best_valid_loss, optimizer=self.optimizer, rng=rng, index_stream=self.stream.state_dict(),  # noqa: E501
            skipped=self.skipped,
        )

    def _resume(self) -> None:
        try:
            ckpt = load_checkpoint(self.last_path, self.cfg)  # on the CPU: RNG states must stay there
        except CheckpointError as e:
            raise CheckpointError(f"{e}; resume with the run's settings (see {self.out_dir / 'config.json'}), "
                                  "or train into another out_dir") from None
        mismatch = {k: (ckpt["stats"][k], v) for k, v in self.stats.items() if ckpt["stats"][k] != v}
        if mismatch:
            fields = "; ".join(f"{k}: checkpoint={a!r}, now={b!r}" for k, (a, b) in mismatch.items())
            raise ValueError(f"{self.last_path}: the training data differ from the checkpoint's ({fields})")
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.stream.load_state_dict(ckpt["index_stream"])
        self.step, self.best_valid_loss, self.skipped = ckpt["step"], ckpt["best_valid_loss"], ckpt["skipped"]
        if not self.best_path.exists():  # last.pt copied alone: the next validation writes a best.pt again
            log.warning("%s is missing: the best checkpoint is chosen from step %d on", self.best_path, self.step)
            self.best_valid_loss = math.inf
        restore_rng_state(ckpt["rng"], self._numpy_generators())
        self._rank_rng = ckpt["rng"].get("ranks")
        if self.is_main:
            _truncate_log(self.log_path, self.step)
        log.info("resumed %s at step %d (best valid loss %.4f)", self.last_path, self.step, self.best_valid_loss)

    # -- one step
    def train_step(self) -> dict:
        """Draw a batch, take one optimiser step (or skip a non-finite batch). Returns the log record."""
        cfg, s = self.cfg, self.step
        lr, kl_w = learning_rate_at(cfg, s), kl_weight_at(cfg, s)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        # every rank collates the same global batch and keeps its own rows (one process: all of them, weight 1)
        batch = self.train_set.batch(self.stream.next())
        if cfg.pack and not (cfg.pack_full_every and s % cfg.pack_full_every == cfg.pack_full_every - 1):
            batch = longest_first(batch)  # the loops run only over each drawing's own steps (SketchConfig.pack)
        batch, weight = shard(batch, self.rank, self.world_size)
        batch = _to_device(batch, self.device)
        self.model.train()
        with _autocast(self.device):
            losses = (self.dp or self.model).compute_losses(batch, kl_w)
        self.optimizer.zero_grad(set_to_none=True)
        (losses["total"] * weight if self.dp else losses["total"]).backward()  # NaN loss -> NaN gradients, caught below
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        values = torch.stack([losses[k].detach().float() for k in LOSS_KEYS] + [grad_norm.float()])
        if self.dp is not None:  # the global batch's losses; a stop request on any rank stops all
            values, self._stop_agreed = self.dp.reduce(values, weight, self._stop_requested)
        values = values.tolist()  # one sync
        if all(math.isfinite(v) for v in (values[0], values[-1])):
            self.optimizer.step()
            self.bad_in_a_row = 0
        else:
            self.optimizer.zero_grad(set_to_none=True)
            self.skipped += 1
            self.bad_in_a_row += 1
            log.warning("step %d: non-finite loss or gradient, batch skipped (%d in a row)", s + 1, self.bad_in_a_row)
        self.step = s + 1
        record = {"step": self.step, "lr": lr, "kl_weight": kl_w}
        record.update({f"train_{k}": _clean(v) for k, v in zip(LOSS_KEYS, values[:-1], strict=True)})
        record.update({"grad_norm": _clean(values[-1]), "skipped": self.skipped})
        return record

    def validate(self) -> dict[str, float]:
        """Losses on the fixed valid subset.

        The KL term is weighted by the final ``cfg.kl_weight``, not the annealed one
        (as Magenta's evaluation), so ``valid_total`` is comparable across steps and
        picking the best checkpoint by it does not favour early, lightly weighted steps.
        """
        return evaluate(self.model, self.valid_set, batch_size=self.cfg.batch_size,
                        kl_weight=self.cfg.kl_weight, indices=self.eval_indices, seed=self.cfg.seed)

    # -- the loop
    def train(self, num_steps: int | None = None) -> dict:
        """Train until ``num_steps`` steps in total (default ``cfg.num_steps``). Returns the last log record."""
        cfg = self.cfg
        num_steps = cfg.num_steps if num_steps is None else int(num_steps)
        record: dict = {"step": self.step}
        bar = tqdm(total=num_steps, initial=self.step, desc=cfg.name, disable=not self.progress, dynamic_ncols=True)
        t0 = time.perf_counter()
        try:
            with open(self.log_path if self.is_main else os.devnull, "a") as logf:
                while self.step < num_steps:
                    if self._stop_requested if self.dp is None else self._stop_agreed:
                        self._stop_requested = self._stop_agreed = False
                        if self._gather_rng():
                            self.save(self.last_path)
                        log.info("stopped at step %d; last.pt saved", self.step)
                        break
                    record = self.train_step()
                    if self.bad_in_a_row > self.max_bad_steps:
                        kept = f"{self.last_path} (step {self._saved_step()})" if self.last_path.exists() else "none yet"  # noqa: E501
                        raise NonFiniteLossError(
                            f"step {self.step}: {self.bad_in_a_row} batches in a row gave a non-finite loss or "
                            f"gradient, so training stopped; last good checkpoint: {kept}. "
                            "Try a lower learning_rate or grad_clip, or check the data for huge offsets"
                        )
                    if self.step % cfg.eval_every == 0 or self.step == num_steps:
                        record.update(self._eval_and_save())
                    record["time"] = round(time.perf_counter() - t0, 3)
                    logf.write(json.dumps(record) + "\n")
                    logf.flush()
                    bar.update(1)
                    if record.get("train_total") is not None:
                        post = {"loss": record["train_total"], "l_r": record["train_l_r"], "l_kl": record["train_l_kl"]}
                        if "valid_total" in record:
                            post["valid"] = record["valid_total"]
                        bar.set_postfix({k: f"{v:.3f}" for k, v in post.items()}, refresh=False)
        finally:
            bar.close()
        return record

    def request_stop(self) -> None:
        """Ask :meth:`train` to stop after the current step and save ``last.pt`` (safe from a signal handler)."""
        self._stop_requested = True

    def _gather_rng(self) -> bool:
        """Every rank's generator state (data-parallel: a collective, all ranks call it); True on rank 0, which saves."""  # noqa: E501
        if self.dp is not None:
            self._rank_rng = self.dp.gather_rng()
        return self.is_main

    def _eval_and_save(self) -> dict:
        if not self._gather_rng():  # rank 0 validates and saves
            return {}
        valid = self.validate()
        out = {f"valid_{k}": _clean(v) for k, v in valid.items()}
        if math.isfinite(valid["total"]) and valid["total"] < self.best_valid_loss:
            self.best_valid_loss = valid["total"]
            self.save(self.best_path)
            out["best"] = True
        self.save(self.last_path)
        return out

    def _saved_step(self) -> int:
        return int(load_checkpoint(self.last_path)["step"])
