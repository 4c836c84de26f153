"""Batched rendering of stroke-3 drawings to binary images.

The image encoders in the book read sketches as pictures: AI-Sketcher's CNN
encoder takes ``128 x 128`` images, Sketch-pix2seq ``48 x 48``, and the
QuickDraw bitmaps are ``28 x 28``. :func:`render` draws a whole batch at once.

Geometry (image coordinates, ``y`` down):

- pixel ``(row i, column j)`` covers ``[j, j + 1) x [i, i + 1)``; its centre is
  ``(j + 0.5, i + 0.5)``;
- each drawing is scaled uniformly and centred: the bounding box of its points
  gets the longer side ``size - 2 * padding - line_width`` and its centre at
  ``(size / 2, size / 2)``, so the ink keeps ``padding`` pixels from every border;
- a pixel is ink when its centre lies within ``line_width / 2`` of a pen-down
  segment (a segment with round caps) or of a point that is a stroke on its
  own (a dot); the pixel under each point is ink too, so that thin lines and
  dots never fall between pixel centres and vanish. Nothing else is ink: the
  move after a pen lift is not drawn.

Defaults scale with the image: ``line_width = max(1, size / 64)`` (2 px at 128,
1 px at 48 and 28; 1 px is the thinnest line that stays 8-connected) and
``padding = size / 32`` (4 px at 128).

How it is fast: all segments of a chunk of drawings go into one array. A
segment is walked along its major axis one pixel column at a time (``x`` for
flat segments, ``y`` for steep ones); in each column the rows its round-capped
band covers form an interval with a closed form (see :func:`_ink_segments`).
The intervals become flat indices into one ``(B * size * size,)`` buffer. No
Python loop runs per point or per segment, and the work grows with the number
of ink pixels, not with the image area.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image

from sketchlib.errors import SketchDataError

__all__ = [
    "default_line_width",
    "default_padding",
    "fit_transform",
    "render",
    "render_one",
    "raster_to_image",
]

# Drawings per chunk, times the image size (256 drawings at 128 x 128): keeps each per-column
# temporary of a chunk near a megabyte, in the CPU cache, whatever the batch size.
_CHUNK = 2**15


def default_line_width(size: int) -> float:
    """``max(1, size / 64)``: 2 px at 128 x 128, 1 px at 48 x 48 and 28 x 28."""
    return max(1.0, size / 64.0)


def default_padding(size: int) -> float:
    """``size / 32``: the blank margin around the ink, 4 px at 128 x 128."""
    return size / 32.0


# --------------------------------------------------------------------------- input


def _as_list(drawings: Sequence[np.ndarray] | np.ndarray) -> list:
    """The drawings as a list; a single ``(N, 3)`` array is one drawing."""
    if isinstance(drawings, np.ndarray) and drawings.dtype != object:
        if drawings.ndim == 2:
            return [drawings]
        if drawings.ndim != 3:
            raise SketchDataError(
                f"expected a list of (N, 3) drawings or a (B, N, 3) array, got an array of shape {drawings.shape}"
            )
    return list(drawings)


def _stack(drawings: list, first: int) -> tuple[np.ndarray, np.ndarray]:
    """All rows of ``drawings`` as one ``(P, 3)`` float64 array, and ``lengths: (B,)``.

    ``first`` is the index of ``drawings[0]`` in the caller's batch, for error messages.
    """
    lengths = np.fromiter((len(d) for d in drawings), dtype=np.int64, count=len(drawings))
    try:
        data = np.concatenate(drawings, axis=0) if len(drawings) else np.zeros((0, 3))
        fast = data.ndim == 2 and data.shape[1] == 3 and len(data) == lengths.sum()
    except ValueError:
        fast = False
    if not fast:  # find the culprit, and let empty drawings of any shape through
        arrays = []
        for i, d in enumerate(drawings):
            a = np.asarray(d)
            if a.size == 0:
                a = np.zeros((0, 3))
            elif a.ndim != 2 or a.shape[1] != 3:
                message = f"stroke-3 data must have shape (N, 3), got {a.shape}"
                raise SketchDataError(message, where=f"drawing {first + i}")
            arrays.append(a)
        data = np.concatenate(arrays, axis=0) if arrays else np.zeros((0, 3))
    if data.dtype.kind not in "biu" and not np.isfinite(data).all():
        row = int(np.argwhere(~np.isfinite(data))[0, 0])
        b = int(np.searchsorted(np.cumsum(lengths), row, side="right"))
        raise SketchDataError(f"row {row - int(lengths[:b].sum())} holds NaN or inf", where=f"drawing {first + b}")
    return data.astype(np.float64, copy=False), lengths


def _absolute(offsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The cumulative sum of ``offsets: (P,)`` within each drawing: absolute coordinates."""
    running = np.cumsum(offsets)
    before = np.concatenate([[0.0], running])[np.cumsum(lengths) - lengths]
    return running - np.repeat(before, lengths)


def _fit(x: np.ndarray, y: np.ndarray, lengths: np.ndarray, size: int, padding: float, line_width: float):
    """Per-drawing ``scale: (B,)`` and ``shift: (B, 2)`` with ``pixel = scale * point + shift``."""
    extent_px = size - 2.0 * padding - line_width
    if extent_px <= 0:
        raise ValueError(
            f"size={size} leaves no room for padding={padding} on both sides and line_width={line_width}; "
            "make the padding or the line width smaller"
        )
    scale = np.ones(len(lengths))
    middle = np.zeros((len(lengths), 2))
    full = lengths > 0
    if full.any():
        starts = (np.cumsum(lengths) - lengths)[full]
        low = np.stack([np.minimum.reduceat(x, starts), np.minimum.reduceat(y, starts)], axis=1)
        high = np.stack([np.maximum.reduceat(x, starts), np.maximum.reduceat(y, starts)], axis=1)
        extent = (high - low).max(axis=1)
        scale[full] = extent_px / np.where(extent > 0, extent, extent_px)
        middle[full] = (low + high) / 2
    shift = size / 2.0 - scale[:, None] * middle
    return scale, shift


def fit_transform(
    drawings: Sequence[np.ndarray] | np.ndarray,
    size: int = 128,
    padding: float | None = None,
    line_width: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """How :func:`render` places each drawing: ``scale: (B,)`` and ``shift: (B, 2)``.

    An absolute point ``(x, y)`` of drawing ``b`` (see
    :func:`sketchlib.strokes.stroke3_to_polylines`) lands at pixel coordinates
    ``scale[b] * (x, y) + shift[b]``. A drawing with a single distinct point
    gets ``scale = 1`` and sits in the middle of the image.
    """
    line_width = default_line_width(size) if line_width is None else float(line_width)
    padding = default_padding(size) if padding is None else float(padding)
    data, lengths = _stack(_as_list(drawings), 0)
    x, y = _absolute(data[:, 0], lengths), _absolute(data[:, 1], lengths)
    return _fit(x, y, lengths, size, padding, line_width)


# --------------------------------------------------------------------------- rendering


def _segments(pen: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Point index pairs ``(a, b)`` to draw: pen-down segments, and ``a == b`` for lone points."""
    last = np.zeros(len(pen), dtype=bool)
    last[(np.cumsum(lengths) - 1)[lengths > 0]] = True
    ends = pen | last  # nothing is drawn from this point to the next
    starts = np.empty_like(ends)
    starts[0] = True
    starts[1:] = ends[:-1]
    seg = np.flatnonzero(~ends)
    dot = np.flatnonzero(starts & ends)
    return np.concatenate([seg, dot]), np.concatenate([seg + 1, dot])


def _ink_segments(canvas, ua, va, ub, vb, image, size, radius, steep):
    """Ink the round-capped bands around segments ``(ua, va) -> (ub, vb)`` (pixels) into ``canvas``.

    ``image: (S,)`` says which image each segment belongs to. All segments are
    flat (``steep=False``: ``u = x``, ``v = y``) or all steep (``u = y``,
    ``v = x``), so ``|ub - ua| >= |vb - va|``. Each segment is walked along ``u``
    one pixel column at a time, over the columns whose centre lies within
    ``radius`` of its ``u`` extent.

    The band cut by the column line ``u = u0 + s`` is one interval, because the
    band is convex. Its top is the highest point of the circles of radius ``r``
    around the segment's points ``(u0 + t, v0 + m t)``, ``0 <= t <= du``, with
    slope ``m = dv / du``: ``max_t v0 + m t + sqrt(r^2 - (s - t)^2)``. The
    maximum is at ``t = s - shift`` with ``shift = -r dv / |d|`` (the point
    whose normal runs to the top edge), or at the nearer end when that falls off
    the segment. The bottom is the mirror image, at ``t = s + shift``. Dots
    (``d = 0``) come out as the disk around the point.
    """
    u_stride, v_stride = (size, 1) if steep else (1, size)
    # walk each segment from its end with the smaller u
    flip = ub < ua
    u0 = np.minimum(ua, ub)
    v0 = np.where(flip, vb, va)
    du = np.abs(ub - ua)
    dv = np.where(flip, va - vb, vb - va)
    length = np.sqrt(du * du + dv * dv)
    proper = length > 0  # not a dot
    slope = dv / np.where(proper, du, 1.0)
    shift = -radius * dv / np.where(proper, length, 1.0)

    first = np.clip(np.ceil(u0 - radius - 0.5), 0, size).astype(np.int64)
    last = np.clip(np.floor(u0 + du + radius - 0.5), -1, size - 1).astype(np.int64)
    n_cols = np.maximum(last - first + 1, 0)
    n_total = int(n_cols.sum())
    before = np.cumsum(n_cols) - n_cols  # columns of the segments before this one

    # Per column k (0 <= k < n_total), the column first + k - before of its segment: pos, the
    # flat index in (B, size, size) of its pixel in row 0; s, its centre relative to u0; and
    # its segment's values, in float32.
    k = np.arange(n_total)
    pos = k * u_stride + np.repeat(image * (size * size) + (first - before) * u_stride, n_cols)
    s = (k - np.repeat(before - first - 0.5 + u0, n_cols)).astype(np.float32)
    v0, slope, shift, du = (np.repeat(x.astype(np.float32), n_cols) for x in (v0 - 0.5, slope, shift, du))
    r2 = np.float32(radius * radius)
    with np.errstate(invalid="ignore"):  # a column that just misses the band gets NaN
        t = np.minimum(np.maximum(s - shift, 0), du)
        hi = v0 + t * slope + np.sqrt(r2 - np.square(s - t))
        t = np.minimum(np.maximum(s + shift, 0), du)
        lo = v0 + t * slope - np.sqrt(r2 - np.square(s - t))
    # the rows whose centre lies in [lo, hi] (v is relative to row centres); NaN gives none
    lo = np.maximum(np.ceil(np.fmin(lo, size)), 0)
    hi = np.minimum(np.floor(np.fmax(hi, -1)), size - 1)
    span = hi - lo
    # empty columns get pushed past the sink, the canvas's spare last cell, and clamped to it
    sink = len(canvas) - 1
    index = pos + lo.astype(np.int64) * v_stride
    index += (span < 0) * sink
    np.minimum(index, sink, out=index)
    stop = index + (np.maximum(span, 0) * v_stride).astype(np.int64)
    # A column holds at most ceil(2 * radius * sqrt 2) + 1 pixels: set the first and the last,
    # then those between one offset at a time, clamped to the last (setting a pixel twice is
    # harmless).
    canvas[index] = 1
    canvas[stop] = 1
    for _ in range(int(span.max(initial=0)) - 1):
        index += v_stride
        canvas[np.minimum(index, stop)] = 1


def _render_chunk(canvas, drawings, first, size, line_width, padding):
    """Ink ``drawings`` (batch indices ``first, first + 1, ...``) into the flat ``canvas``."""
    data, lengths = _stack(drawings, first)
    if len(data) == 0:
        return
    x, y = _absolute(data[:, 0], lengths), _absolute(data[:, 1], lengths)
    scale, shift = _fit(x, y, lengths, size, padding, line_width)
    each = np.repeat(scale, lengths)
    x = x * each + np.repeat(shift[:, 0], lengths)
    y = y * each + np.repeat(shift[:, 1], lengths)
    image = np.repeat(np.arange(first, first + len(drawings)), lengths)

    a, b = _segments(data[:, 2] > 0.5, lengths)
    steep = np.abs(y[b] - y[a]) > np.abs(x[b] - x[a])
    for is_steep in (False, True):
        group = steep == is_steep
        ga, gb = a[group], b[group]
        u, v = (y, x) if is_steep else (x, y)
        _ink_segments(canvas, u[ga], v[ga], u[gb], v[gb], image[ga], size, line_width / 2.0, is_steep)
    if line_width >= np.sqrt(2):
        return  # the pixel under a point has its centre within sqrt(2) / 2 of it: already ink
    # the pixel under every point, so that thin lines and dots never vanish between pixel centres
    col = np.clip(np.floor(x), 0, size - 1).astype(np.int64)
    row = np.clip(np.floor(y), 0, size - 1).astype(np.int64)
    canvas[image * (size * size) + row * size + col] = 1


def render(
    drawings: Sequence[np.ndarray] | np.ndarray,
    size: int = 128,
    line_width: float | None = None,
    padding: float | None = None,
) -> np.ndarray:
    """Draw stroke-3 drawings (any units) as binary images ``(B, size, size)`` uint8, 1 = ink.

    ``drawings`` is a list of ``(N_i, 3)`` arrays (an object array from a
    Sketch-RNN ``.npz`` works), a ``(B, N, 3)`` array, or one ``(N, 3)`` array
    (giving ``B = 1``). ``line_width`` and ``padding`` are in pixels and default
    to :func:`default_line_width` and :func:`default_padding` of ``size``.
    Empty drawings give blank images. See the module docstring for the geometry.
    """
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    line_width = default_line_width(size) if line_width is None else float(line_width)
    padding = default_padding(size) if padding is None else float(padding)
    if line_width <= 0:
        raise ValueError(f"line_width must be positive, got {line_width}")
    drawings = _as_list(drawings)
    n_drawings = len(drawings)
    # the images (B, size, size) flattened, and one spare cell: a sink for writes that miss
    canvas = np.zeros(n_drawings * size * size + 1, dtype=np.uint8)
    step = max(1, _CHUNK // size)
    for first in range(0, n_drawings, step):
        _render_chunk(canvas, drawings[first : first + step], first, size, line_width, padding)
    return canvas[:-1].reshape(n_drawings, size, size)


def render_one(
    strokes3: np.ndarray,
    size: int = 128,
    line_width: float | None = None,
    padding: float | None = None,
) -> np.ndarray:
    """One stroke-3 drawing -> ``(size, size)`` uint8 image, 1 = ink (see :func:`render`)."""
    return render([strokes3], size=size, line_width=line_width, padding=padding)[0]


def raster_to_image(raster: np.ndarray) -> Image.Image:
    """A ``(H, W)`` image with 1 = ink (binary, or grey in ``[0, 1]``) -> PIL greyscale, black ink on white."""
    arr = np.asarray(raster)
    if arr.ndim != 2:
        raise ValueError(f"expected one (H, W) image, got shape {arr.shape}; index a batch first")
    ink = np.clip(arr.astype(np.float32), 0.0, 1.0)
    return Image.fromarray(np.round(255.0 * (1.0 - ink)).astype(np.uint8))
