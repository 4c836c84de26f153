"""``load(spec)``: every accepted form reaches its loader; anything else is refused with the list of forms."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import sketchlib.datasets as D
from sketchlib.datasets import Sketches, SketchSplits, load
from sketchlib.errors import SketchDataError


def tiny_npz(path):
    drawings = np.empty(2, dtype=object)
    drawings[0] = np.array([[1, 2, 0], [3, 4, 1]], dtype=np.int16)
    drawings[1] = np.array([[5, 6, 1]], dtype=np.int16)
    with open(path, "wb") as f:  # np.savez would add ".npz" to a path without it
        np.savez(f, train=drawings, valid=drawings, test=drawings)
    return path


def test_quickdraw_spec_loads_sketchrnn_files(shared_data):
    splits = load("quickdraw:face,pig", mirror=shared_data / "quickdraw", max_per_class=3, progress=False)
    assert splits.class_names == ["face", "pig"] and splits.train.source == "quickdraw-sketchrnn"


def test_quickdraw_simplified_spec(shared_data):
    splits = load("quickdraw-simplified: cat , dog", mirror=shared_data / "quickdraw", progress=False)
    assert splits.class_names == ["cat", "dog"] and splits.train.source == "quickdraw-simplified"


def test_quickdraw_raw_spec(shared_data):
    splits = load("quickdraw-raw:ant", mirror=shared_data / "quickdraw", max_per_class=5, progress=False)
    assert splits.class_names == ["ant"] and splits.train.source == "quickdraw-raw"


def test_spg_spec_with_classes(shared_data):
    splits = load("spg:face,pig", mirror=shared_data / "spg", max_per_class=3, progress=False)
    assert splits.class_names == ["face", "pig"]


def test_bare_spg_spec_is_all_twenty_classes(shared_data):
    splits = load("spg", mirror=shared_data / "spg", max_per_class=1, progress=False)
    assert len(splits.class_names) == 20


def test_kanjivg_spec_passes_the_number_of_radicals(monkeypatch):
    calls = []
    monkeypatch.setattr("sketchlib.datasets.kanjivg.load_kanjivg", lambda *a, **kw: calls.append((a, kw)) or "ok")
    assert load("kanjivg:10", progress=False) == "ok" and load("kanjivg") == "ok"
    assert calls == [((10,), {"progress": False}), ((), {})]


def test_faces_spec_calls_load_faces(monkeypatch):
    calls = []
    fake = types.ModuleType("sketchlib.datasets.faces")
    fake.load_faces = lambda **kw: calls.append(kw) or "faces"
    monkeypatch.setitem(sys.modules, "sketchlib.datasets.faces", fake)
    assert load("faces", n_per_class=20, seed=1) == "faces"
    assert calls == [{"n_per_class": 20, "seed": 1}]


def test_npz_path_spec(tmp_path):
    splits = load(str(tiny_npz(tmp_path / "sheep.npz")))
    assert isinstance(splits, SketchSplits) and splits.class_names == ["sheep"]


def test_npz_prefix_spec(tmp_path):
    splits = load(f"npz:{tiny_npz(tmp_path / 'sheep.data')}")
    assert len(splits.train) == 2


@pytest.mark.parametrize("spec", ["mnist", "quickdraw:", "kanjivg:many", "faces:x", "npz:", ""])
def test_unknown_spec_lists_the_accepted_forms(spec):
    with pytest.raises(SketchDataError, match=r"accepted forms: quickdraw:<class>.*spg.*kanjivg.*faces.*npz"):
        load(spec)


def test_package_exports_the_loaders():
    for name in ("load", "load_quickdraw", "load_spg", "load_npz", "load_kanjivg", "cut_parts", "spg_part_names",
                 "QUICKDRAW_CLASSES", "SPG_CLASSES", "fetch", "Sketches", "SketchSplits", "SketchDataset", "Batch"):
        assert name in D.__all__ and hasattr(D, name)
    assert D.Sketches is Sketches
