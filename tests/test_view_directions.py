"""Camera directions and depth maps on an analytic scene (a ball in the tri-plane), through ``Animator``.

docs/conventions.md: +x is the viewer's right; positive yaw moves the camera to +x, so the head appears turned
to the viewer's left (points in front of the orbit centre ``(0, 0, 0.2)`` move left in the image); positive
pitch moves the camera up (such points move down). These tests fail if a sign or a plane axis is flipped.
"""

from __future__ import annotations

import numpy as np
import pytest
from scenes import ball_model

from export3d.pipeline import Animator, ViewSettings

BALL = (0.2, 0.0, 0.4)  #: right of centre (+x) and 0.2 in front of the orbit centre


def centroid(image: np.ndarray) -> tuple[float, float]:
    """``(col, row)`` of the bright pixels of ``(H, W, 3)`` or ``(H, W)`` uint8."""
    mask = (image.mean(-1) if image.ndim == 3 else image) > 127
    rows, cols = np.nonzero(mask)
    assert len(rows) > 20, "the ball is not visible"
    return cols.mean(), rows.mean()


@pytest.fixture(scope="module")
def animator() -> Animator:
    return Animator(ball_model(BALL), extractor=object(), output_size=None, fast=False)


def render(animator: Animator, yaw: float = 0.0, pitch: float = 0.0) -> np.ndarray:
    camera = animator.camera_for(None, ViewSettings(yaw=yaw, pitch=pitch, follow_head=False))
    return animator.render(None, np.zeros(52), camera)[0]


def test_world_x_is_image_right_and_y_is_up(animator):
    image = render(animator)
    size = image.shape[0]
    col, row = centroid(image)
    # the ball at x = +0.2, y = 0 seen from (0, 0, 2.9): 0.2 / 2.5 * 4.2647 of the width right of centre
    assert col / size - 0.5 == pytest.approx(0.2 / 2.5 * 4.2647, abs=0.03)
    assert row / size == pytest.approx(0.5, abs=0.02)
    up = Animator(ball_model((0.0, 0.2, 0.4)), extractor=object(), output_size=None, fast=False)
    assert centroid(render(up))[1] < 0.35 * size  # +y is up in the image


def test_positive_yaw_turns_the_head_to_the_viewers_left(animator):
    c0, c_pos, c_neg = (centroid(render(animator, yaw=y)) for y in (0.0, 20.0, -20.0))
    size = render(animator).shape[0]
    # rotating the view by yaw: x' = x cos(yaw) - (z - 0.2) sin(yaw) = 0.120 (yaw +20), 0.256 (yaw -20)
    assert c_pos[0] < c0[0] - 0.04 * size < c0[0] < c_neg[0] - 0.04 * size
    assert abs(c_pos[1] - c0[1]) < 0.02 * size


def test_positive_pitch_looks_down_at_the_face(animator):
    c0, c_pos, c_neg = (centroid(render(animator, pitch=p)) for p in (0.0, 20.0, -20.0))
    size = render(animator).shape[0]
    assert c_pos[1] > c0[1] + 0.04 * size > c0[1] > c_neg[1] + 0.04 * size  # rows grow downwards
    assert abs(c_pos[0] - c0[0]) < 0.02 * size


def test_depth_map_values_and_nearer_is_brighter():
    near = Animator(ball_model((0.0, 0.0, 0.3)), extractor=object(), output_size=None, fast=False)
    far = Animator(ball_model((0.0, 0.0, -0.2)), extractor=object(), output_size=None, fast=False)
    cam = near.camera_for(None, ViewSettings(follow_head=False))
    d_near, d_far = near.render_depth(None, np.zeros(52), cam)[0], far.render_depth(None, np.zeros(52), cam)[0]
    assert d_near.shape == (128, 128) and d_near.dtype == np.uint8
    assert d_near[0, 0] == 0 and d_far[0, 0] == 0  # empty background is black
    # ball front at distance 2.9 - 0.3 - 0.08 = 2.52 (near) and 3.02 (far); near 2.25 -> 255, far 3.3 -> 0
    assert d_near.max() == pytest.approx((3.3 - 2.52) / 1.05 * 255, abs=6)
    assert d_far.max() == pytest.approx((3.3 - 3.02) / 1.05 * 255, abs=6)
    assert centroid(d_near) == pytest.approx((64, 64), abs=1)
    images, depths = near.render_frames(None, np.zeros(52), cam, depth=True)  # same pass as the colour image
    assert np.array_equal(depths[0], d_near) and images.shape == (1, 128, 128, 3)


def test_a_portrait_turned_beyond_the_supported_range_gets_a_warning():
    from export3d.pipeline.views import portrait_pose_warning

    assert portrait_pose_warning((40.0, -10.0, 5.0)) is None  # the pearl earring girl: inside the range
    assert "yaw +60°" in portrait_pose_warning((60.0, 0.0, 0.0))
    assert "pitch -35°" in portrait_pose_warning((0.0, -35.0, 0.0))
