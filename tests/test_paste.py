"""Paste-back (``pipeline/paste.py``): the model's crop carried onto the whole photo or a sharper face crop."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from export3d.config import AppearanceConfig, ModelConfig
from export3d.face.crop import CropBox
from export3d.models.export3d import Export3D
from export3d.pipeline.paste import Canvas, CropLayers, edge_ramp, full_photo

SIDE = 32  #: crop side of the synthetic layers


def textured(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth random picture (bilinear interpolation is nearly exact on it)."""
    g = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / 9.0
    return np.stack([127 + 60 * np.sin(x * g.uniform(0.5, 1) + y * g.uniform(0.2, 0.6) + c) for c in range(3)],
                    -1).astype(np.uint8)


def canvas(target: np.ndarray, box: CropBox, own: np.ndarray | None = None, feather: float = 0.1) -> Canvas:
    return Canvas(target, box, SIDE, np.zeros((SIDE, SIDE), np.float32) if own is None else own, feather)


def still(image: np.ndarray | None = None, opacity: float = 0.0, shift=(0.0, 0.0)) -> CropLayers:
    """Layers whose crop output equals the portrait warped by a constant ``shift`` (no residual)."""
    img = np.zeros((SIDE, SIDE, 3), np.float32) if image is None else image
    field = np.broadcast_to(np.float32(shift), (SIDE, SIDE, 2)).copy()
    return CropLayers(img, np.full((SIDE, SIDE), opacity, np.float32), field, img.copy())


def test_full_photo_keeps_the_size_cuts_odd_sides_and_caps_the_long_side():
    photo = np.zeros((1137, 910, 3), np.uint8)
    out, scale = full_photo(photo)
    assert out.shape == (1136, 910, 3) and scale == 1.0
    big, scale = full_photo(np.zeros((2000, 3000, 3), np.uint8))
    assert big.shape == (1280, 1920, 3) and scale == pytest.approx(0.64)


def test_edge_ramp_rises_linearly_from_the_border():
    r = edge_ramp(10, 0.2)  # feather of 2 pixels: centres 0.5, 1.5 -> 0.25, 0.75, then 1
    assert np.allclose(r, [0.25, 0.75, 1, 1, 1, 1, 1, 1, 0.75, 0.25])
    assert np.allclose(edge_ramp(4, 0.0), 1)


def test_identity_field_returns_the_target_and_nothing_outside_the_box_moves():
    target = textured(120, 100)
    c = canvas(target, CropBox(50, 60, 64))
    assert np.array_equal(c.compose(still()), target)
    moved = c.compose(still(shift=(3.0, -2.0)))
    outside = np.ones(target.shape[:2], bool)
    outside[28:92, 18:82] = False
    assert np.array_equal(moved[outside], target[outside]) and not np.array_equal(moved, target)


def test_a_constant_field_shifts_the_photo_inside_the_box():
    """A shift of 2 crop pixels of a box twice the crop's size samples the photo 4 pixels away."""
    target = textured(160, 160, 1)
    c = canvas(target, CropBox(80, 80, 2 * SIDE), feather=0.25)  # ramp reaches 1 at 16 target pixels inside
    out = c.compose(still(shift=(2.0, 1.0)))
    inner = (slice(66, 94), slice(66, 94))
    want = target[68:96, 70:98]  # out(y, x) = target(y + 2, x + 4)
    assert np.abs(out[inner].astype(int) - want.astype(int)).max() <= 1


def test_the_residual_is_added_on_the_head_only():
    target = np.full((64, 64, 3), 100, np.uint8)
    layers = still(np.full((SIDE, SIDE, 3), 30.0, np.float32), opacity=1.0)
    layers.image = layers.image + 20.0  # the crop output is the warped portrait + 20
    out = canvas(target, CropBox(32, 32, SIDE), feather=0.2).compose(layers)
    assert np.all(out[30:34, 30:34] == 120)
    layers.opacity[:] = 0.0  # background: the photo's own pixels
    assert np.array_equal(canvas(target, CropBox(32, 32, SIDE), feather=0.2).compose(layers), target)


def test_uncovered_background_shows_the_inpainted_plate_not_the_face():
    """The head was in a disc (the portrait's own opacity) and has left it: the disc shows the background."""
    target = np.full((96, 96, 3), (40, 160, 90), np.uint8)
    yy, xx = np.mgrid[0:96, 0:96]
    disc = (yy - 48) ** 2 + (xx - 48) ** 2 < 10 ** 2
    target[disc] = (230, 190, 170)  # a "face"
    own = np.zeros((SIDE, SIDE), np.float32)
    cy, cx = np.mgrid[0:SIDE, 0:SIDE] + 0.5
    own[(cy - SIDE / 2) ** 2 + (cx - SIDE / 2) ** 2 < (10 * SIDE / 64) ** 2] = 1.0
    c = canvas(target, CropBox(48, 48, 64), own)
    out = c.compose(still(opacity=0.0))
    assert np.abs(out[43:53, 43:53].astype(int) - (40, 160, 90)).max() <= 8  # the face differs by > 80
    assert np.array_equal(c.compose(still(opacity=1.0))[disc], target[disc])  # the head is still there


def test_a_generated_crop_is_laid_over_the_target_by_its_opacity():
    target = textured(80, 80, 2)
    c = canvas(target, CropBox(40, 40, SIDE), feather=0.25)
    layers = CropLayers(np.full((SIDE, SIDE, 3), 200.0, np.float32), np.ones((SIDE, SIDE), np.float32))
    out = c.compose(layers)
    assert np.all(out[36:44, 36:44] == 200) and np.array_equal(out[:20], target[:20])


def test_animate_returns_the_whole_photo_still_far_from_the_face(tmp_path):
    """An untrained warped model at the portrait's own view gives back the photo; turned, only the head region
    changes: pixels 1.5 face widths from the face are the photo's own, and the output keeps the photo's size
    (odd height cut to even)."""
    from skimage.data import astronaut

    from export3d.media.encode import write_video
    from export3d.media.probe import probe_video
    from export3d.pipeline import Animator
    from export3d.rendering.camera import orbit_camera

    cfg = ModelConfig.small().scaled_to_source(64)
    cfg = dataclasses.replace(cfg, appearance=AppearanceConfig(kind="warped", output_size=128))
    torch.manual_seed(0)
    animator = Animator(Export3D(cfg), device="cpu", output_size=None, fast=False)
    photo = np.zeros((1137, 910, 3), np.uint8)
    photo[...] = textured(1137, 910, 3)
    photo[300:812, 200:712] = astronaut()
    src = animator.prepare_source(photo)
    cameras = np.stack([src.signals.camera, np.ravel(orbit_camera(25.0, 0.0))])
    frames = animator.render_frames(src, src.signals.beta, cameras, canvas=animator.canvas(src))[0]
    assert frames.shape == (2, 1136, 910, 3)
    diff = np.abs(frames.astype(int) - photo[:1136].astype(int)).max(-1)
    mse = ((frames[0].astype(float) - photo[:1136]) ** 2).mean()
    assert 10 * np.log10(255 ** 2 / mse) > 35  # the photo itself at its own view
    box = src.signals.box
    far = np.hypot(*np.mgrid[0:1136, 0:910][::-1] - np.array([box.cx, box.cy])[:, None, None]) > 1.5 * box.size
    assert diff[1][far].max() == 0 and diff[1][~far].mean() > 1  # turned: the head moves, the rest does not
    out = tmp_path / "out.mp4"
    write_video(out, iter(frames), 10.0)
    info = probe_video(out)
    assert (info.height, info.width) == (1136, 910)


def test_turning_the_whole_photo_far_gets_a_warning():
    from export3d.pipeline.paste import TURN_LIMIT, turn_warning

    assert turn_warning(TURN_LIMIT) is None and turn_warning(5.0) is None
    assert "up to 31°" in turn_warning(31.0) and "face crop" in turn_warning(31.0)
