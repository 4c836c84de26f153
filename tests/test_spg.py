"""SPG: part names, per-point labels kept through RDP, all 20 classes, cutting single parts."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from sketchlib import strokes as S
from sketchlib.datasets import Sketches, spg
from sketchlib.datasets.spg import SPG_CLASSES, cut_parts, load_spg, read_spg_ndjson, spg_part_names
from sketchlib.errors import SketchDataError

FACE_PARTS = ["eye or eyebrow", "nose", "mouth", "ear", "hair", "moustache", "outline of face"]


def stroke(points, part):
    """An SPG stroke ``[x[], y[], part[]]``; ``part`` is one label or one per point."""
    xs, ys = zip(*points)
    labels = list(part) if isinstance(part, (list, tuple)) else [part] * len(points)
    return [list(xs), list(ys), labels]


def face_drawing(i: int = 0) -> dict:
    """A face: outline (6), two eyes (0) and a mouth (2), dense points 1 px apart."""
    square = [(x, 0) for x in range(0, 201)] + [(200, y) for y in range(1, 201)]
    eye = lambda x0: [(x0 + t, 60 + (t % 2)) for t in range(0, 21)]  # noqa: E731
    mouth = [(70 + t, 150) for t in range(0, 61)]
    return {
        "i": i,
        "key_id": str(1000 + i),
        "drawing": [stroke(square, 6), stroke(eye(40), 0), stroke(eye(140), 0), stroke(mouth, 2)],
    }


def write_spg(root: Path, name: str, drawings, parts) -> Path:
    (root / "parts").mkdir(parents=True, exist_ok=True)
    (root / "parts" / f"{name}.txt").write_text("\n".join(parts) + "\n\n")
    path = root / f"{name}_raw.ndjson"
    path.write_text("".join(json.dumps(d) + "\n" for d in drawings))
    return path


@pytest.fixture
def mirror(tmp_path) -> Path:
    root = tmp_path / "spg"
    write_spg(root, "face", [face_drawing(i) for i in range(10)], FACE_PARTS)
    return root


# --------------------------------------------------------------------------- part names


def test_part_names_come_from_the_parts_file_without_trailing_blanks(mirror):
    assert spg_part_names("face", mirror=mirror) == FACE_PARTS


@pytest.mark.parametrize("name", ["face", "butterfly", "pig", "airplane"])
def test_part_labels_are_zero_based_line_numbers(shared_data, name):
    names = spg_part_names(name, mirror=shared_data / "spg")
    drawings, parts, _, _ = read_spg_ndjson(shared_data / "spg" / f"{name}_raw.ndjson", simplify_epsilon=None)
    used = np.unique(np.concatenate(parts))
    assert used.min() == 0 and used.max() == len(names) - 1


def test_real_face_part_names(shared_data):
    assert spg_part_names("face", mirror=shared_data / "spg") == FACE_PARTS


def test_sketchgnn_checkout_works_as_mirror(tmp_path):
    """SketchGNN keeps the names beside the drawings' folder: ``data/SPG256/<class>.txt``."""
    write_spg(tmp_path / "data" / "SPG", "face", [face_drawing()], FACE_PARTS)
    (tmp_path / "data" / "SPG" / "parts").rename(tmp_path / "data" / "SPG256")
    assert spg_part_names("face", mirror=tmp_path / "data" / "SPG") == FACE_PARTS


def test_download_from_the_upstream_layout_without_mirror(tmp_path, monkeypatch):
    upstream = tmp_path / "upstream"
    write_spg(upstream / "data" / "SPG", "face", [face_drawing(i) for i in range(4)], FACE_PARTS)
    (upstream / "data" / "SPG" / "parts").rename(upstream / "data" / "SPG256")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(upstream))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/data/"
        monkeypatch.delenv("SKETCHLIB_SPG_MIRROR", raising=False)
        monkeypatch.setattr(spg, "SPG_URL", url + "SPG/")
        monkeypatch.setattr(spg, "SPG_PARTS_URL", url + "SPG256/")
        splits = load_spg("face", with_parts=True, cache_dir=tmp_path / "cache", progress=False)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert len(splits.train) + len(splits.valid) + len(splits.test) == 4
    assert (tmp_path / "cache" / "spg" / "face_raw.ndjson").is_file()
    assert (tmp_path / "cache" / "spg" / "parts" / "face.txt").read_text().startswith("eye or eyebrow")


# --------------------------------------------------------------------------- loading


def test_load_all_twenty_classes_by_default(shared_data):
    splits = load_spg(mirror=shared_data / "spg", max_per_class=5, progress=False)
    assert splits.class_names == list(SPG_CLASSES) and len(SPG_CLASSES) == 20
    assert len(splits.train) + len(splits.valid) + len(splits.test) == 100


def test_real_parts_are_aligned_with_the_stroke3_rows(shared_data):
    splits = load_spg(["face", "pig"], with_parts=True, mirror=shared_data / "spg", max_per_class=20, progress=False)
    for d, p, k in zip(splits.train.drawings, splits.train.extras["parts"], splits.train.labels):
        assert len(p) == len(d) and p.min() >= 0
        assert p.max() < len(spg_part_names(splits.class_names[k], mirror=shared_data / "spg"))


def test_rdp_simplifies_the_dense_points(mirror):
    dense = load_spg("face", mirror=mirror, simplify_epsilon=None, fractions=(1.0, 0.0, 0.0)).train.drawings[0]
    simple = load_spg("face", mirror=mirror, fractions=(1.0, 0.0, 0.0)).train.drawings[0]
    assert len(dense) == 401 + 21 + 21 + 61
    assert len(simple) == 3 + 2 + 2 + 2  # corner kept; eye zigzags are 1 px, within epsilon 2


def test_labels_of_kept_points_survive_rdp_within_a_stroke(tmp_path):
    corner = [(x, 0) for x in range(0, 101)] + [(100, y) for y in range(1, 101)]
    labels = [0] * 100 + [1] * 101  # the part changes at the corner point (100, 0)
    write_spg(tmp_path, "apple", [{"i": 0, "key_id": "7", "drawing": [stroke(corner, labels)]}], ["stalk", "body"])
    drawings, parts, _, _ = read_spg_ndjson(tmp_path / "apple_raw.ndjson", simplify_epsilon=2.0)
    np.testing.assert_array_equal(S.stroke3_to_polylines(drawings[0])[0], [[0, 0], [100, 0], [100, 100]])
    assert parts[0].tolist() == [0, 1, 1]


def test_class_names_accept_spaces(mirror):
    assert load_spg("Face", mirror=mirror).class_names == ["face"]


def test_unknown_class_suggests_the_closest_names(mirror):
    with pytest.raises(SketchDataError, match=r"unknown SPG class 'alarm clok'; did you mean 'alarm_clock'"):
        load_spg("alarm clok", mirror=mirror)


def test_part_label_outside_the_names_is_refused_with_file_and_line(tmp_path):
    bad = {"i": 1, "key_id": "9", "drawing": [stroke([(0, 0), (5, 5)], 7)]}
    write_spg(tmp_path, "face", [face_drawing(), bad], FACE_PARTS)
    with pytest.raises(SketchDataError, match=r"face_raw\.ndjson line 2: stroke 0 has part label 7 .*7 part names"):
        load_spg("face", with_parts=True, mirror=tmp_path)


def test_stroke_with_unequal_lists_names_file_and_line(tmp_path):
    bad = {"i": 1, "key_id": "9", "drawing": [[[0, 1, 2], [0, 1, 2], [0, 0]]]}
    write_spg(tmp_path, "face", [face_drawing(), bad], FACE_PARTS)
    message = r"face_raw\.ndjson line 2: stroke 0 has 3 x values and 3 y values and 2 part values"
    with pytest.raises(SketchDataError, match=message):
        load_spg("face", mirror=tmp_path)


def test_skip_mode_skips_bad_lines(tmp_path):
    write_spg(tmp_path, "face", [face_drawing(), {"i": 1, "drawing": []}, face_drawing(2)], FACE_PARTS)
    splits = load_spg("face", mirror=tmp_path, on_error="skip", fractions=(1.0, 0.0, 0.0))
    assert splits.train.extras["key_id"] == ["1000", "1002"]


# --------------------------------------------------------------------------- single parts


def test_cut_parts_names_the_face_parts(mirror):
    faces = load_spg("face", with_parts=True, mirror=mirror, fractions=(1.0, 0.0, 0.0)).train
    parts = cut_parts(faces, ("eye", "mouth", "nose"), mirror=mirror)
    assert parts.class_names == ["eye", "mouth", "nose"]
    assert np.bincount(parts.labels, minlength=3).tolist() == [10, 10, 0]  # the made-up faces have no nose
    assert parts.extras["from_class"][0] == "face"


def test_cut_part_holds_only_its_strokes_scaled_to_255(mirror):
    faces = load_spg("face", with_parts=True, mirror=mirror, simplify_epsilon=None, fractions=(1.0, 0.0, 0.0)).train
    eyes = cut_parts(faces, ("eye",), mirror=mirror, simplify_epsilon=None)
    lines = S.stroke3_to_polylines(eyes.drawings[0])
    assert len(lines) == 2  # both eyes of the face, as two strokes
    points = np.concatenate(lines)
    assert points.min(axis=0).tolist() == pytest.approx([0, 0], abs=1e-3)
    assert points.max() == pytest.approx(255, abs=1e-3)


def test_cut_parts_from_real_faces(shared_data):
    faces = load_spg("face", with_parts=True, mirror=shared_data / "spg", max_per_class=30, progress=False).train
    parts = cut_parts(faces, mirror=shared_data / "spg")
    assert parts.class_names == ["eye", "nose", "mouth", "ear"]
    assert np.bincount(parts.labels)[0] > 10  # most faces have eyes
    for d in parts.drawings:
        x0, x1, y0, y1 = S.bounding_box(d)
        assert max(x1 - x0, y1 - y0) == pytest.approx(255, abs=1e-2)


def test_cut_parts_needs_part_labels(mirror):
    faces = load_spg("face", mirror=mirror).train
    with pytest.raises(SketchDataError, match=r"with_parts=True"):
        cut_parts(faces, mirror=mirror)


def test_cut_parts_lists_available_parts_for_unknown_names(mirror):
    faces = load_spg("face", with_parts=True, mirror=mirror).train
    with pytest.raises(SketchDataError, match=r"part\(s\) 'tail' not in classes face; their parts are: .*mouth"):
        cut_parts(faces, ("tail",), mirror=mirror)


def test_cut_parts_accepts_part_names_without_a_mirror():
    strokes3 = S.polylines_to_stroke3([[(0, 0), (10, 0)], [(0, 5), (4, 9)]])
    sketches = Sketches([strokes3], [0], ["face"], extras={"parts": [np.array([6, 6, 2, 2])]})
    mouths = cut_parts(sketches, ("mouth",), part_names={"face": FACE_PARTS})
    np.testing.assert_allclose(S.stroke3_to_polylines(mouths.drawings[0])[0], [[0, 0], [255, 255]])
