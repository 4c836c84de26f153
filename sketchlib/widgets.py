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
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Callable, Sequence

import numpy as np

from sketchlib import sampling
from sketchlib import strokes as S

__all__ = ["MIN_MOVE", "RDP_EPSILON", "PREFERRED_MODELS", "default_model_name", "SketchPad"]

log = logging.getLogger(__name__)

#: Moves shorter than this (canvas pixels) are jitter and ignored.
MIN_MOVE = 2.0
#: RDP tolerance (canvas pixels) applied to each finished stroke.
RDP_EPSILON = 2.0
#: The checkpoint the pad starts with: the first of these that is shipped.
PREFERRED_MODELS = (
    "aisketcher-small/faces",
    "conditional_sketch_rnn-small/faces",
    "sketch_rnn-small/quickdraw-face",
    "sketch_rnn-small/aaron-sheep",
)
USER_COLOR = "black"
MODEL_COLOR = "#d62728"  # the model's strokes, red, so the class sees who drew what


def default_model_name(names: Sequence[str] | None = None) -> str:
    """The first of :data:`PREFERRED_MODELS` among ``names`` (default: the shipped checkpoints), else the first name."""
    if names is None:
        from sketchlib import pretrained

        names = pretrained.available()
    names = list(names)
    if not names:
        raise ValueError("no checkpoints to choose from; pass model= and stats= to SketchPad")
    return next((n for n in PREFERRED_MODELS if n in names), names[0])


def _polylines_to_canvas_stroke3(lines: Sequence[np.ndarray]) -> np.ndarray:
    """Absolute canvas polylines -> stroke-3 whose first row is the first point (the canvas origin is (0, 0))."""
    return S.polylines_to_stroke3([np.asarray(line, np.float64) for line in lines if len(line)])


class SketchPad:
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
        self._models: dict[str, tuple] = {}
        if model is not None:
            if stats is None or "scale" not in stats:
                raise ValueError("SketchPad(model=...) needs stats with the data's 'scale' (a checkpoint's stats)")
            model_name = model_name or "custom"
            self._models[model_name] = (model, stats)
        self.strokes: list[np.ndarray] = []  # the user's strokes: absolute canvas polylines (k, 2)
        self.completion: list[np.ndarray] = []  # the model's strokes: absolute canvas polylines
        self.completion_ended = False  # did the model end the drawing (rather than stop or run out of points)?
        self.saved: dict[str, np.ndarray] = {}  # drawings kept for interpolation, "A" and "B"
        self._current: list[tuple[float, float]] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.RLock()
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
        names = list(self._models)
        try:
            from sketchlib import pretrained

            names += [n for n in pretrained.available() if n not in names]
        except FileNotFoundError:  # no registry (a bare install): only the given model
            pass
        return names

    def _load(self, name: str) -> tuple:
        if name not in self._models:
            from sketchlib import pretrained

            self._models[name] = pretrained.load(name)
        return self._models[name]

    def use_model(self, name: str) -> None:
        """Switch to model ``name`` (a shipped checkpoint or one given to the constructor)."""
        self.stop()
        self.model, self.stats = self._load(name)
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
        names = list(self.stats.get("class_names") or [])
        return names if len(names) == self.num_classes else [f"class {i}" for i in range(self.num_classes)]

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

    def add_drawing(self, strokes3: np.ndarray, origin: Sequence[float] | None = None) -> None:
        """Add a stroke-3 drawing in canvas pixels (placed at ``origin``, default: its own first row)."""
        lines = S.stroke3_to_polylines(S.validate_stroke3(strokes3), origin=origin or (0.0, 0.0))
        for line in lines:
            self.add_stroke(line)

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

    def to_canvas(self, strokes3: np.ndarray, origin: Sequence[float] | None = None) -> list[np.ndarray]:
        """A model drawing (stroke-3, data pixels, relative to its first point) as canvas polylines at ``origin``
        (default: the first point the user drew)."""
        if origin is None:
            origin = self.strokes[0][0] if self.strokes else (self.width / 2, self.height / 2)
        s = np.array(strokes3, np.float64, copy=True)
        s[:, :2] *= self.canvas_per_data
        return S.stroke3_to_polylines(s, origin=origin)

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
        with self._lock:
            sampler = self._sampler(1, label, model, stats)
            self.completion, self.completion_ended = [], False
            x, y = self.strokes[-1][-1]
            pen_down = False  # the user's last point ends a stroke
            current: list[tuple[float, float]] | None = None
            for _ in range(self._max_points(model)):
                if self._stop.is_set():
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
        self._stop.clear()
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
        self._stop.clear()
        self.completion, self.completion_ended = [], False
        self.redraw()
        self.first_point_latency = None
        self._first_step_at = None
        started = time.perf_counter()

        def run():
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
                        self._stop.wait(self.point_delay)
                if self.first_point_latency is None and self._first_step_at is not None:
                    # the model ended the drawing at once: its first step still answered the press
                    self.first_point_latency = self._first_step_at - started
                if not self._stop.is_set():
                    self._fire()
            except Exception:  # a background thread has nobody to raise to: show it
                log.exception("completion failed")
                if self._ui is not None:
                    self._ui.status("completion failed; see the log")
            finally:
                if self._ui is not None:
                    self._ui.finished(self)

        self._thread = threading.Thread(target=run, name="sketchpad-complete", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = 30.0) -> None:
        """Block until an animated completion has finished."""
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self) -> None:
        """Stop an animated completion (what is drawn so far stays in :attr:`completion`)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5.0)
        self._thread = None

    def on_completed(self, callback: Callable[["SketchPad"], None]) -> None:
        """Call ``callback(pad)`` whenever a completion finishes (the model ended it or ran out of points)."""
        self._callbacks.append(callback)

    def _fire(self) -> None:
        for cb in self._callbacks:
            cb(self)

    # ------------------------------------------------------------------ more from the model

    def endings(self, n: int = 9) -> list[np.ndarray]:
        """``n`` alternative completions of the user's drawing (whole drawings, stroke-3 data pixels)."""
        return sampling.complete(self.model, self.model_input(), n, scale=self.stats["scale"], label=self._labels(),
                                 temperature=self.temperature, seed=self._next_seed())

    def _needs_latent(self, what: str, model=None) -> None:
        if not (model or self.model).cfg.has_latent:
            raise ValueError(f"{self.model_name} has no encoder, so it cannot {what}; pick a model with one")

    def auto_encode(self, n: int = 9) -> list[np.ndarray]:
        """``n`` reconstructions of the user's drawing: encode it, decode ``n`` times (stroke-3 data pixels)."""
        self._needs_latent("auto-encode")
        partial = self.model_input()
        return sampling.reconstruct(self.model, [partial] * n, scale=self.stats["scale"],
                                    labels=None if not self.conditional else [self.label] * n,
                                    temperature=self.temperature, seed=self._next_seed())

    def keep(self, slot: str) -> np.ndarray:
        """Keep the current user drawing as ``"A"`` or ``"B"`` for :meth:`interpolate`."""
        if slot not in ("A", "B"):
            raise ValueError(f"slot must be 'A' or 'B', got {slot!r}")
        self.saved[slot] = self.model_input()
        return self.saved[slot]

    def interpolate(self, a: np.ndarray | None = None, b: np.ndarray | None = None, steps: int = 9,
                    method: str = "spherical") -> list[np.ndarray]:
        """Decode ``steps`` latents between drawings ``a`` and ``b`` (data-pixel stroke-3; default the kept A and B)."""
        self._needs_latent("interpolate")
        a = self.saved.get("A") if a is None else a
        b = self.saved.get("B") if b is None else b
        if a is None or b is None:
            raise ValueError("interpolation needs two drawings: draw one and keep it as A, then one kept as B")
        if method not in ("linear", "spherical"):
            raise ValueError(f"method must be 'linear' or 'spherical', got {method!r}")
        lab = None if not self.conditional else [self.label] * 2
        z = sampling.encode(self.model, [a, b], self.stats["scale"], lab).z
        zs = sampling.interpolate(z[0], z[1], steps, method)
        return sampling.sample(self.model, steps, scale=self.stats["scale"], z=zs,
                               labels=None if not self.conditional else self.label,
                               temperature=self.temperature, seed=self._next_seed())

    def switch_targets(self) -> list[str]:
        """What :meth:`z_switch` can finish the drawing as: this model's classes, then the other models."""
        out = [f"class: {c}" for c in self.class_names] if self.conditional else []
        return out + [f"model: {m}" for m in self.model_names if m != self.model_name]

    def z_switch(self, target: str | int, n: int = 1) -> list[np.ndarray]:
        """Finish the user's drawing as another class (a conditional model's class index or ``"class: name"``)
        or as another model's subject (``"model: name"``): re-encode it there and continue decoding."""
        if isinstance(target, str) and target.startswith("model: "):
            model, stats = self._load(target[len("model: "):])
            self._needs_latent("z-switch", model)
            return sampling.z_switch(model, self.model_input(), scale=stats["scale"], n=n,
                                     new_label=0 if model.cfg.conditional else None,
                                     temperature=self.temperature, seed=self._next_seed())
        if isinstance(target, str):
            name = target[len("class: "):] if target.startswith("class: ") else target
            if name not in self.class_names:
                raise ValueError(f"unknown z-switch target {target!r}; choose from {self.switch_targets()}")
            target = self.class_names.index(name)
        if not self.conditional:
            raise ValueError(f"{self.model_name} has no classes; switch to another model ('model: name') instead")
        self._needs_latent("z-switch")
        return sampling.z_switch(self.model, self.model_input(), scale=self.stats["scale"], new_label=int(target),
                                 n=n, temperature=self.temperature, seed=self._next_seed())

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
            self._ui = _PadUI(self)
        return self._ui.box

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget())


class _PadUI:
    """The canvas and the controls; the handlers only translate clicks into :class:`SketchPad` calls."""

    def __init__(self, pad: SketchPad):
        import ipywidgets as W
        from ipycanvas import Canvas

        self.pad = pad
        self.canvas = Canvas(width=pad.width, height=pad.height, layout=W.Layout(border="1px solid #999"))
        self.canvas.line_width, self.canvas.line_cap, self.canvas.line_join = 2.5, "round", "round"
        c = self.canvas
        c.on_mouse_down(lambda x, y: pad.begin_stroke(x, y))
        c.on_mouse_move(lambda x, y: pad.extend_stroke(x, y))
        c.on_mouse_up(lambda x, y: pad.end_stroke())
        c.on_mouse_out(lambda x, y: pad.end_stroke())
        c.on_touch_start(lambda t: pad.begin_stroke(*t[0]))
        c.on_touch_move(lambda t: pad.extend_stroke(*t[0]))
        c.on_touch_end(lambda t: pad.end_stroke())
        c.on_touch_cancel(lambda t: pad.end_stroke())

        def button(text, tip, fn, style=""):
            b = W.Button(description=text, tooltip=tip, button_style=style, layout=W.Layout(width="auto"))
            b.on_click(lambda _: self._run(fn))
            return b

        self.model_pick = W.Dropdown(options=pad.model_names, value=pad.model_name, description="model")
        self.class_pick = W.Dropdown(description="class")
        self.temp = W.FloatSlider(value=pad.temperature, min=0.01, max=1.0, step=0.01, description="temperature")
        self.model_pick.observe(lambda ch: self._run(lambda: pad.use_model(ch["new"])), "value")
        self.class_pick.observe(lambda ch: ch["new"] is not None and pad.set_class(ch["new"]), "value")
        self.temp.observe(lambda ch: pad.set_temperature(ch["new"]), "value")
        self.complete_btn = button("Complete", "the model finishes the drawing", self._complete, "primary")
        self.again_btn = button("New ending", "another ending for the same start", self._complete)
        self.steps = W.BoundedIntText(value=9, min=2, max=25, description="steps", layout=W.Layout(width="140px"))
        self.method = W.ToggleButtons(options=["spherical", "linear"], style={"button_width": "80px"})
        self.switch_pick = W.Dropdown(description="finish as")
        self.filename = W.Text(value="sketch.svg", description="file", layout=W.Layout(width="220px"))
        self.out = W.Output()
        self.message = W.HTML()
        rows = [
            W.HBox([self.model_pick, self.class_pick]),
            W.HBox([self.temp]),
            W.HBox([self.complete_btn, self.again_btn, button("Stop", "stop the model", pad.stop),
                    button("Undo", "remove the last stroke", pad.undo),
                    button("Clear", "empty the canvas", pad.clear)]),
            W.HBox([button("9 endings", "a 3x3 grid of endings", self._grid),
                    button("Auto-encode", "nine reconstructions", self._autoencode)]),
            W.HBox([button("Keep as A", "for interpolation", lambda: self._keep("A")),
                    button("Keep as B", "for interpolation", lambda: self._keep("B")),
                    self.method, self.steps, button("Interpolate", "decode between A and B", self._interpolate)]),
            W.HBox([self.switch_pick, button("Z-switch", "finish the drawing as the chosen target", self._switch)]),
            W.HBox([self.filename, button("Export", "save as .svg, .png, .npy or .json", self._export)]),
            self.message,
        ]
        self.box = W.HBox([self.canvas, W.VBox(rows + [self.out])])
        self.sync()
        self.repaint(pad.strokes, pad.completion)

    def sync(self) -> None:
        """Controls follow the pad (after a model switch)."""
        pad = self.pad
        self.class_pick.options = pad.class_names
        self.class_pick.value = pad.class_names[pad.label]
        self.class_pick.disabled = not pad.conditional
        targets = pad.switch_targets()
        self.switch_pick.options = targets
        self.switch_pick.value = targets[0] if targets else None

    # -- drawing
    def line(self, x0, y0, x1, y1, color) -> None:
        self.canvas.stroke_style = color
        self.canvas.stroke_line(x0, y0, x1, y1)

    def dot(self, x, y, color) -> None:
        self.canvas.fill_style = color
        self.canvas.fill_circle(x, y, 1.5)

    def repaint(self, user: list[np.ndarray], model: list[np.ndarray]) -> None:
        from ipycanvas import hold_canvas

        c = self.canvas
        with hold_canvas():
            c.clear()
            c.fill_style = "white"
            c.fill_rect(0, 0, c.width, c.height)
            for lines, color in ((user, USER_COLOR), (model, MODEL_COLOR)):
                c.stroke_style = c.fill_style = color
                for line in lines:
                    if len(line) == 1:
                        c.fill_circle(float(line[0][0]), float(line[0][1]), 1.5)
                    else:
                        c.stroke_lines(np.asarray(line, np.float64).tolist())

    def status(self, text: str) -> None:
        self.message.value = text

    def finished(self, pad: SketchPad) -> None:
        if pad.completion_ended:
            self.status("The model ended the drawing. <b>New ending</b> asks for another.")
        elif not pad._stop.is_set():
            self.status("The model used up its points.")

    # -- actions (errors go to the message line, so a click never fails silently)
    def _run(self, fn) -> None:
        try:
            self.status("")
            fn()
        except (ValueError, KeyError, FileNotFoundError) as e:
            self.status(f"<span style='color:#b00'>{e}</span>")

    def _complete(self) -> None:
        self.status("The model is drawing ...")
        self.pad.complete(animate=True)

    def _show(self, drawings, titles=None) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        from sketchlib.plotting import plot_grid

        self.out.clear_output(wait=True)
        with self.out:
            fig = plot_grid(drawings, ncols=3, titles=titles, cell_size=1.4)
            display(fig)
            plt.close(fig)

    def _grid(self) -> None:
        self._show(self.pad.endings(9))

    def _autoencode(self) -> None:
        self._show(self.pad.auto_encode(9))

    def _keep(self, slot) -> None:
        self.pad.keep(slot)
        self.status(f"kept the drawing as {slot}")

    def _interpolate(self) -> None:
        self._show(self.pad.interpolate(steps=self.steps.value, method=self.method.value))

    def _switch(self) -> None:
        pad = self.pad
        target = self.switch_pick.value
        if target is None:
            raise ValueError("nothing to switch to: this model has no classes and there is no other model")
        [d] = pad.z_switch(target)
        self._show([pad.model_input(), d], titles=["yours", target])

    def _export(self) -> None:
        path = self.pad.export(self.filename.value)
        self.status(f"saved {os.path.abspath(path)}")
