"""The model family: one :class:`SketchModel` configured by :class:`SketchConfig` presets.

One module per component: ``config`` (the dataclass and the presets),
``sketch_model`` (encode, decode, the data flow of both papers), ``cells`` (the
readable LSTM cell and the bidirectional encoder), ``fused`` (the fast kernels
of the same LSTM), ``mdn`` (the mixture density output and its sampler),
``influence`` (AI-Sketcher's influence layer, eq. 9-11), ``encoders`` (the CNN
encoder and the CNN autoencoder). The loss terms are in :mod:`sketchlib.losses`.
"""

from sketchlib.models.config import PRESETS, SketchConfig, config_diff, preset, preset_names
from sketchlib.models.sketch_model import Latent, SketchModel

__all__ = ["PRESETS", "SketchConfig", "SketchModel", "Latent", "config_diff", "preset", "preset_names"]
