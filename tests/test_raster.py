"""sketchlib.raster: batched binary rendering of stroke-3 drawings."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from skimage.measure import label

from sketchlib import raster
from sketchlib.errors import SketchDataError
from sketchlib.raster import default_line_width, default_padding, fit_transform, raster_to_image, render, render_one
from sketchlib.strokes import polylines_to_stroke3, stroke3_to_polylines

SIZES = [28, 48, 128]


def square(side: float = 10.0) -> np.ndarray:
    return polylines_to_stroke3([[(0, 0), (side, 0), (side, side), (0, side), (0, 0)]])


def random_walks(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    drawings = []
    for _ in range(count):
        n = int(rng.integers(1, 40))
        pen = (rng.random(n) < 0.2).astype(np.float32)
        drawings.append(np.column_stack([rng.integers(-15, 16, size=(n, 2)), pen]).astype(np.float32))
    return drawings


def ink_bbox(image: np.ndarray) -> tuple[int, int, int, int]:
    """``(row0, row1, col0, col1)`` of the ink, inclusive."""
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    return rows[0], rows[-1], cols[0], cols[-1]


def distance_to_drawing(strokes3: np.ndarray, size: int, line_width: float, padding: float | None = None) -> np.ndarray:
    """Brute force: each pixel centre's distance to the nearest drawn segment or lone point, ``(size, size)``."""
    scale, shift = fit_transform([strokes3], size, padding=padding, line_width=line_width)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    q = np.stack([xx.ravel(), yy.ravel()], axis=1)
    best = np.full(len(q), np.inf)
    for line in stroke3_to_polylines(strokes3):
        p = line * scale[0] + shift[0]
        a, b = (p[:-1], p[1:]) if len(p) > 1 else (p, p)
        d = b - a
        length2 = (d * d).sum(axis=1)
        t = ((q[:, None, :] - a[None]) * d[None]).sum(axis=2) / np.where(length2 > 0, length2, 1.0)
        t = np.clip(t, 0.0, 1.0)
        nearest = a[None] + t[..., None] * d[None]
        best = np.minimum(best, np.sqrt(((q[:, None, :] - nearest) ** 2).sum(axis=2)).min(axis=1))
    return best.reshape(size, size)


# --------------------------------------------------------------------------- shape and defaults


@pytest.mark.parametrize("size", SIZES)
def test_output_is_a_binary_uint8_batch(size):
    images = render([square(), square(3.0)], size=size)
    assert images.shape == (2, size, size)
    assert images.dtype == np.uint8
    assert set(np.unique(images)) == {0, 1}


def test_one_array_is_one_drawing():
    assert render(square(), size=28).shape == (1, 28, 28)


def test_padded_3d_array_is_a_batch():
    batch = np.stack([square(), square(5.0)])
    np.testing.assert_array_equal(render(batch, size=48), render(list(batch), size=48))


def test_object_array_from_npz_works():
    drawings = np.empty(2, dtype=object)
    drawings[0], drawings[1] = square().astype(np.int16), square(4.0).astype(np.int16)
    np.testing.assert_array_equal(render(drawings, size=48), render([square(), square(4.0)], size=48))


def test_defaults_scale_with_size():
    assert default_line_width(128) == 2.0
    assert default_line_width(48) == 1.0 and default_line_width(28) == 1.0
    assert default_padding(128) == 4.0


# --------------------------------------------------------------------------- empty and degenerate


def test_empty_drawing_gives_a_blank_image():
    images = render([np.zeros((0, 3)), square(), []], size=48)
    assert images[0].sum() == 0 and images[2].sum() == 0
    assert images[1].sum() > 0


def test_empty_batch_gives_no_images():
    assert render([], size=28).shape == (0, 28, 28)


@pytest.mark.parametrize("size", SIZES)
def test_single_point_draws_a_centred_dot(size):
    image = render_one(np.array([[5.0, 7.0, 1.0]]), size=size)
    r0, r1, c0, c1 = ink_bbox(image)
    assert 0 < image.sum() <= 16
    assert abs((r0 + r1 + 1) / 2 - size / 2) <= 1 and abs((c0 + c1 + 1) / 2 - size / 2) <= 1


def test_zero_length_stroke_draws_a_dot():
    drawing = np.array([[0, 0, 0], [0, 0, 1], [50, 0, 0], [10, 0, 1]], dtype=np.float32)
    components = label(render_one(drawing, size=128), connectivity=2).max()
    assert components == 2


# --------------------------------------------------------------------------- geometry


def test_pen_up_move_leaves_no_ink():
    # two horizontal strokes, the pen lifted between them
    drawing = polylines_to_stroke3([[(0, 0), (30, 0)], [(70, 0), (100, 0)]])
    image = render_one(drawing, size=128)
    assert label(image, connectivity=2).max() == 2
    scale, shift = fit_transform([drawing], 128)
    gap = slice(int(np.ceil(scale[0] * 32 + shift[0, 0])), int(scale[0] * 68 + shift[0, 0]))
    assert image[:, gap].sum() == 0


@pytest.mark.parametrize("size", SIZES)
def test_aspect_is_kept_and_the_drawing_centred(size):
    wide = polylines_to_stroke3([[(0, 0), (200, 0), (200, 100), (0, 100), (0, 0)]])
    image = render_one(wide, size=size)
    r0, r1, c0, c1 = ink_bbox(image)
    width, height = c1 - c0 + 1, r1 - r0 + 1
    lw = default_line_width(size)
    # the centre lines are 2:1; the ink adds the line width to both sides
    assert abs((width - lw) / (height - lw) - 2.0) < 0.15
    assert abs((c0 + c1 + 1) / 2 - size / 2) <= 1
    assert abs((r0 + r1 + 1) / 2 - size / 2) <= 1


@pytest.mark.parametrize("size", SIZES)
def test_longest_side_fills_the_image_up_to_the_padding(size):
    image = render_one(square(), size=size)
    r0, r1, c0, c1 = ink_bbox(image)
    expected = size - 2 * default_padding(size)
    assert abs((c1 - c0 + 1) - expected) <= 1.5
    assert abs((r1 - r0 + 1) - expected) <= 1.5


def test_padding_keeps_the_border_blank():
    images = render(random_walks(np.random.default_rng(1), 20), size=128, padding=6)
    border = np.ones((128, 128), dtype=bool)
    border[6:-6, 6:-6] = False
    assert images[:, border].sum() == 0


def test_units_do_not_matter():
    drawing = random_walks(np.random.default_rng(2), 1)[0]
    scaled = drawing.copy()
    scaled[:, :2] *= 0.25  # a power of two: the fitted coordinates are bit-identical
    np.testing.assert_array_equal(render_one(drawing), render_one(scaled))


def test_fit_transform_centres_the_bounding_box():
    drawing = polylines_to_stroke3([[(10, 20), (50, 30)], [(20, 60)]])
    scale, shift = fit_transform([drawing], size=128)
    points = np.concatenate(stroke3_to_polylines(drawing)) * scale[0] + shift[0]
    low, high = points.min(axis=0), points.max(axis=0)
    np.testing.assert_allclose((low + high) / 2, [64, 64])
    assert np.isclose((high - low).max(), 128 - 2 * default_padding(128) - default_line_width(128))


# --------------------------------------------------------------------------- batches


def test_rendering_is_deterministic():
    drawings = random_walks(np.random.default_rng(3), 30)
    np.testing.assert_array_equal(render(drawings), render(drawings))


@pytest.mark.parametrize("size", SIZES)
def test_batch_render_equals_one_at_a_time(size, monkeypatch):
    monkeypatch.setattr(raster, "_DRAWINGS", 7)  # several chunks of 7 drawings
    monkeypatch.setattr(raster, "_CHUNK", 3 * size)  # several blocks of columns in each
    drawings = random_walks(np.random.default_rng(4), 25)
    drawings[5] = np.zeros((0, 3))
    batch = render(drawings, size=size)
    for drawing, image in zip(drawings, batch):
        np.testing.assert_array_equal(image, render_one(drawing, size=size))


@pytest.mark.parametrize("size", [28, 128])
def test_threads_draw_the_same_images(size, monkeypatch):
    drawings = random_walks(np.random.default_rng(5), 150)
    monkeypatch.setenv("SKETCHLIB_RENDER_THREADS", "1")
    alone = render(drawings, size=size)
    monkeypatch.setattr(raster, "_DRAWINGS", 16)  # several chunks per thread
    monkeypatch.setenv("SKETCHLIB_RENDER_THREADS", "3")
    np.testing.assert_array_equal(render(drawings, size=size), alone)


def test_thread_count_follows_the_environment(monkeypatch):
    monkeypatch.setenv("SKETCHLIB_RENDER_THREADS", "3")
    assert raster._threads() == 3
    monkeypatch.setenv("SKETCHLIB_RENDER_THREADS", "0")
    assert raster._threads() == 1
    monkeypatch.delenv("SKETCHLIB_RENDER_THREADS")
    assert 1 <= raster._threads() <= 4


# --------------------------------------------------------------------------- exactness


@st.composite
def drawings(draw):
    strokes = draw(st.lists(st.lists(st.tuples(st.integers(-30, 30), st.integers(-30, 30)), min_size=1, max_size=6),
                            min_size=1, max_size=4))  # fmt: skip
    rows = []
    for stroke in strokes:
        for i, (dx, dy) in enumerate(stroke):
            rows.append((dx, dy, float(i == len(stroke) - 1)))
    if draw(st.booleans()):
        rows[-1] = (*rows[-1][:2], 0.0)  # cut off mid-stroke
    return np.array(rows, dtype=np.float32)


@settings(max_examples=60, deadline=None)
@given(drawing=drawings(), size=st.sampled_from(SIZES), line_width=st.sampled_from([None, 1.0, 2.0, 3.5]))
def test_ink_is_exactly_the_pixels_near_the_pen_down_strokes(drawing, size, line_width):
    image = render_one(drawing, size=size, line_width=line_width)
    lw = default_line_width(size) if line_width is None else line_width
    distance = distance_to_drawing(drawing, size, lw)
    # ink only near what the pen drew (the pixel under a point may lie sqrt(2) / 2 away)
    assert distance[image == 1].max() <= max(lw / 2, np.sqrt(0.5)) + 1e-3
    # and every pixel centre within the line's half width is ink
    assert image[distance <= lw / 2 - 1e-3].all()


@pytest.mark.parametrize("line_width", [1.0, 3.0])
def test_negative_padding_crops_the_ink_exactly(line_width):
    """Ink that would fall outside the image is cut off; nothing is moved onto the border."""
    for drawing in random_walks(np.random.default_rng(6), 12):
        image = render_one(drawing, size=48, line_width=line_width, padding=-6)
        distance = distance_to_drawing(drawing, 48, line_width, padding=-6)
        assert (distance[image == 1] <= max(line_width / 2, np.sqrt(0.5)) + 1e-3).all()
        assert image[distance <= line_width / 2 - 1e-3].all()


def test_images_over_4096_pixels_wide_stay_exact():
    """Beyond 2**24 pixels per image the per-column work switches from float32 to float64."""
    size, line_width = 4100, 3.0
    image = render_one(square(), size=size, line_width=line_width, padding=50)
    r0, r1, c0, c1 = ink_bbox(image)
    assert (r0, c0) == (50, 50) and (r1, c1) == (size - 51, size - 51)
    assert image[size // 2, 50:53].all() and not image[size // 2, 53:size - 53].any()


# --------------------------------------------------------------------------- errors and display


def test_bad_shape_names_the_drawing():
    with pytest.raises(SketchDataError, match="drawing 1"):
        render([square(), np.zeros((4, 2))])


def test_nan_names_the_drawing_and_row():
    bad = square()
    bad[2, 0] = np.nan
    with pytest.raises(SketchDataError, match="drawing 1: row 2"):
        render([square(), bad])


def test_padding_that_leaves_no_room_is_refused():
    with pytest.raises(ValueError, match="padding"):
        render([square()], size=28, padding=14)


def test_raster_to_image_is_black_ink_on_white():
    image = raster_to_image(render_one(square(), size=48))
    assert isinstance(image, Image.Image) and image.mode == "L" and image.size == (48, 48)
    pixels = np.asarray(image)
    assert pixels[0, 0] == 255 and pixels.min() == 0
