"""Specifications of the shared data set type and its stroke-5 batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sketchlib import SketchDataError
from sketchlib import strokes as S
from sketchlib.datasets import SketchDataset, Sketches, SketchSplits


def walk(n: int, rng) -> np.ndarray:
    d = np.column_stack([rng.normal(0, 10, n), rng.normal(0, 10, n), np.zeros(n)]).astype(np.float32)
    d[-1, 2] = 1
    return d


@pytest.fixture
def sketches():
    rng = np.random.default_rng(0)
    lengths = [5, 8, 12, 30, 6, 9]
    return Sketches([walk(n, rng) for n in lengths], [0, 1, 2, 0, 1, 2], ["a", "b", "c"], source="walks")


def test_batches_are_stroke5_with_start_token_lengths_and_one_hot_classes(sketches):
    ds = SketchDataset(sketches, max_seq_len=40)
    b = ds.batch([0, 1, 2])
    assert b["strokes5"].shape == (3, 41, 5)
    assert torch.all(b["strokes5"][:, 0] == torch.tensor(S.START_TOKEN))
    assert b["lengths"].tolist() == [5, 8, 12]
    assert b["onehot"].tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]


def test_batch_padding_can_follow_the_longest_drawing(sketches):
    b = SketchDataset(sketches, max_seq_len=40, pad_to="batch").batch([0, 1])
    assert b["strokes5"].shape == (2, 10, 5)  # start token, the longest drawing (8 points), one end row


def test_long_drawings_are_dropped_and_counted_or_refused(sketches):
    ds = SketchDataset(sketches, max_seq_len=20)
    assert len(ds) == 5 and ds.n_dropped == 1
    with pytest.raises(SketchDataError, match="walks: drawing 3 has 30 points, more than max_seq_len=20"):
        SketchDataset(sketches, max_seq_len=20, on_long="error")


def test_the_training_scale_normalises_every_split(sketches):
    train = SketchDataset(sketches)
    valid = SketchDataset(sketches.subset([0, 1]), scale=train.scale)
    assert valid.scale == train.scale
    np.testing.assert_allclose(valid[0]["strokes3"], S.normalize(sketches.drawings[0], train.scale))


def test_augmentation_changes_training_drawings_only_when_asked(sketches):
    plain, aug = SketchDataset(sketches), SketchDataset(sketches, augment=True, seed=1)
    np.testing.assert_array_equal(plain[3]["strokes3"], plain[3]["strokes3"])
    assert not np.array_equal(aug[3]["strokes3"], plain[3]["strokes3"])


def test_rasters_come_on_demand_and_are_cached(sketches):
    ds = SketchDataset(sketches, raster_size=48)
    b = ds.batch([1, 2])
    assert b["rasters"].shape == (2, 1, 48, 48) and set(b["rasters"].unique().tolist()) <= {0.0, 1.0}
    assert ds.rasters() is ds.rasters()
    with pytest.raises(SketchDataError, match="raster_size"):
        SketchDataset(sketches).rasters()


def test_bad_drawings_are_refused_with_their_index(sketches):
    broken = np.array([[0, 0, 0], [np.inf, 0, 1]], np.float32)
    bad = Sketches(sketches.drawings[:2] + [broken], [0, 0, 0], ["a"], "x.npz")
    with pytest.raises(SketchDataError, match="x.npz drawing 2: row 1 holds NaN or inf"):
        SketchDataset(bad)


def test_labels_must_match_the_class_names():
    with pytest.raises(SketchDataError, match="class names"):
        Sketches([np.ones((2, 3), np.float32)], [3], ["a", "b"])


def test_random_split_is_stratified_and_complete(sketches):
    big = Sketches.concat([sketches] * 10)
    splits = SketchSplits.from_single(big, (0.8, 0.1, 0.1), seed=0)
    assert len(splits.train) + len(splits.valid) + len(splits.test) == len(big)
    assert np.bincount(splits.valid.labels).tolist() == [2, 2, 2]


def test_concat_merges_classes_by_name():
    one = Sketches([np.ones((2, 3), np.float32)], [0], ["cat"])
    two = Sketches([np.ones((2, 3), np.float32)] * 2, [0, 1], ["dog", "cat"])
    both = Sketches.concat([one, two])
    assert both.class_names == ["cat", "dog"] and both.labels.tolist() == [0, 1, 0]


def test_take_keeps_at_most_n_per_class(sketches):
    assert np.bincount(sketches.take(1).labels).tolist() == [1, 1, 1]
