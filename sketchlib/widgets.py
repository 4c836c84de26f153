"""A sketch pad for class: a student draws, the model finishes the drawing.

:class:`SketchPad` is Magenta's sketch-rnn web demos inside Jupyter (ipycanvas +
ipywidgets). Everything the buttons do is a plain method that works without a
browser (``pad.add_stroke(points)``, ``pad.complete_now()``, ``pad.undo()``,
``pad.endings()``, ...), so the book and the tests drive the same code the class
clicks; the canvas event handlers only collect points and call those methods.

Coordinates. The canvas and ``sketchlib.strokes`` share image coordinates (``x``
right, ``y`` down), so no flip is needed. The pad keeps the user's strokes as
absolute canvas polylines. The model sees them as stroke-3 relative to the first
point (as the sketch-rnn demos do) and divided by ``canvas_per_data`` (canvas
pixels per data pixel, by default so that the canvas' longer side spans the
256-pixel box of QuickDraw drawings); the model's offsets are multiplied back and
added to the last point the user drew, so the completion continues where the
user stopped.

Capture, as in the demos: a point closer than :data:`MIN_MOVE` (2 px) to the
previous one is jitter and dropped, and every finished stroke is simplified by
Ramer-Douglas-Peucker (Douglas & Peucker 1973) with epsilon :data:`RDP_EPSILON` (2 px).

"Complete" primes :class:`sketchlib.sampling.IncrementalSampler` on the drawing
and asks it for one point at a time; in the notebook a background thread draws
each point as it comes (``point_delay`` seconds apart) and a new stroke by the
user stops it. When the model ends the drawing, "New ending" samples another.

Around the pad, small helpers: :mod:`sketchlib.pad_models` (which models it can
use, their class names, and the buttons that ask the model for whole drawings:
endings, auto-encoding, interpolation, z-switch), :mod:`sketchlib.pad_thread`
(the one background completion, which a new stroke stops) and
:mod:`sketchlib.pad_ui` (the ipywidgets canvas and controls).
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Callable, Sequence

import numpy as np

from sketchlib import sampling
from sketchlib import strokes as S
from sketchlib.pad_models import PREFERRED_MODELS, ModelActions, ModelShelf, class_names_of, default_model_name
from sketchlib.pad_thread import CompletionThread
from sketchlib.pad_ui import MODEL_COLOR, USER_COLOR, PadUI

__all__ = ["MIN_MOVE", "RDP_EPSILON", "PREFERRED_MODELS", "default_model_name", "SketchPad"]

log = logging.getLogger(__name__)

#: Moves shorter than this (canvas pixels) are jitter and ignored.
MIN_MOVE = 2.0
#: RDP tolerance (canvas pixels) applied to each finished stroke.
RDP_EPSILON = 2.0
def _polylines_to_canvas_stroke3(lines: Sequence[np.ndarray]) -> np.ndarray:
    """Absolute canvas polylines -> stroke-3 whose first row is the first point (the canvas origin is (0, 0))."""
    return S.polylines_to_stroke3([np.asarray(line, np.float64) for line in lines if len(line)])


class SketchPad(ModelActions):
    """A drawing canvas whose model finishes what the user started.

    Args:
        model, stats: a model and its checkpoint stats (``stats["scale"]``, optional
            ``stats["class_names"]``); ``None``: load ``model_name`` from :mod:`sketchlib.pretrained`.
        model_name: shipped checkpoint to start with (default :func:`default_model_name`).
        width, height: canvas size in pixels.
        canvas_per_data: canvas pixels per data pixel (default ``max(width, height) / 256``).
        temperature: sampling temperature (Sketch-RNN section 3.3), 0.01-1.
        label: class index for conditional models.
        point_delay: seconds between animated points.
        seed: makes completions reproducible (each new completion advances it).
    """

    def __init__(
        self,
        model=None,
        stats: dict | None = None,
        *,
        model_name: str | None = None,
        width: int = 400,
        height: int = 400,
        canvas_per_data: float | None = None,
        temperature: float = 0.25,
        label: int = 0,
        point_delay: float = 0.01,
        seed: int | None = None,
    ):
        self.width, self.height = int(width), int(height)
        self.canvas_per_data = float(canvas_per_data or max(width, height) / 256.0)
        self.point_delay = float(point_delay)
        self._seed = seed
        given = {}
        if model is not None:
            if stats is None or "scale" not in stats:
                raise ValueError("SketchPad(model=...) needs stats with the data's 'scale' (a checkpoint's stats)")
            model_name = model_name or "custom"
            given[model_name] = (model, stats)
        self._shelf = ModelShelf(given)  # the models to choose from
        self._runner = CompletionThread()  # the animated completion
        self.strokes: list[np.ndarray] = []  # the user's strokes: absolute canvas polylines (k, 2)
        self.completion: list[np.ndarray] = []  # the model's strokes: absolute canvas polylines
        self.completion_ended = False  # did the model end the drawing (rather than stop or run out of points)?
        self.saved: dict[str, np.ndarray] = {}  # drawings kept for interpolation, "A" and "B"
        self._current: list[tuple[float, float]] | None = None
        self._callbacks: list[Callable[["SketchPad"], None]] = []
        self._ui = None
        self.first_point_latency: float | None = None  # seconds from complete() to the first model point
        self._first_step_at: float | None = None
        self.temperature = float(temperature)
        self.label = int(label)
        self.model_name = model_name or default_model_name(self.model_names)
        self.use_model(self.model_name)

    # ------------------------------------------------------------------ models

    @property
    def model_names(self) -> list[str]:
        """The models the picker offers: the ones given, then the shipped checkpoints."""
        return self._shelf.names

    def use_model(self, name: str) -> None:
        """Switch to model ``name`` (a shipped checkpoint or one given to the constructor)."""
        self.stop()
        self.model, self.stats = self._shelf.load(name)
        self.model_name = name
        if self.label >= self.num_classes:
            self.label = 0
        if self._ui is not None:
            self._ui.sync()

    @property
    def conditional(self) -> bool:
        return bool(self.model.cfg.conditional)

    @property
    def num_classes(self) -> int:
        return int(self.model.cfg.num_classes) if self.conditional else 1

    @property
    def class_names(self) -> list[str]:
        return class_names_of(self.model, self.stats)

    def set_class(self, label: int | str) -> None:
        """Choose the class of a conditional model by index or name."""
        if isinstance(label, str):
            if label not in self.class_names:
                raise ValueError(f"unknown class {label!r}; {self.model_name} knows {self.class_names}")
            label = self.class_names.index(label)
        if not 0 <= int(label) < self.num_classes:
            raise ValueError(f"class index {label} outside 0..{self.num_classes - 1} for {self.model_name}")
        self.label = int(label)

    def set_temperature(self, temperature: float) -> None:
        if not 0.0 < float(temperature) <= 1.0:
            raise ValueError(f"temperature must lie in (0, 1], got {temperature}")
        self.temperature = float(temperature)

    def _labels(self):
        return self.label if self.conditional else None

    def _next_seed(self) -> int | None:
        if self._seed is None:
            return None
        self._seed += 1
        return self._seed - 1

    # ------------------------------------------------------------------ capture

    def begin_stroke(self, x: float, y: float) -> None:
        """Pen down at canvas ``(x, y)``: stops a running completion and drops it (the user continues)."""
        self.stop()
        if self.completion:
            self.completion = []
            self.completion_ended = False
            self.redraw()
        self._current = [(float(x), float(y))]

    def extend_stroke(self, x: float, y: float) -> bool:
        """Pen moved to ``(x, y)``; returns whether the point was kept (moves under :data:`MIN_MOVE` are jitter)."""
        if self._current is None:
            return False
        px, py = self._current[-1]
        if np.hypot(x - px, y - py) < MIN_MOVE:
            return False
        self._current.append((float(x), float(y)))
        if self._ui is not None:
            self._ui.line(px, py, x, y, USER_COLOR)
        return True

    def end_stroke(self) -> np.ndarray | None:
        """Pen up: simplify the stroke (RDP, epsilon :data:`RDP_EPSILON`) and keep it; returns it."""
        if self._current is None:
            return None
        points, self._current = np.asarray(self._current, np.float64), None
        stroke = S.rdp(points, RDP_EPSILON)
        self.strokes.append(stroke)
        self.redraw()
        return stroke

    def add_stroke(self, points: Sequence[Sequence[float]]) -> np.ndarray:
        """One whole stroke of canvas points ``(k, 2)``, captured as if drawn (jitter filter and RDP)."""
        pts = np.asarray(points, np.float64).reshape(-1, 2)
        if len(pts) == 0:
            raise ValueError("add_stroke needs at least one point")
        self.begin_stroke(*pts[0])
        for x, y in pts[1:]:
            self.extend_stroke(x, y)
        return self.end_stroke()

    def undo(self) -> None:
        """Remove the last stroke the user drew (and any completion of it)."""
        self.stop()
        self.completion, self.completion_ended = [], False
        if self.strokes:
            self.strokes.pop()
        self.redraw()

    def clear(self) -> None:
        """Remove everything from the canvas."""
        self.stop()
        self.strokes, self.completion, self.completion_ended = [], [], False
        self.redraw()

    # ------------------------------------------------------------------ drawings

    def user_drawing(self) -> np.ndarray:
        """The user's strokes as stroke-3 in canvas pixels (the first row is the first point)."""
        return _polylines_to_canvas_stroke3(self.strokes)

    def drawing(self) -> np.ndarray:
        """The whole drawing, the user's strokes then the model's, stroke-3 in canvas pixels."""
        return _polylines_to_canvas_stroke3(self.strokes + self.completion)

    def model_input(self) -> np.ndarray:
        """What the model sees: the user's drawing relative to its first point, in data pixels."""
        if not self.strokes:
            raise ValueError("the canvas is empty: draw something (or pad.add_stroke(points)) before asking the model")
        first = self.strokes[0][0]
        return _polylines_to_canvas_stroke3([(s - first) / self.canvas_per_data for s in self.strokes])

    # ------------------------------------------------------------------ completion

    def _sampler(self, n: int = 1, label=None, model=None, stats=None) -> sampling.IncrementalSampler:
        model, stats = model or self.model, stats or self.stats
        partial = self.model_input()
        lab = self._labels() if label is None else label
        latent = None
        if model.cfg.has_latent:
            latent = sampling.encode(model, [partial] * n, stats["scale"], None if lab is None else [lab] * n)
        s = sampling.IncrementalSampler(model, n, scale=stats["scale"], latent=latent, labels=lab,
                                        temperature=self.temperature, seed=self._next_seed())
        s.prime(partial)
        return s

    def _max_points(self, model=None) -> int:
        return max(1, int((model or self.model).cfg.max_seq_len) - len(self.model_input()))

    def completion_points(self, label=None, model=None, stats=None):
        """Prime the model on the user's drawing and yield its continuation point by point.

        Each item is ``(x0, y0, x1, y1, pen_down)``: the model moved from canvas ``(x0, y0)`` to ``(x1, y1)``,
        drawing a line when ``pen_down``. Ends when the model ends the drawing (``self.completion_ended``),
        runs out of points, or :meth:`stop` is called.
        """
        with self._runner.lock:
            sampler = self._sampler(1, label, model, stats)
            self.completion, self.completion_ended = [], False
            x, y = self.strokes[-1][-1]
            pen_down = False  # the user's last point ends a stroke
            current: list[tuple[float, float]] | None = None
            for _ in range(self._max_points(model)):
                if self._runner.stop_requested:
                    return
                row = sampler.step()[0]
                if self._first_step_at is None:
                    self._first_step_at = time.perf_counter()
                if row[4] > 0.5:
                    self.completion_ended = True
                    return
                nx, ny = x + row[0] * self.canvas_per_data, y + row[1] * self.canvas_per_data
                if current is None:
                    current = [(nx, ny)]
                    self.completion.append(np.asarray(current))
                else:
                    current.append((nx, ny))
                    self.completion[-1] = np.asarray(current)
                yield x, y, nx, ny, pen_down
                x, y, pen_down = nx, ny, row[2] > 0.5
                if not pen_down:
                    current = None

    def complete_now(self, **kwargs) -> np.ndarray:
        """Complete the drawing at once (no animation); returns the model's part as stroke-3 canvas pixels
        (its first row is the offset from the canvas origin, as in :meth:`drawing`)."""
        self.stop()
        self._runner.clear()
        for _ in self.completion_points(**kwargs):
            pass
        self.redraw()
        self._fire()
        return _polylines_to_canvas_stroke3(self.completion)

    def complete(self, animate: bool = True) -> None:
        """Complete the drawing, drawn point by point on the canvas by a background thread (``animate``)."""
        if not animate:
            self.complete_now()
            return
        self.stop()
        self.completion, self.completion_ended = [], False
        self.redraw()
        self.first_point_latency = None
        self._first_step_at = None
        started = time.perf_counter()
        self._runner.start(lambda: self._animate(started))

    def _animate(self, started: float) -> None:
        """The background thread of :meth:`complete`: draw each point as it comes, ``point_delay`` apart."""
        try:
            for x0, y0, x1, y1, down in self.completion_points():
                if self.first_point_latency is None:
                    self.first_point_latency = time.perf_counter() - started
                if self._ui is not None:
                    if down:
                        self._ui.line(x0, y0, x1, y1, MODEL_COLOR)
                    else:
                        self._ui.dot(x1, y1, MODEL_COLOR)
                if self.point_delay:
                    self._runner.pause(self.point_delay)
            if self.first_point_latency is None and self._first_step_at is not None:
                # the model ended the drawing at once: its first step still answered the press
                self.first_point_latency = self._first_step_at - started
            if not self._runner.stop_requested:
                self._fire()
        except Exception:  # a background thread has nobody to raise to: show it
            log.exception("completion failed")
            if self._ui is not None:
                self._ui.status("completion failed; see the log")
        finally:
            if self._ui is not None:
                self._ui.finished(self)

    @property
    def busy(self) -> bool:
        return self._runner.busy

    @property
    def stopped(self) -> bool:
        """Was the last completion stopped (by :meth:`stop`, a new stroke, ...) rather than finished?"""
        return self._runner.stop_requested

    def wait(self, timeout: float | None = 30.0) -> None:
        """Block until an animated completion has finished."""
        self._runner.wait(timeout)

    def stop(self) -> None:
        """Stop an animated completion (what is drawn so far stays in :attr:`completion`)."""
        self._runner.stop()

    def on_completed(self, callback: Callable[["SketchPad"], None]) -> None:
        """Call ``callback(pad)`` whenever a completion finishes (the model ended it or ran out of points)."""
        self._callbacks.append(callback)

    def _fire(self) -> None:
        for cb in self._callbacks:
            cb(self)

    # ------------------------------------------------------------------ export

    def to_svg(self, **kwargs) -> str:
        """The whole drawing as an SVG document (:func:`sketchlib.plotting.to_svg`)."""
        from sketchlib.plotting import to_svg

        return to_svg(self.drawing(), **kwargs)

    def to_json(self) -> str:
        """The whole drawing as JSON: stroke-3 rows in canvas pixels, the canvas size and the model."""
        return json.dumps({"format": "stroke-3", "units": "canvas pixels, y down", "width": self.width,
                           "height": self.height, "model": self.model_name,
                           "user_points": int(sum(len(s) for s in self.strokes)),
                           "strokes3": np.round(self.drawing(), 3).tolist()})

    def export(self, path: str | os.PathLike) -> str:
        """Write the whole drawing to ``path``; the suffix picks the format: .svg, .png, .npy (stroke-3) or .json."""
        from sketchlib import plotting

        path = os.fspath(path)
        suffix = os.path.splitext(path)[1].lower()
        if suffix == ".svg":
            plotting.save_svg(self.drawing(), path)
        elif suffix == ".png":
            plotting.save_png(self.drawing(), path)
        elif suffix == ".npy":
            np.save(path, self.drawing())
        elif suffix == ".json":
            with open(path, "w", encoding="utf-8") as f:
                f.write(self.to_json())
        else:
            raise ValueError(f"{path}: unknown export format {suffix!r}; use .svg, .png, .npy or .json")
        return path

    def state(self) -> dict:
        """What the pad holds, as plain lists (for JSON): user strokes, completion, model, controls."""
        return {"model": self.model_name, "temperature": self.temperature, "label": self.label,
                "strokes": [s.tolist() for s in self.strokes], "completion": [c.tolist() for c in self.completion],
                "completion_points": int(sum(len(c) for c in self.completion)), "ended": self.completion_ended}

    def plot(self, ax=None, linewidth: float = 2.0):
        """What the canvas shows, as matplotlib axes: the user's strokes black, the model's red, the whole canvas."""
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(3, 3))
        for lines, color in ((self.strokes, USER_COLOR), (self.completion, MODEL_COLOR)):
            for line in lines:
                ax.plot(line[:, 0], line[:, 1], "-" if len(line) > 1 else "o", color=color, linewidth=linewidth,
                        markersize=linewidth, solid_capstyle="round")
        ax.set_xlim(0, self.width)
        ax.set_ylim(self.height, 0)  # y grows downwards, as on the canvas
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        return ax

    # ------------------------------------------------------------------ the widget

    def redraw(self) -> None:
        """Repaint the canvas from :attr:`strokes` and :attr:`completion`."""
        if self._ui is not None:
            self._ui.repaint(self.strokes, self.completion)

    def widget(self):
        """The ipywidgets box: canvas and controls (built once)."""
        if self._ui is None:
            self._ui = PadUI(self)
        return self._ui.box

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget())
