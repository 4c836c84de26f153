"""Specifications of the FaceX-like face set."""

from __future__ import annotations

import numpy as np
import pytest

from sketchlib.datasets import load
from sketchlib.datasets.faces import (
    CLASS_NAMES,
    EMOTIONS,
    GENDERS,
    MAX_POINTS,
    generate_faces,
    load_faces,
    sample_face,
)
from sketchlib.raster import render


def _same(a, b) -> bool:
    return len(a.drawings) == len(b.drawings) and all(np.array_equal(x, y) for x, y in zip(a.drawings, b.drawings))


def test_the_same_seed_gives_the_same_faces():
    assert _same(generate_faces(3, seed=5), generate_faces(3, seed=5))


def test_another_seed_gives_other_faces():
    a, b = generate_faces(2, seed=0), generate_faces(2, seed=1)
    assert not any(np.array_equal(x, y) for x, y in zip(a.drawings, b.drawings))


def test_fewer_faces_per_class_are_a_prefix_of_more():
    small, big = generate_faces(2, seed=3), generate_faces(5, seed=3)
    for k in range(len(CLASS_NAMES)):
        assert _same(small.of_class(k), big.of_class(k).subset(range(2)))


def test_a_face_does_not_depend_on_which_other_classes_are_generated():
    alone = generate_faces(3, seed=1, emotions=("fear",), genders=("male",))
    assert _same(alone, generate_faces(3, seed=1).of_class("fear-male"))


def test_fourteen_classes_in_emotion_major_order():
    faces = generate_faces(2)
    assert faces.class_names == list(CLASS_NAMES) == [f"{e}-{g}" for e in EMOTIONS for g in GENDERS]
    assert len(CLASS_NAMES) == 14
    assert np.bincount(faces.labels).tolist() == [2] * 14
    assert faces.source == "faces"


def test_label_is_emotion_times_two_plus_gender():
    faces = generate_faces(2)
    for label, e, g in zip(faces.labels, faces.extras["emotion"], faces.extras["gender"]):
        assert label == e * 2 + g
        assert faces.class_names[label] == f"{EMOTIONS[e]}-{GENDERS[g]}"


def test_a_subset_of_classes_keeps_the_global_emotion_and_gender_indices():
    faces = generate_faces(2, emotions=("sadness", "anger"), genders=("male",))
    assert faces.class_names == ["sadness-male", "anger-male"]
    assert faces.labels.tolist() == [0, 0, 1, 1]
    assert faces.extras == {"emotion": [4, 4, 0, 0], "gender": [1, 1, 1, 1]}


def test_any_number_of_faces_per_class():
    assert len(generate_faces(0)) == 0
    assert len(generate_faces(1)) == 14


def test_every_face_is_valid_stroke3_in_quickdraw_scale():
    for d in generate_faces(8, seed=2).drawings:
        assert d.dtype == np.float32 and d.ndim == 2 and d.shape[1] == 3
        assert np.isfinite(d).all()
        assert set(np.unique(d[:, 2]).tolist()) <= {0.0, 1.0}
        assert d[-1, 2] == 1.0
        absolute = np.cumsum(d[:, :2].astype(np.float64), axis=0)
        assert absolute.min() >= -0.01 and absolute.max() <= 255.01
        assert np.isclose(np.ptp(absolute, axis=0).max(), 255.0, atol=0.01)
        assert 10 <= len(d) <= MAX_POINTS


def test_faces_have_several_strokes_and_moderate_length():
    faces = generate_faces(8, seed=6)
    lengths = np.array([len(d) for d in faces.drawings])
    n_strokes = np.array([int(d[:, 2].sum()) for d in faces.drawings])
    assert 40 <= np.median(lengths) <= 120
    assert n_strokes.min() >= 5 and len(np.unique(n_strokes)) > 3


def test_sample_face_draws_one_face_from_the_generator_given():
    a = sample_face("surprise", "female", np.random.default_rng(7))
    b = sample_face("surprise", "female", np.random.default_rng(7))
    assert np.array_equal(a, b) and a.shape[1] == 3


def test_unknown_emotion_or_gender_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="happiness"):
        sample_face("joy", "female", np.random.default_rng(0))
    with pytest.raises(ValueError, match="female"):
        generate_faces(1, genders=("other",))


def test_emotions_differ_on_average():
    faces = generate_faces(30, seed=4)
    emotion = np.array(faces.extras["emotion"])
    rasters = render(faces.drawings, size=28).astype(np.float64)
    means = [rasters[emotion == e].mean(axis=0) for e in range(len(EMOTIONS))]
    for i in range(len(means)):
        for j in range(i + 1, len(means)):
            assert np.abs(means[i] - means[j]).sum() > 5.0, (EMOTIONS[i], EMOTIONS[j])


def test_faces_of_one_class_vary():
    faces = generate_faces(10, seed=0).of_class("neutral-female")
    rasters = render(faces.drawings, size=28).reshape(10, -1)
    assert len({r.tobytes() for r in rasters}) == 10


def test_load_faces_splits_every_class_80_10_10():
    splits = load_faces(n_per_class=10)
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (112, 14, 14)
    assert np.bincount(splits.test.labels, minlength=14).tolist() == [1] * 14
    assert splits.class_names == list(CLASS_NAMES)
    assert len(splits.train.extras["emotion"]) == 112


def test_faces_is_a_data_spec():
    assert load("faces", n_per_class=5).class_names == list(CLASS_NAMES)
