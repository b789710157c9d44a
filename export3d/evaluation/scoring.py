"""Score a set of predicted images against targets with every metric of the report.

Images are uint8 RGB ``(N, S, S, 3)``. The face readouts (expression, pose, landmarks, identity)
of targets and references are computed once and passed in, so baselines reuse them.

| column | meaning |
|---|---|
| PSNR, SSIM | against the target (dB; SSIM in [-1, 1]) |
| ST-LPIPS | shift-tolerant LPIPS (alex) against the target; lower is better |
| SFace-CSIM | cosine similarity of SFace embeddings, prediction vs the *source* (identity kept) |
| AKD | mean distance of the 478 MediaPipe landmarks, prediction vs target (pixels at S) |
| AED | mean absolute difference of the 52 expression scores, prediction vs the *driver* |
| APD | mean absolute yaw/pitch/roll difference, prediction vs the *driver* (degrees) |
| face found | fraction of predictions in which the extractor finds a face (AKD/AED/APD use only those) |
"""

from __future__ import annotations

import numpy as np
import torch

from .analysis import FaceAnalyzer, FaceReadout, cosine_rows
from .metrics import expression_distance, keypoint_distance, pose_distance, psnr, ssim

COLUMNS = ("PSNR", "SSIM", "ST-LPIPS", "SFace-CSIM", "AKD", "AED", "APD", "face found")
HIGHER_IS_BETTER = {"PSNR": True, "SSIM": True, "ST-LPIPS": False, "SFace-CSIM": True, "AKD": False,
                    "AED": False, "APD": False, "face found": True}


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 ``(N, S, S, 3)`` -> float ``(N, 3, S, S)`` in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """float ``(N, 3, S, S)`` in [-1, 1] -> uint8 ``(N, S, S, 3)``."""
    x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def _lpips_values(lpips, pred: torch.Tensor, target: torch.Tensor, chunk: int = 32) -> torch.Tensor:
    if lpips is None:
        return torch.full((len(pred),), float("nan"))
    return torch.cat([lpips(pred[i:i + chunk], target[i:i + chunk]).flatten()
                      for i in range(0, len(pred), chunk)])


def score(pred: np.ndarray, target: np.ndarray, pred_faces: FaceReadout, target_faces: FaceReadout,
          driver_faces: FaceReadout, source_identity: np.ndarray, lpips=None) -> dict[str, np.ndarray]:
    """Per-image metric arrays ``{column: (N,)}``; ``source_identity`` is ``(N, 128)`` (NaN rows allowed)."""
    p, t = to_tensor(pred), to_tensor(target)
    pf, tf, df = (_tensors(r) for r in (pred_faces, target_faces, driver_faces))
    return {
        "PSNR": psnr(p, t).numpy(),
        "SSIM": ssim(p, t).numpy(),
        "ST-LPIPS": _lpips_values(lpips, p, t).numpy(),
        "SFace-CSIM": cosine_rows(pred_faces.identity, source_identity),
        "AKD": keypoint_distance(pf["landmarks"], tf["landmarks"]).numpy(),
        "AED": expression_distance(pf["beta"], df["beta"]).numpy(),
        "APD": pose_distance(pf["angles"], df["angles"]).numpy(),
        "face found": pred_faces.found.astype(np.float64),
    }


def _tensors(r: FaceReadout) -> dict[str, torch.Tensor]:
    return {"landmarks": torch.from_numpy(r.landmarks), "beta": torch.from_numpy(r.beta),
            "angles": torch.from_numpy(r.angles)}


def mean_scores(values: dict[str, np.ndarray]) -> dict[str, float]:
    """NaN-skipping means; NaN when nothing was measurable."""
    out = {}
    for k, v in values.items():
        v = np.asarray(v, np.float64)
        v = v[~np.isnan(v)]
        out[k] = float(v.mean()) if v.size else float("nan")
    return out


def repeat_readout(r: FaceReadout, n: int) -> FaceReadout:
    """A one-image readout repeated ``n`` times (for constant baselines)."""
    return FaceReadout(*(np.repeat(a[:1], n, axis=0) for a in (r.beta, r.angles, r.landmarks, r.identity)))


def score_constant(image: np.ndarray, target: np.ndarray, target_faces: FaceReadout, driver_faces: FaceReadout,
                   source_identity: np.ndarray, analyzer: FaceAnalyzer, lpips=None) -> dict[str, np.ndarray]:
    """Score one image ``(S, S, 3)`` used as the prediction for every target (a baseline)."""
    n = len(target)
    faces = repeat_readout(analyzer.read(image[None]), n)
    return score(np.repeat(image[None], n, 0), target, faces, target_faces, driver_faces, source_identity, lpips)
