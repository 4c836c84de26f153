"""Specifications of the FaceX-like face set."""

from __future__ import annotations

import numpy as np
import pytest

from sketchlib.datasets import load
from sketchlib.datasets.faces import CLASS_NAMES, EMOTIONS, GENDERS, generate_faces, load_faces, sample_face
from sketchlib.raster import render


def test_the_same_seed_gives_the_same_faces():
    a, b = generate_faces(3, seed=5), generate_faces(3, seed=5)
    assert all(np.array_equal(x, y) for x, y in zip(a.drawings, b.drawings))


def test_another_seed_gives_other_faces():
    a, b = generate_faces(2, seed=0), generate_faces(2, seed=1)
    assert not any(np.array_equal(x, y) for x, y in zip(a.drawings, b.drawings))


def test_fewer_faces_per_class_are_a_prefix_of_more():
    small, big = generate_faces(2, seed=3), generate_faces(4, seed=3)
    for k in range(len(CLASS_NAMES)):
        s, b = small.of_class(k).drawings, big.of_class(k).drawings
        assert all(np.array_equal(x, y) for x, y in zip(s, b[:2]))


def test_fourteen_classes_in_emotion_major_order_with_emotion_and_gender_extras():
    faces = generate_faces(2)
    assert faces.class_names == [f"{e}-{g}" for e in EMOTIONS for g in GENDERS]
    assert np.bincount(faces.labels).tolist() == [2] * 14
    for label, e, g in zip(faces.labels, faces.extras["emotion"], faces.extras["gender"]):
        assert label == e * 2 + g


def test_every_face_is_valid_stroke3_in_quickdraw_scale():
    for d in generate_faces(5, seed=2).drawings:
        assert d.dtype == np.float32 and d.shape[1] == 3
        assert np.isfinite(d).all() and set(np.unique(d[:, 2])) <= {0.0, 1.0}
        assert d[-1, 2] == 1.0
        absolute = np.cumsum(d[:, :2], axis=0)
        assert absolute.min() >= -1e-3 and absolute.max() <= 255.0 + 1e-3
        assert 10 <= len(d) <= 200


def test_emotions_look_different_on_average():
    faces = generate_faces(20, seed=4)
    means = [render(faces.subset(np.flatnonzero(np.array(faces.extras["emotion"]) == e)).drawings, size=28).mean(0)
             for e in range(len(EMOTIONS))]
    for i in range(len(means)):
        for j in range(i + 1, len(means)):
            assert np.abs(means[i] - means[j]).sum() > 5.0


def test_unknown_emotion_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="happiness"):
        sample_face("joy", "female", np.random.default_rng(0))


def test_load_faces_splits_every_class_80_10_10():
    splits = load_faces(n_per_class=10)
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (112, 14, 14)
    assert np.bincount(splits.test.labels).tolist() == [1] * 14


def test_faces_is_a_data_spec():
    assert load("faces", n_per_class=5).class_names == list(CLASS_NAMES)
