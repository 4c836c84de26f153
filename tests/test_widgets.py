"""The sketch pad's Python side: capture, jitter filter, RDP, undo, completion, controls, export.

A tiny untrained model keeps these fast; the shipped checkpoints are exercised by
``tests/browser`` and the book.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sketchlib.models import SketchModel, preset
from sketchlib.widgets import MIN_MOVE, PREFERRED_MODELS, SketchPad, default_model_name

STATS = {"scale": 20.0, "max_seq_len": 60}


def tiny(name="sketch_rnn-small", **overrides):
    torch.manual_seed(0)
    cfg = preset(name, max_seq_len=60, enc_rnn_size=16, dec_rnn_size=32, z_size=8, num_mixture=3, **overrides)
    m = SketchModel(cfg).eval()
    with torch.no_grad():  # an untrained model may end at once; make "end of drawing" unlikely
        m.mixture.linear.bias[-1] = -20.0
    return m


@pytest.fixture(scope="module")
def model():
    return tiny()


@pytest.fixture(scope="module")
def cond_model():
    return tiny("conditional_sketch_rnn-small", num_classes=3)


@pytest.fixture
def pad(model):
    return SketchPad(model, STATS, width=256, height=256, seed=0, point_delay=0.0)


def arc(n=30, cx=128, cy=128, r=60):
    t = np.linspace(0, np.pi, n)
    return np.c_[cx + r * np.cos(t), cy + r * np.sin(t)]


def test_a_stroke_is_kept_in_canvas_coordinates(pad):
    pad.add_stroke([[10, 20], [60, 20], [60, 90]])
    np.testing.assert_allclose(pad.strokes[0], [[10, 20], [60, 20], [60, 90]])
    np.testing.assert_allclose(pad.user_drawing(), [[10, 20, 0], [50, 0, 0], [0, 70, 1]])


def test_moves_under_two_pixels_are_jitter(pad):
    pad.begin_stroke(100, 100)
    assert not pad.extend_stroke(100 + MIN_MOVE * 0.7, 100)
    assert not pad.extend_stroke(101, 101)
    assert pad.extend_stroke(110, 100)
    pad.end_stroke()
    np.testing.assert_allclose(pad.strokes[0], [[100, 100], [110, 100]])


def test_finished_strokes_are_simplified_by_rdp_epsilon_2(pad):
    x = np.arange(0, 100, 3.0)
    wobbly = np.c_[x + 20, 50 + 0.8 * np.sin(x)]  # within 2 px of a straight line
    kept = pad.add_stroke(wobbly)
    assert len(kept) == 2
    np.testing.assert_allclose(kept, wobbly[[0, -1]])


def test_a_click_is_a_dot(pad):
    pad.begin_stroke(40, 40)
    pad.end_stroke()
    assert pad.user_drawing().tolist() == [[40, 40, 1]]


def test_undo_removes_the_last_stroke_and_clear_everything(pad):
    pad.add_stroke([[10, 10], [50, 10]])
    pad.add_stroke([[10, 30], [50, 30]])
    pad.undo()
    assert len(pad.strokes) == 1 and pad.strokes[0][0, 1] == 10
    pad.clear()
    assert pad.strokes == [] and len(pad.drawing()) == 0


def test_model_input_starts_at_the_first_point_in_data_pixels(model):
    pad = SketchPad(model, STATS, width=512, height=512)  # 2 canvas pixels per data pixel
    pad.add_stroke([[100, 100], [140, 100]])
    np.testing.assert_allclose(pad.model_input(), [[0, 0, 0], [20, 0, 1]])


def test_complete_draws_points_beyond_the_user_stroke(pad):
    pad.add_stroke(arc())
    n_user = len(pad.user_drawing())
    part = pad.complete_now()
    assert len(part) > 0 and pad.state()["completion_points"] == len(part)
    whole = pad.drawing()
    assert len(whole) == n_user + len(part)
    np.testing.assert_allclose(whole[:n_user], pad.user_drawing())


def test_completion_continues_from_the_last_user_point(pad):
    pad.add_stroke(arc())
    pad.complete_now()
    rows = pad.drawing()
    n = len(pad.user_drawing())
    # the model's first point is the last user point plus the model's first offset
    first_model = np.cumsum(rows[:, :2], axis=0)[n]
    got = pad.completion[0][0]
    np.testing.assert_allclose(got, first_model, atol=1e-3)


def test_animated_completion_matches_and_a_new_stroke_interrupts(model):
    a = SketchPad(model, STATS, seed=3, point_delay=0.0)
    b = SketchPad(model, STATS, seed=3, point_delay=0.0)
    for p in (a, b):
        p.add_stroke(arc())
    a.complete_now()
    b.complete(animate=True)
    b.wait()
    assert b.first_point_latency is not None
    assert [c.tolist() for c in a.completion] == [c.tolist() for c in b.completion]
    slow = SketchPad(model, STATS, seed=3, point_delay=0.5)
    slow.add_stroke(arc())
    slow.complete(animate=True)
    slow.begin_stroke(5, 5)  # the user draws again: the model stops, its lines go
    assert not slow.busy and slow.completion == []


def test_on_completed_is_called(pad):
    seen = []
    pad.on_completed(lambda p: seen.append(p.state()["completion_points"]))
    pad.add_stroke(arc())
    pad.complete_now()
    assert seen and seen[0] > 0


def test_temperature_control_reaches_the_sampler(pad):
    pad.add_stroke(arc())
    pad.set_temperature(0.01)
    assert pad._sampler().temperature == 0.01
    with pytest.raises(ValueError, match="temperature"):
        pad.set_temperature(0.0)
    with pytest.raises(ValueError, match="temperature"):
        pad.set_temperature(1.5)


def test_class_picker_on_a_conditional_model(cond_model):
    stats = {**STATS, "class_names": ["happy", "sad", "angry"]}
    pad = SketchPad(cond_model, stats, seed=0)
    assert pad.conditional and pad.class_names == ["happy", "sad", "angry"]
    pad.set_class("sad")
    assert pad.label == 1
    pad.add_stroke([[0, 0], [10, 0]])
    assert pad._sampler().onehot.argmax().item() == 1
    pad.clear()
    with pytest.raises(ValueError, match="unknown class"):
        pad.set_class("bored")
    pad.add_stroke(arc())
    assert len(pad.complete_now()) > 0
    assert "class: angry" in pad.switch_targets()
    [d] = pad.z_switch("class: angry")
    assert d.shape[1] == 3 and len(d) > len(pad.model_input())


def test_grid_autoencode_and_interpolation(pad):
    pad.add_stroke(arc())
    assert len(pad.endings(9)) == 9
    assert len(pad.auto_encode(9)) == 9
    pad.keep("A")
    pad.clear()
    pad.add_stroke([[50, 50], [200, 50], [200, 200]])
    pad.keep("B")
    for method in ("linear", "spherical"):
        out = pad.interpolate(steps=4, method=method)
        assert len(out) == 4 and all(d.shape[1] == 3 for d in out)


def test_interpolation_without_two_drawings_says_what_to_do(pad):
    pad.add_stroke(arc())
    with pytest.raises(ValueError, match="keep it as A"):
        pad.interpolate()


def test_empty_canvas_complete_says_what_to_do(pad):
    with pytest.raises(ValueError, match="canvas is empty"):
        pad.complete_now()


@pytest.mark.parametrize("suffix", [".svg", ".png", ".npy", ".json"])
def test_export_formats(pad, tmp_path, suffix):
    pad.add_stroke([[10, 20], [60, 20], [60, 90]])
    path = pad.export(tmp_path / f"d{suffix}")
    data = open(path, "rb").read()
    if suffix == ".svg":
        assert b"<svg" in data and b"<path" in data
    elif suffix == ".png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    elif suffix == ".npy":
        np.testing.assert_allclose(np.load(path), pad.drawing())
    else:
        assert json.loads(data)["strokes3"] == [[10, 20, 0], [50, 0, 0], [0, 70, 1]]


def test_export_unknown_suffix_is_refused(pad, tmp_path):
    with pytest.raises(ValueError, match="unknown export format"):
        pad.export(tmp_path / "d.gif")


def test_widget_builds_and_controls_drive_the_pad(cond_model):
    stats = {**STATS, "class_names": ["happy", "sad", "angry"]}
    pad = SketchPad(cond_model, stats, seed=0, point_delay=0.0)
    pad.widget()
    ui = pad._ui
    ui.temp.value = 0.5
    ui.class_pick.value = "angry"
    assert pad.temperature == 0.5 and pad.label == 2
    pad.begin_stroke(20, 20)
    pad.extend_stroke(80, 20)
    pad.end_stroke()
    ui._complete()
    pad.wait()
    assert pad.completion


def test_default_model_is_the_first_preferred_one_listed():
    assert default_model_name(["x", PREFERRED_MODELS[2], PREFERRED_MODELS[1]]) == PREFERRED_MODELS[1]
    assert default_model_name(["x", "y"]) == "x"


def test_every_button_works_with_an_aisketcher_model():
    """The full model (influence layer, CNN autoencoder, classes) goes through the same pad methods."""
    pad = SketchPad(tiny("aisketcher-small", num_classes=3), {**STATS, "class_names": ["a", "b", "c"]}, seed=0,
                    point_delay=0.0)
    pad.add_stroke(arc())
    assert len(pad.complete_now()) > 0
    assert len(pad.endings(2)) == 2 and len(pad.auto_encode(2)) == 2
    pad.keep("A")
    pad.keep("B")
    assert len(pad.interpolate(steps=3)) == 3
    assert len(pad.z_switch("class: c")[0]) > len(pad.model_input())
