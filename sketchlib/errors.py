"""The library's one exception type for bad input data."""

from __future__ import annotations


class SketchDataError(ValueError):
    """Bad sketch data: the message names the file, line or index and what to do.

    Subclasses ``ValueError`` so generic ``except ValueError`` handlers still work.

    >>> raise SketchDataError("face.ndjson line 17: stroke 2 has 3 x values and 4 y values")
    Traceback (most recent call last):
    ...
    sketchlib.errors.SketchDataError: face.ndjson line 17: stroke 2 has 3 x values and 4 y values
    """

    def __init__(self, message: str, *, source: str | None = None, where: str | int | None = None):
        parts = []
        if source is not None:
            parts.append(str(source))
        if where is not None:
            parts.append(str(where))
        prefix = " ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.source = source
        self.where = where
