"""Face-stage figures on real clips: speed (decode + track) and jitter before/after smoothing.

    python benchmarks/bench_extraction.py [--overlay-dir OUT] [--portraits-sheet OUT.png]

Uses the GRID clips under ``$EXPORT3D_DATA/grid`` (CC BY 4.0; outputs are written outside the
repository and never committed). Jitter = mean absolute second difference per frame (degrees for
angles, blendshape units for beta, pixels for the 478 landmarks).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone without installing

from export3d.face.extractor import FaceExtractor  # noqa: E402
from export3d.media.encode import write_video  # noqa: E402
from export3d.media.video import open_video  # noqa: E402
from export3d.paths import grid_clips_dir, portraits_dir  # noqa: E402


def jitter(x: np.ndarray) -> float:
    return float(np.abs(np.diff(np.asarray(x, np.float64), n=2, axis=0)).mean())


def run_clip(ex: FaceExtractor, path: Path, smoothing: float):
    t0 = time.perf_counter()
    with open_video(path) as v:
        frames = list(v)
        fps = v.info.fps
    sig = list(ex.track(iter(frames), fps, smoothing))
    return frames, sig, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--overlay-dir", type=Path, default=None)
    ap.add_argument("--portraits-sheet", type=Path, default=None)
    args = ap.parse_args()
    clips = sorted(grid_clips_dir().glob("*.mpg"))
    if not clips:
        raise SystemExit(f"no GRID clips in {grid_clips_dir()} (set EXPORT3D_DATA)")
    ex = FaceExtractor()
    run_clip(ex, clips[0], 0.0)  # warm-up
    rows = []
    for path in clips:
        frames, raw, dt = run_clip(ex, path, 0.0)
        _, smooth, _ = run_clip(ex, path, 0.5)
        rows.append((path.stem, len(frames), len(frames) / dt,
                     jitter([s.angles for s in raw]), jitter([s.angles for s in smooth]),
                     jitter([s.beta for s in raw]), jitter([s.beta for s in smooth]),
                     jitter([s.landmarks for s in raw]), sum(s.interpolated for s in raw)))
        if args.overlay_dir:
            from export3d.face.__main__ import _overlay

            args.overlay_dir.mkdir(parents=True, exist_ok=True)
            write_video(args.overlay_dir / f"{path.stem}_overlay.mp4",
                        (_overlay(f, s) for f, s in zip(frames, smooth, strict=True)), 25.0)
    print("| clip | frames | frames/s (decode+track) | angle jitter raw → smoothed (°) | beta jitter raw → smoothed "
          "| landmark jitter (px) | lost |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        name, n, speed, a0, a1, b0, b1, lm, lost = r
        print(f"| {name} | {n} | {speed:.0f} | {a0:.3f} → {a1:.3f} | {b0:.4f} → {b1:.4f} | {lm:.2f} | {lost} |")
    m = np.array([r[2:8] for r in rows]).mean(0)
    print(f"| mean | | {m[0]:.0f} | {m[1]:.3f} → {m[2]:.3f} | {m[3]:.4f} → {m[4]:.4f} | {m[5]:.2f} | |")
    if args.portraits_sheet:
        portraits(ex, args.portraits_sheet)


def portraits(ex: FaceExtractor, out: Path) -> None:
    from export3d.face.crop import CropTransform
    from export3d.face.overlay import overlay_contact_sheet
    from export3d.media.image import load_image, save_image

    tiles = []
    for path in sorted(portraits_dir().glob("*.jpg")):
        image = load_image(path)
        s = ex.extract(image)
        tiles.append(CropTransform(s.box, 256).warp(image))
        print(f"{path.name}: {image.shape[1]}x{image.shape[0]}, face crop side {s.box.size:.0f} px, "
              f"yaw/pitch/roll {s.angles[0]:+.0f}/{s.angles[1]:+.0f}/{s.angles[2]:+.0f}")
    save_image(out, overlay_contact_sheet(tiles, columns=len(tiles), tile=256))


if __name__ == "__main__":
    main()
