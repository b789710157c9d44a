"""Training data: synthetic clips with the extractor's beta per frame, pre-decoded to tensors.

``prepare_synthetic`` runs the *same* face extractor used at inference on every frame of a
synthetic dataset (``export3d.synthetic``) and caches beta ``(C, F, 52)`` next to the shards as
``beta.npy`` (NaN rows where no face was found), so training never runs detection. Cameras are
the exact synthetic ones. ``TrainingData`` keeps everything in memory as uint8/float tensors
(any concurrent CPU-bound loader would halve throughput on 2 cores).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

BETA_FILE = "beta.npy"


def prepare_synthetic(folder: str | Path, progress: bool = True) -> Path:
    """Extract beta for every frame of a synthetic dataset folder; returns the cache path."""
    from ..face.extractor import FaceExtractor
    from ..synthetic.dataset import SyntheticDataset

    folder = Path(folder)
    out = folder / BETA_FILE
    ds = SyntheticDataset(folder)
    frames = ds.arrays["frames"]
    ex = FaceExtractor()
    beta = np.full((*frames.shape[:2], 52), np.nan, dtype=np.float32)
    for c in tqdm(range(len(ds)), desc="extract beta", unit="clip", disable=not progress):
        try:
            for f, s in enumerate(ex.track(iter(frames[c]), fps=25.0, smoothing=0.0)):
                if not s.interpolated:
                    beta[c, f] = s.beta
        except Exception:  # noqa: BLE001 - a clip without any detectable face stays NaN
            continue
    np.save(out, beta)
    return out


@dataclass
class Batch:
    source: torch.Tensor  #: (B, 3, S, S) in [-1, 1]
    driver: torch.Tensor  #: (B, 3, S, S) in [-1, 1] (the target)
    beta: torch.Tensor  #: (B, 52) driver expression
    camera: torch.Tensor  #: (B, 25) driver camera


class TrainingData:
    """In-memory clips ``(C, F, S, S, 3)`` uint8 with beta and cameras; a held-out clip split."""

    def __init__(self, folder: str | Path, holdout_clips: int = 20):
        from ..synthetic.dataset import SyntheticDataset

        folder = Path(folder)
        if not (folder / BETA_FILE).is_file():
            raise FileNotFoundError(f"{folder / BETA_FILE} missing: run `python -m export3d.train prepare {folder}`")
        ds = SyntheticDataset(folder)
        self.frames = torch.from_numpy(ds.arrays["frames"])  # uint8
        self.camera = torch.from_numpy(ds.arrays["camera"]).float()
        self.beta = torch.from_numpy(np.load(folder / BETA_FILE)).float()
        self.valid = ~torch.isnan(self.beta).any(-1)  # (C, F)
        self.beta = torch.nan_to_num(self.beta)
        usable = (self.valid.sum(1) >= 2).nonzero().squeeze(1)
        self.heldout, self.train = usable[:holdout_clips], usable[holdout_clips:]
        if len(self.train) == 0:
            raise ValueError(f"{folder}: no clip has two frames with a detected face")

    @staticmethod
    def to_float(frames_uint8: torch.Tensor) -> torch.Tensor:
        """``(..., S, S, 3)`` uint8 -> ``(..., 3, S, S)`` float in [-1, 1]."""
        return frames_uint8.movedim(-1, -3).float() / 127.5 - 1.0

    def _frames_of(self, clips: torch.Tensor, count: int, g: torch.Generator) -> torch.Tensor:
        """``count`` distinct valid frame indices per clip ``(len(clips), count)``."""
        w = self.valid[clips].float() + 1e-9
        return torch.multinomial(w, count, replacement=False, generator=g)

    def pairs(self, batch: int, g: torch.Generator, heldout: bool = False) -> Batch:
        pool = self.heldout if heldout else self.train
        clips = pool[torch.randint(len(pool), (batch,), generator=g)]
        idx = self._frames_of(clips, 2, g)
        s, d = idx[:, 0], idx[:, 1]
        return Batch(self.to_float(self.frames[clips, s]), self.to_float(self.frames[clips, d]),
                     self.beta[clips, d], self.camera[clips, d])

    def clip_batch(self, clips: int, frames: int, g: torch.Generator, heldout: bool = False
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """Contrastive batch: images ``(N, K, 3, S, S)`` and beta ``(N, K, 52)`` from N clips."""
        pool = self.heldout if heldout else self.train
        c = pool[torch.randperm(len(pool), generator=g)[:clips]]
        f = self._frames_of(c, frames, g)
        return self.to_float(self.frames[c[:, None], f]), self.beta[c[:, None], f]
