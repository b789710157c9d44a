"""``python -m export3d.face COMMAND``: extract driving signals from a photo or a video.

* ``extract IMAGE [--overlay OUT.png] [--face N]``: beta, camera, crop of one face (JSON to stdout);
* ``track VIDEO --out SIGNALS.npz [--overlay OUT.mp4] [--smoothing 0.5]``: per-frame signals;

The calibration is fitted and measured on the synthetic world: ``python -m export3d.synthetic calibrate|measure``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def _overlay(image, s):
    from .head_pose import rotation_from_angles
    from .overlay import draw_overlay

    rot = rotation_from_angles(*s.angles) * np.array([1.0, -1.0, -1.0])[:, None]  # OpenGL -> OpenCV camera axes
    origin = s.landmarks[1]  # MediaPipe nose tip
    text = "yaw {:+.0f} pitch {:+.0f} roll {:+.0f}".format(*s.angles)
    return draw_overlay(image, box=s.box, landmarks=s.landmarks, axes=(rot, origin, s.box.size * 0.25), text=text)


def cmd_extract(a) -> None:
    from ..blendshapes import BLENDSHAPE_NAMES
    from ..media.image import load_image, save_image
    from .extractor import FaceExtractor

    image = load_image(a.image)
    s = FaceExtractor().extract(image, a.face)
    top = np.argsort(-s.beta)[:8]
    print(json.dumps({"faces_found": s.num_faces, "face_used": s.face_index + 1,
                      "yaw_pitch_roll": [round(x, 2) for x in s.angles],
                      "crop": {"cx": s.box.cx, "cy": s.box.cy, "size": s.box.size},
                      "camera": [round(float(x), 5) for x in s.camera],
                      "top_expressions": {BLENDSHAPE_NAMES[i]: round(float(s.beta[i]), 3) for i in top}}, indent=2))
    if a.overlay:
        save_image(a.overlay, _overlay(image, s))


def cmd_track(a) -> None:
    from tqdm import tqdm

    from ..media.encode import write_video
    from ..media.video import open_video
    from .extractor import FaceExtractor

    ex = FaceExtractor()
    with open_video(a.video) as v:
        info = v.info
        frames = list(tqdm(v, total=info.frame_count, desc="decode", unit="frame")) if a.overlay else v
        t0 = time.perf_counter()
        signals = list(tqdm(ex.track(iter(frames), info.fps, a.smoothing, a.face), total=info.frame_count,
                            desc="track", unit="frame"))
    dt = time.perf_counter() - t0
    np.savez(a.out, beta=np.stack([s.beta for s in signals]), camera=np.stack([s.camera for s in signals]),
             angles=np.array([s.angles for s in signals]), interpolated=np.array([s.interpolated for s in signals]),
             fps=info.fps)
    lost = sum(s.interpolated for s in signals)
    n = len(signals)
    print(f"{n} frame{'s' if n != 1 else ''}, {n / dt:.1f} frames/s, face lost in {lost} "
          f"frame{'s' if lost != 1 else ''} -> {a.out}")
    if a.overlay:
        write_video(a.overlay, (_overlay(f, s) for f, s in zip(frames, signals, strict=False)), info.fps)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m export3d.face", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("extract")
    e.add_argument("image", type=Path)
    e.add_argument("--overlay", type=Path)
    e.add_argument("--face", type=int, default=None, help="0 = largest face (default)")
    e.set_defaults(func=cmd_extract)
    t = sub.add_parser("track")
    t.add_argument("video", type=Path)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--overlay", type=Path)
    t.add_argument("--smoothing", type=float, default=0.5)
    t.add_argument("--face", type=int, default=None)
    t.set_defaults(func=cmd_track)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..errors import Export3DError

    try:
        args.func(args)
    except (Export3DError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
