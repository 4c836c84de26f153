"""One string names any data set: ``load("quickdraw:face,pig")``.

Accepted forms (keyword arguments go to the loader named):

=================================  ==========================================================
``quickdraw:face,pig``             :func:`load_quickdraw`, Sketch-RNN npz files (also ``quickdraw-sketchrnn:``)
``quickdraw-simplified:face,pig``  :func:`load_quickdraw` with ``format="simplified"``
``quickdraw-raw:face,pig``         :func:`load_quickdraw` with ``format="raw"``
``spg`` / ``spg:face,pig``         :func:`load_spg`, all 20 classes or those named
``spg-parts:eye,nose,mouth,ear``   parts cut out of SPG's labelled faces (:func:`load_spg_face_parts`)
``kanjivg`` / ``kanjivg:10``       :func:`load_kanjivg`, every character or the 10 most frequent radicals
``faces``                          the project's face set, :func:`sketchlib.datasets.faces.load_faces`
``sketchrnn:aaron_sheep``          a set of the Sketch-RNN paper (``aaron_sheep``, ``omniglot``, ``kanji``),
                                   :func:`sketchlib.datasets.npz.load_sketchrnn_dataset`
``path/to/file.npz``               :func:`load_npz` (also ``npz:path/to/file.npz``)
=================================  ==========================================================
"""

from __future__ import annotations

from sketchlib.datasets.base import SketchSplits
from sketchlib.errors import SketchDataError

__all__ = ["ACCEPTED_FORMS", "load"]

#: What :func:`load` understands, for error messages and documentation.
ACCEPTED_FORMS = (
    "quickdraw:<class>,<class>...",
    "quickdraw-simplified:<class>,...",
    "quickdraw-raw:<class>,...",
    "spg",
    "spg:<class>,...",
    "spg-parts:<part>,...",
    "kanjivg",
    "kanjivg:<top-k radicals>",
    "faces",
    "sketchrnn:aaron_sheep|omniglot|kanji",
    "<path>.npz",
    "npz:<path>",
)

_QUICKDRAW = {"quickdraw": "sketchrnn", "quickdraw-sketchrnn": "sketchrnn",
              "quickdraw-simplified": "simplified", "quickdraw-raw": "raw"}  # fmt: skip


def _unknown(spec: str, why: str = "") -> SketchDataError:
    reason = f": {why}" if why else ""
    return SketchDataError(f"cannot load {spec!r}{reason}; accepted forms: {', '.join(ACCEPTED_FORMS)}")


def _class_names(spec: str, rest: str) -> list[str]:
    names = [c.strip() for c in rest.split(",") if c.strip()]
    if not names:
        raise _unknown(spec, "no class names after ':'")
    return names


def load(spec: str, **kw) -> SketchSplits:
    """The data set ``spec`` names, as :class:`SketchSplits`; ``kw`` go to its loader.

    >>> splits = load("quickdraw:face,pig", mirror="../shared/data/quickdraw")  # doctest: +SKIP
    """
    if not isinstance(spec, str) or not spec.strip():
        raise _unknown(str(spec), "empty name")
    text = spec.strip()
    name, sep, rest = text.partition(":")
    key = name.lower()

    if key in _QUICKDRAW:
        from sketchlib.datasets.quickdraw import load_quickdraw

        return load_quickdraw(_class_names(spec, rest), _QUICKDRAW[key], **kw)
    if key == "spg":
        from sketchlib.datasets.spg import load_spg

        return load_spg(_class_names(spec, rest) if sep else None, **kw)
    if key == "spg-parts":
        from sketchlib.datasets.spg import load_spg_face_parts

        return load_spg_face_parts(_class_names(spec, rest) if sep else ("eye", "nose", "mouth", "ear"), **kw)
    if key == "kanjivg":
        from sketchlib.datasets.kanjivg import load_kanjivg

        if not sep:
            return load_kanjivg(**kw)
        try:
            k = int(rest)
        except ValueError:
            raise _unknown(spec, f"'{rest}' is not a number of radicals") from None
        return load_kanjivg(k, **kw)
    if key == "faces" and not sep:
        from sketchlib.datasets.faces import load_faces

        return load_faces(**kw)
    if key == "sketchrnn" and sep and rest.strip():
        from sketchlib.datasets.npz import load_sketchrnn_dataset

        return load_sketchrnn_dataset(rest.strip(), **kw)
    if key == "npz" and sep and rest.strip():
        from sketchlib.datasets.npz import load_npz

        return load_npz(rest.strip(), **kw)
    if text.lower().endswith(".npz"):
        from sketchlib.datasets.npz import load_npz

        return load_npz(text, **kw)
    raise _unknown(spec)
