"""Sketch-RNN npz files: the real ones, project-made ones, and every malformed case."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sketchlib.datasets import SketchSplits, load_npz
from sketchlib.errors import SketchDataError


def objects(drawings) -> np.ndarray:
    out = np.empty(len(drawings), dtype=object)
    for i, d in enumerate(drawings):
        out[i] = d
    return out


def drawing(n: int = 4, dtype=np.int16) -> np.ndarray:
    d = np.zeros((n, 3), dtype=dtype)
    d[:, 0] = np.arange(n)
    d[-1, 2] = 1
    return d


def save(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


@pytest.fixture
def sheep(tmp_path) -> Path:
    splits = {k: objects([drawing(3 + i) for i in range(n)]) for k, n in (("train", 5), ("valid", 2), ("test", 3))}
    return save(tmp_path / "sheep.npz", **splits)


# --------------------------------------------------------------------------- real files


@pytest.mark.parametrize(
    "rel, sizes",
    [
        ("quickdraw/sketchrnn/face.npz", (2000, 250, 250)),
        ("sketch-rnn-datasets/aaron_sheep.npz", (7400, 300, 300)),
    ],
)
def test_real_sketch_rnn_files_load_whole(shared_data, rel, sizes):
    splits = load_npz(shared_data / rel)
    assert (len(splits.train), len(splits.valid), len(splits.test)) == sizes
    assert splits.class_names == [Path(rel).stem]
    assert all(d.dtype == np.float32 and d.shape[1] == 3 for d in splits.train.drawings)


@pytest.mark.parametrize("name", ["omniglot.npz", "kanji.rdp100.npz"])
def test_real_sketch_rnn_files_load_first_drawings(shared_data, name):
    splits = load_npz(shared_data / "sketch-rnn-datasets" / name, max_per_split=100)
    assert [len(s) for s in (splits.train, splits.valid, splits.test)] == [100, 100, 100]
    assert all(set(np.unique(d[:, 2])) <= {0.0, 1.0} for d in splits.train.drawings)


def test_int16_file_keeps_offsets_exactly(shared_data):
    raw = np.load(shared_data / "quickdraw/sketchrnn/pig.npz", allow_pickle=True, encoding="latin1")["test"]
    splits = load_npz(shared_data / "quickdraw/sketchrnn/pig.npz", max_per_split=5)
    for a, b in zip(raw[:5], splits.test.drawings):
        np.testing.assert_array_equal(a.astype(np.float32), b)


# --------------------------------------------------------------------------- project-made files


def test_unlabelled_file_is_one_class_named_after_the_file(sheep):
    splits = load_npz(sheep)
    assert isinstance(splits, SketchSplits)
    assert splits.class_names == ["sheep"] and (len(splits.train), len(splits.valid), len(splits.test)) == (5, 2, 3)
    assert (splits.train.labels == 0).all()


def test_class_name_argument_names_the_class(sheep):
    assert load_npz(sheep, class_name="mouton").class_names == ["mouton"]


def test_labelled_file_uses_class_names_key(tmp_path):
    path = save(
        tmp_path / "l.npz",
        train=objects([drawing(), drawing()]), valid=objects([drawing()]), test=objects([drawing()]),
        train_label=np.array([0, 2]), valid_label=np.array([1]), test_label=np.array([2]),
        class_names=np.array(["cat", "dog", "pig"]),
    )
    splits = load_npz(path)
    assert splits.class_names == ["cat", "dog", "pig"]
    assert splits.train.labels.tolist() == [0, 2] and splits.test.labels.tolist() == [2]


def test_labelled_file_without_names_gets_class_k(tmp_path):
    path = save(
        tmp_path / "l.npz",
        train=objects([drawing()]), valid=objects([drawing()]), test=objects([drawing()]),
        train_label=np.array([1]), valid_label=np.array([0]), test_label=np.array([1]),
    )
    assert load_npz(path).class_names == ["class_0", "class_1"]


def test_equal_length_drawings_saved_as_one_block_load(tmp_path):
    block = np.stack([drawing(4), drawing(4)])
    path = save(tmp_path / "b.npz", train=block, valid=block, test=block)
    assert len(load_npz(path).train) == 2


def test_float_drawings_load_as_float32(tmp_path):
    d = objects([drawing(3, np.float64) * 0.5 + np.array([0, 0, 0.5])])
    d[0][:, 2] = [0, 0, 1]
    path = save(tmp_path / "f.npz", train=d, valid=d, test=d)
    assert load_npz(path).train.drawings[0].dtype == np.float32


# --------------------------------------------------------------------------- malformed files


def test_missing_file_is_named(tmp_path):
    with pytest.raises(SketchDataError, match=r"absent\.npz: file not found"):
        load_npz(tmp_path / "absent.npz")


def test_not_an_npz_file_is_refused(tmp_path):
    (tmp_path / "x.npz").write_bytes(b"garbage, not a zip")
    with pytest.raises(SketchDataError, match=r"x\.npz: not a readable npz"):
        load_npz(tmp_path / "x.npz")


def test_missing_split_key_is_named(tmp_path):
    path = save(tmp_path / "x.npz", train=objects([drawing()]), valid=objects([drawing()]))
    with pytest.raises(SketchDataError, match=r"x\.npz: missing key\(s\) 'test'.*found: train, valid"):
        load_npz(path)


def test_nan_names_file_key_and_index(tmp_path):
    bad = drawing(4, np.float32)
    bad[2, 1] = np.nan
    path = save(
        tmp_path / "x.npz", train=objects([drawing(), bad]), valid=objects([drawing()]), test=objects([drawing()])
    )
    with pytest.raises(SketchDataError, match=r"x\.npz key 'train' index 1: row 2 holds NaN"):
        load_npz(path)


def test_drawing_of_wrong_width_names_key_and_index(tmp_path):
    path = save(
        tmp_path / "x.npz", train=objects([drawing()]), valid=objects([np.zeros((5, 2))]), test=objects([drawing()])
    )
    with pytest.raises(SketchDataError, match=r"x\.npz key 'valid' index 0: .*shape \(N, 3\)"):
        load_npz(path)


def test_two_dimensional_split_is_refused(tmp_path):
    path = save(tmp_path / "x.npz", train=np.zeros((4, 3)), valid=objects([drawing()]), test=objects([drawing()]))
    with pytest.raises(SketchDataError, match=r"key 'train' must be a 1-D array .*shape \(4, 3\)"):
        load_npz(path)


def test_label_count_must_match_drawings(tmp_path):
    path = save(
        tmp_path / "x.npz", train=objects([drawing()] * 2), valid=objects([drawing()]), test=objects([drawing()]),
        train_label=np.array([0]), valid_label=np.array([0]), test_label=np.array([0]),
    )
    with pytest.raises(SketchDataError, match=r"key 'train_label' must hold one label per drawing"):
        load_npz(path)


def test_some_but_not_all_label_keys_is_refused(tmp_path):
    path = save(
        tmp_path / "x.npz", train=objects([drawing()]), valid=objects([drawing()]), test=objects([drawing()]),
        train_label=np.array([0]),
    )
    with pytest.raises(SketchDataError, match=r"has train_label but not valid_label, test_label"):
        load_npz(path)


def test_negative_label_names_key_and_index(tmp_path):
    path = save(
        tmp_path / "x.npz", train=objects([drawing()] * 2), valid=objects([drawing()]), test=objects([drawing()]),
        train_label=np.array([0, -1]), valid_label=np.array([0]), test_label=np.array([0]),
    )
    with pytest.raises(SketchDataError, match=r"key 'train_label' index 1: negative label -1"):
        load_npz(path)


def test_too_few_class_names_is_refused(tmp_path):
    path = save(
        tmp_path / "x.npz", train=objects([drawing()]), valid=objects([drawing()]), test=objects([drawing()]),
        train_label=np.array([3]), valid_label=np.array([0]), test_label=np.array([0]),
        class_names=np.array(["a", "b"]),
    )
    with pytest.raises(SketchDataError, match=r"'class_names' has 2 names but labels go up to 3"):
        load_npz(path)
