"""Figures and SVG files of stroke-3 sketches.

Sketches are drawn as the strokes a person drew: one polyline per stroke, the
moves after a pen lift left out, in image coordinates (``y`` grows downwards,
so matplotlib axes are inverted). Matplotlib is imported inside the functions
that need it, so ``sketchlib`` imports without it; :func:`to_svg` and
:func:`save_svg` need only numpy.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Sequence
from xml.sax.saxutils import escape

import numpy as np

from sketchlib.errors import SketchDataError
from sketchlib.strokes import stroke3_to_polylines

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["STROKE_COLORS", "plot_sketch", "plot_grid", "to_svg", "save_svg", "save_png", "plot_losses"]

#: Stroke colours for ``color_by_stroke`` (matplotlib's ``tab10``), reused cyclically.
STROKE_COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


def _strokes(strokes3: np.ndarray) -> list[np.ndarray]:
    """The absolute ``(k, 2)`` polylines of one stroke-3 drawing, with a clear error for bad shapes."""
    s = np.asarray(strokes3, dtype=np.float64)
    if s.size == 0:
        return []
    if s.ndim != 2 or s.shape[1] != 3:
        raise SketchDataError(f"stroke-3 data must have shape (N, 3), got {s.shape}")
    return stroke3_to_polylines(s)


def _stroke_color(i: int, color: str | None, color_by_stroke: bool) -> str:
    if color_by_stroke:
        return STROKE_COLORS[i % len(STROKE_COLORS)]
    return "black" if color is None else color


def _is_single(drawings) -> bool:
    """True for one stroke-3 drawing, False for a sequence of them."""
    return isinstance(drawings, np.ndarray) and drawings.dtype != object and drawings.ndim == 2


# --------------------------------------------------------------------------- matplotlib


def _draw(ax: "Axes", lines: list[np.ndarray], color, color_by_stroke, linewidth, title) -> "Axes":
    for i, line in enumerate(lines):
        c = _stroke_color(i, color, color_by_stroke)
        if len(line) == 1:  # a dot
            ax.plot(line[:, 0], line[:, 1], "o", color=c, markersize=linewidth)
        else:
            ax.plot(line[:, 0], line[:, 1], "-", color=c, linewidth=linewidth,
                    solid_capstyle="round", solid_joinstyle="round")  # fmt: skip
    # a square view around the bounding box (5% margin), centred, with y growing downwards
    if lines:
        points = np.concatenate(lines)
        low, high = points.min(axis=0), points.max(axis=0)
    else:
        low = high = np.zeros(2)
    cx, cy = (low + high) / 2
    half = 0.55 * float((high - low).max()) or 1.0
    ax.set_xlim(cx - half, cx + half)
    ax.set_ylim(cy + half, cy - half)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title)
    return ax


def plot_sketch(
    strokes3: np.ndarray,
    ax: "Axes | None" = None,
    color: str | None = None,
    color_by_stroke: bool = False,
    linewidth: float = 2.0,
    title: str | None = None,
) -> "Axes":
    """Draw one stroke-3 sketch on ``ax`` (a new figure when ``None``) and return the axes.

    Strokes are polylines; pen-up moves are hidden; a one-point stroke is a dot.
    ``color_by_stroke`` gives each stroke its own colour (:data:`STROKE_COLORS`)
    to show the drawing order. The axes get image orientation (``y`` down), equal
    aspect and no ticks.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(3, 3))
    return _draw(ax, _strokes(strokes3), color, color_by_stroke, linewidth, title)


def _grid_figure(n: int, ncols: int, cell_size: float, use_pyplot: bool) -> "Figure":
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    figsize = (ncols * cell_size, nrows * cell_size)
    if use_pyplot:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=figsize)
    else:
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize)
    for i in range(n):
        fig.add_subplot(nrows, ncols, i + 1)
    return fig


def plot_grid(
    drawings: Sequence[np.ndarray],
    ncols: int = 8,
    titles: Sequence[str] | None = None,
    cell_size: float = 1.5,
    color_by_stroke: bool = False,
    linewidth: float = 1.5,
) -> "Figure":
    """Sketches in a grid, one axes each, ``ncols`` per row; returns the figure.

    The figure has exactly ``len(drawings)`` axes; each cell is ``cell_size``
    inches square. ``titles`` (one per drawing) label the cells.
    """
    drawings = list(drawings)
    if titles is not None and len(titles) != len(drawings):
        raise ValueError(f"got {len(titles)} titles for {len(drawings)} drawings; pass one title per drawing")
    fig = _grid_figure(len(drawings), ncols, cell_size, use_pyplot=True)
    _fill_grid(fig, drawings, titles, color_by_stroke, linewidth)
    return fig


def _fill_grid(fig, drawings, titles, color_by_stroke, linewidth) -> None:
    for i, (ax, d) in enumerate(zip(fig.axes, drawings)):
        title = None if titles is None else titles[i]
        _draw(ax, _strokes(d), None, color_by_stroke, linewidth, title)
        if title is not None:
            ax.title.set_fontsize(8)
    fig.tight_layout()


def save_png(
    drawings: np.ndarray | Sequence[np.ndarray],
    path: str | os.PathLike,
    cell_size: float = 3.0,
    dpi: int = 100,
    color_by_stroke: bool = False,
    ncols: int = 8,
) -> None:
    """Write one sketch (an ``(N, 3)`` array) or a grid of sketches (a list) to a PNG file.

    Uses a figure outside ``pyplot``, so nothing stays open and no window shows.
    """
    from matplotlib.figure import Figure

    if _is_single(drawings):
        fig = Figure(figsize=(cell_size, cell_size))
        _draw(fig.add_subplot(), _strokes(drawings), None, color_by_stroke, 2.0, None)
    else:
        drawings = list(drawings)
        fig = _grid_figure(len(drawings), ncols, cell_size, use_pyplot=False)
        _fill_grid(fig, drawings, None, color_by_stroke, 1.5)
    fig.savefig(path, dpi=dpi, facecolor="white")


# --------------------------------------------------------------------------- SVG


def _number(v: float) -> str:
    return f"{v:.6g}"


def to_svg(
    strokes3: np.ndarray,
    size: float | None = 256,
    stroke_width: float | None = None,
    color_by_stroke: bool = False,
    color: str = "black",
    margin: float = 0.05,
) -> str:
    """One sketch as a standalone SVG document: one ``<path>`` per stroke, no pen-up lines.

    The drawing is scaled so that its bounding box plus ``margin`` (a fraction of
    the longer side) fills a ``size``-pixel square's longer side; the ``viewBox``
    is that box. ``size=None`` keeps the drawing's own units. ``stroke_width``
    is in output units (default: ``1/128`` of the longer side, 2 px at 256).
    One-point strokes become dots (a zero-length path with round caps).
    """
    lines = _strokes(strokes3)
    if lines:
        points = np.concatenate(lines)
        low, high = points.min(axis=0), points.max(axis=0)
    else:
        low = high = np.zeros(2)
    extent = float((high - low).max())
    pad = margin * extent if extent > 0 else 1.0
    longest = extent + 2 * pad
    scale = 1.0 if size is None else float(size) / longest
    width, height = (high - low + 2 * pad) * scale
    if stroke_width is None:
        stroke_width = max(width, height) / 128
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{_number(width)}" height="{_number(height)}" '
        f'viewBox="0 0 {_number(width)} {_number(height)}">',
        f'<g fill="none" stroke-width="{_number(stroke_width)}" stroke-linecap="round" stroke-linejoin="round">',
    ]
    for i, line in enumerate(lines):
        xy = (line - low + pad) * scale
        if len(xy) == 1:
            xy = np.vstack([xy, xy])
        d = "M" + " L".join(f"{_number(x)} {_number(y)}" for x, y in xy)
        out.append(f'<path stroke="{escape(_stroke_color(i, color, color_by_stroke))}" d="{d}"/>')
    out += ["</g>", "</svg>", ""]
    return "\n".join(out)


def save_svg(strokes3: np.ndarray, path: str | os.PathLike, **kwargs) -> None:
    """Write :func:`to_svg` of one sketch to ``path`` (keyword arguments go to :func:`to_svg`)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(to_svg(strokes3, **kwargs))


# --------------------------------------------------------------------------- training curves


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Moving average over ``window`` finite values (NaNs, i.e. skipped steps, are left out)."""
    if window <= 1 or len(values) < window:
        return values
    ok = np.isfinite(values)
    v = np.where(ok, values, 0.0)
    kernel = np.ones(window)
    num = np.convolve(v, kernel, mode="same")
    den = np.convolve(ok.astype(float), kernel, mode="same")
    return np.where(den > 0, num / np.maximum(den, 1), np.nan)


def plot_losses(
    logs: "dict[str, list[dict]] | list[dict]",
    keys: Sequence[str] = ("total", "l_r", "l_kl"),
    split: str = "train",
    smooth: int = 25,
    cell_size: tuple[float, float] = (4.0, 3.0),
) -> "Figure":
    """Loss curves from training logs (``sketchlib.training.read_log``), one panel per loss term.

    ``logs`` maps a run's name to its records (or is one run's records);
    ``split`` is ``"train"`` (every step, smoothed over ``smooth`` steps) or
    ``"valid"`` (the validation steps, unsmoothed). AI-Sketcher's Figure 3(b)
    is ``plot_losses({"model A": log_a, ...}, keys=("total", "l_r", "l_kl"))``.
    """
    from matplotlib.figure import Figure

    runs = logs if isinstance(logs, dict) else {"run": logs}
    fig = Figure(figsize=(cell_size[0] * len(keys), cell_size[1]), layout="constrained")
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for ax, key in zip(axes, keys):
        col = f"{split}_{key}"
        for name, records in runs.items():
            rows = [r for r in records if col in r]
            if not rows:
                continue
            steps = np.array([r["step"] for r in rows], dtype=float)
            vals = np.array([r[col] for r in rows], dtype=float)
            if split == "train":
                vals = _smooth(vals, smooth)
            ax.plot(steps, vals, label=name, linewidth=1.2)
        ax.set_title(f"{split} {key}")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    if len(runs) > 1:
        axes[0].legend(fontsize="small")
    return fig
