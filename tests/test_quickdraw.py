"""QuickDraw: the class list, the three formats, Google's raw -> simplified conversion, malformed lines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchlib import strokes as S
from sketchlib.datasets.quickdraw import (
    QUICKDRAW_CLASSES,
    load_quickdraw,
    parse_strokes,
    quickdraw_class,
    read_ndjson,
    simplify_drawing,
)
from sketchlib.errors import SketchDataError


def line(strokes, **fields) -> str:
    return json.dumps({"word": "x", "key_id": "1", "drawing": strokes, **fields})


GOOD = line([[[0, 10, 20], [0, 5, 0]], [[3, 4], [9, 9]]])


def write_ndjson(path: Path, lines) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(text + "\n" for text in lines))
    return path


@pytest.fixture
def mirror(tmp_path) -> Path:
    """A project-made mirror in Google's layout: ``full/simplified/`` with 10 drawings of face and pig."""
    root = tmp_path / "qd"
    for name in ("face", "pig"):
        lines = [GOOD.replace('"1"', f'"{i}"') for i in range(10)]
        write_ndjson(root / "full" / "simplified" / f"{name}.ndjson", lines)
    return root


# --------------------------------------------------------------------------- class names


def test_class_list_has_345_distinct_names():
    assert len(QUICKDRAW_CLASSES) == 345 == len(set(QUICKDRAW_CLASSES))
    assert {"The Eiffel Tower", "alarm clock", "face", "zigzag"} <= set(QUICKDRAW_CLASSES)


def test_class_list_covers_every_class_in_the_offline_mirror(shared_data):
    root = shared_data / "quickdraw"
    names = {p.stem for folder in ("raw", "simplified", "sketchrnn") for p in (root / folder).iterdir()}
    assert len(names) == 345
    assert names <= set(QUICKDRAW_CLASSES)


def test_class_names_forgive_case_and_underscores():
    assert quickdraw_class("Alarm_Clock") == "alarm clock"
    assert quickdraw_class("the eiffel tower") == "The Eiffel Tower"


def test_unknown_class_suggests_the_closest_names():
    with pytest.raises(SketchDataError, match=r"unknown QuickDraw class 'fase'; did you mean .*'face'"):
        quickdraw_class("fase")


def test_class_listed_twice_is_refused(mirror):
    with pytest.raises(SketchDataError, match="listed twice"):
        load_quickdraw(["face", "Face"], "simplified", mirror=mirror)


def test_unknown_format_is_refused(mirror):
    with pytest.raises(SketchDataError, match="unknown QuickDraw format 'svg'"):
        load_quickdraw("face", "svg", mirror=mirror)


# --------------------------------------------------------------------------- loading


def test_sketchrnn_format_keeps_googles_split(shared_data):
    splits = load_quickdraw(["face", "alarm clock"], mirror=shared_data / "quickdraw", max_per_class=30, progress=False)
    assert splits.class_names == ["face", "alarm clock"]
    assert [len(s) for s in (splits.train, splits.valid, splits.test)] == [60, 60, 60]
    assert np.bincount(splits.train.labels).tolist() == [30, 30]
    assert all(d.dtype == np.float32 and d.shape[1] == 3 for d in splits.train.drawings)


def test_simplified_format_reads_mirror_without_full_folder(shared_data):
    splits = load_quickdraw("cat,dog", "simplified", mirror=shared_data / "quickdraw", progress=False)
    assert splits.class_names == ["cat", "dog"]
    assert len(splits.train) + len(splits.valid) + len(splits.test) == 50
    assert len(splits.train.extras["key_id"]) == len(splits.train)


def test_ndjson_split_is_deterministic_for_a_seed(mirror):
    a = load_quickdraw("face,pig", "simplified", mirror=mirror, seed=3, progress=False)
    b = load_quickdraw("face,pig", "simplified", mirror=mirror, seed=3, progress=False)
    c = load_quickdraw("face,pig", "simplified", mirror=mirror, seed=4, progress=False)
    assert a.test.extras["key_id"] == b.test.extras["key_id"]
    assert a.test.extras["key_id"] != c.test.extras["key_id"]
    assert (len(a.train), len(a.valid), len(a.test)) == (16, 2, 2)


def test_max_per_class_reads_the_first_lines(mirror):
    splits = load_quickdraw("face", "simplified", mirror=mirror, max_per_class=5, fractions=(1.0, 0.0, 0.0))
    assert sorted(splits.train.extras["key_id"]) == ["0", "1", "2", "3", "4"]


def test_ndjson_drawing_becomes_stroke3(tmp_path):
    read = read_ndjson(write_ndjson(tmp_path / "a.ndjson", [GOOD]))
    expected = S.polylines_to_stroke3([[(0, 0), (10, 5), (20, 0)], [(3, 9), (4, 9)]])
    np.testing.assert_array_equal(read.drawings[0], expected)
    assert read.drawings[0].dtype == np.float32


def test_raw_format_is_converted_like_googles_simplified_files(shared_data):
    root = shared_data / "quickdraw"
    simplified = {}
    for text in (root / "simplified" / "cat.ndjson").read_text().splitlines():
        obj = json.loads(text)
        simplified[obj["key_id"]] = [np.array(s, dtype=np.float64).T for s in obj["drawing"]]
    agree = total = 0
    for text in (root / "raw" / "cat.ndjson").read_text().splitlines():
        obj = json.loads(text)
        if obj["key_id"] not in simplified:
            continue
        ours, google = simplify_drawing(parse_strokes(obj["drawing"])), simplified[obj["key_id"]]
        total += 1
        agree += len(ours) == len(google) and all(
            a.shape == b.shape and np.abs(a - b).max() <= 1 for a, b in zip(ours, google)
        )
    assert total >= 10 and agree >= 0.8 * total


def test_raw_loader_output_spans_0_to_255(shared_data):
    splits = load_quickdraw("ant", "raw", mirror=shared_data / "quickdraw", max_per_class=10, progress=False)
    for d in splits.train.drawings:
        x0, x1, y0, y1 = S.bounding_box(d)
        assert min(x0, y0) == 0 and max(x1, y1) == 255 and x1 <= 255 and y1 <= 255


# --------------------------------------------------------------------------- raw -> simplified


polylines = st.lists(
    st.lists(st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4)), min_size=1, max_size=20),
    min_size=1,
    max_size=5,
)


@settings(max_examples=40, deadline=None)
@given(polylines)
def test_simplified_drawing_is_aligned_top_left_and_scaled_to_255(lines):
    out = simplify_drawing([np.array(p) for p in lines], epsilon=0.0)  # RDP off: every resampled point kept
    points = np.concatenate(out)
    span = np.ptp(np.concatenate([np.array(p) for p in lines]), axis=0).max()
    assert len(out) == len(lines)
    assert points.min(axis=0).tolist() == [0, 0]
    assert span == 0 or points.max() == 255


@settings(max_examples=40, deadline=None)
@given(polylines)
def test_simplified_drawing_stays_on_the_0_255_canvas(lines):
    points = np.concatenate(simplify_drawing([np.array(p) for p in lines]))
    assert points.min() >= 0 and points.max() <= 255
    assert (points == np.round(points)).all()


def test_simplification_applies_rdp_with_epsilon_2():
    t = np.linspace(0, 1, 500)
    straight = np.column_stack([t * 1000, t * 3])  # nearly straight: within 2 px of its chord at 255 scale
    out = simplify_drawing([straight])
    assert len(out[0]) == 2
    np.testing.assert_array_equal(out[0], [[0, 0], [255, 1]])


def test_simplification_resamples_at_one_pixel_before_rdp():
    corner = np.array([[0.0, 0.0], [255.0, 0.0], [255.0, 255.0]])  # only 3 points, a sharp corner
    out = simplify_drawing([corner], epsilon=0.0)
    steps = np.hypot(*np.diff(out[0], axis=0).T)
    assert len(out[0]) == 511 and steps.max() <= 1.0


# --------------------------------------------------------------------------- malformed lines


MALFORMED = {
    "bad JSON": ('{"drawing": [[[1, 2], [3, 4]]', r"line 2: not valid JSON"),
    "no drawing": (json.dumps({"word": "x"}), r"line 2: no 'drawing' field"),
    "x/y lengths": (
        line([[[1, 2], [3, 4]], [[1, 2, 3], [1, 2, 3, 4]]]),
        r"line 2: stroke 1 has 3 x values and 4 y values",
    ),
    "empty drawing": (line([]), r"line 2: empty drawing"),
    "empty strokes": (line([[[], []]]), r"line 2: empty drawing"),
    "NaN": ('{"drawing": [[[1, NaN], [3, 4]]]}', r"line 2: stroke 0 holds NaN"),
    "text values": (line([[["a", "b"], [3, 4]]]), r"line 2: stroke 0 holds non-numeric"),
    "stroke not a list": (line([5]), r"line 2: stroke 0 is not a list of 2 value lists"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_line_names_file_and_line(tmp_path, case):
    text, message = MALFORMED[case]
    path = write_ndjson(tmp_path / "face.ndjson", [GOOD, text, GOOD])
    with pytest.raises(SketchDataError, match=r"face\.ndjson " + message):
        read_ndjson(path)


def test_skip_mode_skips_and_counts_malformed_lines(tmp_path):
    path = write_ndjson(tmp_path / "face.ndjson", [GOOD] + [text for text, _ in MALFORMED.values()] + [GOOD])
    read = read_ndjson(path, on_error="skip")
    assert len(read.drawings) == 2 and len(read.skipped) == len(MALFORMED)
    assert "face.ndjson line 2" in read.skipped[0]


def test_loader_passes_skip_mode_through(tmp_path):
    write_ndjson(tmp_path / "qd" / "simplified" / "face.ndjson", [GOOD, "{", GOOD])
    with pytest.raises(SketchDataError, match=r"face\.ndjson line 2"):
        load_quickdraw("face", "simplified", mirror=tmp_path / "qd")
    splits = load_quickdraw("face", "simplified", mirror=tmp_path / "qd", on_error="skip", fractions=(1.0, 0.0, 0.0))
    assert len(splits.train) == 2


def test_blank_lines_are_ignored(tmp_path):
    assert len(read_ndjson(write_ndjson(tmp_path / "a.ndjson", [GOOD, "", GOOD])).drawings) == 2
