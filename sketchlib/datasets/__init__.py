"""Sketch data sets: one type (:class:`Sketches`, :class:`SketchSplits`) for every source.

- :func:`load` resolves a name (``"quickdraw:face,pig"``, ``"spg"``, ``"kanjivg:10"``,
  ``"faces"``, ``"file.npz"``) to the loader below.
- :func:`load_quickdraw`: Google QuickDraw, 345 classes, Sketch-RNN / simplified / raw.
- :func:`load_spg`: SPG, 20 QuickDraw classes with per-point part labels; :func:`cut_parts`.
- :func:`load_npz`: any Sketch-RNN ``.npz`` file.
- :func:`load_kanjivg`: KanjiVG characters, by radical.
- :func:`fetch`: the downloader and cache behind them (mirrors for offline use).
"""

from sketchlib.datasets.base import Batch, LengthBuckets, SketchDataset, Sketches, SketchSplits
from sketchlib.datasets.download import default_cache_dir, fetch
from sketchlib.datasets.kanjivg import load_kanjivg
from sketchlib.datasets.npz import load_npz
from sketchlib.datasets.quickdraw import QUICKDRAW_CLASSES, load_quickdraw, simplify_drawing
from sketchlib.datasets.registry import load
from sketchlib.datasets.spg import SPG_CLASSES, cut_parts, load_spg, spg_part_names

__all__ = [
    "Batch",
    "LengthBuckets",
    "SketchDataset",
    "Sketches",
    "SketchSplits",
    "load",
    "load_quickdraw",
    "load_spg",
    "load_npz",
    "load_kanjivg",
    "cut_parts",
    "spg_part_names",
    "simplify_drawing",
    "fetch",
    "default_cache_dir",
    "QUICKDRAW_CLASSES",
    "SPG_CLASSES",
]
