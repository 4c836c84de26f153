"""Tracing rasters back into strokes: every step of the pipeline, bad input, and the round trip."""

import numpy as np
import pytest

from sketchlib import strokes as S
from sketchlib import vectorize as V
from sketchlib.errors import SketchDataError
from sketchlib.raster import render, render_one


def line_image(size=32, thickness=3):
    """A horizontal bar ``thickness`` pixels thick across the middle of a blank image."""
    im = np.zeros((size, size), np.uint8)
    im[size // 2 - thickness // 2 : size // 2 - thickness // 2 + thickness, 4 : size - 4] = 1
    return im


def are_neighbours(a, b):
    return np.abs(np.asarray(a) - np.asarray(b)).max() == 1


SHAPES = {
    "line": [[(0, 0), (100, 30)]],
    "corner": [[(0, 0), (0, 100), (80, 100)]],
    "square": [[(0, 0), (100, 0), (100, 100), (0, 100), (0, 0)]],
    "circle": [np.c_[np.cos(t), np.sin(t)] * 50 for t in [np.linspace(0, 2 * np.pi, 40)]],
    "plus": [[(0, 50), (100, 50)], [(50, 0), (50, 100)]],
    "two lines": [[(0, 0), (100, 0)], [(0, 60), (100, 90)]],
    "zigzag": [[(0, 0), (25, 100), (50, 0), (75, 100), (100, 0)]],
}


def drawing(name):
    return S.polylines_to_stroke3(SHAPES[name])


# --------------------------------------------------------------------------- 1. binarize


def test_binarize_takes_a_binary_image_as_it_is():
    im = line_image()
    np.testing.assert_array_equal(V.binarize(im), im.astype(bool))
    np.testing.assert_array_equal(V.binarize(im.astype(bool)), im.astype(bool))
    np.testing.assert_array_equal(V.binarize(im, ink="dark"), ~im.astype(bool))


def test_binarize_refuses_grey_values_without_a_threshold_and_names_one():
    grey = line_image().astype(np.float64) * 255
    with pytest.raises(SketchDataError, match=r"not binary: pixel \(row 15, column 4\) is 255 .*threshold="):
        V.binarize(grey)
    with pytest.raises(SketchDataError, match=r"is 0\.5 .*ink='dark'"):
        V.binarize(np.full((4, 4), 0.5))


def test_binarize_thresholds_grey_images_light_or_dark_ink():
    grey = line_image() * 200.0 + 20.0
    np.testing.assert_array_equal(V.binarize(grey, threshold=100), line_image().astype(bool))
    np.testing.assert_array_equal(V.binarize(255 - grey, threshold=100, ink="dark"), line_image().astype(bool))
    np.testing.assert_array_equal(V.binarize(grey, threshold="otsu"), line_image().astype(bool))
    assert not V.binarize(np.full((5, 5), 7.0), threshold="otsu").any()  # a flat image has no ink


def test_binarize_refuses_what_is_not_one_grey_image():
    with pytest.raises(SketchDataError, match=r"shape \(8, 8, 3\).*colour image"):
        V.binarize(np.zeros((8, 8, 3)))
    bad = np.zeros((4, 4))
    bad[1, 2] = np.nan
    with pytest.raises(SketchDataError, match=r"pixel \(row 1, column 2\) is nan"):
        V.binarize(bad)
    with pytest.raises(SketchDataError, match="ink must be"):
        V.binarize(bad, ink="black")


# --------------------------------------------------------------------------- 2-3. thinning, skeleton pixels


def test_thinning_leaves_one_pixel_wide_lines():
    skeleton = V.thin(V.binarize(line_image(thickness=5)))
    columns = skeleton.sum(axis=0)
    assert set(columns[columns > 0].tolist()) == {1}
    assert skeleton.sum() >= 20  # the bar's length survives


def test_thinning_keeps_pieces_connected():
    from scipy.ndimage import label

    image = render_one(drawing("two lines"), size=64)
    skeleton = V.thin(image.astype(bool))
    eight = np.ones((3, 3))
    assert label(skeleton, eight)[1] == label(image, eight)[1] == 2


def test_thinning_refuses_an_image_that_is_ink_everywhere():
    with pytest.raises(SketchDataError, match=r"every pixel of the 6x7 image is ink.*ink='dark'"):
        V.thin(np.ones((6, 7), bool))


def test_skeleton_points_are_x_y_in_raster_order():
    skeleton = np.zeros((5, 6), bool)
    skeleton[3, 1] = skeleton[1, 4] = skeleton[1, 2] = True
    np.testing.assert_array_equal(V.skeleton_points(skeleton), [[2, 1], [4, 1], [1, 3]])


# --------------------------------------------------------------------------- 4. DBSCAN


def test_clusters_are_the_8_connected_pieces():
    points = np.array([[0, 0], [1, 1], [2, 2], [5, 0], [6, 0], [9, 9]])
    np.testing.assert_array_equal(V.cluster_points(points), [0, 0, 0, 1, 1, 2])


def test_clusters_are_numbered_by_first_point():
    points = np.array([[9, 9], [0, 0], [1, 0]])
    np.testing.assert_array_equal(V.cluster_points(points), [0, 1, 1])
    assert V.cluster_points(np.zeros((0, 2))).shape == (0,)


def test_a_wider_eps_bridges_gaps():
    points = np.array([[0, 0], [1, 0], [3, 0], [4, 0]])
    assert len(set(V.cluster_points(points).tolist())) == 2
    assert len(set(V.cluster_points(points, eps=2.5).tolist())) == 1


# --------------------------------------------------------------------------- 5. ordering


def skeleton_of(name, size=64):
    return V.skeleton_points(V.thin(render_one(drawing(name), size=size).astype(bool)))


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_paths_visit_every_skeleton_pixel_exactly_once(name):
    points = skeleton_of(name)
    paths = V.order_paths(points)
    visited = np.concatenate(paths)
    assert len(visited) == len(points)
    assert {tuple(p) for p in visited} == {tuple(p) for p in points}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_paths_step_between_neighbouring_pixels(name):
    for path in V.order_paths(skeleton_of(name), join=True):
        steps = np.abs(np.diff(path, axis=0)).max(axis=1) if len(path) > 1 else np.ones(1)
        assert (steps == 1).all()


def test_a_line_is_one_path_from_end_to_end():
    points = skeleton_of("line")
    (path,) = V.order_paths(points)
    ends = {tuple(path[0]), tuple(path[-1])}
    assert tuple(points[np.argmin(points[:, 0])]) in ends and tuple(points[np.argmax(points[:, 0])]) in ends


def test_a_plus_is_two_strokes_that_go_straight_through_the_crossing():
    paths = V.order_paths(skeleton_of("plus"), join=True)
    assert len(paths) == 2
    for path in paths:
        spread = path.max(axis=0) - path.min(axis=0)
        assert spread.max() > 40 and spread.min() <= 2  # a straight horizontal or vertical line


def test_a_loop_closes_when_joined():
    (path,) = V.order_paths(skeleton_of("circle"), join=True)
    assert tuple(path[0]) == tuple(path[-1])


def test_joined_paths_repeat_only_pixels_already_visited():
    points = skeleton_of("zigzag")
    plain, joined = V.order_paths(points), V.order_paths(points, join=True)
    assert len(plain) == len(joined)
    seen = set()
    for path in joined:
        new = [tuple(p) for p in path if tuple(p) not in seen]
        seen.update(new)
    assert seen == {tuple(p) for p in points}


def test_ordering_does_not_depend_on_the_order_of_the_points():
    points = skeleton_of("plus")
    shuffled = points[np.random.default_rng(0).permutation(len(points))]
    for a, b in zip(V.order_paths(points, join=True), V.order_paths(shuffled, join=True), strict=True):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- 6-7. RDP, stroke-3


def test_rdp_keeps_the_ends_of_a_straight_path():
    path = np.column_stack([np.arange(20), np.zeros(20)])
    (simple,) = V.simplify_paths([path], epsilon=2.0)
    np.testing.assert_array_equal(simple, [[0, 0], [19, 0]])


def test_paths_become_one_stroke_each():
    paths = [np.array([[0, 0], [5, 0]]), np.array([[1, 1]])]
    strokes3 = V.paths_to_stroke3(paths)
    assert strokes3.shape == (3, 3) and strokes3[:, 2].tolist() == [0, 1, 1]
    for a, b in zip(S.stroke3_to_polylines(strokes3), paths, strict=True):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- the whole pipeline, bad input


def test_vectorize_traces_a_bar_as_one_straight_stroke():
    strokes3 = V.vectorize(line_image(thickness=3))
    (line,) = S.stroke3_to_polylines(strokes3)
    assert len(line) == 2 and line[0][1] == line[1][1] == 16
    assert abs(line[1][0] - line[0][0]) >= 20


def test_an_image_without_pixels_or_ink_gives_an_empty_drawing():
    assert V.vectorize(np.zeros((0, 0))).shape == (0, 3)
    assert V.vectorize(np.zeros((0, 5))).shape == (0, 3)
    assert V.vectorize(np.zeros((16, 16))).shape == (0, 3)
    assert V.vectorize(np.full((16, 16), 255.0), threshold=128, ink="dark").shape == (0, 3)


def test_an_all_black_image_is_refused_with_what_to_do():
    with pytest.raises(SketchDataError, match=r"every pixel .* is ink.*pass ink='dark'"):
        V.vectorize(np.ones((16, 16)))
    with pytest.raises(SketchDataError, match=r"every pixel .* is ink.*ink='light'"):
        V.vectorize(np.zeros((16, 16)), ink="dark")  # black paper, read as dark ink


def test_a_single_dot_is_a_one_point_drawing():
    image = np.zeros((16, 16))
    image[3, 9] = 1
    np.testing.assert_array_equal(V.vectorize(image), [[9, 3, 1]])


def test_a_grey_image_is_refused_until_given_a_threshold():
    grey = line_image() * 255
    with pytest.raises(SketchDataError, match=r"is 255 .*threshold="):
        V.vectorize(grey)
    with pytest.raises(SketchDataError, match=r"not binary"):
        V.vectorize(line_image() * 0.7)
    np.testing.assert_array_equal(V.vectorize(grey, threshold=128), V.vectorize(line_image()))


def test_vectorize_is_deterministic():
    image = render_one(S.polylines_to_stroke3(SHAPES["zigzag"] + SHAPES["plus"]), size=128)
    np.testing.assert_array_equal(V.vectorize(image), V.vectorize(image.copy()))


def test_short_spurs_are_dropped_but_a_small_piece_stays():
    image = np.zeros((20, 20), np.uint8)
    image[5, 2:15] = 1
    image[3:5, 8] = 1  # a two-pixel spur off the line (Guo-Hall itself removes one-pixel spurs)
    image[15, 15:17] = 1  # a two-pixel piece of its own
    lines = S.stroke3_to_polylines(V.vectorize(image))
    assert len(lines) == 2
    assert V.vectorize(image, min_pixels=1)[:, 2].sum() == 3


def test_retrace_returns_drawings_in_pixels_of_the_raster():
    (traced,) = V.retrace([drawing("square")], size=64)
    x0, x1, y0, y1 = S.bounding_box(traced)
    assert 0 <= x0 < x1 < 64 and 0 <= y0 < y1 < 64 and x1 - x0 > 50
    assert V.retrace([], size=64) == []


# --------------------------------------------------------------------------- the round trip


def test_iou_of_images():
    a = np.zeros((4, 4), bool)
    b = a.copy()
    a[0, :2] = True
    b[0, 1:3] = True
    assert V.iou(a, b) == pytest.approx(1 / 3)
    assert V.iou(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0
    with pytest.raises(SketchDataError, match="shapes"):
        V.iou(np.zeros((2, 2)), np.zeros((3, 3)))


def test_round_trip_keeps_most_of_the_picture():
    drawings = [drawing(name) for name in sorted(SHAPES)]
    ious = V.round_trip_iou(drawings, size=128)
    assert ious.shape == (len(SHAPES),)
    assert ious.mean() > 0.75 and ious.min() > 0.5


def test_round_trip_of_a_traced_drawing_is_close_to_exact():
    (traced,) = V.retrace([drawing("plus")], size=128)
    assert V.round_trip_iou([traced], size=128)[0] > 0.9
    assert V.round_trip_iou([]).shape == (0,)
    np.testing.assert_array_equal(render([traced], size=128).shape, (1, 128, 128))
