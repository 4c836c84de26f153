"""The raster classifier used to measure generated drawings."""

import numpy as np
import pytest

from sketchlib.datasets.faces import EMOTIONS, generate_faces
from sketchlib.evaluation import RasterClassifier


@pytest.fixture(scope="module")
def trained():
    train = generate_faces(40, seed=0)
    emotion = np.array(train.extras["emotion"])
    return RasterClassifier(EMOTIONS).fit(train.drawings, emotion)


def test_reads_held_out_expressions_far_above_chance(trained):
    test = generate_faces(15, seed=1)
    acc = trained.accuracy(test.drawings, np.array(test.extras["emotion"]))
    assert acc > 0.6  # chance is 1/7


def test_recognisability_counts_hits_of_the_asked_class(trained):
    test = generate_faces(5, seed=2)
    truth = np.array(test.extras["emotion"])
    right = trained.recognisability(test.drawings, truth)
    wrong = trained.recognisability(test.drawings, (truth + 3) % len(EMOTIONS))
    assert right.share > wrong.share and right.mean_probability > wrong.mean_probability
    lo, hi = right.ci95()
    assert 0 <= lo <= right.share <= hi <= 1
    assert set(right.per_class) == set(EMOTIONS) and right.n == len(truth)


def test_recognisability_among_a_subset_of_classes(trained):
    """A model that knows only some classes is judged among those: never worse, and exactly the renormalised odds."""
    test = generate_faces(5, seed=2)
    truth = np.array(test.extras["emotion"])
    keep = truth < 3
    drawings, asked = [d for d, k in zip(test.drawings, keep) if k], truth[keep]
    full = trained.recognisability(drawings, asked)
    sub = trained.recognisability(drawings, asked, among=[0, 1, 2])
    assert sub.share >= full.share and sub.mean_probability >= full.mean_probability
    proba = trained.predict_proba(drawings)[:, :3]
    proba /= proba.sum(axis=1, keepdims=True)
    assert sub.share == pytest.approx(np.mean(proba.argmax(1) == asked))
    assert sub.mean_probability == pytest.approx(proba[np.arange(len(asked)), asked].mean())
    with pytest.raises(ValueError, match=r"asked classes \[2\] are not among"):
        trained.recognisability(drawings, asked, among=[0, 1])


def test_errors_name_the_problem(trained):
    with pytest.raises(RuntimeError, match="fit"):
        RasterClassifier(["a"]).predict([np.zeros((2, 3))])
    with pytest.raises(ValueError, match="labels must lie in 0..1"):
        RasterClassifier(["a", "b"]).fit([np.array([[1.0, 1.0, 1.0]])] * 2, [0, 5])
    with pytest.raises(ValueError, match="asked"):
        trained.recognisability([np.array([[1.0, 1.0, 1.0]])], [0, 1])
