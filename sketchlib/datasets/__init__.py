"""Sketch data sets: one type (:class:`Sketches`, :class:`SketchSplits`) for every source."""

from sketchlib.datasets.base import Batch, SketchDataset, Sketches, SketchSplits

__all__ = ["Batch", "SketchDataset", "Sketches", "SketchSplits"]
