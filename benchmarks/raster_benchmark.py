"""Batched ``sketchlib.raster.render`` against a per-sketch PIL ``ImageDraw`` baseline.

    python benchmarks/raster_benchmark.py
    python benchmarks/raster_benchmark.py --sizes 128 48 28 --repeats 7
    python benchmarks/raster_benchmark.py --threads 1    # render on one thread only

Both renderers place each drawing the same way (aspect kept, centred, the longer
side of the bounding box ``size - 2 * padding - line_width`` pixels) and draw
with the same line width, so the table also reports how far their pixels agree:
the IoU of the ink, and the share of the ink that lies within one pixel of the
other renderer's ink (a half-pixel shift of a 2 px line already costs much
IoU). Timings are the best of ``--repeats`` runs, the two renderers
interleaved so that a busy machine slows both alike. ``render`` may use a few
threads (``SKETCHLIB_RENDER_THREADS``, else the idle cores); ``--threads`` sets
that variable.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from sketchlib import raster
from sketchlib.raster import default_line_width, default_padding, render

DEFAULT_DATA = Path("/work/shared/data/quickdraw/sketchrnn/face.npz")


def load_drawings(path: Path, count: int, seed: int) -> tuple[list[np.ndarray], str]:
    """Sketch-RNN ``.npz`` training drawings if the file exists, else random-walk drawings."""
    if path.is_file():
        train = np.load(path, allow_pickle=True, encoding="latin1")["train"]
        return list(train[:count]), f"{path.name} train ({min(count, len(train))} drawings)"
    rng = np.random.default_rng(seed)
    drawings = []
    for _ in range(count):
        n = int(rng.integers(20, 120))
        offsets = rng.normal(0.0, 8.0, size=(n, 2)).round()
        pen = (rng.random(n) < 0.08).astype(np.float64)
        pen[-1] = 1.0
        drawings.append(np.column_stack([offsets, pen]).astype(np.int16))
    return drawings, f"random walks ({count} drawings; {path} is absent)"


def pil_render(drawings: list[np.ndarray], size: int, line_width: float, padding: float) -> np.ndarray:
    """The straightforward way: fit each sketch, then ``ImageDraw.line`` once per stroke."""
    out = np.zeros((len(drawings), size, size), dtype=np.uint8)
    width = max(1, round(line_width))
    for i, strokes3 in enumerate(drawings):
        s = np.asarray(strokes3, dtype=np.float64)
        if len(s) == 0:
            continue
        points = np.cumsum(s[:, :2], axis=0)
        low, high = points.min(axis=0), points.max(axis=0)
        extent = (high - low).max()
        scale = (size - 2 * padding - line_width) / extent if extent > 0 else 1.0
        # PIL truncates coordinates, so pixel i covers [i, i + 1) as in sketchlib
        points = (points - (low + high) / 2) * scale + size / 2
        image = Image.new("1", (size, size), 0)
        draw = ImageDraw.Draw(image)
        for line in np.split(points, np.flatnonzero(s[:, 2] > 0.5) + 1):
            if len(line) > 1:
                draw.line(line.ravel().tolist(), fill=1, width=width)
            elif len(line) == 1:
                draw.point(line.ravel().tolist(), fill=1)
        out[i] = np.asarray(image, dtype=np.uint8)
    return out


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def dilate(images: np.ndarray) -> np.ndarray:
    """Binary dilation of ``(B, H, W)`` images by a 3 x 3 square."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    h, w = images.shape[1:]
    out = np.zeros_like(images)
    for dy in range(3):
        for dx in range(3):
            out |= padded[:, dy : dy + h, dx : dx + w]
    return out


def agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """IoU of the ink of two batches, and the share of all ink within one pixel of the other's ink."""
    a, b = a.astype(bool), b.astype(bool)
    iou = (a & b).sum() / max((a | b).sum(), 1)
    near = ((a & dilate(b)).sum() + (b & dilate(a)).sum()) / max(a.sum() + b.sum(), 1)
    return float(iou), float(near)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Sketch-RNN .npz file (default: %(default)s)")
    parser.add_argument("--count", type=int, default=2000, help="number of drawings (default: %(default)s)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 48], help="image sizes (default: 128 48)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per renderer, best kept (default: 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random-walk fallback")
    parser.add_argument(
        "--threads", type=int, help="threads for render (default: SKETCHLIB_RENDER_THREADS, else the idle cores)"
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        os.environ["SKETCHLIB_RENDER_THREADS"] = str(args.threads)

    drawings, description = load_drawings(args.data, args.count, args.seed)
    print(f"data: {description}, {np.mean([len(d) for d in drawings]):.1f} points per drawing on average")
    print(f"timing: best of {args.repeats} runs each, renderers interleaved; render on {raster._threads()} thread(s)\n")
    header = f"{'size':>5} {'line':>5} {'render/s':>10} {'PIL/s':>10} {'speed-up':>9} {'IoU':>6} {'within 1px':>11}"
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        line_width, padding = default_line_width(size), default_padding(size)
        ours = render(drawings, size)  # also a warm-up
        theirs = pil_render(drawings, size, line_width, padding)
        t_ours, t_theirs = [], []
        for _ in range(args.repeats):
            t_ours.append(seconds(lambda size=size: render(drawings, size)))
            t_theirs.append(seconds(lambda size=size, lw=line_width, pad=padding: pil_render(drawings, size, lw, pad)))
        rate_ours, rate_theirs = len(drawings) / min(t_ours), len(drawings) / min(t_theirs)
        iou, near = agreement(ours, theirs)
        print(
            f"{size:>5} {line_width:>5.2g} {rate_ours:>10.0f} {rate_theirs:>10.0f} "
            f"{rate_ours / rate_theirs:>8.1f}x {iou:>6.3f} {near:>11.3f}"
        )


if __name__ == "__main__":
    main()
