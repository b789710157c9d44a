"""Debug overlays: what is drawn where, in which colour, without touching the input."""

from __future__ import annotations

import numpy as np
import pytest

from export3d.face.crop import CropBox
from export3d.face.overlay import (
    AXIS_COLORS,
    BOX_COLOR,
    LANDMARK_COLOR,
    draw_overlay,
    overlay_contact_sheet,
)

GREY = 90


def grey(h=120, w=160):
    return np.full((h, w, 3), GREY, dtype=np.uint8)


def test_output_is_a_new_image_of_the_same_kind():
    img = grey()
    before = img.copy()
    out = draw_overlay(img, box=CropBox(50, 52, 80), landmarks=[[40, 50]], text="hello",
                       axes=(np.eye(3), (80.0, 60.0), 30.0))
    assert out.shape == img.shape and out.dtype == np.uint8
    assert out is not img and not np.shares_memory(out, img)
    np.testing.assert_array_equal(img, before)
    assert not np.array_equal(out, img)
    np.testing.assert_array_equal(draw_overlay(img), img)  # nothing to draw -> equal copy


def test_box_outline_is_green():
    img = grey()
    out = draw_overlay(img, box=CropBox(50.0, 52.0, 80.0))  # [10, 90] x [12, 92]
    assert tuple(out[12, 50]) == BOX_COLOR  # top edge, middle column
    assert tuple(out[91, 50]) == BOX_COLOR  # bottom edge
    assert tuple(out[52, 10]) == BOX_COLOR  # left edge
    assert tuple(out[52, 89]) == BOX_COLOR  # right edge
    assert tuple(out[52, 50]) == (GREY,) * 3  # interior untouched
    assert tuple(out[5, 50]) == (GREY,) * 3  # outside untouched


def test_landmark_dots():
    img = grey()
    out = draw_overlay(img, landmarks=np.array([[30.5, 40.5], [100.5, 70.5], [np.nan, 1.0]]))
    assert tuple(out[40, 30]) == LANDMARK_COLOR  # pixel whose centre is the landmark
    assert tuple(out[70, 100]) == LANDMARK_COLOR
    assert tuple(out[10, 10]) == (GREY,) * 3
    changed = np.any(out != img, axis=-1).sum()
    assert 2 <= changed <= 2 * 13  # two small dots (radius 1 at this size), NaN skipped
    big = draw_overlay(grey(800, 800), landmarks=[[400.5, 400.5]])
    assert np.any(big != GREY, axis=-1).sum() > changed  # dot grows with the image


def test_identity_axes_point_right_and_down():
    img = grey()
    ox, oy, length = 60.5, 50.5, 30.0
    out = draw_overlay(img, axes=(np.eye(3), (ox, oy), length))
    row, col = 50, 60
    red = tuple(AXIS_COLORS[0])
    green = tuple(AXIS_COLORS[1])
    # x axis: red pixels to the right of the origin, none to the left
    assert tuple(out[row, col + 15]) == red
    assert tuple(out[row, col + 29]) == red
    assert tuple(out[row, col + 35]) == (GREY,) * 3
    assert tuple(out[row, col - 10]) == (GREY,) * 3
    # y axis (image down): green pixels below the origin, none above
    assert tuple(out[row + 15, col]) == green
    assert tuple(out[row + 29, col]) == green
    assert tuple(out[row - 10, col]) == (GREY,) * 3
    # z axis points away from the camera: projected length 0, no blue line anywhere
    blue = np.all(out == AXIS_COLORS[2], axis=-1)
    assert blue.sum() <= 9


def test_rotated_axes_and_foreshortening():
    img = grey()
    # a head turned 90 degrees about the camera y axis: its x axis points away (+z), its z axis
    # points right (+x); a head axis pointing at the camera (-z) projects to nothing.
    rot = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
    out = draw_overlay(img, axes=(rot, (60.5, 50.5), 30.0))
    assert tuple(out[50, 75]) == tuple(AXIS_COLORS[2])  # z drawn to the right in blue
    red = np.all(out == AXIS_COLORS[0], axis=-1)
    assert red.sum() <= 9  # x is foreshortened to a dot (may be covered)


def test_text_label_changes_top_left():
    img = grey()
    out = draw_overlay(img, text="yaw 10\npitch -3")
    assert np.any(out[:30, :60] != GREY)
    np.testing.assert_array_equal(out[80:], img[80:])


def test_rejects_non_rgb_uint8():
    with pytest.raises(ValueError):
        draw_overlay(np.zeros((10, 10), dtype=np.uint8))
    with pytest.raises(ValueError):
        draw_overlay(np.zeros((10, 10, 3), dtype=np.float32))
    with pytest.raises(ValueError):
        draw_overlay(np.zeros((10, 10, 4), dtype=np.uint8))


def test_contact_sheet_letterboxes_tiles():
    wide = np.full((50, 100, 3), 200, dtype=np.uint8)
    tall = np.full((100, 25, 3), 100, dtype=np.uint8)
    square = np.full((10, 10, 3), 50, dtype=np.uint8)
    sheet = overlay_contact_sheet([wide, tall, square], columns=2, tile=40)
    assert sheet.shape == (80, 80, 3) and sheet.dtype == np.uint8
    # wide -> 40 x 20 centred vertically in tile (0, 0): rows 10..29
    assert (sheet[10:30, 0:40] == 200).all()
    assert (sheet[0:10, 0:40] == 0).all() and (sheet[30:40, 0:40] == 0).all()
    # tall -> 10 x 40 centred horizontally in tile (0, 1): columns 40 + 15..24
    assert (sheet[0:40, 55:65] == 100).all()
    assert (sheet[0:40, 40:55] == 0).all()
    # square upscaled to fill tile (1, 0); empty cell (1, 1) is background
    assert (sheet[40:80, 0:40] == 50).all()
    assert (sheet[40:80, 40:80] == 0).all()
    assert overlay_contact_sheet([square], columns=4, tile=16).shape == (16, 16, 3)
    with pytest.raises(ValueError):
        overlay_contact_sheet([], columns=2, tile=16)
