"""SPG: QuickDraw drawings with a semantic part label on every point.

SPG (Sketch Perceptual Grouping, Li et al., ECCV 2018) holds 800 real QuickDraw
drawings for each of 20 classes (:data:`SPG_CLASSES`). As distributed with
SketchGNN, each class has two files:

- ``<class>_raw.ndjson``: one JSON object a line, ``{"i", "key_id", "drawing"}``
  with ``drawing`` = ``[[x...], [y...], [part...]]`` per stroke, dense points
  (about 1 px apart) on a roughly 0-255 canvas;
- ``<class>.txt``: the part names, one a line, in SketchGNN's sibling folder
  ``data/SPG256/`` (``parts/<class>.txt`` in a mirror). The labels in the
  drawings are **0-based** line numbers of this file (face: 0 "eye or eyebrow",
  ..., 6 "outline of face"); :func:`spg_part_names` reads it.

:func:`load_spg` simplifies every stroke with RDP and, on request, keeps the
part label of every point that RDP keeps, so labels stay aligned with the
stroke-3 rows. :func:`cut_parts` turns labelled drawings into drawings of single
parts (the eyes, nose, mouth, ears of faces), on QuickDraw's 0-255 scale.

Offline, set ``SKETCHLIB_SPG_MIRROR`` (or pass ``mirror=``) to a folder with the
drawings files and a ``parts/`` folder of part-name files (or to a SketchGNN
checkout's ``data/SPG``, whose names are read from ``../SPG256/``).
"""

from __future__ import annotations

import difflib
import logging
import os
from pathlib import Path
from typing import Iterable, Literal, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from sketchlib import strokes as S
from sketchlib.datasets.base import Sketches, SketchSplits
from sketchlib.datasets.download import fetch, resolve_mirror
from sketchlib.datasets.quickdraw import class_list, ndjson_records, parse_strokes
from sketchlib.errors import SketchDataError

__all__ = [
    "SPG_CLASSES",
    "SPG_URL",
    "SPG_PARTS_URL",
    "load_spg_face_parts",
    "SPG_MIRROR_ENV",
    "PART_ALIASES",
    "spg_class",
    "spg_part_names",
    "read_spg_ndjson",
    "load_spg",
    "cut_parts",
]

log = logging.getLogger(__name__)

SPG_URL = "https://raw.githubusercontent.com/sYeaLumin/SketchGNN/main/data/SPG/"
#: Where SketchGNN keeps the part-name files ``<class>.txt``.
SPG_PARTS_URL = "https://raw.githubusercontent.com/sYeaLumin/SketchGNN/main/data/SPG256/"
SPG_MIRROR_ENV = "SKETCHLIB_SPG_MIRROR"

#: The 20 SPG classes, spelled as in the file names.
SPG_CLASSES: tuple[str, ...] = (
    "airplane", "alarm_clock", "ambulance", "ant", "apple", "backpack", "basket", "butterfly", "cactus",
    "calculator", "campfire", "candle", "coffee_cup", "crab", "duck", "face", "ice_cream", "pig", "pineapple",
    "suitcase",
)  # fmt: skip

#: Short names for SPG part labels that :func:`cut_parts` accepts (other names are used as written).
PART_ALIASES: dict[str, str] = {"eye or eyebrow": "eye", "eye and eyebrow": "eye", "eyes": "eye"}


def spg_class(name: str) -> str:
    """The SPG spelling of a class name (``"alarm clock"`` -> ``"alarm_clock"``); unknown names are refused."""
    key = str(name).strip().lower().replace(" ", "_")
    if key in SPG_CLASSES:
        return key
    close = difflib.get_close_matches(key, SPG_CLASSES, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    raise SketchDataError(f"unknown SPG class {name!r}; {hint}the 20 SPG classes are {', '.join(SPG_CLASSES)}")


def spg_part_names(
    cls: str,
    *,
    mirror: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> list[str]:
    """The part names of an SPG class, in label order (label ``k`` is ``names[k]``)."""
    name = spg_class(cls)
    if resolve_mirror(mirror, SPG_MIRROR_ENV) is None:
        path = fetch(f"{name}.txt", SPG_PARTS_URL, cache_dir, cache_subdir="spg/parts", progress=progress)
    else:
        path = fetch(
            f"parts/{name}.txt", SPG_URL, cache_dir, mirror=mirror, mirror_env=SPG_MIRROR_ENV,
            fallbacks=[f"../SPG256/{name}.txt"], cache_subdir="spg", progress=progress,
        )
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise SketchDataError("no part names in the file", source=str(path))
    return names


# --------------------------------------------------------------------------- reading


def _kept_indices(points: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Positions in ``points`` of the points RDP kept (a subsequence, matched in order)."""
    idx = np.empty(len(kept), dtype=np.int64)
    start = 0
    for m, p in enumerate(kept):
        hits = np.flatnonzero((points[start:] == p).all(axis=1))
        idx[m] = start + int(hits[0])
        start = idx[m] + 1
    return idx


def _simplify_labelled(stroke: np.ndarray, epsilon: float | None) -> tuple[np.ndarray, np.ndarray]:
    """One ``(k, 3)`` stroke ``x, y, part`` -> RDP-simplified points ``(k', 2)`` and their part labels ``(k',)``."""
    points, labels = stroke[:, :2], stroke[:, 2].astype(np.int64)
    if not epsilon or len(points) < 3:
        return points, labels
    kept = S.rdp(points, epsilon)
    if (labels == labels[0]).all():  # the usual case: one part per stroke
        return kept, np.full(len(kept), labels[0], dtype=np.int64)
    return kept, labels[_kept_indices(points, kept)]


def read_spg_ndjson(
    path: str | os.PathLike,
    *,
    simplify_epsilon: float | None = 2.0,
    n_parts: int | None = None,
    max_drawings: int | None = None,
    on_error: Literal["raise", "skip"] = "raise",
) -> tuple[list[np.ndarray], list[np.ndarray], list[str], list[str]]:
    """Read one ``<class>_raw.ndjson`` file.

    Args:
        path: the file.
        simplify_epsilon: RDP epsilon for every stroke; ``None`` or 0 keeps every point.
        n_parts: the number of part names; labels outside ``0..n_parts-1`` are malformed.
        max_drawings: stop after this many good drawings.
        on_error: ``"raise"`` at the first malformed line ("file line N: ..."), or ``"skip"`` it.

    Returns:
        ``(drawings, parts, key_ids, skipped)``: stroke-3 float32 drawings, one
        int64 part label per stroke-3 row, QuickDraw ``key_id`` strings and one
        message per skipped line.
    """
    path = Path(path)
    drawings, parts, key_ids, skipped = [], [], [], []

    def parse(obj: dict, where: str) -> list[np.ndarray]:
        strokes = parse_strokes(obj["drawing"], ("x", "y", "part"), source=str(path), where=where)
        for k, stroke in enumerate(strokes):
            labels = stroke[:, 2]
            bad = (labels != np.round(labels)) | (labels < 0)
            if n_parts is not None:
                bad |= labels >= n_parts
            if bad.any():
                names = f" (the class has {n_parts} part names, labels 0..{n_parts - 1})" if n_parts else ""
                raise SketchDataError(
                    f"stroke {k} has part label {labels[bad][0]:g}{names}", source=str(path), where=where
                )
        return strokes

    for obj, strokes in ndjson_records(path, parse, on_error, skipped, max_drawings):
        simplified = [_simplify_labelled(stroke, simplify_epsilon) for stroke in strokes]
        drawings.append(S.polylines_to_stroke3([p for p, _ in simplified]))
        parts.append(np.concatenate([lab for _, lab in simplified]))
        key_ids.append(str(obj.get("key_id", "")))
    return drawings, parts, key_ids, skipped


# long: a docstring of the arguments, then one pass over the classes' files into one SketchSplits
def load_spg(
    classes: str | Iterable[str] | None = None,
    *,
    with_parts: bool = False,
    simplify_epsilon: float | None = 2.0,
    max_per_class: int | None = None,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    mirror: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    on_error: Literal["raise", "skip"] = "raise",
    progress: bool = True,
) -> SketchSplits:
    """SPG classes as one multi-class :class:`SketchSplits`, split per class with ``fractions`` and ``seed``.

    Args:
        classes: SPG class names (``["face", "pig"]`` or ``"face,pig"``); ``None`` for all 20.
        with_parts: add ``extras["parts"]``: per drawing, an int64 array with the
            part label of every stroke-3 row (names from :func:`spg_part_names`).
        simplify_epsilon: RDP epsilon for every stroke (pixels); ``None`` keeps the dense points.
        max_per_class: read only the first this many drawings of each class.
        fractions, seed: the train/valid/test split.
        mirror: a folder or URL replacing SketchGNN's data folder (default ``$SKETCHLIB_SPG_MIRROR``).
        cache_dir: where downloads go.
        on_error: malformed lines ``"raise"`` (default) or are ``"skip"``-ped and counted in a logged warning.
        progress: tqdm bars.

    Every set carries ``extras["key_id"]``, the drawing's QuickDraw id.
    """
    if classes is None:
        names = list(SPG_CLASSES)
    else:
        names = class_list(classes, spg_class, "SPG", "or pass classes=None for all 20")
    if max_per_class is not None and max_per_class < 1:
        raise SketchDataError(f"max_per_class must be at least 1 (or None for all), got {max_per_class}")
    drawings: list[np.ndarray] = []
    labels: list[int] = []
    parts: list[np.ndarray] = []
    key_ids: list[str] = []
    for k, c in enumerate(tqdm(names, desc="spg", unit="class", disable=not progress or len(names) < 2, leave=False)):
        n_parts = len(spg_part_names(c, mirror=mirror, cache_dir=cache_dir, progress=progress)) if with_parts else None
        path = fetch(
            f"{c}_raw.ndjson", SPG_URL, cache_dir, mirror=mirror, mirror_env=SPG_MIRROR_ENV, cache_subdir="spg",
            progress=progress,
        )
        d, p, ids, skipped = read_spg_ndjson(
            path, simplify_epsilon=simplify_epsilon, n_parts=n_parts, max_drawings=max_per_class, on_error=on_error
        )
        if skipped:
            log.warning("%s: skipped %d malformed lines (first: %s)", path, len(skipped), skipped[0])
        if not d:
            raise SketchDataError("no drawings in the file", source=str(path))
        drawings.extend(d)
        parts.extend(p)
        key_ids.extend(ids)
        labels.extend([k] * len(d))
    extras: dict[str, list] = {"key_id": key_ids}
    if with_parts:
        extras["parts"] = parts
    sketches = Sketches(drawings, np.array(labels, dtype=np.int64), names, "spg", extras)
    return SketchSplits.from_single(sketches, fractions, seed)


# --------------------------------------------------------------------------- single parts


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` of every run of ``True`` in a boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


# long: a quarter is the docstring; the loop cuts every drawing into its parts in one pass and keeps the
# bookkeeping (labels, part names, source drawing) beside the strokes it describes
def cut_parts(
    sketches: Sketches,
    parts: Sequence[str] = ("eye", "nose", "mouth", "ear"),
    *,
    part_names: Mapping[str, Sequence[str]] | None = None,
    size: float = 255.0,
    simplify_epsilon: float | None = 2.0,
    min_points: int = 2,
    mirror: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Sketches:
    """Cut single parts out of labelled drawings, as new drawings of classes ``parts``.

    Every drawing gives one new drawing per wanted part it contains, made of
    the points with that label (a stroke that changes part is split there; a
    face's two eyes make one "eye" drawing). Each new drawing is placed like
    QuickDraw's simplified data: bounding box top-left at ``(0, 0)``, longer
    side scaled to ``size`` (255), then RDP with ``simplify_epsilon`` at that
    scale. For the finest result, load with ``load_spg(..., with_parts=True,
    simplify_epsilon=None)`` so the cut parts are simplified only once, after scaling.

    Args:
        sketches: drawings with ``extras["parts"]`` (from ``load_spg(with_parts=True)``).
        parts: wanted part names; SPG's names or their short forms in
            :data:`PART_ALIASES` (face's "eye or eyebrow" is "eye").
        part_names: part names per class name; read with :func:`spg_part_names` when not given.
        size: the longer side of every new drawing.
        simplify_epsilon: RDP epsilon after scaling; ``None`` keeps every point.
        min_points: parts with fewer points (in all) are dropped.
        mirror, cache_dir: where :func:`spg_part_names` reads the names.

    Returns:
        :class:`Sketches` with ``class_names == list(parts)`` and
        ``extras["from_index"]`` (the source drawing's position in ``sketches``)
        and ``extras["from_class"]`` (its class name).
    """
    if "parts" not in sketches.extras:
        raise SketchDataError(
            "these drawings carry no part labels (extras['parts']); load them with load_spg(..., with_parts=True)",
            source=sketches.source or None,
        )
    wanted = list(parts)
    if not wanted:
        raise SketchDataError("no part names given; e.g. parts=('eye', 'nose', 'mouth', 'ear')")
    # per class: wanted part index -> the label values that mean it
    lookup: list[list[list[int]]] = []
    available: set[str] = set()
    for cls in sketches.class_names:
        if part_names is not None and cls in part_names:
            names = list(part_names[cls])
        else:
            names = spg_part_names(cls, mirror=mirror, cache_dir=cache_dir)
        short = [PART_ALIASES.get(n, n) for n in names]
        available.update(short + names)
        lookup.append([[j for j, (n, s) in enumerate(zip(names, short)) if want in (n, s)] for want in wanted])
    missing = [w for w in wanted if w not in available]
    if missing:
        raise SketchDataError(
            f"part(s) {', '.join(repr(m) for m in missing)} not in classes {', '.join(sketches.class_names)}; "
            f"their parts are: {', '.join(sorted(available))}",
            source=sketches.source or None,
        )

    drawings: list[np.ndarray] = []
    labels: list[int] = []
    from_index: list[int] = []
    from_class: list[str] = []
    for i, (strokes3, point_parts, cls) in enumerate(zip(sketches.drawings, sketches.extras["parts"], sketches.labels)):
        point_parts = np.asarray(point_parts)
        if len(point_parts) != len(strokes3):
            raise SketchDataError(
                f"drawing {i} has {len(strokes3)} points but {len(point_parts)} part labels",
                source=sketches.source or None,
            )
        absolute = np.cumsum(np.asarray(strokes3, dtype=np.float64)[:, :2], axis=0)
        stroke_of = np.concatenate([[0], np.cumsum(np.asarray(strokes3)[:-1, 2] > 0.5)])
        for w, values in enumerate(lookup[cls]):
            mask = np.isin(point_parts, values)
            if mask.sum() < min_points:
                continue
            # split at pen lifts as well as at part changes
            lines = [absolute[a:b] for s in np.unique(stroke_of[mask]) for a, b in _runs(mask & (stroke_of == s))]
            points = np.concatenate(lines)
            low = points.min(axis=0)
            extent = float((points - low).max())
            if extent <= 0:
                continue
            scaled = [(line - low) * (size / extent) for line in lines]
            if simplify_epsilon:
                scaled = [S.rdp(line, simplify_epsilon) for line in scaled]
            drawings.append(S.polylines_to_stroke3(scaled))
            labels.append(w)
            from_index.append(i)
            from_class.append(sketches.class_names[cls])
    source = f"{sketches.source} parts" if sketches.source else "parts"
    return Sketches(
        drawings, np.array(labels, dtype=np.int64), wanted, source, {"from_index": from_index, "from_class": from_class}
    )


def load_spg_face_parts(
    parts: Sequence[str] = ("eye", "nose", "mouth", "ear"),
    *,
    mirror: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    seed: int = 0,
) -> SketchSplits:
    """Face parts as a data set of their own: each of SPG's 800 labelled QuickDraw faces cut into its parts
    (:func:`cut_parts`: re-placed like QuickDraw's simplified data, longer side 255, RDP 2).

    The parts of a face stay in the split of their face (train / valid / test of
    :func:`load_spg` with ``seed``), so no test part comes from a training face.
    QuickDraw has ``eye``, ``nose``, ``mouth`` and ``ear`` as classes of their own
    when downloaded; this cuts them out offline, from one source.
    """
    faces = load_spg(["face"], with_parts=True, simplify_epsilon=None, seed=seed, mirror=mirror,
                     cache_dir=cache_dir, progress=False)
    return SketchSplits(*(cut_parts(split, parts, mirror=mirror, cache_dir=cache_dir)
                          for split in (faces.train, faces.valid, faces.test)))
