"""From pixels back to strokes: trace a binary raster into a stroke-3 drawing.

The pipeline, one public function a step (:func:`vectorize` chains them):

1. :func:`binarize`: the image -> a boolean ink mask ``(H, W)``.
2. :func:`thin`: Guo-Hall thinning (Guo & Hall 1989, ``skimage.morphology.thin``)
   -> a skeleton one pixel wide that keeps the lines' 8-connectivity.
3. :func:`skeleton_points`: the skeleton pixels as ``(P, 2)`` integer ``(x, y)``
   points (``x`` = column, ``y`` = row, image coordinates, ``y`` down), in raster order.
4. :func:`cluster_points`: DBSCAN (scikit-learn) over the points; with the default
   ``eps = 1.5`` (just over :math:`\\sqrt 2`) and ``min_samples = 1`` the clusters are
   exactly the 8-connected pieces of the skeleton, one per run of ink.
5. :func:`order_paths`: each cluster -> ordered paths, by walking the skeleton's
   8-neighbour graph: start at an end point, step to the unvisited neighbour that
   keeps the direction best (so a walk goes straight through a crossing, as a pen
   does), stop when no unvisited neighbour is left; then start again from an end
   of what remains. Linear in the number of pixels, unlike a brute-force search
   over orderings.
6. :func:`simplify_paths`: Ramer-Douglas-Peucker (Douglas & Peucker 1973) with
   ``epsilon = 2`` pixels, :func:`sketchlib.strokes.rdp`, as QuickDraw's simplified data.
7. :func:`paths_to_stroke3`: the paths as one stroke-3 drawing (one stroke a path).

The traced drawing is in the image's pixel units. :func:`retrace` renders
stroke-3 drawings and traces them back; :func:`round_trip_iou` measures how much
of the picture survives strokes -> raster -> strokes -> raster.

Bad input is refused with a :class:`~sketchlib.errors.SketchDataError` that names
the value and what to do (a colour image, NaN, a grey image without a
threshold, an image that is ink everywhere), or gives an empty drawing ``(0, 3)``
(an image with no pixels, or no ink).
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np

from sketchlib import strokes as S
from sketchlib.errors import SketchDataError
from sketchlib.vectorize_order import _order, order_paths

__all__ = [
    "binarize",
    "thin",
    "skeleton_points",
    "cluster_points",
    "order_paths",
    "simplify_paths",
    "paths_to_stroke3",
    "vectorize",
    "retrace",
    "iou",
    "round_trip_iou",
]



# --------------------------------------------------------------------------- 1. binarize


def _describe(value: float) -> str:
    return f"{value:g}" if np.isfinite(value) else str(value)


# long: a docstring of the thresholds, then one branch per threshold kind (fixed, Otsu, automatic)
def binarize(
    image: np.ndarray,
    threshold: float | Literal["otsu"] | None = None,
    ink: Literal["light", "dark"] = "light",
) -> np.ndarray:
    """An image -> a boolean ink mask ``(H, W)``.

    Args:
        image: one ``(H, W)`` image. Binary images (``bool``, or only the values
            0 and 1, as :func:`sketchlib.raster.render` draws them) need nothing else.
        threshold: for grey images (``0..255`` or floats), the grey level that
            separates ink from paper, or ``"otsu"`` to pick it from the histogram
            (Otsu's method). ``None`` (the default) accepts only binary images.
        ink: ``"light"`` when ink has the high values (1 = ink, as in
            :mod:`sketchlib.raster`), ``"dark"`` for dark lines on light paper
            (a scanned drawing, :func:`sketchlib.raster.raster_to_image`).

    Returns:
        ``(H, W)`` bool, ``True`` = ink. An image without pixels gives a ``(0, 0)`` mask.

    Raises:
        SketchDataError: not one 2-D image; NaN or inf values; grey values
            without a ``threshold`` (the message names one and suggests a threshold).
    """
    if ink not in ("light", "dark"):
        raise SketchDataError(f"ink must be 'light' (1 = ink) or 'dark' (dark lines on light paper), got {ink!r}")
    try:
        arr = np.asarray(image)
        if arr.dtype != bool:
            arr = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise SketchDataError(f"the image is not a numeric array ({exc})") from None
    if arr.size == 0:
        return np.zeros((0, 0), dtype=bool)
    if arr.ndim != 2:
        hint = " (a colour image: convert it to grey first, e.g. image.mean(axis=2))" if arr.ndim == 3 else ""
        raise SketchDataError(f"expected one (H, W) image, got an array of shape {arr.shape}{hint}")
    if arr.dtype == bool:
        mask = arr
    else:
        if not np.isfinite(arr).all():
            r, c = np.argwhere(~np.isfinite(arr))[0]
            raise SketchDataError(f"pixel (row {r}, column {c}) is {arr[r, c]}; replace NaN and inf before tracing")
        if threshold is None:
            grey = (arr != 0) & (arr != 1)
            if grey.any():
                r, c = np.argwhere(grey)[0]
                low, high = float(arr.min()), float(arr.max())
                raise SketchDataError(
                    f"the image is not binary: pixel (row {r}, column {c}) is {_describe(arr[r, c])} "
                    f"(values span {_describe(low)}..{_describe(high)}); pass threshold= "
                    f"(e.g. threshold={_describe((low + high) / 2)}, or threshold='otsu'), "
                    "and ink='dark' if the lines are darker than the paper"
                )
            mask = arr == 1
        else:
            if isinstance(threshold, str):
                if threshold != "otsu":
                    raise SketchDataError(f"threshold must be a number, 'otsu' or None, got {threshold!r}")
                if arr.min() == arr.max():
                    level = float(arr.min())  # a flat image: one level, no ink on either side
                else:
                    from skimage.filters import threshold_otsu

                    level = float(threshold_otsu(arr))
            else:
                level = float(threshold)
            return arr > level if ink == "light" else arr < level
    return ~mask if ink == "dark" else mask


# --------------------------------------------------------------------------- 2. thin


def thin(mask: np.ndarray) -> np.ndarray:
    """Guo-Hall thinning of an ink mask: a skeleton one pixel wide, ``(H, W)`` bool.

    ``skimage.morphology.thin`` implements Guo & Hall's two-subiteration
    algorithm; it keeps every 8-connected piece connected (and, by design,
    leaves isolated ``2 x 2`` squares). A mask that is ink everywhere has no
    lines to trace and is refused.
    """
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise SketchDataError(f"expected one (H, W) mask, got shape {m.shape}")
    if m.size and m.all() and m.size > 1:
        raise SketchDataError(
            f"every pixel of the {m.shape[0]}x{m.shape[1]} image is ink, so there are no lines to trace; "
            "if the lines are the dark pixels, pass ink='dark' (or ink='light' if you passed 'dark')"
        )
    if not m.any():
        return np.zeros_like(m)
    from skimage.morphology import thin as guo_hall

    # thin only the ink's bounding box (and a blank margin): the same result, less work
    rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    r0, r1, c0, c1 = max(rows[0] - 1, 0), rows[-1] + 2, max(cols[0] - 1, 0), cols[-1] + 2
    out = np.zeros_like(m)
    out[r0:r1, c0:c1] = guo_hall(m[r0:r1, c0:c1])
    return out


# --------------------------------------------------------------------------- 3. skeleton pixels


def skeleton_points(skeleton: np.ndarray) -> np.ndarray:
    """The skeleton's pixels as ``(P, 2)`` int64 ``(x, y)`` = (column, row), in raster order (row by row)."""
    rows, cols = np.nonzero(np.asarray(skeleton, dtype=bool))
    return np.column_stack([cols, rows]).astype(np.int64)


# --------------------------------------------------------------------------- 4. DBSCAN


def cluster_points(points: np.ndarray, eps: float = 1.5, min_samples: int = 1) -> np.ndarray:
    """DBSCAN cluster of every point, ``(P,)`` int64, numbered in the order of each cluster's first point.

    With ``eps = 1.5`` (more than the diagonal step :math:`\\sqrt 2`, less than 2)
    and ``min_samples = 1``, two pixels share a cluster exactly when an 8-connected
    path of skeleton pixels joins them, and no point is noise. A larger ``eps``
    bridges gaps of up to ``eps`` pixels; with ``min_samples > 1``, points DBSCAN
    calls noise get ``-1``.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) == 0:
        return np.zeros(0, dtype=np.int64)
    if eps <= 0 or min_samples < 1:
        raise SketchDataError(f"DBSCAN needs eps > 0 and min_samples >= 1, got eps={eps}, min_samples={min_samples}")
    from sklearn.cluster import DBSCAN

    raw = DBSCAN(eps=eps, min_samples=min_samples).fit(pts).labels_
    # renumber by first appearance, so the order does not depend on DBSCAN's internals
    out = np.full(len(raw), -1, dtype=np.int64)
    seen: dict[int, int] = {}
    for i, c in enumerate(raw):
        if c >= 0:
            out[i] = seen.setdefault(int(c), len(seen))
    return out


# --------------------------------------------------------------------------- 6-7. RDP, stroke-3


def simplify_paths(paths: Sequence[np.ndarray], epsilon: float = 2.0) -> list[np.ndarray]:
    """RDP on every path (``epsilon`` in pixels; :func:`sketchlib.strokes.rdp`), float64 ``(k', 2)`` each."""
    return [S.rdp(np.asarray(p, dtype=np.float64), epsilon) for p in paths]


def paths_to_stroke3(paths: Sequence[np.ndarray]) -> np.ndarray:
    """Paths of ``(x, y)`` points -> one stroke-3 drawing ``(N, 3)`` float32, a stroke per path, in order."""
    return S.polylines_to_stroke3(paths)


# --------------------------------------------------------------------------- the whole pipeline


def vectorize(
    image: np.ndarray,
    *,
    threshold: float | Literal["otsu"] | None = None,
    ink: Literal["light", "dark"] = "light",
    eps: float = 1.5,
    epsilon: float = 2.0,
    min_pixels: int = 3,
    join: bool = True,
) -> np.ndarray:
    """Trace one image into a stroke-3 drawing ``(N, 3)`` float32, in pixels (``x`` = column, ``y`` = row).

    :func:`binarize` -> :func:`thin` -> :func:`skeleton_points` ->
    :func:`cluster_points` -> :func:`order_paths` (with ``join``) ->
    :func:`simplify_paths` -> :func:`paths_to_stroke3`.

    Args:
        image, threshold, ink: see :func:`binarize`.
        eps: DBSCAN radius in pixels (:func:`cluster_points`).
        epsilon: RDP tolerance in pixels.
        min_pixels: paths of fewer skeleton pixels are dropped (the short spurs
            thinning leaves at corners and crossings) unless they are all of
            their cluster, so a lone dot stays a dot.
        join: see :func:`order_paths`.

    Returns:
        The drawing; ``(0, 3)`` for an image with no ink (or no pixels).
    """
    skeleton = thin(binarize(image, threshold=threshold, ink=ink))
    points = skeleton_points(skeleton)
    if len(points) == 0:
        return np.zeros((0, 3), dtype=np.float32)
    labels = cluster_points(points, eps=eps)
    paths: list[np.ndarray] = []
    for c in range(labels.max() + 1):
        mine = _order(points[labels == c], join, memory=4)
        kept = [p for p, n_new in mine if n_new >= min_pixels or len(mine) == 1]
        paths.extend(kept or [mine[0][0]])
    return paths_to_stroke3(simplify_paths(paths, epsilon))


def retrace(
    drawings: Sequence[np.ndarray], size: int = 128, line_width: float | None = None, **kwargs
) -> list[np.ndarray]:
    """Render stroke-3 drawings (:func:`sketchlib.raster.render`) and trace each back with :func:`vectorize`.

    ``kwargs`` go to :func:`vectorize`. The traced drawings are in pixels of the
    ``size x size`` raster, not in the units of the input.
    """
    from sketchlib.raster import render

    if len(drawings) == 0:
        return []
    images = render(list(drawings), size=size, line_width=line_width)
    return [vectorize(im, **kwargs) for im in images]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two binary images of one shape; 1.0 when both are blank."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise SketchDataError(f"images of shapes {a.shape} and {b.shape} cannot be compared; render both at one size")
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def round_trip_iou(
    drawings: Sequence[np.ndarray], size: int = 128, line_width: float | None = None, **kwargs
) -> np.ndarray:
    """Strokes -> raster -> strokes -> raster: the IoU of the two rasters of every drawing, ``(B,)``.

    Both rasters come from :func:`sketchlib.raster.render` at ``size`` (which
    fits every drawing to the image), the traced strokes from :func:`vectorize`
    (``kwargs`` go there). 1.0 means the traced drawing draws exactly the same pixels.
    """
    from sketchlib.raster import render

    if len(drawings) == 0:
        return np.zeros(0)
    first = render(list(drawings), size=size, line_width=line_width)
    traced = [vectorize(im, **kwargs) for im in first]
    second = render(traced, size=size, line_width=line_width)
    return np.array([iou(a, b) for a, b in zip(first, second)])
