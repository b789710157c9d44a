"""Video probing, streaming decode (rotation, trimming, errors) and H.264 writing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import user_message

from export3d.errors import FaceInputError, UnreadableVideoError
from export3d.media.encode import write_video
from export3d.media.probe import ffmpeg_exe, has_audio, probe_video
from export3d.media.video import TRACKING_MAX_SIDE, capped_size, iter_frames, open_video
from export3d.paths import grid_clips_dir

COLOURS = [(230, 30, 30), (30, 200, 40), (40, 60, 230), (240, 220, 30)]


def square_frames(n: int = 20, w: int = 64, h: int = 48, side: int = 12) -> list[np.ndarray]:
    """Mid-grey frames with a coloured square moving left to right, colour changing every 5 frames."""
    frames = []
    for i in range(n):
        f = np.full((h, w, 3), 128, np.uint8)
        x = (i * 2) % (w - side)
        f[10 : 10 + side, x : x + side] = COLOURS[(i // 5) % len(COLOURS)]
        frames.append(f)
    return frames


def corner_frames(n: int = 6, w: int = 64, h: int = 48) -> list[np.ndarray]:
    """Grey frames with a red 16x16 block in the top-left corner."""
    f = np.full((h, w, 3), 128, np.uint8)
    f[:16, :16] = (255, 0, 0)
    return [f.copy() for _ in range(n)]


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", *args], check=True,
                   capture_output=True)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    out = {
        "squares": write_video(d / "squares.mp4", square_frames(), fps=25),
        "odd": write_video(d / "odd.mp4", square_frames(10, 63, 47), fps=30),
        "corner": write_video(d / "corner.mp4", corner_frames(), fps=25),
    }
    return out


def test_roundtrip_frames_size_colour_and_fps(videos):
    info = probe_video(videos["squares"])
    assert (info.width, info.height, info.rotation) == (64, 48, 0)
    assert info.fps == pytest.approx(25.0)
    assert info.frame_count == 20 and info.duration == pytest.approx(0.8, abs=0.05)
    assert info.has_audio is False and info.codec == "h264"
    frames = list(iter_frames(videos["squares"]))
    src = square_frames()
    assert len(frames) == 20
    for i, (got, want) in enumerate(zip(frames, src, strict=True)):
        assert got.shape == (48, 64, 3) and got.dtype == np.uint8 and got.flags.c_contiguous
        x = (i * 2) % (64 - 12)
        centre = got[13:19, x + 3 : x + 9].reshape(-1, 3).mean(0)
        assert np.abs(centre - want[16, x + 6]).max() < 20, (i, centre)
        assert np.abs(got[40:, :].astype(int) - 128).mean() < 4  # background stays grey
    frames[0][0, 0] = 0  # frames are writable


def test_written_file_is_h264_yuv420p(videos):
    text = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(videos["squares"])], capture_output=True,
                          text=True).stderr
    assert "Video: h264" in text and "yuv420p" in text


def test_odd_size_is_padded_to_even(videos):
    info = probe_video(videos["odd"])
    assert (info.width, info.height) == (64, 48)
    assert info.fps == pytest.approx(30.0)
    frames = list(iter_frames(videos["odd"]))
    assert len(frames) == 10 and frames[0].shape == (48, 64, 3)
    # Padding repeats the last row/column: the padded row looks like the row above it.
    assert np.abs(frames[0][47].astype(int) - frames[0][46].astype(int)).mean() < 6
    assert np.abs(frames[0][:, 63].astype(int) - frames[0][:, 62].astype(int)).mean() < 6


def test_max_frames_and_max_seconds_trim(videos):
    assert len(list(iter_frames(videos["squares"], max_frames=5))) == 5
    assert len(list(iter_frames(videos["squares"], max_frames=500))) == 20
    n = len(list(iter_frames(videos["squares"], max_seconds=0.4)))
    assert 9 <= n <= 11  # 0.4 s at 25 fps
    with pytest.raises(ValueError):
        iter_frames(videos["squares"], max_frames=0)


def test_open_video_context_manager_and_early_stop(videos):
    with open_video(videos["squares"]) as v:
        assert v.info.size == (64, 48)
        it = iter(v)
        first = next(it)
        assert first.shape == (48, 64, 3)
        assert len(v._procs) == 1
        proc = v._procs[0]
    # Leaving the block stops the decoder even though the iterator was not exhausted...
    assert proc.poll() is not None and not v._procs
    assert list(it) == []  # ...and the iterator simply ends
    with open_video(videos["squares"]) as v:  # iterating twice decodes twice
        assert len(list(v)) == len(list(v)) == 20


@pytest.mark.parametrize(
    "display_rotation, rotation, corner",
    [
        # ffmpeg's -display_rotation is counter-clockwise; VideoInfo.rotation is clockwise.
        ("90", 270, "bottom-left"),  # top-left corner turned 90 deg counter-clockwise
        ("-90", 90, "top-right"),  # a phone's portrait video: turned 90 deg clockwise
        ("180", 180, "bottom-right"),
    ],
)
def test_rotation_metadata_is_applied(videos, tmp_path, display_rotation, rotation, corner):
    rotated = tmp_path / "rotated.mp4"
    ffmpeg("-display_rotation", display_rotation, "-i", str(videos["corner"]), "-c", "copy", str(rotated))
    info = probe_video(rotated)
    assert info.rotation == rotation
    h, w = (64, 48) if rotation in (90, 270) else (48, 64)
    assert (info.height, info.width) == (h, w)
    frames = list(iter_frames(rotated))
    assert len(frames) == 6 and frames[0].shape == (h, w, 3)
    red = frames[0][..., 0].astype(int) - frames[0][..., 1].astype(int) > 100
    corners = {
        "top-left": red[:8, :8].mean(),
        "top-right": red[:8, -8:].mean(),
        "bottom-left": red[-8:, :8].mean(),
        "bottom-right": red[-8:, -8:].mean(),
    }
    assert corners.pop(corner) > 0.9, corners
    assert max(corners.values()) < 0.1, corners


def test_variable_frame_rate_frames_are_yielded_as_decoded(tmp_path):
    # 25 frames: 10 at 25 fps, then 15 spaced 4x further apart (2.4 s in all).
    vfr = tmp_path / "vfr.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=1",
           "-vf", "setpts='if(lt(N,10),N,10+(N-10)*4)/25/TB'", "-fps_mode", "vfr",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", str(vfr))
    info = probe_video(vfr)
    assert info.fps == pytest.approx(25 / 2.4, abs=0.05)  # the container's average rate
    assert info.frame_count == 25
    # No frames are duplicated to fill the gaps (a constant-rate decode would give 60+).
    assert len(list(iter_frames(vfr))) == 25


@pytest.mark.parametrize("audio_seconds", [2.0, 0.2])
def test_audio_is_muxed_from_a_source_with_audio(tmp_path, audio_seconds):
    src = tmp_path / "with_audio.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=blue:s=64x48:r=25:d=2", "-f", "lavfi", "-i",
           f"sine=frequency=440:sample_rate=16000:duration={audio_seconds}", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", "-c:a", "aac", str(src))
    assert probe_video(src).has_audio is True
    out = write_video(tmp_path / "out" / "muxed.mp4", square_frames(12), fps=25, audio_from=src)
    info = probe_video(out)
    assert info.has_audio is True and (info.width, info.height) == (64, 48)
    # Long audio is cut at the video's end (12 frames = 0.48 s); short audio never cuts the video.
    assert info.duration == pytest.approx(0.48, abs=0.08)
    assert len(list(iter_frames(out))) == 12
    assert not list(out.parent.glob(".*"))  # no temporary files left behind


def test_audio_from_a_silent_source_keeps_the_video_silent(videos, tmp_path):
    out = write_video(tmp_path / "silent.mp4", square_frames(5), fps=25, audio_from=videos["squares"])
    assert probe_video(out).has_audio is False
    assert has_audio(out) is False
    assert len(list(iter_frames(out))) == 5


def test_write_video_rejects_bad_frames(tmp_path):
    with pytest.raises(ValueError, match="at least one frame"):
        write_video(tmp_path / "none.mp4", [], fps=25)
    frames = square_frames(3) + [np.zeros((20, 20, 3), np.uint8)]
    with pytest.raises(ValueError, match="shape"):
        write_video(tmp_path / "mixed.mp4", frames, fps=25)
    assert not (tmp_path / "mixed.mp4").exists()
    assert not list(tmp_path.glob(".*"))


def test_missing_empty_folder_and_text_files(tmp_path):
    with pytest.raises(UnreadableVideoError, match="not found") as e:
        iter_frames(tmp_path / "nope.mp4")
    assert "nope.mp4" in user_message(e)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(UnreadableVideoError, match="empty"):
        probe_video(empty)
    with pytest.raises(UnreadableVideoError, match="folder"):
        probe_video(tmp_path)
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video, just some text\n" * 20)
    with pytest.raises(UnreadableVideoError, match="not a video we can read") as e:
        iter_frames(text)
    assert "notes.mp4" in user_message(e)
    assert e.value.__cause__ is not None  # ffmpeg's log, for developers
    assert isinstance(e.value, FaceInputError) and isinstance(e.value, ValueError)


def test_truncated_and_frameless_videos(tmp_path):
    # Noise frames: every frame carries about the same amount of data, so a cut in the middle
    # of the file falls in the middle of the frames.
    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(20)]
    data = write_video(tmp_path / "noise.mp4", noise, fps=25).read_bytes()
    # The writer puts the index first (+faststart): a cut right after the start of the media
    # data leaves a valid header but no decodable picture.
    mdat = data.index(b"mdat")
    frameless = tmp_path / "frameless.mp4"
    frameless.write_bytes(data[: mdat + 8])
    assert probe_video(frameless).frame_count == 20  # the header still promises 20 frames
    with pytest.raises(UnreadableVideoError, match="no picture we could decode") as e:
        list(iter_frames(frameless))
    user_message(e)
    # Without the index (moov) the file cannot be opened at all.
    headless = tmp_path / "headless.mp4"
    headless.write_bytes(data[mdat - 4 :])
    with pytest.raises(UnreadableVideoError, match="not a video we can read"):
        iter_frames(headless)
    # Cut in the middle: the frames before the cut are still delivered.
    half = tmp_path / "half.mp4"
    half.write_bytes(data[: len(data) // 2])
    n = len(list(iter_frames(half)))
    assert 1 <= n < 20


def test_still_image_is_not_a_video(tmp_path):
    from PIL import Image

    for name in ("photo.png", "photo.jpg", "renamed_png.mp4"):
        path = tmp_path / name
        Image.new("RGB", (32, 24), (200, 100, 50)).save(path, format="PNG" if "png" in name else "JPEG")
        with pytest.raises(UnreadableVideoError, match="still image") as e:
            probe_video(path)
        assert name in user_message(e)


def test_audio_only_file_has_no_video_track(tmp_path):
    wav = tmp_path / "voice.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=300:sample_rate=8000:duration=0.3", str(wav))
    assert has_audio(wav)
    with pytest.raises(UnreadableVideoError, match="no video track"):
        probe_video(wav)


def test_grid_clip_decodes():
    clips = sorted(grid_clips_dir().glob("*.mpg"))
    if not clips:
        pytest.skip(f"GRID clips not found in {grid_clips_dir()} (set EXPORT3D_DATA to the shared data folder)")
    info = probe_video(clips[0])
    assert (info.width, info.height, info.rotation) == (360, 288, 0)
    assert info.fps == pytest.approx(25.0)
    assert info.has_audio is True
    assert info.frame_count is not None and abs(info.frame_count - 75) <= 2
    frames = list(iter_frames(clips[0]))
    assert abs(len(frames) - 75) <= 1
    assert all(f.shape == (288, 360, 3) and f.dtype == np.uint8 for f in frames)
    assert 20 < frames[0].mean() < 235  # a real picture, not a blank frame


# ----------------------------------------------------------------------------- resolution cap (max_side)


def gradient_frames(n: int, w: int, h: int) -> list[np.ndarray]:
    """Smooth red/green ramps over dim blue with a bright blue block moving 8 pixels (chroma-aligned) per frame."""
    yy, xx = np.mgrid[0:h, 0:w]
    frames = []
    for i in range(n):
        f = np.stack([xx * 255 // (w - 1), yy * 255 // (h - 1), np.full_like(xx, 40 + 30 * i)], -1).astype(np.uint8)
        f[h // 4 : h // 2, 8 * i + 64 : 8 * i + 192] = (30, 30, 250)
        frames.append(f)
    return frames


@pytest.fixture(scope="module")
def wide_video(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("cap") / "wide.mp4", gradient_frames(4, 640, 360), fps=25)


def test_max_side_downscales_to_the_cap_keeping_the_aspect_ratio(wide_video):
    with open_video(wide_video) as v:
        full = list(v)
    with open_video(wide_video, max_side=320) as v:
        assert v.source_info.size == (640, 360)
        assert v.info.size == (320, 180)  # 640x360 halved: the longer side is the cap
        assert (v.info.fps, v.info.frame_count) == (v.source_info.fps, v.source_info.frame_count)
        small = list(v)
    assert len(small) == len(full) == 4
    assert all(f.shape == (180, 320, 3) and f.dtype == np.uint8 for f in small)
    for big, got in zip(full, small, strict=True):
        # A 2x2 area average of the full-size decode (ffmpeg scales the YUV planes, so colour edges differ a little).
        expected = big.reshape(180, 2, 320, 2, 3).astype(np.float64).mean(axis=(1, 3))
        diff = np.abs(expected - got)
        assert diff.mean() < 2.0 and np.percentile(diff, 99) < 20, (diff.mean(), np.percentile(diff, 99))
    # The blue block (rows 90-179 of the full frame, columns 64-191 in frame 0) halves too (blue <= 130 elsewhere).
    block = small[0][..., 2] > 200
    rows, cols = np.nonzero(block)
    assert (rows.min(), rows.max()) == (45, 89) and abs(cols.min() - 32) <= 1 and abs(cols.max() - 95) <= 1


def test_max_side_rounds_sides_to_whole_pixels(wide_video):
    frames = list(iter_frames(wide_video, max_side=100, max_frames=2))
    assert [f.shape for f in frames] == [(56, 100, 3)] * 2  # 360 * 100 / 640 = 56.25 -> 56
    frames = list(iter_frames(wide_video, max_side=17, max_frames=1))
    assert frames[0].shape == (10, 17, 3)  # 360 * 17 / 640 = 9.5625 -> 10


def test_frames_within_the_cap_are_unchanged(videos, wide_video):
    plain = list(iter_frames(videos["squares"]))
    for cap in (64, 65, TRACKING_MAX_SIDE):
        with open_video(videos["squares"], max_side=cap) as v:
            assert v.info.size == v.source_info.size == (64, 48)
            frames = list(v)
        assert len(frames) == 20 and all(np.array_equal(a, b) for a, b in zip(frames, plain, strict=True))
    assert next(iter_frames(wide_video, max_side=640)).shape == (360, 640, 3)


def test_max_side_applies_to_the_upright_frames(videos, tmp_path):
    rotated = tmp_path / "portrait.mp4"
    ffmpeg("-display_rotation", "-90", "-i", str(videos["corner"]), "-c", "copy", str(rotated))
    with open_video(rotated, max_side=32) as v:
        assert v.info.rotation == 90 and v.source_info.size == (48, 64)
        assert v.info.size == (24, 32)  # upright 48x64, halved
        frame = next(iter(v))
    assert frame.shape == (32, 24, 3)
    red = frame[..., 0].astype(int) - frame[..., 1].astype(int) > 100
    assert red[:4, -4:].mean() > 0.9 and red[-4:, :4].mean() < 0.1  # the red corner turned to the top right


def test_tracking_cap_and_bad_max_side(wide_video):
    assert TRACKING_MAX_SIDE == 1280
    assert capped_size(7680, 4320, TRACKING_MAX_SIDE) == (1280, 720)  # 8K landscape -> 720p
    assert capped_size(2160, 3840, TRACKING_MAX_SIDE) == (720, 1280)  # 4K portrait (phone) -> 720p
    assert capped_size(1280, 720, TRACKING_MAX_SIDE) == (1280, 720)
    assert capped_size(640, 360, None) == (640, 360)
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match="max_side"):
            open_video(wide_video, max_side=bad)


def test_svg_driver_is_not_a_supported_image_type(tmp_path):
    """ffmpeg reads an SVG as a still picture; the image loader cannot, so 'use it as the portrait' would be wrong."""
    svg = tmp_path / "driver.svg"
    svg.write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48"><rect width="9" height="9"/>'
                    b"</svg>")
    for reader in (probe_video, open_video, iter_frames):
        with pytest.raises(UnreadableVideoError) as e:
            reader(svg)
        msg = user_message(e)
        assert msg.startswith("This file is not a supported image type (SVG): driver.svg. Supported image files: ")
        assert ".png" in msg and ".svg" not in msg.split("Supported", 1)[1]
        assert "still image" not in msg and "portrait" not in msg and "corrupt" not in msg
