"""The demo's driver preview (an H.264 copy browsers play) and its signal rows."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import numpy as np
import pytest

from export3d.blendshapes import blendshape_index
from export3d.demo.driver_view import PREVIEW_SIDE, preview_video, signal_rows
from export3d.media.probe import ffmpeg_exe, probe_video


def test_signal_rows_average_the_paired_blendshapes_and_keep_the_angles():
    beta = np.zeros(52, np.float32)
    beta[blendshape_index("jawOpen")] = 0.5
    beta[blendshape_index("eyeBlinkLeft")], beta[blendshape_index("eyeBlinkRight")] = 0.2, 0.6
    beta[blendshape_index("browInnerUp")], beta[blendshape_index("browOuterUpLeft")] = 0.3, 0.6
    frames = [SimpleNamespace(beta=beta, angles=(10.0, -5.0, 2.0)), SimpleNamespace(beta=0 * beta,
                                                                                   angles=(0.0, 0.0, 0.0))]
    expression, pose = signal_rows(frames, fps=4.0)
    assert {(r["time"], r["signal"]): r["value"] for r in expression} == {
        (0.0, "jawOpen"): 0.5, (0.0, "blink"): 0.4, (0.0, "smile"): 0.0, (0.0, "brows up"): 0.3,
        (0.25, "jawOpen"): 0.0, (0.25, "blink"): 0.0, (0.25, "smile"): 0.0, (0.25, "brows up"): 0.0}
    assert [(r["time"], r["signal"], r["value"]) for r in pose] == [
        (0.0, "yaw", 10.0), (0.0, "pitch", -5.0), (0.25, "yaw", 0.0), (0.25, "pitch", 0.0)]


def test_an_mpeg1_driver_gets_a_small_h264_preview(tmp_path):
    """GRID's clips are MPEG-1, which browsers do not play; the preview is H.264, capped in size and length."""
    src = tmp_path / "clip.mpg"
    done = subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=720x576:rate=25",
                           "-t", "2", "-c:v", "mpeg1video", str(src)], capture_output=True)
    if done.returncode:
        pytest.skip(f"this ffmpeg cannot write MPEG-1: {done.stderr.decode()[-200:]}")
    assert probe_video(src).codec == "mpeg1video"
    out = preview_video(src, tmp_path / "preview.mp4", max_seconds=1.0)
    info = probe_video(out)
    assert info.codec == "h264" and (info.width, info.height) == (PREVIEW_SIDE, 384)  # 720x576 scaled by 2/3
    assert info.frame_count == 25
