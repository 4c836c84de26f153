"""Sketch-RNN ``.npz`` files: ``train`` / ``valid`` / ``test`` object arrays of stroke-3 drawings.

The format of Magenta's Sketch-RNN data (QuickDraw ``sketchrnn/<class>.npz``,
``aaron_sheep.npz``, ``omniglot.npz``, ``kanji.rdp100.npz``): each key holds a
1-D object array whose entries are ``(N, 3)`` arrays ``(dx, dy, pen_lifted)``,
int16 or float. Files written by Python 2 need ``encoding="latin1"``.

A labelled variant adds ``train_label`` / ``valid_label`` / ``test_label``
(integer class per drawing) and, optionally, ``class_names``; without it the
classes are called ``class_0``, ``class_1``, ...
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import numpy as np

from sketchlib import strokes as S
from sketchlib.datasets.base import Sketches, SketchSplits
from sketchlib.errors import SketchDataError

__all__ = ["SPLITS", "load_npz", "load_sketchrnn_dataset", "SKETCHRNN_DATASETS"]

SPLITS = ("train", "valid", "test")


def _drawings(data, key: str, source: str, limit: int | None) -> tuple[list[np.ndarray], int]:
    """The checked drawings of one split (at most ``limit``) and the split's full size."""
    try:
        arr = data[key]
    except (ValueError, OSError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise SketchDataError(f"key '{key}' cannot be read ({exc}); re-download the file", source=source) from None
    if arr.dtype != object and arr.ndim == 3:  # equal-length drawings saved as one block
        arr = list(arr)
    elif arr.ndim != 1:
        raise SketchDataError(
            f"key '{key}' must be a 1-D array of stroke-3 drawings, got shape {arr.shape} ({arr.dtype})", source=source
        )
    total = len(arr)
    kept = arr[:limit] if limit is not None else arr
    return [S.validate_stroke3(d, source=source, where=f"key '{key}' index {i}") for i, d in enumerate(kept)], total


def _labels(data, key: str, total: int, keep: int, source: str) -> np.ndarray:
    """The first ``keep`` labels of a ``<split>_label`` key holding one label for each of ``total`` drawings."""
    labels = np.asarray(data[key])
    if labels.shape != (total,):
        raise SketchDataError(
            f"key '{key}' must hold one label per drawing, shape ({total},), got {labels.shape}", source=source
        )
    if labels.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(labels) | (np.mod(labels, 1) != 0))
        if len(bad):
            i = int(bad[0])
            raise SketchDataError(f"key '{key}' index {i}: label {labels[i]} is not a whole number", source=source)
    elif labels.dtype.kind not in "iub":
        raise SketchDataError(f"key '{key}': labels must be integers, got dtype {labels.dtype}", source=source)
    labels = labels[:keep].astype(np.int64)
    if len(labels) and labels.min() < 0:
        i = int(np.flatnonzero(labels < 0)[0])
        raise SketchDataError(f"key '{key}' index {i}: negative label {labels[i]}", source=source)
    return labels


# long: a docstring of the arguments, then the checks of a foreign file, each with its own error message
def load_npz(
    path: str | os.PathLike,
    *,
    class_name: str | None = None,
    max_per_split: int | None = None,
) -> SketchSplits:
    """Read a Sketch-RNN ``.npz`` file into :class:`SketchSplits` (stroke-3 float32, pixel units).

    Args:
        path: the file.
        class_name: the single class's name for an unlabelled file (default: the file's stem).
        max_per_split: keep only the first this many drawings of each split.

    Raises:
        SketchDataError: naming the file, the key and the drawing's index, when a
            key is missing, a drawing has the wrong shape or holds NaN, or the
            labels do not match the drawings.
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise SketchDataError("file not found", source=source)
    try:
        data = np.load(path, allow_pickle=True, encoding="latin1")
    except (ValueError, OSError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise SketchDataError(f"not a readable npz file ({exc}); re-download it", source=source) from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise SketchDataError("holds a single array, not an npz archive with train/valid/test keys", source=source)
    with data:
        keys = set(data.files)
        missing = [k for k in SPLITS if k not in keys]
        if missing:
            raise SketchDataError(
                f"missing key(s) {', '.join(repr(k) for k in missing)}; a Sketch-RNN npz has 'train', 'valid' "
                f"and 'test' (found: {', '.join(sorted(keys)) or 'none'})",
                source=source,
            )
        read = {k: _drawings(data, k, source, max_per_split) for k in SPLITS}
        drawings = {k: d for k, (d, _) in read.items()}

        label_keys = [f"{k}_label" for k in SPLITS]
        labelled = [k for k in label_keys if k in keys]
        if labelled and len(labelled) < len(SPLITS):
            absent = [k for k in label_keys if k not in keys]
            raise SketchDataError(
                f"has {', '.join(labelled)} but not {', '.join(absent)}; a labelled npz needs all three", source=source
            )
        if labelled:
            labels = {k: _labels(data, f"{k}_label", read[k][1], len(drawings[k]), source) for k in SPLITS}
            n_classes = 1 + max((int(v.max()) for v in labels.values() if len(v)), default=0)
            if "class_names" in keys:
                names = [str(n) for n in np.asarray(data["class_names"]).reshape(-1)]
                if len(names) < n_classes:
                    raise SketchDataError(
                        f"key 'class_names' has {len(names)} names but labels go up to {n_classes - 1}", source=source
                    )
            else:
                names = [f"class_{k}" for k in range(n_classes)]
        else:
            labels = {k: np.zeros(len(drawings[k]), dtype=np.int64) for k in SPLITS}
            names = [class_name if class_name is not None else path.stem]
    return SketchSplits(*(Sketches(drawings[k], labels[k], list(names), source) for k in SPLITS))


#: The data sets of the Sketch-RNN paper, in David Ha's repository (``<name>/<file>``).
SKETCHRNN_URL = "https://github.com/hardmaru/sketch-rnn-datasets/raw/master/"
SKETCHRNN_MIRROR_ENV = "SKETCHLIB_SKETCHRNN_MIRROR"
SKETCHRNN_DATASETS = {"aaron_sheep": "aaron_sheep.npz", "omniglot": "omniglot.npz", "kanji": "kanji.rdp100.npz"}


def load_sketchrnn_dataset(
    name: str,
    *,
    mirror: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    max_per_split: int | None = None,
) -> SketchSplits:
    """One of the Sketch-RNN paper's own data sets (``aaron_sheep``, ``omniglot``, ``kanji``).

    Downloaded once from :data:`SKETCHRNN_URL` into the cache, or read from a
    mirror folder (``mirror`` or ``$SKETCHLIB_SKETCHRNN_MIRROR``) that holds the
    files either flat (``aaron_sheep.npz``) or in the repository's layout
    (``aaron_sheep/aaron_sheep.npz``).
    """
    from sketchlib.datasets.download import fetch

    key = name.strip().lower()
    if key not in SKETCHRNN_DATASETS:
        raise SketchDataError(
            f"unknown Sketch-RNN data set {name!r}; choose one of {', '.join(SKETCHRNN_DATASETS)}"
        )
    fname = SKETCHRNN_DATASETS[key]
    path = fetch(f"{key}/{fname}", SKETCHRNN_URL, cache_dir, mirror=mirror, mirror_env=SKETCHRNN_MIRROR_ENV,
                 fallbacks=[fname], cache_subdir="sketch-rnn-datasets")
    return load_npz(path, class_name=key, max_per_split=max_per_split)
