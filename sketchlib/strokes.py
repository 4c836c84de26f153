"""Sketch formats and the transforms between them.

Three formats, as in Sketch-RNN (Ha & Eck 2017, section 3.1):

- **polylines**: a list of strokes, each a ``(k, 2)`` array of absolute ``x, y``
  points (QuickDraw's ``drawing`` field, transposed).
- **stroke-3**: ``(N, 3)`` float32 rows ``(dx, dy, p)``; ``dx, dy`` is the offset
  from the previous point (the first row is the offset from the origin), and
  ``p = 1`` marks the last point of a stroke (the pen lifts after it).
- **stroke-5**: ``(N, 5)`` rows ``(dx, dy, p1, p2, p3)`` with a one-hot pen state:
  ``p1`` pen stays down, ``p2`` pen lifts after this point, ``p3`` the drawing
  has ended. Batches are padded to ``N_max`` with end rows ``(0, 0, 0, 0, 1)``
  and start with the token ``S0 = (0, 0, 1, 0, 0)``.

Image coordinates throughout: ``x`` grows to the right, ``y`` grows downwards.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from sketchlib.errors import SketchDataError

__all__ = [
    "START_TOKEN",
    "polylines_to_stroke3",
    "stroke3_to_polylines",
    "stroke3_to_stroke5",
    "stroke5_to_stroke3",
    "pad_batch",
    "bounding_box",
    "center",
    "scale_to",
    "validate_stroke3",
    "normalizing_scale",
    "normalize",
    "denormalize",
    "clamp_offsets",
    "rdp",
    "rdp_indices",
    "simplify",
    "random_scale",
    "drop_points",
    "augment",
]

#: The stroke-5 start token ``S0`` that the decoder sees before the first point.
START_TOKEN = np.array([0.0, 0.0, 1.0, 0.0, 0.0], dtype=np.float32)


# --------------------------------------------------------------------------- formats


def polylines_to_stroke3(lines: Iterable[np.ndarray | Sequence[Sequence[float]]]) -> np.ndarray:
    """Absolute polylines -> stroke-3 ``(N, 3)``.

    Each stroke is a ``(k, 2)`` array of points; empty strokes are skipped.
    The first row is the first point itself (its offset from the origin), so
    :func:`stroke3_to_polylines` inverts this exactly.
    """
    points, pens = [], []
    for line in lines:
        arr = np.asarray(line, dtype=np.float64).reshape(-1, 2)
        if len(arr) == 0:
            continue
        pen = np.zeros(len(arr))
        pen[-1] = 1.0
        points.append(arr)
        pens.append(pen)
    if not points:
        return np.zeros((0, 3), dtype=np.float32)
    absolute = np.concatenate(points)
    offsets = np.diff(absolute, axis=0, prepend=np.zeros((1, 2)))
    return np.column_stack([offsets, np.concatenate(pens)]).astype(np.float32)


def stroke3_to_polylines(strokes3: np.ndarray, origin: Sequence[float] = (0.0, 0.0)) -> list[np.ndarray]:
    """Stroke-3 ``(N, 3)`` -> list of absolute ``(k, 2)`` point arrays.

    Points after the last pen lift (a drawing cut off mid-stroke) form a final stroke.
    """
    s = np.asarray(strokes3, dtype=np.float64)
    if len(s) == 0:
        return []
    absolute = np.cumsum(s[:, :2], axis=0) + np.asarray(origin, dtype=np.float64)
    ends = np.flatnonzero(s[:, 2] > 0.5) + 1
    pieces = np.split(absolute, ends)
    return [p for p in pieces if len(p)]


def stroke3_to_stroke5(strokes3: np.ndarray, max_len: int | None = None) -> np.ndarray:
    """Stroke-3 ``(N, 3)`` -> stroke-5 ``(max_len, 5)`` padded with end rows.

    Without ``max_len`` the result has ``N + 1`` rows: the drawing and one end row.
    Drawings longer than ``max_len`` are refused (drop or truncate them first).
    """
    s = np.asarray(strokes3, dtype=np.float32)
    n = len(s)
    length = n + 1 if max_len is None else max_len
    if n > length:
        raise SketchDataError(f"drawing has {n} points, more than max_len={max_len}; drop or truncate it first")
    out = np.zeros((length, 5), dtype=np.float32)
    out[:n, :2] = s[:, :2]
    out[:n, 3] = s[:, 2]
    out[:n, 2] = 1.0 - s[:, 2]
    out[n:, 4] = 1.0
    return out


def stroke5_to_stroke3(strokes5: np.ndarray) -> np.ndarray:
    """Stroke-5 -> stroke-3, stopping at the first end-of-drawing row.

    The pen state is read as the arg-max of ``(p1, p2, p3)``, so soft (sampled or
    predicted) pen states work too. A leading start token is not removed: slice it
    off first (``strokes5[1:]``).
    """
    s = np.asarray(strokes5, dtype=np.float32)
    if len(s) == 0:
        return np.zeros((0, 3), dtype=np.float32)
    state = np.argmax(s[:, 2:5], axis=1)
    ended = np.flatnonzero(state == 2)
    n = ended[0] if len(ended) else len(s)
    out = np.zeros((n, 3), dtype=np.float32)
    out[:, :2] = s[:n, :2]
    out[:, 2] = (state[:n] == 1).astype(np.float32)
    return out


def pad_batch(drawings: Sequence[np.ndarray], max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A list of stroke-3 drawings -> ``(strokes5: (B, max_len + 1, 5), lengths: (B,))``.

    Row 0 of every drawing is the start token ``S0``; rows ``1..len`` hold the
    drawing; the rest are end rows. ``lengths`` counts the drawing's points
    (without ``S0``), as in Magenta's ``DataLoader.pad_batch``.
    """
    lengths = np.array([len(d) for d in drawings], dtype=np.int64)
    if max_len is None:
        max_len = int(lengths.max()) if len(lengths) else 0
    batch = np.zeros((len(drawings), max_len + 1, 5), dtype=np.float32)
    for i, d in enumerate(drawings):
        batch[i, 1:] = stroke3_to_stroke5(d, max_len)
    batch[:, 0] = START_TOKEN
    return batch, lengths


# --------------------------------------------------------------------------- geometry


def bounding_box(strokes3: np.ndarray) -> tuple[float, float, float, float]:
    """``(min_x, max_x, min_y, max_y)`` of the absolute points (the origin counts as the start)."""
    s = np.asarray(strokes3, dtype=np.float64)
    if len(s) == 0:
        return (0.0, 0.0, 0.0, 0.0)
    absolute = np.cumsum(s[:, :2], axis=0)
    return (
        float(absolute[:, 0].min()),
        float(absolute[:, 0].max()),
        float(absolute[:, 1].min()),
        float(absolute[:, 1].max()),
    )


def center(strokes3: np.ndarray) -> np.ndarray:
    """Shift the drawing so that its bounding box is centred on the origin."""
    s = np.array(strokes3, dtype=np.float32, copy=True)
    if len(s) == 0:
        return s
    x0, x1, y0, y1 = bounding_box(s)
    s[0, 0] -= (x0 + x1) / 2
    s[0, 1] -= (y0 + y1) / 2
    return s


def scale_to(strokes3: np.ndarray, size: float = 255.0) -> np.ndarray:
    """Scale uniformly so the longer side of the bounding box is ``size`` (aspect kept)."""
    s = np.array(strokes3, dtype=np.float32, copy=True)
    x0, x1, y0, y1 = bounding_box(s)
    extent = max(x1 - x0, y1 - y0)
    if extent > 0:
        s[:, :2] *= size / extent
    return s


def validate_stroke3(strokes3: np.ndarray, *, source: str | None = None, where: str | int | None = None) -> np.ndarray:
    """Check one stroke-3 drawing; return it as float32 or raise :class:`SketchDataError`.

    Refuses: a wrong shape, NaN or inf values, an empty drawing, and pen values
    other than 0 and 1.
    """
    try:
        s = np.asarray(strokes3, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise SketchDataError(f"not a numeric stroke-3 array ({exc})", source=source, where=where) from None
    if s.ndim != 2 or s.shape[1] != 3:
        raise SketchDataError(f"stroke-3 data must have shape (N, 3), got {s.shape}", source=source, where=where)
    if len(s) == 0:
        raise SketchDataError("empty drawing (no points)", source=source, where=where)
    if not np.isfinite(s).all():
        bad = int(np.argwhere(~np.isfinite(s))[0, 0])
        raise SketchDataError(f"row {bad} holds NaN or inf", source=source, where=where)
    if not np.isin(s[:, 2], (0.0, 1.0)).all():
        bad = int(np.flatnonzero(~np.isin(s[:, 2], (0.0, 1.0)))[0])
        raise SketchDataError(f"row {bad}: pen value {s[bad, 2]} is not 0 or 1", source=source, where=where)
    return s


# --------------------------------------------------------------------------- normalisation


def normalizing_scale(drawings: Iterable[np.ndarray]) -> float:
    """The Sketch-RNN scale factor: the standard deviation of all ``dx`` and ``dy`` offsets.

    Compute it on the training split only and apply it to every split.
    """
    chunks = [np.asarray(d, dtype=np.float64)[:, :2].ravel() for d in drawings if len(d)]
    if not chunks:
        raise SketchDataError("cannot compute a normalising scale from no drawings")
    scale = float(np.std(np.concatenate(chunks)))
    if not np.isfinite(scale) or scale <= 0:
        raise SketchDataError(f"normalising scale is {scale}; the drawings have no extent")
    return scale


def normalize(strokes3: np.ndarray, scale: float) -> np.ndarray:
    """Divide the offsets by ``scale`` (pen column untouched)."""
    s = np.array(strokes3, dtype=np.float32, copy=True)
    s[:, :2] /= scale
    return s


def denormalize(strokes3: np.ndarray, scale: float) -> np.ndarray:
    """Inverse of :func:`normalize`: back to pixel offsets."""
    s = np.array(strokes3, dtype=np.float32, copy=True)
    s[:, :2] *= scale
    return s


def clamp_offsets(strokes3: np.ndarray, limit: float = 1000.0) -> np.ndarray:
    """Clip ``dx, dy`` to ``[-limit, limit]`` (Magenta clamps pixel offsets at 1000)."""
    s = np.array(strokes3, dtype=np.float32, copy=True)
    np.clip(s[:, :2], -limit, limit, out=s[:, :2])
    return s


# --------------------------------------------------------------------------- simplification


def rdp(points: np.ndarray, epsilon: float) -> np.ndarray:
    """The points :func:`rdp_indices` keeps (see there)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return pts[rdp_indices(pts, epsilon)]


def rdp_indices(points: np.ndarray, epsilon: float) -> np.ndarray:
    """Indices of the points Ramer-Douglas-Peucker keeps in one polyline ``(k, 2)``.

    Keeps both end points and never adds a point; every removed point lies
    within ``epsilon`` of the line through the kept segment that replaces it.
    The distance is to the infinite line, as in classic RDP and Google's
    QuickDraw simplification (our raw -> simplified conversion reproduces
    Google's files with it), so a stroke that doubles back along a straight
    line can lose its tip. Iterative
    (no recursion limit), with the distances of each segment computed in numpy.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    n = len(pts)
    if n < 3 or epsilon <= 0:
        return np.arange(n)
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        i, j = stack.pop()
        if j <= i + 1:
            continue
        a, b = pts[i], pts[j]
        inner = pts[i + 1 : j]
        ab = b - a
        norm = np.hypot(ab[0], ab[1])
        if norm == 0.0:
            dist = np.hypot(inner[:, 0] - a[0], inner[:, 1] - a[1])
        else:
            dist = np.abs(ab[0] * (inner[:, 1] - a[1]) - ab[1] * (inner[:, 0] - a[0])) / norm
        k = int(np.argmax(dist))
        if dist[k] > epsilon:
            m = i + 1 + k
            keep[m] = True
            stack.append((i, m))
            stack.append((m, j))
    return np.flatnonzero(keep)


def simplify(strokes3: np.ndarray, epsilon: float = 2.0) -> np.ndarray:
    """RDP on every stroke of a stroke-3 drawing (``epsilon`` in the drawing's units)."""
    lines = stroke3_to_polylines(strokes3)
    return polylines_to_stroke3([rdp(line, epsilon) for line in lines])


# --------------------------------------------------------------------------- augmentation


def random_scale(strokes3: np.ndarray, factor: float = 0.15, rng: np.random.Generator | None = None) -> np.ndarray:
    """Scale ``x`` and ``y`` by independent factors drawn from ``[1 - factor, 1 + factor]``.

    Sketch-RNN's ``random_scale_factor`` augmentation (0.15 by default).
    """
    rng = np.random.default_rng() if rng is None else rng
    s = np.array(strokes3, dtype=np.float32, copy=True)
    s[:, 0] *= rng.uniform(1.0 - factor, 1.0 + factor)
    s[:, 1] *= rng.uniform(1.0 - factor, 1.0 + factor)
    return s


def drop_points(strokes3: np.ndarray, prob: float = 0.1, rng: np.random.Generator | None = None) -> np.ndarray:
    """Drop interior points of strokes with probability ``prob``, merging their offsets.

    Sketch-RNN's ``augment_stroke_prob`` augmentation. The first two and the
    last point of every stroke are never dropped (as in Magenta), so stroke
    ends and the drawing's extent are unchanged. A dropped point's offset is
    merged into the next kept point, which keeps every other point in place.
    """
    s = np.asarray(strokes3, dtype=np.float32)
    n = len(s)
    if n < 4 or prob <= 0:
        return s.copy()
    rng = np.random.default_rng() if rng is None else rng
    pen = s[:, 2] > 0.5
    # index of each point inside its stroke: 0 for the first point of a stroke
    stroke_id = np.concatenate([[0], np.cumsum(pen[:-1])])
    starts = np.flatnonzero(np.concatenate([[True], pen[:-1]]))
    position = np.arange(n) - starts[stroke_id]
    droppable = (position >= 2) & ~pen
    drop = droppable & (rng.random(n) < prob)
    if not drop.any():
        return s.copy()
    absolute = np.cumsum(s[:, :2].astype(np.float64), axis=0)
    kept = ~drop
    out_abs = absolute[kept]
    offsets = np.diff(out_abs, axis=0, prepend=np.zeros((1, 2)))
    return np.column_stack([offsets, s[kept, 2]]).astype(np.float32)


def augment(
    strokes3: np.ndarray,
    scale_factor: float = 0.15,
    drop_prob: float = 0.1,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Both Sketch-RNN augmentations: point dropping, then random x/y scaling."""
    rng = np.random.default_rng() if rng is None else rng
    return random_scale(drop_points(strokes3, drop_prob, rng), scale_factor, rng)
