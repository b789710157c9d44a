"""``media.side_video.SideVideo``: frames pushed from one thread come out as an MP4 encoded on another.

Truths used: the file holds exactly the frames pushed, in order (a frame's mean grey level identifies it, up to
H.264 loss); ``abort`` leaves no file; an encoder failure reaches the caller instead of being lost on the thread.
"""

from __future__ import annotations

import numpy as np
import pytest

from export3d.media.side_video import SideVideo
from export3d.media.video import iter_frames


def test_pushed_frames_come_out_in_order(tmp_path):
    path = tmp_path / "side.mp4"
    video = SideVideo(path, fps=10.0, maxsize=2)  # a small queue: put must wait for the encoder
    levels = [20, 120, 220, 70, 170]
    for level in levels:
        video.put(np.full((32, 48), level, np.uint8))  # grey frames, as the depth video's
    assert video.finish() == path and path.is_file()
    read = [float(f.mean()) for f in iter_frames(path)]
    assert len(read) == len(levels)
    assert read == pytest.approx(levels, abs=4)


def test_abort_leaves_no_file(tmp_path):
    path = tmp_path / "side.mp4"
    video = SideVideo(path, fps=10.0)
    video.put(np.zeros((16, 16, 3), np.uint8))
    video.abort()
    assert not path.exists() and not list(tmp_path.iterdir())


def test_an_encoder_failure_reaches_the_caller_and_leaves_no_file(tmp_path):
    path = tmp_path / "side.mp4"
    video = SideVideo(path, fps=10.0)
    video.put(np.zeros((16, 16, 3), np.uint8))
    video.put(np.zeros((32, 32, 3), np.uint8))  # a frame of another size: the encoder (on its thread) refuses it
    with pytest.raises(ValueError, match="frame 1 has shape"):
        video.finish()
    assert not list(tmp_path.iterdir())
