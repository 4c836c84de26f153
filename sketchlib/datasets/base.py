"""The one multi-class data set type every loader returns, and its PyTorch view.

- :class:`Sketches`: drawings (stroke-3, pixel units) with class indices and names.
- :class:`SketchSplits`: ``train`` / ``valid`` / ``test`` :class:`Sketches`.
- :class:`SketchDataset`: a ``torch.utils.data.Dataset`` over one split that
  normalises with the *training* split's scale, augments on request, and
  collates stroke-5 batches ``(B, T + 1, 5)`` with lengths, labels, one-hot
  classes and (on demand, cached) binarised rasters.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np
import torch

from sketchlib import strokes as S
from sketchlib.errors import SketchDataError

__all__ = ["Sketches", "SketchSplits", "SketchDataset", "Batch", "LengthBuckets"]


@dataclass
class Sketches:
    """Drawings in stroke-3 pixel units, each with a class index into ``class_names``."""

    drawings: list[np.ndarray]
    labels: np.ndarray
    class_names: list[str]
    source: str = ""
    #: optional per-drawing extras (e.g. SPG per-point part labels), same order as ``drawings``
    extras: dict[str, list] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if len(self.labels) != len(self.drawings):
            raise SketchDataError(
                f"{len(self.drawings)} drawings but {len(self.labels)} labels", source=self.source or None
            )
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise SketchDataError(
                f"labels span {self.labels.min()}..{self.labels.max()} but there are "
                f"{len(self.class_names)} class names",
                source=self.source or None,
            )
        for key, values in self.extras.items():
            if len(values) != len(self.drawings):
                raise SketchDataError(f"extra '{key}' has {len(values)} entries for {len(self.drawings)} drawings")

    def __len__(self) -> int:
        return len(self.drawings)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def subset(self, index: Sequence[int] | np.ndarray) -> "Sketches":
        idx = np.asarray(index, dtype=np.int64).reshape(-1)
        return Sketches(
            [self.drawings[i] for i in idx],
            self.labels[idx],
            list(self.class_names),
            self.source,
            {k: [v[i] for i in idx] for k, v in self.extras.items()},
        )

    def of_class(self, name_or_index: str | int) -> "Sketches":
        k = self.class_names.index(name_or_index) if isinstance(name_or_index, str) else int(name_or_index)
        return self.subset(np.flatnonzero(self.labels == k))

    def take(self, n_per_class: int, seed: int = 0) -> "Sketches":
        """At most ``n_per_class`` drawings of every class, chosen at random with ``seed``."""
        rng = np.random.default_rng(seed)
        keep = []
        for k in range(self.num_classes):
            idx = np.flatnonzero(self.labels == k)
            keep.append(np.sort(rng.permutation(idx)[:n_per_class]))
        return self.subset(np.sort(np.concatenate(keep)) if keep else [])

    def filter_length(self, max_seq_len: int, on_long: Literal["drop", "error"] = "drop") -> tuple["Sketches", int]:
        """Drop drawings longer than ``max_seq_len`` points (or refuse them). Returns ``(kept, n_dropped)``."""
        lengths = np.array([len(d) for d in self.drawings], dtype=np.int64)
        too_long = np.flatnonzero(lengths > max_seq_len)
        if len(too_long) and on_long == "error":
            i = int(too_long[0])
            raise SketchDataError(
                f"drawing {i} has {lengths[i]} points, more than max_seq_len={max_seq_len} "
                f"({len(too_long)} such drawings); raise max_seq_len or pass on_long='drop'",
                source=self.source or None,
            )
        return self.subset(np.flatnonzero(lengths <= max_seq_len)), int(len(too_long))

    @staticmethod
    def concat(parts: Sequence["Sketches"]) -> "Sketches":
        """Join sets, merging their class lists by name (first occurrence order)."""
        names: list[str] = []
        for p in parts:
            for n in p.class_names:
                if n not in names:
                    names.append(n)
        drawings, labels = [], []
        extras_keys = set.intersection(*(set(p.extras) for p in parts)) if parts else set()
        extras: dict[str, list] = {k: [] for k in extras_keys}
        for p in parts:
            remap = np.array([names.index(n) for n in p.class_names], dtype=np.int64)
            drawings.extend(p.drawings)
            labels.append(remap[p.labels] if len(p.labels) else p.labels)
            for k in extras_keys:
                extras[k].extend(p.extras[k])
        source = "+".join(p.source for p in parts if p.source)
        return Sketches(drawings, np.concatenate(labels) if labels else np.zeros(0), names, source, extras)


@dataclass
class SketchSplits:
    train: Sketches
    valid: Sketches
    test: Sketches

    @property
    def class_names(self) -> list[str]:
        return self.train.class_names

    @classmethod
    def from_single(
        cls, sketches: Sketches, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
    ) -> "SketchSplits":
        """Split one set at random, stratified by class, with ``fractions`` for train/valid/test."""
        if abs(sum(fractions) - 1.0) > 1e-6:
            raise SketchDataError(f"split fractions {fractions} must sum to 1")
        rng = np.random.default_rng(seed)
        parts: list[list[int]] = [[], [], []]
        for k in range(sketches.num_classes):
            idx = rng.permutation(np.flatnonzero(sketches.labels == k))
            n_train = int(round(fractions[0] * len(idx)))
            n_valid = int(round(fractions[1] * len(idx)))
            parts[0].extend(idx[:n_train])
            parts[1].extend(idx[n_train : n_train + n_valid])
            parts[2].extend(idx[n_train + n_valid :])
        return cls(*(sketches.subset(np.sort(np.array(p, dtype=np.int64))) for p in parts))

    @staticmethod
    def concat(parts: Sequence["SketchSplits"]) -> "SketchSplits":
        return SketchSplits(
            Sketches.concat([p.train for p in parts]),
            Sketches.concat([p.valid for p in parts]),
            Sketches.concat([p.test for p in parts]),
        )

    def map(self, fn) -> "SketchSplits":
        return SketchSplits(fn(self.train), fn(self.valid), fn(self.test))


Batch = dict  # keys documented in SketchDataset.collate


class LengthBuckets:
    """Batches of drawings of similar length, so that a batch padded to its own longest wastes little.

    One epoch: shuffle, sort by length jittered by a random factor in
    ``exp(+-spread)`` (so that a drawing's batch-mates change from epoch to
    epoch), cut into consecutive batches of ``batch_size`` (the last one of the
    epoch may be smaller), and shuffle the order of the batches. Every drawing
    is seen exactly once per epoch.

    This is a deviation from Sketch-RNN, which pads every batch to ``N_max``: the
    pen-state loss then runs to the batch's padded length instead of ``N_max``.
    The terms it leaves out are the "drawing has ended" states after the batch's
    longest drawing, which a trained model predicts with near-zero loss; both
    losses keep the divisor ``N_max`` (``sketchlib.losses``), so numbers stay on
    Sketch-RNN's scale, and validation pads to ``N_max`` as the paper does.
    Iterating gives the batches of one epoch (a ``batch_sampler`` for a ``DataLoader``).
    """

    def __init__(self, lengths: Sequence[int] | np.ndarray, batch_size: int, seed: int = 0, spread: float = 0.1):
        self.lengths = np.asarray(lengths, dtype=np.float64).reshape(-1)
        if len(self.lengths) < 1 or batch_size < 1:
            raise ValueError(f"LengthBuckets needs at least one drawing and batch_size >= 1, "
                             f"got {len(self.lengths)} drawings, batch_size={batch_size}")
        self.batch_size, self.spread = int(batch_size), float(spread)
        self.rng = np.random.default_rng(seed)

    def epoch(self) -> list[np.ndarray]:
        """The batches (index arrays) of one fresh epoch, in random order."""
        n = len(self.lengths)
        perm = self.rng.permutation(n)
        key = self.lengths[perm] * np.exp(self.rng.uniform(-self.spread, self.spread, n))
        order = perm[np.argsort(key, kind="stable")]
        batches = [order[i : i + self.batch_size] for i in range(0, n, self.batch_size)]
        return [batches[i] for i in self.rng.permutation(len(batches))]

    def __iter__(self):
        return iter([b.tolist() for b in self.epoch()])

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)


class SketchDataset(torch.utils.data.Dataset):
    """One split as a PyTorch data set.

    Args:
        sketches: the drawings (pixel units).
        max_seq_len: ``N_max``; longer drawings are dropped (counted in ``n_dropped``)
            or refused, by ``on_long``.
        scale: the normalising scale; pass the training split's value for
            ``valid``/``test``. ``None`` computes it from these drawings.
        augment: apply Sketch-RNN's augmentations in ``__getitem__`` (training only).
        raster_size: when set, batches carry ``rasters: (B, 1, R, R)`` float32
            binary images of the un-augmented drawings (rendered once, cached).
        pad_to: ``"max_seq_len"`` pads every batch to ``N_max`` (Sketch-RNN
            exactly); ``"batch"`` pads to one row past the longest drawing in the
            batch (faster; every drawing still ends with an end row, as under ``N_max``).
    """

    def __init__(
        self,
        sketches: Sketches,
        max_seq_len: int = 250,
        scale: float | None = None,
        augment: bool = False,
        raster_size: int | None = None,
        pad_to: Literal["max_seq_len", "batch"] = "max_seq_len",
        on_long: Literal["drop", "error"] = "drop",
        clamp: float = 1000.0,
        scale_factor: float = 0.15,
        drop_prob: float = 0.1,
        raster_line_width: float | None = None,
        seed: int = 0,
    ):
        checked = [
            S.clamp_offsets(S.validate_stroke3(d, source=sketches.source or None, where=f"drawing {i}"), clamp)
            for i, d in enumerate(sketches.drawings)
        ]
        sketches = dataclasses.replace(sketches, drawings=checked)
        self.sketches, self.n_dropped = sketches.filter_length(max_seq_len, on_long)
        if len(self.sketches) == 0:
            raise SketchDataError(
                f"no drawings left (of {len(sketches)}, {self.n_dropped} longer than max_seq_len={max_seq_len})",
                source=sketches.source or None,
            )
        self.max_seq_len = int(max_seq_len)
        self.scale = float(S.normalizing_scale(self.sketches.drawings) if scale is None else scale)
        self.augment = augment
        self.raster_size = raster_size
        self.raster_line_width = raster_line_width
        self.pad_to = pad_to
        self.scale_factor = scale_factor
        self.drop_prob = drop_prob
        self.rng = np.random.default_rng(seed)
        self._rasters: np.ndarray | None = None

    # -- basic protocol
    def __len__(self) -> int:
        return len(self.sketches)

    @property
    def class_names(self) -> list[str]:
        return self.sketches.class_names

    @property
    def num_classes(self) -> int:
        return self.sketches.num_classes

    def stats(self) -> dict:
        """What a checkpoint must carry to use this data again."""
        return {"scale": self.scale, "max_seq_len": self.max_seq_len, "class_names": list(self.class_names)}

    def __getitem__(self, i: int) -> dict:
        d = self.sketches.drawings[i]
        if self.augment:
            d = S.augment(d, self.scale_factor, self.drop_prob, self.rng)
        return {"strokes3": S.normalize(d, self.scale), "label": int(self.sketches.labels[i]), "index": int(i)}

    # -- rasters
    def rasters(self) -> np.ndarray:
        """All rasters ``(N, R, R)`` uint8 in {0, 1}, rendered once and cached."""
        if self.raster_size is None:
            raise SketchDataError("this data set has no raster_size; pass raster_size=128 to get rasters")
        if self._rasters is None:
            from sketchlib.raster import render

            kwargs = {} if self.raster_line_width is None else {"line_width": self.raster_line_width}
            self._rasters = np.asarray(render(self.sketches.drawings, size=self.raster_size, **kwargs), dtype=np.uint8)
        return self._rasters

    # -- batching
    def collate(self, items: Sequence[dict]) -> Batch:
        """Items -> a batch dict.

        - ``strokes5``: ``(B, T + 1, 5)`` float32, row 0 the start token
        - ``lengths``: ``(B,)`` int64, points per drawing (without the start token)
        - ``labels``: ``(B,)`` int64; ``onehot``: ``(B, K)`` float32
        - ``index``: ``(B,)`` int64 positions in this data set
        - ``rasters``: ``(B, 1, R, R)`` float32 in {0, 1}, when ``raster_size`` is set
        """
        drawings = [it["strokes3"] for it in items]
        if self.pad_to == "max_seq_len":
            max_len = self.max_seq_len
        else:  # one end row after the longest drawing too, or the model never sees its "end" target
            max_len = min(max(len(d) for d in drawings) + 1, self.max_seq_len)
        strokes5, lengths = S.pad_batch(drawings, max_len)
        labels = torch.tensor([it["label"] for it in items], dtype=torch.int64)
        index = torch.tensor([it["index"] for it in items], dtype=torch.int64)
        batch = {
            "strokes5": torch.from_numpy(strokes5),
            "lengths": torch.from_numpy(lengths),
            "labels": labels,
            "onehot": torch.nn.functional.one_hot(labels, self.num_classes).float(),
            "index": index,
        }
        if self.raster_size is not None:
            batch["rasters"] = torch.from_numpy(self.rasters()[index.numpy()]).float().unsqueeze(1)
        return batch

    def _batch_padded(self) -> "SketchDataset":
        """This data set, padding batches to their longest drawing (a shallow copy sharing drawings and rasters)."""
        if self.pad_to == "batch":
            return self
        view = object.__new__(SketchDataset)
        view.__dict__.update(self.__dict__)
        view.pad_to = "batch"
        return view

    def batch(self, indices: Sequence[int]) -> Batch:
        return self.collate([self[int(i)] for i in indices])

    def lengths(self) -> np.ndarray:
        """Points per drawing, before augmentation."""
        return np.array([len(d) for d in self.sketches.drawings], dtype=np.int64)

    def loader(self, batch_size: int = 100, shuffle: bool = True, seed: int = 0, drop_last: bool = False,
               bucket: bool = False):
        """A ``DataLoader`` with this data set's collate and a seeded shuffle.

        ``bucket=True`` batches drawings of similar length (:class:`LengthBuckets`,
        which shuffles; ``shuffle`` and ``drop_last`` do not apply) and pads each
        batch only to its own longest drawing, whatever ``pad_to`` says.
        """
        if bucket:
            view = self._batch_padded()
            return torch.utils.data.DataLoader(view, batch_sampler=LengthBuckets(self.lengths(), batch_size, seed),
                                               collate_fn=view.collate)
        g = torch.Generator()
        g.manual_seed(seed)
        return torch.utils.data.DataLoader(
            self, batch_size=batch_size, shuffle=shuffle, collate_fn=self.collate, generator=g, drop_last=drop_last
        )
