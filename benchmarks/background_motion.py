"""Does the background stay still when the head turns? The sampling field on the portrait's background.

    python benchmarks/background_motion.py [--checkpoint PATH] [--portraits DIR] [--turn 20]

For every portrait (every image of ``--portraits``, default the shared ``portraits/``, plus the astronaut), at its
own expression and at its own camera turned by ``-/+ --turn`` degrees of yaw, prints

* ``opaque``: the share of the crop where the portrait's own render is opaque (opacity > 0.5): the head's area if
  the density kept to the head, the whole crop if it spread into the background;
* the warped model's sampling field minus the identity (``pipeline/frames.crop_layers``), in pixels of the app's
  512² face crop, averaged over the **background** (an estimate: OpenCV GrabCut seeded with the face oval as head
  and the crop's border as background, eroded by 4 px) and over the **face** (inside the face oval), both only
  where the field is not faded out at the crop's border (``paste.FEATHER``).

A still background has 0 there; the face moves by what the turn asks. Not a test: the figures go in the docs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a clone without installing

from export3d import paths  # noqa: E402
from export3d.evaluation.real_cross import load_portraits, prepare_all  # noqa: E402
from export3d.face.crop import CropTransform  # noqa: E402
from export3d.pipeline import Animator, ViewSettings  # noqa: E402
from export3d.pipeline.frames import crop_layers  # noqa: E402
from export3d.pipeline.paste import CROP_SIZE, FEATHER  # noqa: E402

FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176,
             149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)  #: MediaPipe's face oval, in order


def regions(crop: np.ndarray, oval: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(background, face)`` bool masks ``(S, S)`` of an RGB ``crop (S, S, 3)`` given the face oval ``(K, 2)`` in
    its pixels (module docstring)."""
    size = crop.shape[0]
    face = np.zeros((size, size), np.uint8)
    cv2.fillPoly(face, [np.round(oval).astype(np.int32)], 1)
    centre = oval.mean(0)
    seed = np.full((size, size), cv2.GC_PR_BGD, np.uint8)
    cv2.fillPoly(seed, [np.round((oval - centre) * 1.4 + centre).astype(np.int32)], cv2.GC_PR_FGD)
    cv2.fillPoly(seed, [np.round((oval - centre) * 0.9 + centre).astype(np.int32)], cv2.GC_FGD)
    b = max(2, size // 40)
    seed[:b], seed[-b:], seed[:, :b], seed[:, -b:] = cv2.GC_BGD, cv2.GC_BGD, cv2.GC_BGD, cv2.GC_BGD
    models = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.grabCut(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), seed, None, *models, 5, cv2.GC_INIT_WITH_MASK)
    background = np.isin(seed, (cv2.GC_BGD, cv2.GC_PR_BGD)).astype(np.uint8)
    return cv2.erode(background, np.ones((9, 9), np.uint8)) > 0, face > 0


def field_shift(anim: Animator, src, camera: np.ndarray) -> np.ndarray:
    """``(M, M)`` length of the sampling field minus the identity, in pixels of the ``CROP_SIZE`` crop."""
    frames, model = anim.frames, anim.model
    features, beta, cam = frames.inputs(src.features, src.signals.beta, camera)
    with torch.inference_mode():
        warp = src.warp.expand(1, frames.device)
        out, raw, _ = model.render_warped(model.planes(features, beta), cam, warp, beta)
        layers = crop_layers(out.image, raw, out, src.warp)[0]
    return np.linalg.norm(layers.shift, axis=-1) * (CROP_SIZE / layers.shift.shape[0])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--portraits", type=Path, default=None)
    p.add_argument("--turn", type=float, default=20.0)
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    folder = a.portraits or paths.portraits_dir()
    portraits, _ = load_portraits(folder if folder.is_dir() else None)
    anim = Animator.from_pretrained(a.checkpoint, device="cpu")
    if not anim.model.warped:
        raise SystemExit("the field exists for warped models only")
    print(f"checkpoint: {a.checkpoint or 'bundled'}; yaw -/+{a.turn:g} deg; displacements in px of the 512² crop")
    prepared, skipped = prepare_all(anim, portraits)
    for portrait, src in prepared:
        size = src.warp.image.shape[-1]
        crop = CropTransform(src.signals.box, size).warp(portrait.image)
        oval = CropTransform(src.signals.box, size).image_to_crop(src.signals.landmarks)[list(FACE_OVAL)]
        background, face = regions(crop, oval)
        inner = np.zeros((size, size), bool)
        k = int(round(FEATHER * size))
        inner[k:-k, k:-k] = True
        own = anim.frames.own_opacity(src.features, src.signals.beta, src.signals.camera)
        cells = []
        for yaw in (-a.turn, a.turn):
            shift = field_shift(anim, src, anim.camera_for(src.signals, ViewSettings(yaw=yaw), portrait=src))
            bg = shift[background & inner]
            cells.append(f"yaw {yaw:+.0f}: background {bg.mean() if bg.size else float('nan'):5.1f}, "
                         f"face {shift[face & inner].mean():5.1f}")
        print(f"{portrait.name:32s} opaque {100 * (own > 0.5).mean():3.0f}% | background "
              f"{100 * (background & inner).mean():3.0f}% of the crop | " + " | ".join(cells))
    if skipped:
        print("skipped:", "; ".join(skipped))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
