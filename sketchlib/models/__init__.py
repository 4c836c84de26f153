"""The model family: one :class:`SketchModel` configured by :class:`SketchConfig` presets."""

from sketchlib.models.config import PRESETS, SketchConfig, config_diff, preset, preset_names
from sketchlib.models.sketch_model import Latent, SketchModel

__all__ = ["PRESETS", "SketchConfig", "SketchModel", "Latent", "config_diff", "preset", "preset_names"]
