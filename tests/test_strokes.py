"""Specifications of the stroke formats and transforms (unit and hypothesis property tests)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sketchlib import SketchDataError
from sketchlib import strokes as S

coords = st.floats(-300, 300, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def polylines(draw, max_strokes=5, max_points=12):
    n = draw(st.integers(1, max_strokes))
    return [draw(arrays(np.float64, (draw(st.integers(1, max_points)), 2), elements=coords)) for _ in range(n)]


@st.composite
def stroke3s(draw):
    lines = draw(polylines())
    return S.polylines_to_stroke3(lines)


@given(polylines())
def test_polylines_round_trip_through_stroke3(lines):
    back = S.stroke3_to_polylines(S.polylines_to_stroke3(lines))
    assert len(back) == len(lines)
    for a, b in zip(lines, back):
        np.testing.assert_allclose(a, b, atol=1e-2)


@given(stroke3s())
def test_stroke3_round_trips_through_stroke5(s3):
    np.testing.assert_array_equal(S.stroke5_to_stroke3(S.stroke3_to_stroke5(s3)), s3)


@given(stroke3s(), st.integers(0, 5))
def test_stroke5_is_padded_with_end_rows(s3, extra):
    s5 = S.stroke3_to_stroke5(s3, len(s3) + extra)
    assert s5.shape == (len(s3) + extra, 5)
    assert np.all(s5[len(s3):] == [0, 0, 0, 0, 1])
    assert np.all(s5[: len(s3), 2:5].sum(1) == 1)


def test_stroke5_longer_than_max_len_is_refused():
    with pytest.raises(SketchDataError, match="max_len"):
        S.stroke3_to_stroke5(np.zeros((5, 3), np.float32), 3)


def test_soft_pen_states_are_read_by_argmax():
    s5 = np.array([[1, 2, 0.7, 0.2, 0.1], [3, 4, 0.1, 0.8, 0.1], [0, 0, 0.1, 0.1, 0.8], [5, 5, 1, 0, 0]], np.float32)
    np.testing.assert_array_equal(S.stroke5_to_stroke3(s5), [[1, 2, 0], [3, 4, 1]])


def test_pad_batch_starts_with_the_start_token_and_counts_points():
    batch, lengths = S.pad_batch([np.ones((3, 3), np.float32), np.ones((1, 3), np.float32)], max_len=4)
    assert batch.shape == (2, 5, 5) and lengths.tolist() == [3, 1]
    assert np.all(batch[:, 0] == S.START_TOKEN)
    assert np.all(batch[1, 2:] == [0, 0, 0, 0, 1])


@given(stroke3s())
def test_centring_puts_the_bounding_box_around_the_origin(s3):
    x0, x1, y0, y1 = S.bounding_box(S.center(s3))
    assert abs(x0 + x1) < 1e-2 and abs(y0 + y1) < 1e-2


@given(stroke3s(), st.floats(0.1, 100))
def test_normalisation_inverts(s3, scale):
    np.testing.assert_allclose(S.denormalize(S.normalize(s3, scale), scale), s3, rtol=1e-5, atol=1e-3)


def test_normalizing_scale_is_the_std_of_all_offsets():
    a = np.array([[1, 2, 0], [3, -4, 1]], np.float32)
    b = np.array([[0, 6, 1]], np.float32)
    assert S.normalizing_scale([a, b]) == pytest.approx(np.std([1, 2, 3, -4, 0, 6]))


def test_normalizing_scale_of_nothing_is_an_error():
    with pytest.raises(SketchDataError):
        S.normalizing_scale([])


def test_offsets_are_clamped_symmetrically():
    s = S.clamp_offsets(np.array([[2000, -3000, 0], [5, -5, 1]], np.float32), 1000)
    np.testing.assert_array_equal(s, [[1000, -1000, 0], [5, -5, 1]])


@given(arrays(np.float64, st.tuples(st.integers(1, 60), st.just(2)), elements=coords), st.floats(0.0, 20.0))
def test_rdp_keeps_end_points_and_never_adds_points(points, eps):
    out = S.rdp(points, eps)
    assert 1 <= len(out) <= len(points)
    np.testing.assert_array_equal(out[0], points[0])
    np.testing.assert_array_equal(out[-1], points[-1])
    # the kept points are a subsequence of the input
    idx = [int(np.flatnonzero(np.all(points == p, axis=1))[0]) for p in out]
    assert idx == sorted(idx) or len(set(map(tuple, points))) < len(points)


@given(arrays(np.float64, st.tuples(st.integers(3, 40), st.just(2)), elements=coords), st.floats(0.5, 20.0))
def test_rdp_removed_points_lie_near_the_line_of_the_segment_replacing_them(points, eps):
    kept = S.rdp_indices(points, eps)
    np.testing.assert_array_equal(S.rdp(points, eps), points[kept])
    for i, j in zip(kept[:-1], kept[1:]):
        a, b = points[i], points[j]
        ab = b - a
        for p in points[i + 1 : j]:
            if ab.any():
                d = abs(ab[0] * (p[1] - a[1]) - ab[1] * (p[0] - a[0])) / np.hypot(*ab)
            else:
                d = np.hypot(*(p - a))
            assert d <= eps + 1e-6


def test_rdp_straightens_a_straight_line():
    line = np.column_stack([np.arange(10.0), np.zeros(10)])
    np.testing.assert_array_equal(S.rdp(line, 0.5), [[0, 0], [9, 0]])


@given(stroke3s())
def test_simplify_keeps_the_stroke_count(s3):
    assert int(S.simplify(s3, 2.0)[:, 2].sum()) == int(s3[:, 2].sum())


@settings(max_examples=50)
@given(stroke3s(), st.integers(0, 2**31 - 1))
def test_random_scale_stays_within_the_factor(s3, seed):
    out = S.random_scale(s3, 0.15, np.random.default_rng(seed))
    nz = np.abs(s3[:, :2]) > 1e-3
    ratio = np.abs(out[:, :2][nz] / s3[:, :2][nz])
    assert np.all((ratio >= 0.85 - 1e-4) & (ratio <= 1.15 + 1e-4))
    np.testing.assert_array_equal(out[:, 2], s3[:, 2])


@settings(max_examples=50)
@given(stroke3s(), st.integers(0, 2**31 - 1))
def test_dropping_points_keeps_every_stroke_end_in_place(s3, seed):
    out = S.drop_points(s3, 0.5, np.random.default_rng(seed))
    assert len(out) <= len(s3)
    ends_before = [line[-1] for line in S.stroke3_to_polylines(s3)]
    ends_after = [line[-1] for line in S.stroke3_to_polylines(out)]
    np.testing.assert_allclose(ends_after, ends_before, atol=1e-2)
    starts_before = [line[0] for line in S.stroke3_to_polylines(s3)]
    starts_after = [line[0] for line in S.stroke3_to_polylines(out)]
    np.testing.assert_allclose(starts_after, starts_before, atol=1e-2)


def test_dropping_with_probability_zero_changes_nothing():
    s3 = S.polylines_to_stroke3([np.column_stack([np.arange(20.0), np.arange(20.0) ** 1.5])])
    np.testing.assert_array_equal(S.drop_points(s3, 0.0), s3)


def test_validate_names_the_problem_and_where():
    with pytest.raises(SketchDataError, match="face.npz drawing 3: row 1 holds NaN"):
        S.validate_stroke3(np.array([[0, 0, 0], [np.nan, 1, 1]]), source="face.npz", where="drawing 3")
    with pytest.raises(SketchDataError, match="empty"):
        S.validate_stroke3(np.zeros((0, 3)))
    with pytest.raises(SketchDataError, match="shape"):
        S.validate_stroke3(np.zeros((4, 2)))
    with pytest.raises(SketchDataError, match="pen value"):
        S.validate_stroke3(np.array([[0, 0, 2]]))
