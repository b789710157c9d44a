"""The methods a report compares: the model and two trivial baselines.

A method maps ``(source (S, S, 3) uint8, beta (N, 52), camera (N, 25), source_camera (25,) | None,
source_beta (52,) | None, source_landmarks (478, 2) | None, driver_landmarks (N, 478, 2) | None,
reference_landmarks (478, 2) | None)`` to predictions ``(N, S, S, 3)`` uint8 (the source's own camera is needed by
warped models only, its own expression by those with an expression field, its MediaPipe landmarks in crop pixels
by those with ``appearance.eyelids`` or ``mouth``; the driver's landmarks and those of its reference frame, in the
driver's own pixels, by the 2D landmark warp only). The camera's intrinsics may carry a framing
(``face/framing.py``). Baselines ignore the driving signals:

* ``copy source``: the source image itself (what a model that learned nothing 3-D would give);
* ``copy source, framed``: the source moved by the camera's framing only (a 2D scale and shift);
* ``2D landmark warp``: ``landmark_warp.LandmarkWarp`` of the source (no model; it ignores the framing);
* ``mean training image``: the per-pixel mean of training frames (the best constant image in L2).

``oracle warp`` is not a ``Method``: it needs the true correspondence field of each target (synthetic
benchmark only) and is run by ``synthetic_eval`` when the benchmark carries the fields.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..face.framing import framing_of_camera
from ..face.head_pose import camera_from_angles
from ..models.export3d import Export3D
from .scoring import to_tensor, to_uint8

Method = Callable[..., np.ndarray]  #: ``(source, beta, camera, source_camera=None, source_beta=None,
#: source_landmarks=None, driver_landmarks=None, reference_landmarks=None) -> predictions``
ORACLE_WARP = "oracle warp"
COPY_FRAMED, LANDMARK_WARP = "copy source, framed", "2D landmark warp"


def oracle_warp(source: np.ndarray, correspondence: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Targets ``(N, S, S, 3)`` uint8: ``source (S, S, 3)`` warped by the true ``correspondence (N, S, S, 2)``
    (source pixel x, y), with the source pixel where ``visible (N, S, S)`` is 0."""
    from ..synthetic.warp import oracle_warp as warp_with_fill

    return warp_with_fill(source, correspondence, visible)


def model_method(model: Export3D, chunk: int = 16) -> Method:
    """Render a cached source under each (beta, camera) row. A warped model warps the source crop itself (the
    output has the crop's size) and needs the source's own camera, ``source_camera (25,)``."""

    @torch.inference_mode()
    def run(source: np.ndarray, beta: np.ndarray, camera: np.ndarray, source_camera=None,
            source_beta=None, source_landmarks=None, **_) -> np.ndarray:
        dev = next(model.parameters()).device
        image = to_tensor(source[None]).to(dev)
        feats = model.encode_source(image, _mesh(model, source_landmarks, image))
        b = torch.as_tensor(beta, dtype=torch.float32, device=dev)
        c = torch.as_tensor(camera, dtype=torch.float32, device=dev)
        own = (source_camera, source_beta, source_landmarks)
        outs = [to_uint8(_frames(model, feats, image, own, b[i:i + chunk], c[i:i + chunk]))
                for i in range(0, len(b), chunk)]
        return np.concatenate(outs) if outs else np.zeros((0, *source.shape), np.uint8)

    return run


def _mesh(model: Export3D, landmarks, image: torch.Tensor) -> torch.Tensor | None:
    """The source's face mesh map ``(1, 3, S, S)`` for a generator with ``mesh_cue`` (from its landmarks in crop
    pixels), else None."""
    if not model.cfg.generator.mesh_cue:
        return None
    if landmarks is None:
        raise ValueError("this model's generator needs the source's face mesh: the set gives no source landmarks")
    from ..face.mesh_map import mesh_map

    return torch.from_numpy(mesh_map(np.asarray(landmarks), image.shape[-1])).to(image.device).permute(2, 0, 1)[None]


def _frames(model: Export3D, feats, image: torch.Tensor, own: tuple, beta: torch.Tensor,
            camera: torch.Tensor) -> torch.Tensor:
    """``own``: the source's own camera, expression and lid contours (crop pixels); any may be None."""
    source_camera, source_beta, source_landmarks = own
    if not model.warped:
        return model.animate_frame(feats.expand(len(beta)), beta, camera)
    if source_camera is None:
        raise ValueError("a warped model needs the source's own camera (this set does not give it)")
    from ..models.warped import WarpSource
    from ..rendering.warp import pixels_to_grid

    row = lambda x: None if x is None else torch.as_tensor(np.asarray(x, np.float32), device=image.device)[None]  # noqa: E731
    planes = model.planes(feats.expand(len(beta)), beta)
    cam, own_beta = row(source_camera), row(source_beta)
    distance = model.own_distance(feats, own_beta, cam) if model.cfg.appearance.depth_test else None
    marks = None if source_landmarks is None else pixels_to_grid(row(source_landmarks), image.shape[-1])
    source = WarpSource(image, cam, own_beta, distance, marks).expand(len(beta))
    out, _, _ = model.render_warped(planes, camera, source, beta)
    return out.image


def copy_source(source: np.ndarray, beta: np.ndarray, camera: np.ndarray, **_) -> np.ndarray:
    return np.repeat(source[None], len(beta), axis=0)


def copy_framed(source: np.ndarray, beta: np.ndarray, camera: np.ndarray, **_) -> np.ndarray:
    """The source moved by each camera's framing (``face.framing.framing_of_camera``), its border replicated."""
    import cv2

    size = source.shape[0]
    matrix = lambda c: framing_of_camera(c).matrix(size)  # noqa: E731
    return np.stack([cv2.warpAffine(source, matrix(c), (size, size), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE) for c in np.asarray(camera)])


def landmark_warp(source: np.ndarray, beta: np.ndarray, camera: np.ndarray, source_landmarks=None,
                  driver_landmarks=None, reference_landmarks=None, **_) -> np.ndarray:
    """``LandmarkWarp`` of the source following the driver's landmarks relative to its reference frame."""
    from .landmark_warp import LandmarkWarp

    if source_landmarks is None or driver_landmarks is None or reference_landmarks is None:
        raise ValueError("the 2D landmark warp needs the source's, the driver's and the reference's landmarks")
    return LandmarkWarp(source, source_landmarks).drive(driver_landmarks, reference_landmarks)


def constant_method(image: np.ndarray) -> Method:
    def run(source: np.ndarray, beta: np.ndarray, camera: np.ndarray, **_) -> np.ndarray:
        return np.repeat(image[None], len(beta), axis=0)

    return run


def mean_image(frames: np.ndarray) -> np.ndarray:
    """Per-pixel mean ``(S, S, 3)`` uint8 of frames ``(..., S, S, 3)``."""
    flat = frames.reshape(-1, *frames.shape[-3:]).astype(np.float64)
    return np.round(flat.mean(0)).astype(np.uint8)


def mean_training_image(train_data, max_frames: int = 4096, seed: int = 0) -> np.ndarray:
    """Mean of up to ``max_frames`` random frames of a synthetic training dataset folder (first shards)."""
    from pathlib import Path

    shards = sorted(Path(train_data).glob("shard-*.npz"))
    if not shards:
        raise FileNotFoundError(f"{train_data}: no shard-*.npz (a synthetic training dataset is expected)")
    frames, total = [], 0
    for path in shards:
        with np.load(path, allow_pickle=False) as z:
            f = z["frames"].reshape(-1, *z["frames"].shape[-3:])
        frames.append(f)
        total += len(f)
        if total >= max_frames:
            break
    allf = np.concatenate(frames)
    pick = np.random.default_rng(seed).choice(len(allf), size=min(max_frames, len(allf)), replace=False)
    return mean_image(allf[pick])


def cameras_from_angles(angles: np.ndarray) -> np.ndarray:
    """``(N, 3)`` yaw/pitch/roll degrees -> ``(N, 25)`` EG3D cameras (the extractor's convention)."""
    return np.stack([camera_from_angles(*a) for a in angles.astype(np.float64)]) if len(angles) else np.zeros((0, 25))
