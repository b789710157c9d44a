"""Training pairs for the warped model: the portrait is a clip's first frame, the target any later frame.

Synthetic clips (format 2, ``synthetic/dataset.py``) carry, per frame, the exact correspondence to the clip's
first frame (``flow``), its visibility there and the foreground mask, so the first frame is the source and the
field and visibility can be supervised directly. Real clips (``preprocess``) give photometric pairs only.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from .data import BETA_FILE, ClipData
from .mesh_maps import MESH_FILE

SOURCE_FRAME = 0  #: the correspondences of the synthetic world point into each clip's first frame


@dataclass
class WarpBatch:
    source: torch.Tensor  #: (B, 3, S, S) in [-1, 1], the portrait (a clip's first frame)
    driver: torch.Tensor  #: (B, 3, S, S) in [-1, 1], the target
    beta: torch.Tensor  #: (B, 52) driver expression
    camera: torch.Tensor  #: (B, 25) driver camera
    source_camera: torch.Tensor  #: (B, 25) the portrait's camera
    source_beta: torch.Tensor  #: (B, 52) the portrait's expression
    coords: torch.Tensor | None = None  #: (B, S, S, 2) source pixel (x, y) of each target pixel's surface point
    visible: torch.Tensor | None = None  #: (B, S, S) bool: that point is visible in the source
    foreground: torch.Tensor | None = None  #: (B, S, S) bool: the target pixel shows the person
    weight: torch.Tensor | None = None  #: (B, S, S) float: per-pixel weight of the field loss (``feature_weights``)
    mesh: torch.Tensor | None = None  #: (B, 3, S, S) in [0, 1]: the portrait's face mesh map (``mesh-maps``)

    def rows(self, idx: torch.Tensor) -> WarpBatch:
        return WarpBatch(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name)[idx]
                            for f in fields(self)})

    def to(self, device: torch.device | str) -> WarpBatch:
        return WarpBatch(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name).to(device)
                            for f in fields(self)})


class WarpClips(ClipData):
    """A synthetic dataset folder with dense correspondences (format 2) and ``beta.npy``, in memory."""

    def __init__(self, folder: str | Path, holdout_clips: int = 20, max_clips: int | None = None):
        from ..synthetic.correspondence import pixel_centres
        from ..synthetic.dataset import SyntheticDataset

        folder = Path(folder)
        if not (folder / BETA_FILE).is_file():
            raise FileNotFoundError(f"{folder / BETA_FILE} missing: run `python -m export3d.training prepare {folder}`")
        ds = SyntheticDataset(folder, dense=True)
        if "flow" not in ds.arrays:
            raise ValueError(f"{folder} has no correspondences (format 1): render it again with make-dataset")
        n = len(ds) if max_clips is None else min(max_clips, len(ds))
        a = {k: v[:n] for k, v in ds.arrays.items()}
        self.name = f"synthetic correspondences {folder}"
        self.frames = torch.from_numpy(a["frames"])
        self.camera = torch.from_numpy(a["camera"]).float()
        self.beta = torch.from_numpy(np.load(folder / BETA_FILE)[:n]).float()
        self.flow = torch.from_numpy(a["flow"])  # (C, F, S, S, 2) float16, coords - pixel centre
        self.visible = torch.from_numpy(a["visible"]).bool()
        self.foreground = torch.from_numpy(a["foreground"]).bool()
        self.centres = torch.from_numpy(pixel_centres(*a["flow"].shape[2:4]))
        self.landmarks = torch.from_numpy(a["landmarks2d"]).float()  # (C, F, 68, 2) pixels
        mesh = folder / MESH_FILE
        self.mesh = torch.from_numpy(np.load(mesh)[:n]) if mesh.is_file() else None  # (C, S, S, 3) uint8
        self._split(holdout_clips)
        self.train = self.train[self.valid[self.train, SOURCE_FRAME]]
        self.heldout = self.heldout[self.valid[self.heldout, SOURCE_FRAME]]

    def warp_pairs(self, batch: int, g: torch.Generator, heldout: bool = False) -> WarpBatch:
        pool = self.heldout if heldout else self.train
        clips = pool[torch.randint(len(pool), (batch,), generator=g)]
        later = self.valid[clips].float()
        later[:, SOURCE_FRAME] = 0
        d = torch.multinomial(later + 1e-9, 1, generator=g)[:, 0]
        s = torch.full_like(d, SOURCE_FRAME)
        return WarpBatch(self.to_float(self.frames[clips, s]), self.to_float(self.frames[clips, d]),
                         self.beta[clips, d], self.camera[clips, d], self.camera[clips, s], self.beta[clips, s],
                         self.flow[clips, d].float() + self.centres, self.visible[clips, d],
                         self.foreground[clips, d], feature_weights(self.landmarks[clips, d], self.frame_size),
                         None if self.mesh is None else self.mesh[clips].permute(0, 3, 1, 2).float() / 255)


MOUTH, EYE_RIGHT, EYE_LEFT = slice(48, 68), slice(36, 42), slice(42, 48)  #: 68-point Multi-PIE groups
FEATURE_WEIGHT = 5.0  #: extra field-loss weight on the mouth and eyes: small regions that carry the expression


def feature_weights(landmarks: torch.Tensor, size: int, margin: float = 0.35) -> torch.Tensor:
    """``(B, S, S)`` weights: ``1 + FEATURE_WEIGHT`` inside the boxes around the mouth and each eye (enlarged by
    ``margin`` of their size on every side), 1 elsewhere, from 68 landmarks ``(B, 68, 2)`` in pixels."""
    c = torch.arange(size, dtype=torch.float32) + 0.5
    out = torch.ones(len(landmarks), size, size)
    for group in (MOUTH, EYE_RIGHT, EYE_LEFT):
        pts = landmarks[:, group]
        lo, hi = pts.amin(1), pts.amax(1)
        pad = (hi - lo) * margin + 1.0
        lo, hi = lo - pad, hi + pad
        inside_x = (c[None, :] >= lo[:, :1]) & (c[None, :] <= hi[:, :1])  # (B, S) columns
        inside_y = (c[None, :] >= lo[:, 1:]) & (c[None, :] <= hi[:, 1:])  # (B, S) rows
        out[inside_y[:, :, None] & inside_x[:, None, :]] = 1.0 + FEATURE_WEIGHT
    return out


def photometric_pairs(data: ClipData, batch: int, g: torch.Generator, heldout: bool = False) -> WarpBatch:
    """Pairs of any clips (e.g. real video) without correspondences: source and driver frames of one clip."""
    pool = data.heldout if heldout else data.train
    clips = pool[torch.randint(len(pool), (batch,), generator=g)]
    idx = data.frames_of(clips, 2, g)
    s, d = idx[:, 0], idx[:, 1]
    return WarpBatch(data.to_float(data.frames[clips, s]), data.to_float(data.frames[clips, d]),
                     data.beta[clips, d], data.camera[clips, d], data.camera[clips, s], data.beta[clips, s])
