"""The ipywidgets face of :class:`sketchlib.widgets.SketchPad`: an ipycanvas canvas and the controls.

Every handler only translates a click into a :class:`~sketchlib.widgets.SketchPad`
call, so the book and the tests drive the same code the class clicks. Built by
:meth:`SketchPad.widget <sketchlib.widgets.SketchPad.widget>`; needs ``ipywidgets``
and ``ipycanvas`` (imported when the widget is built).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # annotations only: widgets imports this module
    from sketchlib.widgets import SketchPad

__all__ = ["PadUI", "USER_COLOR", "MODEL_COLOR"]

USER_COLOR = "black"
MODEL_COLOR = "#d62728"  # the model's strokes, red, so the class sees who drew what


class PadUI:
    """The canvas and the controls; the handlers only translate clicks into :class:`SketchPad` calls."""

    def __init__(self, pad: "SketchPad"):
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

    def finished(self, pad: "SketchPad") -> None:
        if pad.completion_ended:
            self.status("The model ended the drawing. <b>New ending</b> asks for another.")
        elif not pad.stopped:
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
