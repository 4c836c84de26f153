"""sketchlib: the models and data tools behind the AI-Sketcher book.

Modules, one idea each:

- ``sketchlib.strokes``   stroke-3 / stroke-5 / polyline formats, normalisation, RDP, augmentation
- ``sketchlib.plotting``  matplotlib figures and SVG export of sketches
- ``sketchlib.raster``    batched rendering of strokes to binary images
- ``sketchlib.datasets``  QuickDraw, SPG, Sketch-RNN npz, KanjiVG, the FaceX-like face set
- ``sketchlib.models``    Sketch-RNN, AI-Sketcher, Sketch-pix2seq and CNN-LSTM VAE as one family
- ``sketchlib.training``  the trainer; ``sketchlib.sampling`` drawing from trained models
"""

from sketchlib.errors import SketchDataError

__version__ = "0.1.0"

__all__ = ["SketchDataError", "__version__"]
