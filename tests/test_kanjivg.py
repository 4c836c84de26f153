"""KanjiVG: SVG path sampling, stroke order, radicals, the parse cache, the installed package."""

from __future__ import annotations

import importlib.metadata
import shutil
from pathlib import Path

import numpy as np
import pytest

from sketchlib import strokes as S
from sketchlib.datasets import kanjivg as K
from sketchlib.datasets.kanjivg import kanjivg_dir, load_kanjivg, parse_kanjivg_svg, svg_path_to_polylines
from sketchlib.errors import SketchDataError

SVG = """<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="109" height="109" viewBox="0 0 109 109"
     xmlns:kvg="http://kanjivg.tagaini.net">
<g id="kvg:StrokePaths_{code}" style="fill:none;stroke:#000000;">
<g id="kvg:{code}" kvg:element="X">
{groups}
</g>
</g>
</svg>
"""


def group(element: str, radical: str | None, *paths: str) -> str:
    mark = f' kvg:radical="{radical}"' if radical else ""
    return f'<g kvg:element="{element}"{mark}>' + "".join(paths) + "</g>"


def path(code: str, n: int, d: str) -> str:
    return f'<path id="kvg:{code}-s{n}" d="{d}"/>'


def write_char(folder: Path, code: str, groups: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / f"{code}.svg"
    p.write_text(SVG.format(code=code, groups=groups), encoding="utf-8")
    return p


def simple_char(folder: Path, code: str, radical: str) -> Path:
    strokes = path(code, 1, "M10,10 C20,20 30,20 40,10"), path(code, 2, "M10,50 L60,50")
    return write_char(folder, code, group(radical, "general", *strokes))


@pytest.fixture
def svg_dir(tmp_path) -> Path:
    """Six made-up characters: radical 木 x3, 氵 x2, 口 x1, and one variant file."""
    folder = tmp_path / "kanji"
    for i, radical in enumerate(["木", "木", "木", "氵", "氵", "口"]):
        simple_char(folder, f"0{0x4e00 + i:04x}", radical)
    shutil.copy(folder / "04e00.svg", folder / "04e00-Kaisho.svg")
    return folder


# --------------------------------------------------------------------------- SVG paths


def test_line_commands_keep_their_end_points():
    lines = svg_path_to_polylines("M0,0 L10,0 l0,10 H0 v-10 z")
    np.testing.assert_allclose(lines[0], [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]])


def test_cubic_curve_is_sampled_between_its_ends():
    line = svg_path_to_polylines("M0,0 C0,10 10,10 10,0", step=0.5)[0]
    assert len(line) > 20
    np.testing.assert_allclose(line[[0, -1]], [[0, 0], [10, 0]])
    assert line[:, 1].max() == pytest.approx(7.5, abs=0.05)  # the curve's peak at t = 1/2


def test_relative_commands_match_absolute_ones():
    absolute = svg_path_to_polylines("M5,5 C5,15 15,15 15,5 S25,-5 25,5")[0]
    relative = svg_path_to_polylines("m5,5 c0,10 10,10 10,0 s10,-10 10,0")[0]
    np.testing.assert_allclose(absolute, relative)


def test_smooth_curve_reflects_the_previous_control_point():
    line = svg_path_to_polylines("M0,0 C0,10 10,10 10,0 S20,-10 20,0")[0]
    second_half = line[line[:, 0] > 10]
    assert second_half[:, 1].min() == pytest.approx(-7.5, abs=0.05)  # mirror image of the first bump


def test_quadratic_and_smooth_quadratic_curves():
    line = svg_path_to_polylines("M0,0 Q5,10 10,0 T20,0")[0]
    assert line[:, 1].max() == pytest.approx(5, abs=0.05) and line[:, 1].min() == pytest.approx(-5, abs=0.05)


def test_numbers_run_together_as_in_kanjivg():
    line = svg_path_to_polylines("M52.73,9.5c1.01,1.01,1.75,2.25,1.75,3.76c0,3.53-0.09,5.73-0.1,8.95")[0]
    np.testing.assert_allclose(line[-1], [52.73 + 1.75 - 0.1, 9.5 + 3.76 + 8.95])


def test_each_moveto_starts_a_new_polyline():
    assert len(svg_path_to_polylines("M0,0 L1,1 M5,5 L6,6")) == 2


def test_arcs_are_refused():
    with pytest.raises(SketchDataError, match=r"'A' \(arc\) is not supported"):
        svg_path_to_polylines("M0,0 A5,5 0 0 1 10,10")


# --------------------------------------------------------------------------- characters


def test_strokes_follow_the_numbers_in_their_ids(tmp_path):
    bottom, top = path("04e8c", 2, "M10,90 L90,90"), path("04e8c", 1, "M30,10 L70,10")
    p = write_char(tmp_path, "04e8c", group("二", "general", bottom, top))
    record = parse_kanjivg_svg(p)
    first, second = S.stroke3_to_polylines(record.strokes3)
    assert first[0, 1] < second[0, 1]  # stroke 1 (top) comes first although it is second in the file


def test_character_is_placed_on_the_0_255_canvas(tmp_path):
    record = parse_kanjivg_svg(simple_char(tmp_path, "04e00", "一"))
    x0, x1, y0, y1 = S.bounding_box(record.strokes3)
    assert (x0, y0) == pytest.approx((0, 0), abs=1e-3) and max(x1, y1) == pytest.approx(255, abs=1e-3)
    assert record.character == "一"


def test_radical_prefers_general_over_other_classifications(tmp_path):
    roof = group("宀", "nelson", path("05b57", 1, "M1,1 L9,9"))
    child = group("子", "general", path("05b57", 2, "M1,9 L9,1"))
    groups = roof + child
    assert parse_kanjivg_svg(write_char(tmp_path, "05b57", groups)).radical == "子"


def test_character_without_radical_mark_has_none(tmp_path):
    p = write_char(tmp_path, "03042", group("あ", None, path("03042", 1, "M1,1 L9,9")))
    assert parse_kanjivg_svg(p).radical == ""


def test_unreadable_svg_names_the_file(tmp_path):
    (tmp_path / "04e00.svg").write_text("<svg><g>")
    with pytest.raises(SketchDataError, match=r"04e00\.svg: not a readable SVG"):
        parse_kanjivg_svg(tmp_path / "04e00.svg")


def test_bad_path_names_file_and_stroke(tmp_path):
    p = write_char(tmp_path, "04e00", group("一", "general", path("04e00", 1, "M1,1 C2,2")))
    with pytest.raises(SketchDataError, match=r"04e00\.svg: stroke 'kvg:04e00-s1': path command 'C' needs 6 numbers"):
        parse_kanjivg_svg(p)


# --------------------------------------------------------------------------- loading


def test_top_k_radicals_are_the_most_frequent(svg_dir, tmp_path):
    splits = load_kanjivg(2, svg_dir=svg_dir, cache_dir=tmp_path / "cache", fractions=(1.0, 0.0, 0.0), progress=False)
    assert splits.class_names == ["木", "氵"]
    assert np.bincount(splits.train.labels).tolist() == [3, 2]


def test_without_top_k_every_character_is_one_class(svg_dir, tmp_path):
    splits = load_kanjivg(svg_dir=svg_dir, cache_dir=tmp_path / "cache", fractions=(1.0, 0.0, 0.0), progress=False)
    assert splits.class_names == ["kanji"] and len(splits.train) == 6  # the variant file is skipped
    assert splits.train.extras["character"][0] == "一"


def test_second_load_reads_the_cache(svg_dir, tmp_path, monkeypatch):
    first = load_kanjivg(svg_dir=svg_dir, cache_dir=tmp_path / "cache", progress=False)
    assert list((tmp_path / "cache" / "kanjivg").glob("*.npz"))

    def no_parsing(*args, **kwargs):
        raise AssertionError("parsed again instead of reading the cache")

    monkeypatch.setattr(K, "parse_kanjivg_svg", no_parsing)
    second = load_kanjivg(svg_dir=svg_dir, cache_dir=tmp_path / "cache", progress=False)
    for a, b in zip(first.train.drawings, second.train.drawings):
        np.testing.assert_array_equal(a, b)


def test_changed_svg_files_invalidate_the_cache(svg_dir, tmp_path):
    load_kanjivg(svg_dir=svg_dir, cache_dir=tmp_path / "cache", progress=False)
    simple_char(svg_dir, "09000", "口")
    splits = load_kanjivg(svg_dir=svg_dir, cache_dir=tmp_path / "cache", fractions=(1.0, 0.0, 0.0), progress=False)
    assert len(splits.train) == 7


def test_top_k_must_be_positive(svg_dir, tmp_path):
    with pytest.raises(SketchDataError, match="top_k_radicals must be at least 1"):
        load_kanjivg(0, svg_dir=svg_dir, cache_dir=tmp_path, progress=False)


def test_missing_package_says_how_to_install(monkeypatch):
    def not_found(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_found)
    with pytest.raises(SketchDataError, match="pip install kanjivg"):
        kanjivg_dir()


# --------------------------------------------------------------------------- the installed package


@pytest.fixture(scope="module")
def package_dir() -> Path:
    try:
        return kanjivg_dir()
    except SketchDataError:
        pytest.skip("the kanjivg package is not installed")


def test_real_character_has_its_strokes_in_order(package_dir):
    record = parse_kanjivg_svg(package_dir / "05b57.svg")  # 字: 6 strokes, radical 子 (its 'tradit' mark)
    assert record.character == "字" and record.radical == "子"
    assert int(record.strokes3[:, 2].sum()) == 6
    first = S.stroke3_to_polylines(record.strokes3)[0]
    assert first[:, 1].max() < 60  # the dot on top comes first


def test_real_characters_load_by_radical(package_dir, tmp_path):
    folder = tmp_path / "kanji"
    folder.mkdir()
    for p in sorted(package_dir.glob("06*.svg"))[:60]:
        shutil.copy(p, folder / p.name)
    splits = load_kanjivg(3, svg_dir=folder, cache_dir=tmp_path / "cache", progress=False)
    assert len(splits.class_names) == 3
    for d in splits.train.drawings:
        assert S.validate_stroke3(d).shape[1] == 3
        x0, x1, y0, y1 = S.bounding_box(d)
        assert max(x1, y1) <= 255.01 and min(x0, y0) >= -0.01
