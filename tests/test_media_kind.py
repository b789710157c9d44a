"""``media.kind``: one image/video rule for the CLI, the app and the pipeline, decided by content."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from export3d.demo import driver_kind
from export3d.media.encode import write_video
from export3d.media.kind import kind, suffix_kind
from export3d.pipeline import is_video


def _gif(path, frames: int):
    images = [Image.new("RGB", (32, 32), (40 * k, 80, 120)) for k in range(frames)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)
    return path


def test_arrays_pil_images_and_bytes_are_images():
    assert kind(np.zeros((4, 4, 3), np.uint8)) == kind(Image.new("RGB", (4, 4))) == kind(b"\x89PNG") == "image"


def test_animated_gif_is_a_video_and_a_still_gif_an_image_in_every_front_end(tmp_path):
    animated, still = _gif(tmp_path / "a.gif", 5), _gif(tmp_path / "b.gif", 1)
    assert kind(animated) == "video" and is_video(animated) and driver_kind(animated) == "video"
    assert kind(still) == "image" and not is_video(still) and driver_kind(still) == "image"


def test_content_wins_over_a_lying_suffix(tmp_path):
    png_named_mp4 = tmp_path / "photo.mp4"
    Image.new("RGB", (16, 16), (1, 2, 3)).save(png_named_mp4, format="PNG")
    video_named_jpg = write_video(tmp_path / "clip.mp4", [np.full((32, 32, 3), k * 20, np.uint8) for k in range(8)], 10)
    video_named_jpg = video_named_jpg.rename(tmp_path / "clip.jpg")
    assert kind(png_named_mp4) == "image"
    assert kind(video_named_jpg) == "video"


def test_unreadable_files_and_missing_paths(tmp_path):
    corrupt_png = tmp_path / "broken.png"
    corrupt_png.write_bytes(b"not an image at all")
    junk = tmp_path / "notes.xyz"
    junk.write_bytes(b"plain text")
    assert kind(corrupt_png) == "image"  # the image loader reports it as an unreadable image
    assert kind(junk) == "unknown" and is_video(junk)  # the video reader reports it
    assert kind(tmp_path / "missing.mp4") == "video" and kind(tmp_path / "missing.PNG") == "image"
    assert kind(tmp_path / "missing.xyz") == "unknown"


@pytest.mark.parametrize("name, expected", [("a.JPG", "image"), ("b.webm", "video"), ("c.mpg", "video"),
                                            ("d.heic", "image"), ("e", "unknown"), ("f.txt", "unknown")])
def test_suffix_kind(name, expected):
    assert suffix_kind(name) == expected
