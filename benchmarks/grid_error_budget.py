"""Where GRID self-reenactment's error lies: mouth, eyes or the rest, and how much of it is framing.

    python benchmarks/grid_error_budget.py [--checkpoint PATH] [--grid DIR]

For every GRID clip (first frame = source, every 2nd later frame = driver and target, 128² crops framed per frame
by the tracker, as ``python -m export3d.evaluation`` does) and each of: copying the source, the copy moved by the
driver's framing (``face/framing.py``), the model without and with the framing, and the 2D landmark warp, prints

* PSNR of the mean squared error over all targets (dB);
* the share of that error inside the mouth box and the eye boxes (boxes around the source's landmarks) and outside;
* PSNR after the best affine alignment of each output to its target (OpenCV ECC): the error left once *where the
  face sits* is taken out.

Not a test: the figures go in the model card with this command.
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

from export3d.evaluation.grid_eval import UNFRAMED, load_clips, predict  # noqa: E402
from export3d.evaluation.methods import copy_framed, copy_source, landmark_warp, model_method  # noqa: E402
from export3d.face.extractor import FaceExtractor  # noqa: E402
from export3d.models.export3d import Export3D  # noqa: E402
from export3d.paths import grid_clips_dir  # noqa: E402

MOUTH = (61, 291, 0, 17, 13, 14, 78, 308, 152)  #: lip corners, lip centres, chin
EYES = (33, 133, 159, 145, 362, 263, 386, 374)  #: eye corners and lids


def box(points: np.ndarray, ids, margin: float, size: int) -> np.ndarray:
    """``(size, size)`` bool: the bounding box of ``points[ids]`` grown by ``margin`` pixels."""
    lo, hi = points[list(ids)].min(0) - margin, points[list(ids)].max(0) + margin
    m = np.zeros((size, size), bool)
    m[max(int(lo[1]), 0):int(hi[1]), max(int(lo[0]), 0):int(hi[0])] = True
    return m


def aligned_error(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error after the affine ECC alignment of ``pred`` to ``target`` (unaligned if ECC fails)."""
    gray = lambda x: cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float32)  # noqa: E731
    w = np.eye(2, 3, dtype=np.float32)
    try:
        _, w = cv2.findTransformECC(gray(target), gray(pred), w, cv2.MOTION_AFFINE,
                                    (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-5), None, 1)
    except cv2.error:
        pass
    size = (pred.shape[1], pred.shape[0])
    moved = cv2.warpAffine(pred, w, size, flags=cv2.INTER_LINEAR + cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE)
    return float(((moved.astype(np.float64) - target) ** 2).mean())


def psnr(mse: float) -> float:
    return 10 * np.log10(255.0**2 / mse)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "export3d-small"))
    p.add_argument("--grid", type=Path, default=None, help="folder of GRID clips (default: the shared data)")
    args = p.parse_args(argv)
    folder = args.grid or grid_clips_dir()
    if not folder.is_dir():
        print(f"no GRID clips at {folder} (set EXPORT3D_DATA)")
        return 2
    torch.set_grad_enabled(False)
    model = Export3D.from_pretrained(args.checkpoint).eval()
    size = model.cfg.generator.source_size
    clips = load_clips(folder, size, FaceExtractor())
    ours = model_method(model)
    methods = {"copy source": copy_source, "copy source, framed": copy_framed, "ours" + UNFRAMED: ours,
               "ours": ours, "2D landmark warp": landmark_warp}
    rows = {m: {"all": [], "mouth": [], "eyes": [], "aligned": []} for m in methods}
    for c in clips:
        idx = (np.flatnonzero(c.valid[1:]) + 1)[::2]
        mouth, eyes = box(c.landmarks[0], MOUTH, 6, size), box(c.landmarks[0], EYES, 4, size)
        targets = c.crops[idx].astype(np.float64)
        for name, method in methods.items():
            pred = predict(method, name, c, c, idx, size)
            err = ((pred - targets) ** 2).mean(-1)  # (N, S, S)
            r = rows[name]
            r["all"].extend(err.mean((1, 2)))
            r["mouth"].extend(err[:, mouth].sum(1) / mouth.size)
            r["eyes"].extend(err[:, eyes].sum(1) / eyes.size)
            r["aligned"].extend(aligned_error(a, t) for a, t in zip(pred, c.crops[idx], strict=True))
    print(f"{len(rows['ours']['all'])} targets from {len(clips)} clips ({folder})")
    print(f"{'method':28s} {'PSNR':>6s} {'mouth':>6s} {'eyes':>6s} {'rest':>6s} {'aligned PSNR':>13s}")
    for name, r in rows.items():
        total, mouth, eyes = (float(np.mean(r[k])) for k in ("all", "mouth", "eyes"))
        print(f"{name:28s} {psnr(total):6.2f} {mouth / total:6.1%} {eyes / total:6.1%} "
              f"{1 - (mouth + eyes) / total:6.1%} {psnr(float(np.mean(r['aligned']))):13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
