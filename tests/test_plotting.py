"""sketchlib.plotting: matplotlib figures and SVG export."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from sketchlib import plotting  # noqa: E402
from sketchlib.strokes import polylines_to_stroke3  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"

# three strokes: a line, a triangle, a dot
SKETCH = polylines_to_stroke3([[(0, 0), (40, 0)], [(10, 10), (30, 10), (20, 30), (10, 10)], [(20, 20)]])


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_import_does_not_need_matplotlib():
    code = "import sys, sketchlib.plotting; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# --------------------------------------------------------------------------- SVG


def test_svg_is_valid_xml_with_one_path_per_stroke():
    root = ET.fromstring(plotting.to_svg(SKETCH))
    assert root.tag == f"{SVG}svg"
    paths = root.findall(f".//{SVG}path")
    assert len(paths) == 3
    # no pen-up lines: each path holds exactly its stroke's points
    assert [p.get("d").count("L") + 1 for p in paths] == [2, 4, 2]  # the dot is a zero-length path


def test_svg_viewbox_fits_the_drawing_plus_margin():
    root = ET.fromstring(plotting.to_svg(SKETCH, size=200, margin=0.1))
    x0, y0, width, height = map(float, root.get("viewBox").split())
    assert (x0, y0) == (0.0, 0.0)
    assert width == pytest.approx(200) and height == pytest.approx(200 * (30 + 8) / (40 + 8), rel=1e-5)
    coords = [float(v) for p in root.iter(f"{SVG}path") for v in p.get("d").replace("M", " ").replace("L", " ").split()]
    assert min(coords) == pytest.approx(200 * 4 / 48, rel=1e-5) and max(coords) <= width


def test_svg_colours_each_stroke_when_asked():
    colours = [p.get("stroke") for p in ET.fromstring(plotting.to_svg(SKETCH, color_by_stroke=True)).iter(f"{SVG}path")]
    assert len(set(colours)) == 3
    plain = [p.get("stroke") for p in ET.fromstring(plotting.to_svg(SKETCH)).iter(f"{SVG}path")]
    assert set(plain) == {"black"}


def test_svg_of_an_empty_drawing_is_valid():
    root = ET.fromstring(plotting.to_svg(np.zeros((0, 3))))
    assert root.findall(f".//{SVG}path") == []


def test_save_svg_writes_a_parseable_file(tmp_path):
    path = tmp_path / "sketch.svg"
    plotting.save_svg(SKETCH, path, stroke_width=3)
    assert len(ET.parse(path).getroot().findall(f".//{SVG}path")) == 3


# --------------------------------------------------------------------------- matplotlib


def test_plot_sketch_draws_each_stroke_in_image_orientation():
    ax = plotting.plot_sketch(SKETCH, title="three strokes")
    assert len(ax.lines) == 3
    bottom, top = ax.get_ylim()
    assert bottom > top  # y grows downwards
    assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
    assert ax.get_aspect() == 1.0
    assert ax.get_title() == "three strokes"


def test_plot_sketch_draws_on_the_given_axes():
    fig, ax = plt.subplots()
    assert plotting.plot_sketch(SKETCH, ax=ax, color_by_stroke=True) is ax
    assert len({line.get_color() for line in ax.lines}) == 3


@pytest.mark.parametrize("n, ncols", [(1, 8), (5, 2), (8, 4)])
def test_plot_grid_has_one_axes_per_drawing(n, ncols):
    fig = plotting.plot_grid([SKETCH] * n, ncols=ncols, titles=[f"#{i}" for i in range(n)])
    assert len(fig.axes) == n
    assert [ax.get_title() for ax in fig.axes] == [f"#{i}" for i in range(n)]


def test_plot_grid_wants_one_title_per_drawing():
    with pytest.raises(ValueError, match="title"):
        plotting.plot_grid([SKETCH] * 3, titles=["a"])


@pytest.mark.parametrize("what", ["one", "many"])
def test_save_png_writes_an_image(tmp_path, what):
    path = tmp_path / "out.png"
    plotting.save_png(SKETCH if what == "one" else [SKETCH, SKETCH[:2]], path)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 0
    assert plt.get_fignums() == []  # nothing left open in pyplot


def test_plot_losses_draws_one_panel_per_term_and_one_line_per_run():
    from sketchlib.plotting import plot_losses

    log = [{"step": s, "train_total": 2.0 - s / 100, "train_l_r": 1.5, "train_l_kl": 0.5} for s in range(1, 60)]
    log[10]["train_total"] = float("nan")  # a skipped step
    fig = plot_losses({"a": log, "b": log}, keys=("total", "l_r", "l_kl"), smooth=5)
    assert len(fig.axes) == 3
    assert all(len(ax.lines) == 2 for ax in fig.axes)
