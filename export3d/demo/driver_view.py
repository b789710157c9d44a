"""What the demo shows of a driving video before animating: a preview every browser plays, and its signals.

Uploaded videos come in containers and codecs browsers do not all play (GRID's MPEG-1 ``.mpg`` plays in none), so
the page shows a small H.264 copy (``preview_video``). The app tracks the clip once (``Animator.track_video``), keeps
the signals for the animation (``Driver.tracks``, ``track_key``) and plots them (``signal_table``): the mouth
(jawOpen, smile), the eyes (blink), the brows (raised) and the head (yaw, pitch) over time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..blendshapes import blendshape_index

PREVIEW_SIDE = 480  #: the driver preview's longest side
EXPRESSION_SIGNALS = {  #: plotted expression signal -> blendshapes averaged
    "jawOpen": ("jawOpen",),
    "blink": ("eyeBlinkLeft", "eyeBlinkRight"),
    "smile": ("mouthSmileLeft", "mouthSmileRight"),
    "brows up": ("browInnerUp", "browOuterUpLeft", "browOuterUpRight"),
}
POSE_SIGNALS = ("yaw", "pitch")  #: plotted head angles, degrees (``FaceSignals.angles`` order: yaw, pitch, roll)


def preview_video(path: str | Path, out_path: Path, max_seconds: float | None) -> Path:
    """An H.264 copy of the first ``max_seconds`` of ``path`` (audio kept), at most ``PREVIEW_SIDE`` pixels a side."""
    from ..media.encode import write_video
    from ..media.video import open_video

    with open_video(path, max_seconds=max_seconds, max_side=PREVIEW_SIDE) as reader:
        info = reader.info
        return write_video(out_path, reader, info.fps, audio_from=path if info.has_audio else None)


def signal_rows(signals, fps: float) -> tuple[list[dict], list[dict]]:
    """``(expression rows, pose rows)``: one ``{"time", "signal", "value"}`` per frame and signal."""
    expression, pose = [], []
    for i, s in enumerate(signals):
        t = round(i / fps, 3)
        for name, shapes in EXPRESSION_SIGNALS.items():
            value = float(np.mean([s.beta[blendshape_index(b)] for b in shapes]))
            expression.append({"time": t, "signal": name, "value": round(value, 3)})
        for name, angle in zip(POSE_SIGNALS, s.angles, strict=False):
            pose.append({"time": t, "signal": name, "value": round(float(angle), 2)})
    return expression, pose


def signal_table(signals, fps: float):
    """``(expression, pose)`` pandas DataFrames of ``signal_rows`` (for the page's line plots)."""
    import pandas as pd

    expression, pose = signal_rows(signals, fps)
    return pd.DataFrame(expression), pd.DataFrame(pose)


def track_key(smoothing: float, seconds: float) -> tuple[float, float]:
    """The key of a driver's tracked signals (``Driver.tracks``)."""
    return round(float(smoothing), 3), float(seconds)
