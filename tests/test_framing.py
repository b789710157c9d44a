"""Framing (face/framing.py) and its camera (rendering/camera.py reframe_camera): analytic checks."""

import numpy as np
import pytest
import torch

from export3d.evaluation.methods import copy_framed
from export3d.face.framing import (
    FRAMING_POINTS,
    MAX_SHIFT,
    Framing,
    FramingTrack,
    face_frame,
    framing_of_camera,
    reframe,
    relative_framing,
)
from export3d.rendering.camera import camera_from_angles, project_points, reframe_camera


def landmarks(seed: int = 0, size: float = 100.0) -> np.ndarray:
    """478 random points in a square of ``size`` around (120, 130)."""
    return np.random.default_rng(seed).uniform(-size / 2, size / 2, (478, 2)) + np.array([120.0, 130.0])


def test_reframed_camera_moves_projections_by_the_framing():
    cam = camera_from_angles(10.0, -5.0, 3.0)
    s, c, t = 1.1, (0.45, 0.55), (0.03, -0.02)
    points = torch.tensor([[[0.1, 0.2, 0.3], [-0.2, 0.05, 0.1], [0.0, -0.3, 0.25]]])
    before = project_points(points, torch.from_numpy(cam)[None], 256)[0, :, :2].numpy() / 256
    after = project_points(points, torch.from_numpy(reframe_camera(cam, s, c, t))[None], 256)[0].numpy()
    expected = s * (before - np.array(c)) + np.array(c) + np.array(t)
    np.testing.assert_allclose(after[:, :2] / 256, expected, atol=1e-5)
    np.testing.assert_allclose(reframe_camera(cam, s, c, t)[:16], cam[:16])  # the pose is untouched


def test_framing_of_camera_inverts_reframe():
    f = Framing(0.9, (0.4, 0.6), (0.05, 0.01))
    cam = reframe(camera_from_angles(0.0, 0.0), f)
    np.testing.assert_allclose(framing_of_camera(cam).matrix(128), f.matrix(128), atol=1e-5)
    p = np.array([[0.2, 0.3], [0.7, 0.9]])
    np.testing.assert_allclose(f.matrix(128) @ np.c_[p * 128, np.ones(2)].T, (f.apply(p) * 128).T, atol=1e-9)


def test_unchanged_driver_gives_the_identity():
    ref = landmarks()
    f = relative_framing(ref, ref, landmarks(1), 256)
    assert f.is_identity or (f.scale == pytest.approx(1.0) and np.allclose(f.shift, 0.0))
    cam = camera_from_angles(5.0, 2.0)
    np.testing.assert_allclose(reframe(cam, Framing()), cam)


def test_driver_motion_is_carried_in_units_of_face_size():
    ref = landmarks()
    centre, size = face_frame(ref)
    driver = 1.1 * (ref - centre) + centre + np.array([4.0, -2.0])  # 10 % larger, moved
    portrait = 0.5 * landmarks(2) + 10.0
    pc, ps = face_frame(portrait)
    f = relative_framing(driver, ref, portrait, 200)
    assert f.scale == pytest.approx(1.1)
    np.testing.assert_allclose(f.centre, pc / 200)
    np.testing.assert_allclose(f.shift, np.array([4.0, -2.0]) / size * ps / 200)


def test_framing_is_clamped():
    ref = landmarks()
    f = relative_framing(3.0 * ref + 500.0, ref, ref, 256)
    assert f.scale == pytest.approx(1.25) and max(abs(v) for v in f.shift) == pytest.approx(MAX_SHIFT)


def test_face_frame_uses_only_the_framing_points():
    ref = landmarks()
    moved = ref.copy()
    others = np.setdiff1d(np.arange(478), FRAMING_POINTS)
    moved[others] += 50.0
    np.testing.assert_allclose(face_frame(moved)[0], face_frame(ref)[0])


def test_copy_framed_shifts_by_whole_pixels():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    cam = reframe(camera_from_angles(0.0, 0.0), Framing(1.0, (0.5, 0.5), (3 / 32, -2 / 32)))
    out = copy_framed(img, np.zeros((1, 52)), cam[None])[0]
    np.testing.assert_array_equal(out[:30, 3:], img[2:, :29])  # content moved 3 right, 2 up


def test_track_follows_the_driver_from_its_first_frame():
    ref, portrait = landmarks(), landmarks(3)
    centre, size = face_frame(ref)
    track = FramingTrack(portrait, 256, fps=25.0, smoothing=0.0)
    assert track(ref).is_identity
    f = track(ref + np.array([size * 0.1, 0.0]))  # moved a tenth of its face size to the right
    assert f.shift[0] == pytest.approx(0.1 * face_frame(portrait)[1] / 256)
    assert f.shift[1] == pytest.approx(0.0, abs=1e-12) and f.scale == pytest.approx(1.0)


def test_smoothed_track_lags_a_step():
    ref = landmarks()
    _, size = face_frame(ref)
    track = FramingTrack(ref, 256, fps=25.0, smoothing=1.0)
    track(ref)
    first = track(ref + np.array([size * 0.1, 0.0])).shift[0]
    assert 0 < first < 0.1 * size / 256  # part of the step, not all of it


def test_view_without_position_has_no_track():
    from export3d.pipeline.jobs import framing_track
    from export3d.pipeline.views import ViewSettings

    assert framing_track(None, ViewSettings(follow_position=False), 25.0, 0.5) is None
    assert framing_track(None, ViewSettings(relative=False), 25.0, 0.5) is None
