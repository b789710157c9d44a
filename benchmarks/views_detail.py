"""Detail at the portrait's own view and identity of turned views, on real portraits (issue 12's two figures).

    python benchmarks/views_detail.py [--checkpoint PATH] [--portraits DIR] [--turn 30]

For every portrait (every image of ``--portraits``, default the shared ``portraits/``, plus the astronaut):

* **detail**: PSNR (dB) of the output at the portrait's own expression and camera against the portrait's own
  crop, both at the app's output size (256²); goal >= 30 dB;
* **views**: SFace cosine of the output at the portrait's own yaw -/+ ``--turn`` degrees (own expression, own
  pitch) with the portrait's crop; goal >= 0.45.

Prints one line per portrait and the means. Not a test: the figures go in the model card with this command.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a clone without installing

from export3d import paths  # noqa: E402
from export3d.errors import FaceInputError  # noqa: E402
from export3d.evaluation.identity import SFaceIdentity  # noqa: E402
from export3d.evaluation.metrics import psnr  # noqa: E402
from export3d.evaluation.real_cross import load_portraits  # noqa: E402
from export3d.face.crop import CropTransform  # noqa: E402
from export3d.face.head_pose import camera_from_angles  # noqa: E402
from export3d.pipeline import Animator  # noqa: E402


def figures(anim: Animator, sface: SFaceIdentity, image: np.ndarray, turn: float) -> tuple[float, float, float]:
    """``(detail dB, identity at yaw - turn, identity at yaw + turn)`` of one portrait."""
    src = anim.prepare_source(image)
    s = src.signals
    crop = CropTransform(s.box, anim.output_size).warp(image)
    yaw, pitch, roll = (float(a) for a in s.angles)
    cameras = np.stack([s.camera, *(camera_from_angles(yaw + d, pitch, roll) for d in (-turn, turn))])
    out = anim.render(src, s.beta, cameras)
    as_t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].float() / 127.5 - 1  # noqa: E731
    detail = float(psnr(as_t(out[0]), as_t(crop))[0])
    ref = sface.embed(crop)
    ids = []
    for view in out[1:]:
        try:
            ids.append(float(np.dot(sface.embed(view), ref)))
        except FaceInputError:  # no face found in the view counts as identity 0
            ids.append(0.0)
    return detail, ids[0], ids[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--portraits", type=Path, default=None)
    p.add_argument("--turn", type=float, default=30.0)
    a = p.parse_args()
    folder = a.portraits or paths.portraits_dir()
    portraits, skipped = load_portraits(folder if folder.is_dir() else None)
    anim = Animator.from_pretrained(a.checkpoint, device="cpu", output_size=256)
    sface = SFaceIdentity(detector=anim.extractor.detector)
    print(f"checkpoint: {a.checkpoint or 'bundled'}; portraits: {folder}; turn ±{a.turn:g}°")
    rows, t0 = [], time.time()
    for portrait in portraits:
        d, left, right = figures(anim, sface, portrait.image, a.turn)
        rows.append((d, left, right))
        print(f"{portrait.name:34s} detail {d:5.1f} dB   identity at -{a.turn:g}°: {left:.2f}  "
              f"+{a.turn:g}°: {right:.2f}")
    arr = np.array(rows)
    print(f"mean: detail {arr[:, 0].mean():.1f} dB (min {arr[:, 0].min():.1f}), turned-view identity "
          f"{arr[:, 1:].mean():.2f} (min {arr[:, 1:].min():.2f}); {time.time() - t0:.0f} s; "
          f"skipped: {skipped or 'none'}")


if __name__ == "__main__":
    main()
