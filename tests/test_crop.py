"""FFHQ-rule crop boxes, layout conversions and the image <-> crop transform."""

from __future__ import annotations

import numpy as np
import pytest

from export3d.face.crop import CropBox, CropTransform, box_outside_fraction, crop_box_from_points
from export3d.face.points5 import make_points5, points5_from_68, points5_from_mediapipe, points5_from_yunet

# Synthetic frontal face: subject's right eye on the image left.
EYE_R, EYE_L, MOUTH_R, MOUTH_L = (40.0, 50.0), (60.0, 50.0), (42.0, 70.0), (58.0, 70.0)
FACE5 = make_points5(EYE_R, EYE_L, MOUTH_R, MOUTH_L, nose=(50.0, 60.0))


def random_boxes(rng, n):
    for _ in range(n):
        yield CropBox(rng.uniform(-100, 600), rng.uniform(-100, 600), rng.uniform(5, 800)), int(rng.integers(8, 1025))


# ------------------------------------------------------------------ transform algebra
def test_image_to_crop_and_back_is_identity():
    rng = np.random.default_rng(0)
    for box, n in random_boxes(rng, 50):
        t = CropTransform(box, n)
        pts = rng.uniform(-1000, 1000, size=(20, 2))
        np.testing.assert_allclose(t.crop_to_image(t.image_to_crop(pts)), pts, rtol=0, atol=1e-9)
        np.testing.assert_allclose(t.image_to_crop(t.crop_to_image(pts)), pts, rtol=0, atol=1e-9)
        m = t.matrix()
        assert m.shape == (2, 3)
        via_matrix = pts @ m[:, :2].T + m[:, 2]
        np.testing.assert_allclose(via_matrix, t.image_to_crop(pts), rtol=0, atol=1e-9)


def test_pixel_centre_convention():
    box = CropBox(cx=50.0, cy=52.0, size=80.0)  # x0 = 10, y0 = 12
    t = CropTransform(box, 160)  # 2 crop pixels per image pixel
    # crop pixel (r=3, c=5) centre (5.5, 3.5) -> image x0 + 5.5 * 80 / 160
    np.testing.assert_allclose(t.crop_to_image([[5.5, 3.5]]), [[10.0 + 5.5 * 0.5, 12.0 + 3.5 * 0.5]])
    np.testing.assert_allclose(t.image_to_crop([[10.0, 12.0], [90.0, 92.0]]), [[0.0, 0.0], [160.0, 160.0]])
    # cv2 (index) matrix: index = continuous - 0.5 on both sides
    ci = t.cv2_matrix()
    idx = np.array([[7.0, 9.0]])
    np.testing.assert_allclose(idx @ ci[:, :2].T + ci[:, 2], t.image_to_crop(idx + 0.5) - 0.5, atol=1e-12)


# ------------------------------------------------------------------ crop rule
def test_ffhq_box_for_synthetic_face():
    box = crop_box_from_points(FACE5)
    # eye mid (50, 50), mouth mid (50, 70): eye_to_mouth = (0, 20), |eye_to_eye| = 20
    # centre = (50, 50 + 0.1 * 20) = (50, 52); side = 2 * max(2 * 20, 1.8 * 20) = 80
    assert box.cx == pytest.approx(50.0)
    assert box.cy == pytest.approx(52.0)
    assert box.size == pytest.approx(80.0)
    assert (box.x0, box.y0, box.x1, box.y1) == pytest.approx((10.0, 12.0, 90.0, 92.0))


def test_mouth_term_wins_for_a_turned_head():
    # eyes 10 apart (head turned), eye-to-mouth 20: side = 2 * max(20, 36) = 72
    pts = make_points5((45, 50), (55, 50), (46, 70), (54, 70))
    box = crop_box_from_points(pts)
    assert box.size == pytest.approx(72.0)
    assert (box.cx, box.cy) == pytest.approx((50.0, 52.0))


def test_scale_and_offset():
    base = crop_box_from_points(FACE5)
    scaled = crop_box_from_points(FACE5, scale=1.2)
    assert scaled.size == pytest.approx(1.2 * base.size)
    assert (scaled.cx, scaled.cy) == pytest.approx((base.cx, base.cy))
    moved = crop_box_from_points(FACE5, offset=(0.1, 0.0))
    assert moved.cx == pytest.approx(base.cx + 0.1 * base.size)
    assert moved.cy == pytest.approx(base.cy)
    assert moved.size == pytest.approx(base.size)
    both = crop_box_from_points(FACE5, scale=2.0, offset=(0.1, -0.25))  # offset uses the scaled side
    assert both.size == pytest.approx(160.0)
    assert (both.cx, both.cy) == pytest.approx((50.0 + 0.1 * 160.0, 52.0 - 0.25 * 160.0))


def test_roll_is_not_removed_and_left_right_swap_is_harmless():
    # rotating the face 30 degrees about the box centre keeps the (axis-aligned) box
    c = np.array([50.0, 52.0])
    a = np.deg2rad(30)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    box = crop_box_from_points((FACE5 - c) @ rot.T + c)
    assert (box.cx, box.cy, box.size) == pytest.approx((50.0, 52.0, 80.0))
    swapped = FACE5[[1, 0, 2, 4, 3]]
    assert crop_box_from_points(swapped) == crop_box_from_points(FACE5)


@pytest.mark.parametrize("bad", [
    np.full((5, 2), 7.0),  # all coincident
    np.array([[1, 1], [1, 1], [np.nan, 3], [1, 1], [1, 1]], dtype=float),
    np.zeros((4, 2)),
])
def test_degenerate_points_raise(bad):
    with pytest.raises(ValueError):
        crop_box_from_points(bad)


def test_invalid_box_and_scale_raise():
    with pytest.raises(ValueError):
        CropBox(0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        CropBox(float("inf"), 0.0, 1.0)
    with pytest.raises(ValueError):
        crop_box_from_points(FACE5, scale=0.0)
    with pytest.raises(ValueError):
        CropTransform(CropBox(0.0, 0.0, 1.0), 0)


# ------------------------------------------------------------------ layout conversions
def test_points5_from_68_uses_the_right_indices():
    lm = np.full((68, 2), 1e6)  # garbage everywhere except the indices that matter
    lm[36:42] = np.array([30.0, 40.0]) + np.arange(6)[:, None] * [1.0, -1.0]  # mean (32.5, 37.5)
    lm[42:48] = np.array([70.0, 41.0]) + np.arange(6)[:, None] * [2.0, 0.0]  # mean (75, 41)
    lm[30] = [51.0, 60.0]
    lm[48] = [40.0, 80.0]
    lm[54] = [62.0, 81.0]
    p = points5_from_68(lm)
    np.testing.assert_allclose(p, [[32.5, 37.5], [75.0, 41.0], [51.0, 60.0], [40.0, 80.0], [62.0, 81.0]])
    # a z column is ignored
    np.testing.assert_allclose(points5_from_68(np.concatenate([lm, np.ones((68, 1))], axis=1)), p)
    with pytest.raises(ValueError):
        points5_from_68(np.zeros((67, 2)))


def test_points5_from_mediapipe_uses_the_right_indices():
    right_ring = [33, 133, 159, 145, 158, 153, 160, 144]
    left_ring = [263, 362, 386, 374, 385, 380, 387, 373]
    lm = np.full((478, 3), 1e6)
    lm[right_ring, :2] = np.array([0.3, 0.4]) + np.linspace(-0.02, 0.02, 8)[:, None]  # mean (0.3, 0.4)
    lm[left_ring, :2] = np.array([0.7, 0.42]) + np.linspace(-0.04, 0.04, 8)[:, None]  # mean (0.7, 0.42)
    lm[1, :2] = [0.5, 0.55]
    lm[61, :2] = [0.35, 0.7]
    lm[291, :2] = [0.65, 0.72]
    expected = np.array([[0.3, 0.4], [0.7, 0.42], [0.5, 0.55], [0.35, 0.7], [0.65, 0.72]])
    np.testing.assert_allclose(points5_from_mediapipe(lm), expected, atol=1e-12)
    np.testing.assert_allclose(points5_from_mediapipe(lm, image_size=(200, 100)),
                               expected * [200.0, 100.0], atol=1e-9)
    np.testing.assert_allclose(points5_from_mediapipe(lm[:468]), expected, atol=1e-12)


def test_points5_from_yunet_row():
    kps = np.array([[30.0, 40.0], [70.0, 41.0], [50.0, 60.0], [36.0, 80.0], [64.0, 79.0]])
    row = np.concatenate([[-5.0, -6.0, 999.0, 888.0], kps.reshape(-1), [0.93]])
    np.testing.assert_allclose(points5_from_yunet(row), kps)
    np.testing.assert_allclose(points5_from_yunet(row[:14]), kps)
    np.testing.assert_allclose(points5_from_yunet(kps.reshape(-1)), kps)
    np.testing.assert_allclose(points5_from_yunet(kps), kps)
    box = crop_box_from_points(points5_from_yunet(row))
    assert box.cx == pytest.approx(50.0 + 0.0)  # eye mid x = 50, mouth mid x = 50
    with pytest.raises(ValueError):
        points5_from_yunet(np.zeros(7))


# ------------------------------------------------------------------ outside fraction
def test_box_outside_fraction():
    assert box_outside_fraction(CropBox(50, 50, 40), 100, 100) == 0.0
    assert box_outside_fraction(CropBox(0, 50, 40), 100, 100) == pytest.approx(0.5)  # left half out
    assert box_outside_fraction(CropBox(50, 100, 40), 100, 100) == pytest.approx(0.5)  # bottom half out
    assert box_outside_fraction(CropBox(0, 0, 40), 100, 100) == pytest.approx(0.75)  # corner
    assert box_outside_fraction(CropBox(300, 50, 40), 100, 100) == 1.0
    assert box_outside_fraction(CropBox(50, 50, 200), 100, 100) == pytest.approx(0.75)  # covers the image


# ------------------------------------------------------------------ warp
def smooth_image(h, w):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([
        128 + 100 * np.sin(xx / 13.0) * np.cos(yy / 17.0),
        128 + 100 * np.cos((xx + yy) / 19.0),
        40 + 0.8 * xx + 0.5 * yy,
    ], axis=-1)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def test_warp_integer_aligned_box_is_exact_copy():
    img = np.random.default_rng(1).integers(0, 256, size=(90, 120, 3), dtype=np.uint8)
    box = CropBox(cx=57.0, cy=43.0, size=50.0)  # x0 = 32, y0 = 18
    crop = CropTransform(box, 50).warp(img)
    assert crop.shape == (50, 50, 3) and crop.dtype == np.uint8
    np.testing.assert_array_equal(crop, img[18:68, 32:82])


@pytest.mark.parametrize("out_size", [64, 200, 12])  # downscale x1.5, upscale x2, strong downscale (area path)
def test_warp_moves_a_block_to_the_predicted_location(out_size):
    img = np.zeros((200, 240, 3), dtype=np.uint8)
    img[100:120, 60:80] = (255, 0, 0)  # red block, centre (70, 110)
    box = CropBox(cx=85.0, cy=95.0, size=100.0)
    t = CropTransform(box, out_size)
    crop = t.warp(img)
    assert crop.shape == (out_size, out_size, 3)
    red = crop[..., 0].astype(np.float64)
    assert red.max() > 200
    ys, xs = np.mgrid[0:out_size, 0:out_size]
    centroid = np.array([(red * (xs + 0.5)).sum(), (red * (ys + 0.5)).sum()]) / red.sum()
    expected = t.image_to_crop([[70.0, 110.0]])[0]
    np.testing.assert_allclose(centroid, expected, atol=0.1)
    assert red.sum() / 255 == pytest.approx(400 * t.scale**2, rel=0.05)  # block area preserved
    assert crop[..., 1:].max() == 0


def test_strong_downscale_is_antialiased():
    # a 1-pixel checkerboard averages to mid grey; plain bilinear sampling would alias
    img = ((np.indices((400, 400)).sum(axis=0) % 2) * 255).astype(np.uint8)
    img = np.repeat(img[..., None], 3, axis=2)
    crop = CropTransform(CropBox(200.3, 199.6, 300.0), 30).warp(img)
    assert np.abs(crop.astype(np.float64) - 127.5).max() < 10


def test_replicate_and_constant_borders():
    img = np.zeros((60, 80, 3), dtype=np.uint8)
    img[:, :] = (10, 20, 30)
    img[:, -1] = (200, 100, 50)  # right edge column
    img[0, :-1] = (5, 250, 5)  # top edge row
    box = CropBox(cx=80.0, cy=30.0, size=40.0)  # right half outside the image
    t = CropTransform(box, 40)
    crop = t.warp(img)  # default: replicate
    np.testing.assert_array_equal(crop[5:35, 25:], np.broadcast_to([200, 100, 50], (30, 15, 3)))
    crop_c = t.warp(img, border="constant", fill=(1, 2, 3))
    np.testing.assert_array_equal(crop_c[5:35, 25:], np.broadcast_to([1, 2, 3], (30, 15, 3)))
    np.testing.assert_array_equal(crop_c[5:35, :19], np.broadcast_to([10, 20, 30], (30, 19, 3)))
    # above the image (strong downscale path too): rows above repeat the top row
    tiny = CropTransform(CropBox(cx=40.0, cy=-20.0, size=60.0), 6).warp(img)
    np.testing.assert_array_equal(tiny[:2, 1:4], np.broadcast_to([5, 250, 5], (2, 3, 3)))
    tiny_c = CropTransform(CropBox(cx=40.0, cy=-20.0, size=60.0), 6).warp(img, border="constant")
    np.testing.assert_array_equal(tiny_c[:2], 0)
    with pytest.raises(ValueError):
        t.warp(img, border="wrap")


# ------------------------------------------------------------------ paste back
@pytest.mark.parametrize("box,out_size", [
    (CropBox(cx=70.3, cy=61.7, size=73.4), 128),  # upscale into the crop
    (CropBox(cx=64.0, cy=56.0, size=80.0), 80),  # 1:1
    (CropBox(cx=66.0, cy=58.0, size=90.0), 60),  # downscale
])
def test_paste_back_roundtrip(box, out_size):
    img = smooth_image(120, 150)
    t = CropTransform(box, out_size)
    out = t.paste_back(t.warp(img), img)
    assert out.shape == img.shape and out.dtype == np.uint8
    inner = (slice(int(box.y0) + 3, int(box.y1) - 3), slice(int(box.x0) + 3, int(box.x1) - 3))
    diff = np.abs(out[inner].astype(int) - img[inner].astype(int))
    assert diff.max() <= 6 and diff.mean() < 1.5
    outside = np.ones(img.shape[:2], dtype=bool)
    outside[int(np.floor(box.y0)):int(np.ceil(box.y1)), int(np.floor(box.x0)):int(np.ceil(box.x1))] = False
    np.testing.assert_array_equal(out[outside], img[outside])


def test_paste_back_places_content_and_respects_mask():
    img = np.full((100, 100, 3), 50, dtype=np.uint8)
    t = CropTransform(CropBox(cx=40.0, cy=60.0, size=40.0), 80)  # box [20, 60] x [40, 80]
    crop = np.full((80, 80, 3), 250, dtype=np.uint8)
    out = t.paste_back(crop, img, feather=0.0)
    np.testing.assert_array_equal(out[41:79, 21:59], 250)  # inside: pasted
    np.testing.assert_array_equal(out[:40], 50)  # above: untouched
    np.testing.assert_array_equal(out[:, 60:], 50)  # right: untouched
    # feathered: the ramp reaches 1 at 0.1 * 80 crop px = 4 image px inside the edge
    out_f = t.paste_back(crop, img, feather=0.1)
    assert out_f[60, 20, 0] < out_f[60, 22, 0] < out_f[60, 40, 0] == 250
    # a mask keeping only the crop's left half
    mask = np.zeros((80, 80), dtype=np.float32)
    mask[:, :40] = 1.0
    out_m = t.paste_back(crop, img, mask=mask, feather=0.0)
    np.testing.assert_array_equal(out_m[45:75, 22:38], 250)
    np.testing.assert_array_equal(out_m[45:75, 42:58], 50)
    # input untouched
    assert (img == 50).all()


def test_paste_back_with_box_partly_or_fully_outside():
    img = smooth_image(120, 150)
    t = CropTransform(CropBox(cx=10.4, cy=100.6, size=70.0), 96)  # off the left and bottom edges
    out = t.paste_back(t.warp(img), img)
    inner = (slice(70, 117), slice(0, 42))  # inside the image and >= 3 px from the box edges
    diff = np.abs(out[inner].astype(int) - img[inner].astype(int))
    assert diff.max() <= 6 and diff.mean() < 1.5
    np.testing.assert_array_equal(out[:64], img[:64])
    np.testing.assert_array_equal(out[:, 47:], img[:, 47:])
    away = CropTransform(CropBox(cx=-100.0, cy=50.0, size=40.0), 32)
    np.testing.assert_array_equal(away.paste_back(np.zeros((32, 32, 3), np.uint8), img), img)
