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

How it is fast: no Python loop runs per point or per segment. All segments of
a chunk of drawings go into arrays; a segment is walked along its major axis
one pixel column at a time (``x`` for flat segments, ``y`` for steep ones), and
in each column the rows its round-capped band covers form an interval with a
closed form (see :func:`_ink_segments`). The intervals become flat indices into
one ``(B * size * size,)`` buffer. The work grows with the number of ink
pixels, not with the image area. The per-column work runs in float32, in
blocks small enough for the CPU cache, and chunks of drawings can run on
several threads (numpy releases the GIL in its array operations): see
:func:`render`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
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

_CHUNK = 2**15  # pixel columns per block of the per-column work: its arrays stay in the CPU cache
_DRAWINGS = 1024  # drawings per chunk, at most


def _threads() -> int:
    """How many threads :func:`render` may use: ``SKETCHLIB_RENDER_THREADS``, default 1.

    The result does not depend on it (every thread fills its own drawings); more
    threads only help on an otherwise idle multi-core machine.
    """
    setting = os.environ.get("SKETCHLIB_RENDER_THREADS", "").strip()
    try:
        return max(1, int(setting)) if setting else 1
    except ValueError:
        raise ValueError(f"SKETCHLIB_RENDER_THREADS={setting!r} is not a whole number of threads") from None


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
    """The cumulative sum of ``offsets: (..., P)`` within each drawing: absolute coordinates."""
    running = np.cumsum(offsets, axis=-1)
    before = np.concatenate([np.zeros(offsets.shape[:-1] + (1,)), running], axis=-1)
    running -= np.repeat(before[..., np.cumsum(lengths) - lengths], lengths, axis=-1)
    return running


def _fit(xy: np.ndarray, lengths: np.ndarray, size: int, padding: float, line_width: float):
    """Per-drawing ``scale: (B,)`` and ``shift: (B, 2)`` with ``pixel = scale * point + shift``; ``xy: (2, P)``."""
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
        low = np.minimum.reduceat(xy, starts, axis=1).T
        high = np.maximum.reduceat(xy, starts, axis=1).T
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
    return _fit(_absolute(data[:, :2].T, lengths), lengths, size, padding, line_width)


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


# long: the rasteriser's inner kernel, vectorised over all segments at once; splitting it would pass a dozen
# large intermediate arrays between functions (a quarter of it is the docstring with the geometry)
def _ink_segments(canvas, ua, va, ub, vb, image, size, radius, steep, clamp):
    """Ink the round-capped bands around segments ``(ua, va) -> (ub, vb)`` into the flat ``canvas``.

    The end points are in pixels, ``u`` along the walk and ``v`` across: ``(x, y)``
    for flat segments (``steep=False``) and ``(y, x)`` for steep ones, so that
    ``|dv| <= |du|``. ``image: (S,)`` is the flat index of pixel
    ``(0, 0)`` of each segment's image, below ``2**24`` (see :func:`render`);
    ``clamp`` keeps the rows inside the image (needed only when the padding is
    negative).

    Each segment is walked along ``u`` one pixel column at a time, over the
    columns whose centre lies within ``r = radius`` of its ``u`` extent. The band
    cut by the column line ``u = u0 + s`` is one interval, because the band is
    convex. Its top is the highest point of the circles of radius ``r`` around
    the segment's points ``(u0 + t, v0 + m t)``, ``0 <= t <= du``, with slope
    ``m = dv / du``: ``max_t v0 + m t + sqrt(r^2 - (s - t)^2)``. The maximum is
    at ``t = s - shift`` with ``shift = -r dv / |d|`` (the point whose normal
    runs to the top edge), or at the nearer end when that falls off the segment.
    With ``e = s - t``, which is ``shift`` clipped to ``[s - du, s]``::

        top = v0 + m s + sqrt(r^2 - e^2) - m e,   e = clip(shift, s - du, s)

    The bottom is the top of the mirror image (``v -> -v``, so ``m -> -m`` and
    ``shift -> -shift``): both come out of the same formula, computed on
    ``(2, columns)`` arrays whose row 0 is the top and row 1 the mirrored bottom.
    Dots (``d = 0``) come out as the disk around the point.

    The segments' values go into one row of a table each, and ``np.repeat``
    copies each row to every column of its segment: one cheap copy, instead of
    one per value. The columns are handled in blocks of about ``_CHUNK``, small
    enough for the CPU cache.
    """
    u_stride, v_stride = (size, 1) if steep else (1, size)
    # ---- per segment, in float64: walk each segment from its end with the smaller u
    flip = ub < ua
    u0 = np.minimum(ua, ub)
    v0 = np.where(flip, vb, va)
    du = np.abs(ub - ua)
    dv = np.where(flip, va - vb, vb - va)
    length = np.sqrt(du * du + dv * dv)
    proper = length > 0  # not a dot
    slope = dv / np.where(proper, du, 1.0)
    shift = -radius * dv / np.where(proper, length, 1.0)
    first = np.clip(np.ceil(u0 - radius - 0.5), 0, size)
    last = np.clip(np.floor(u0 + du + radius - 0.5), -1, size - 1)
    n_cols = np.maximum(last - first + 1, 0).astype(np.intp)
    before = np.cumsum(n_cols) - n_cols  # the columns of the segments before this one
    total = int(before[-1] + n_cols[-1]) if len(n_cols) else 0
    if total == 0:
        return
    # blocks of whole segments, a new one starting at the segment that passes a multiple of _CHUNK
    cuts = np.unique(np.searchsorted(before + n_cols, np.arange(0, total, _CHUNK), side="right"))
    cuts[0] = 0  # (segments without columns before the first one that has some)
    block = np.repeat(np.arange(len(cuts)), np.diff(np.append(cuts, len(n_cols))))
    block_cols = np.diff(np.append(before[cuts], total))

    # One row of float32 values per segment (float32 holds the integers among them exactly: they
    # stay below 2**24): its first column's number in its block, that column's centre s
    # relative to u0, the same relative to the far end, the slope, +-shift, the centre line in
    # that column (relative to row centres), and the flat index of that column's row 0.
    ft = np.float32 if size * size <= 2**24 else np.float64  # images of over 4096 x 4096: float64
    s0 = first + 0.5 - u0
    table = np.empty((len(n_cols), 8), dtype=ft)
    table[:, 0] = before - before[cuts][block]
    table[:, 1] = s0
    table[:, 2] = s0 - du
    table[:, 3] = slope
    table[:, 4] = shift
    table[:, 5] = -shift
    table[:, 6] = v0 - 0.5 + slope * s0
    table[:, 7] = image + first * u_stride
    to_index = np.array([[v_stride], [-v_stride]], dtype=ft)  # rows, mirrored back, times the stride
    r2 = ft(radius * radius)
    sink = len(canvas) - 1  # the canvas's spare last cell
    count = np.arange(block_cols.max(initial=0), dtype=ft)

    for lo, hi in zip(cuts.tolist(), cuts[1:].tolist() + [len(n_cols)]):
        rows = np.repeat(table[lo:hi], n_cols[lo:hi], axis=0)
        n = len(rows)
        if n == 0:
            continue
        w = count[:n] - rows[:, 0]  # the column's number in its segment
        s = rows[:, 1] + w  # its centre, relative to u0
        s_end = rows[:, 2] + w  # ... and to the far end
        e = np.empty((2, n), dtype=ft)
        np.maximum(rows[:, 4], s_end, out=e[0])
        np.maximum(rows[:, 5], s_end, out=e[1])
        np.minimum(e, s, out=e)
        edge = np.square(e)
        np.subtract(r2, edge, out=edge)
        np.abs(edge, out=edge)  # rounding can take it just below 0
        np.sqrt(edge, out=edge)
        np.subtract(w, e, out=e)
        e *= rows[:, 3]
        edge[0] += e[0]  # the slope is m for the top and -m for the mirrored bottom
        edge[1] -= e[1]
        centre = rows[:, 6]
        edge[0] += centre
        edge[1] -= centre  # edge = [top, -bottom], relative to row centres
        # the rows whose centre lies in [bottom, top]: floor(top) and -floor(-bottom)
        np.floor(edge, out=edge)
        if clamp:
            np.minimum(edge[0], size - 1, out=edge[0])
            np.minimum(edge[1], 0, out=edge[1])
        span = edge[0] + edge[1]  # the rows after the first; negative: no ink
        edge *= to_index
        if u_stride != 1:
            w *= u_stride
        w += rows[:, 7]
        edge += w
        ends = edge.astype(np.intp)  # flat indices of [the last row, the first row]
        np.copyto(ends, sink, where=span < 0)
        canvas[ends] = 1
        n_mid = int(span.max()) - 1  # rows strictly between the first and the last (a 2 px line
        if n_mid > 0:  # has at most 3 rows in a column, so one such row at most)
            tall = np.flatnonzero(span >= 2)
            row = ends[1][tall]
            last_row = ends[0][tall] if n_mid > 1 else None
            for _ in range(n_mid):
                row += v_stride
                canvas[row if last_row is None else np.minimum(row, last_row)] = 1


def _render_chunk(canvas, drawings, first, size, line_width, padding):
    """Ink ``drawings`` (batch indices ``first, first + 1, ...``) into ``canvas``, flat, from image ``first`` on."""
    data, lengths = _stack(drawings, first)
    if len(data) == 0:
        return
    xy = _absolute(data[:, :2].T, lengths)  # (2, P)
    scale, shift = _fit(xy, lengths, size, padding, line_width)
    xy *= np.repeat(scale, lengths)
    xy += np.repeat(shift.T, lengths, axis=1)
    x, y = xy
    image = np.repeat(np.arange(len(drawings)) * (size * size), lengths)  # of each point

    a, b = _segments(data[:, 2] > 0.5, lengths)
    xa, ya, xb, yb = x[a], y[a], x[b], y[b]
    steep = np.abs(yb - ya) > np.abs(xb - xa)
    for is_steep in (False, True):
        g = np.flatnonzero(steep if is_steep else ~steep)
        ends = (ya[g], xa[g], yb[g], xb[g]) if is_steep else (xa[g], ya[g], xb[g], yb[g])
        _ink_segments(canvas, *ends, image[a[g]], size, line_width / 2.0, is_steep, padding < 0)
    if line_width >= np.sqrt(2):
        return  # the pixel under a point has its centre within sqrt(2) / 2 of it: already ink
    # the pixel under every point, so that thin lines and dots never vanish between pixel centres
    col, row = np.floor(xy).astype(np.intp)
    index = image + row * size + col
    if padding < 0:  # a point outside the image has no pixel under it
        np.copyto(index, len(canvas) - 1, where=(col < 0) | (col >= size) | (row < 0) | (row >= size))
    canvas[index] = 1


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

    A batch of 64 drawings or more is drawn in chunks on several threads: as
    many as the environment variable ``SKETCHLIB_RENDER_THREADS`` says (``1``
    for none), else as many as there are idle cores (at most 4). The images are
    the same whatever the number of threads.
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
    # Chunks of drawings, whose flat indices (from the chunk's first image on) stay below 2**24,
    # exact in float32. With threads, each thread takes a couple of chunks in turn; they ink
    # different images, so they never write the same cell (but the sink, where all write 1).
    step = max(1, min(_DRAWINGS, 2**24 // (size * size)))
    threads = _threads() if n_drawings >= 64 else 1
    if threads > 1:
        step = min(step, -(-n_drawings // (2 * threads)))

    def ink(first: int) -> None:
        chunk = drawings[first : first + step]
        _render_chunk(canvas[first * size * size :], chunk, first, size, line_width, padding)

    firsts = range(0, n_drawings, step)
    if threads > 1 and len(firsts) > 1:
        with ThreadPoolExecutor(min(threads, len(firsts))) as pool:
            list(pool.map(ink, firsts))  # list(): re-raise the first chunk's error, in batch order
    else:
        for first in firsts:
            ink(first)
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
