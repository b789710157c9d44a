"""``python -m export3d.face COMMAND``: extract driving signals, fit and measure the calibration.

* ``extract IMAGE [--overlay OUT.png] [--face N]``: beta, camera, crop of one face (JSON to stdout);
* ``track VIDEO --out SIGNALS.npz [--overlay OUT.mp4] [--smoothing 0.5]``: per-frame signals;
* ``calibrate``: fit the pose/expression calibration on synthetic renders and save it;
* ``measure``: accuracy of the extractor on held-out synthetic renders (pose, shapes, identity leakage).
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
    from ..media.image import load_image, save_image
    from .extractor import FaceExtractor
    from .landmarker import BLENDSHAPE_NAMES

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

    from ..media.video import open_video, write_video
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
    print(f"{len(signals)} frames, {len(signals) / dt:.1f} frames/s, face lost in {lost} frame(s) -> {a.out}")
    if a.overlay:
        write_video(a.overlay, (_overlay(f, s) for f, s in zip(frames, signals, strict=False)), info.fps)


def cmd_calibrate(a) -> None:
    from ..synthetic.calibrate_extractor import fit, measure, render_samples

    samples = render_samples("train", a.identities, a.per_identity, seed=a.seed)
    cal = fit(samples, " ".join(["python -m export3d.face"] + sys.argv[1:]))
    cal.info["fit_on_train"] = measure(samples, cal)
    path = cal.save(a.out) if a.out else cal.save()
    print(json.dumps(cal.info, indent=2))
    print(f"saved {path}")


def cmd_measure(a) -> None:
    from ..synthetic.calibrate_extractor import identity_leakage, measure, render_samples
    from .calibration import Calibration

    cal = Calibration.load(a.calibration) if a.calibration else Calibration.load()
    res = measure(render_samples("test", a.identities, a.per_identity, seed=a.seed + 1), cal)
    shared = render_samples("test", a.leak_identities, a.leak_expressions, seed=a.seed + 2, shared_expressions=True)
    res["identity_leakage"] = identity_leakage(shared, cal)
    print(json.dumps(res, indent=2))


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
    c = sub.add_parser("calibrate")
    c.add_argument("--identities", type=int, default=60)
    c.add_argument("--per-identity", type=int, default=20)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out", type=Path, default=None)
    c.set_defaults(func=cmd_calibrate)
    m = sub.add_parser("measure")
    m.add_argument("--identities", type=int, default=20)
    m.add_argument("--per-identity", type=int, default=15)
    m.add_argument("--leak-identities", type=int, default=12)
    m.add_argument("--leak-expressions", type=int, default=10)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--calibration", type=Path, default=None)
    m.set_defaults(func=cmd_measure)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..errors import FaceInputError, ModelFileError

    try:
        args.func(args)
    except (FaceInputError, ModelFileError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
