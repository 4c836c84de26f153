"""The stroke classifier: it reads pen movements, so it tells apart drawings a raster classifier cannot."""

import numpy as np
import pytest

from sketchlib import strokes as S
from sketchlib.evaluation import RasterClassifier, StrokeClassifier, confusion_matrix


def lines(n, rng, reverse: bool):
    """Wobbly horizontal lines drawn left to right, or the same lines drawn right to left."""
    out = []
    for _ in range(n):
        x = np.linspace(0, 100, 8)
        y = 50 + rng.normal(0, 3, size=8)
        points = np.column_stack([x, y])
        out.append(S.polylines_to_stroke3([points[::-1] if reverse else points]))
    return out


@pytest.fixture(scope="module")
def direction_data():
    rng = np.random.default_rng(0)
    left, right = lines(40, rng, False), lines(40, rng, True)
    return left + right, np.array([0] * 40 + [1] * 40)


@pytest.fixture(scope="module")
def trained(direction_data):
    drawings, labels = direction_data
    return StrokeClassifier(["left to right", "right to left"], hidden=16, steps=60, batch_size=32).fit(
        drawings, labels
    )


def test_tells_the_direction_of_a_stroke_that_a_raster_cannot_see(trained, direction_data):
    rng = np.random.default_rng(1)
    test = lines(20, rng, False) + lines(20, rng, True)
    truth = np.array([0] * 20 + [1] * 20)
    assert trained.accuracy(test, truth) > 0.95
    drawings, labels = direction_data
    raster = RasterClassifier(["left to right", "right to left"]).fit(drawings, labels)
    assert raster.accuracy(test, truth) < 0.75  # the same pictures: near chance


def test_reads_drawings_in_any_units_and_on_any_canvas(trained):
    drawing = lines(1, np.random.default_rng(2), True)[0]
    moved = drawing.copy()
    moved[0, :2] += (300, -40)  # the whole drawing elsewhere on the canvas
    scaled = drawing * np.array([7.0, 7.0, 1.0], np.float32)
    p = trained.predict_proba([drawing, moved, scaled])
    np.testing.assert_allclose(p[1], p[0], atol=1e-5)
    np.testing.assert_allclose(p[2], p[0], atol=1e-5)


def test_same_seed_same_classifier(direction_data):
    drawings, labels = direction_data
    a = StrokeClassifier(["a", "b"], hidden=8, steps=5, seed=3).fit(drawings, labels)
    b = StrokeClassifier(["a", "b"], hidden=8, steps=5, seed=3).fit(drawings, labels)
    assert a.losses == b.losses
    np.testing.assert_array_equal(a.predict_proba(drawings[:5]), b.predict_proba(drawings[:5]))


def test_handles_empty_and_over_long_drawings(trained):
    long = S.polylines_to_stroke3([np.column_stack([np.arange(500.0), np.zeros(500)])])
    p = trained.predict_proba([np.zeros((0, 3), np.float32), long])
    assert p.shape == (2, 2) and np.allclose(p.sum(axis=1), 1)
    assert trained.predict_proba([]).shape == (0, 2)


def test_recognisability_and_errors(trained):
    drawings = lines(4, np.random.default_rng(3), False)
    r = trained.recognisability(drawings, [0, 0, 0, 0])
    assert r.n == 4 and 0 <= r.share <= 1
    with pytest.raises(RuntimeError, match="fit"):
        StrokeClassifier(["a"]).predict(drawings)
    with pytest.raises(ValueError, match=r"labels must lie in 0..1"):
        StrokeClassifier(["a", "b"], steps=1).fit(drawings, [0, 1, 2, 0])
    with pytest.raises(ValueError, match="4 drawings and 3 labels"):
        StrokeClassifier(["a", "b"], steps=1).fit(drawings, [0, 1, 0])


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    m = confusion_matrix([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], 3)
    np.testing.assert_array_equal(m, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])
    with pytest.raises(ValueError, match="2 true and 3 predicted"):
        confusion_matrix([0, 1], [0, 1, 1], 2)
