"""Training data: synthetic clips with the extractor's beta per frame, pre-decoded to tensors.

``prepare_synthetic`` runs the *same* face extractor used at inference on every frame of a
synthetic dataset (``export3d.synthetic``) and caches beta ``(C, F, 52)`` next to the shards as
``beta.npy`` (NaN rows where no face was found), so training never runs detection. Cameras are
the exact synthetic ones. ``TrainingData`` keeps everything in memory as uint8/float tensors
(any concurrent CPU-bound loader would halve throughput on 2 cores).

Real videos are preprocessed by ``preprocess.py`` into ``real-*.npz`` clips (crops, beta, cameras);
``RealClips`` loads a folder of them and ``MixedData`` draws each example from the real clips with
probability ``real_ratio`` (from the training loop's generator, so a resumed run draws the same).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..blendshapes import BETA_DIM

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
    beta = np.full((*frames.shape[:2], BETA_DIM), np.nan, dtype=np.float32)
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

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(*(t.to(device) for t in (self.source, self.driver, self.beta, self.camera)))


class ClipData:
    """In-memory clips ``(C, F, S, S, 3)`` uint8 with beta and cameras; a held-out clip split.

    Subclasses fill ``frames``, ``camera``, ``beta`` (NaN rows where no face was found), then call
    ``_split``.
    """

    frames: torch.Tensor  #: (C, F, S, S, 3) uint8
    camera: torch.Tensor  #: (C, F, 25)
    beta: torch.Tensor  #: (C, F, 52), zero where not valid
    valid: torch.Tensor  #: (C, F) bool: a face was found in this frame
    heldout: torch.Tensor  #: clip indices kept for evaluation
    train: torch.Tensor  #: clip indices to train on
    name: str = "clips"

    def _split(self, holdout_clips: int) -> None:
        self.valid = ~torch.isnan(self.beta).any(-1)  # (C, F)
        self.beta = torch.nan_to_num(self.beta)
        usable = (self.valid.sum(1) >= 2).nonzero().squeeze(1)
        self.heldout, self.train = usable[:holdout_clips], usable[holdout_clips:]
        if len(self.train) == 0:
            raise ValueError(f"{self.name}: no clip has two frames with a detected face (besides the "
                             f"{len(self.heldout)} held-out clips)")

    @property
    def frame_size(self) -> int:
        return int(self.frames.shape[-2])

    @property
    def clip_frames(self) -> int:
        return int(self.frames.shape[1])

    @staticmethod
    def to_float(frames_uint8: torch.Tensor) -> torch.Tensor:
        """``(..., S, S, 3)`` uint8 -> ``(..., 3, S, S)`` float in [-1, 1]."""
        return frames_uint8.movedim(-1, -3).float() / 127.5 - 1.0

    def frames_of(self, clips: torch.Tensor, count: int, g: torch.Generator) -> torch.Tensor:
        """``count`` distinct valid frame indices per clip ``(len(clips), count)``."""
        w = self.valid[clips].float() + 1e-9
        return torch.multinomial(w, count, replacement=False, generator=g)

    def pairs(self, batch: int, g: torch.Generator, heldout: bool = False) -> Batch:
        pool = self.heldout if heldout else self.train
        clips = pool[torch.randint(len(pool), (batch,), generator=g)]
        idx = self.frames_of(clips, 2, g)
        s, d = idx[:, 0], idx[:, 1]
        return Batch(self.to_float(self.frames[clips, s]), self.to_float(self.frames[clips, d]),
                     self.beta[clips, d], self.camera[clips, d])

    def clip_pool(self, frames: int, heldout: bool = False) -> torch.Tensor:
        """Clips a contrastive batch of ``frames`` frames per clip is drawn from."""
        return self.heldout if heldout else self.train

    def clip_batch(self, clips: int, frames: int, g: torch.Generator, heldout: bool = False
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """Contrastive batch: images ``(N, K, 3, S, S)`` and beta ``(N, K, 52)`` from N clips."""
        if frames > self.clip_frames:
            raise ValueError(f"{self.name}: {frames} frames per clip needed, the clips have {self.clip_frames}")
        pool = self.clip_pool(frames, heldout)
        c = pool[torch.randperm(len(pool), generator=g)[:clips]]
        f = self.frames_of(c, frames, g)
        return self.to_float(self.frames[c[:, None], f]), self.beta[c[:, None], f]


class TrainingData(ClipData):
    """A synthetic dataset folder (shards + ``beta.npy``) in memory; the first usable clips are held out."""

    def __init__(self, folder: str | Path, holdout_clips: int = 20):
        from ..synthetic.dataset import SyntheticDataset

        folder = Path(folder)
        if not (folder / BETA_FILE).is_file():
            raise FileNotFoundError(f"{folder / BETA_FILE} missing: run `python -m export3d.training prepare {folder}`")
        ds = SyntheticDataset(folder)
        self.name = f"synthetic data {folder}"
        self.frames = torch.from_numpy(ds.arrays["frames"])  # uint8
        self.camera = torch.from_numpy(ds.arrays["camera"]).float()
        self.beta = torch.from_numpy(np.load(folder / BETA_FILE)).float()
        self._split(holdout_clips)


def _npz_shape(path: Path, key: str) -> tuple[int, ...]:
    """Shape of ``key`` in an npz, read from the array header only (no decompression of the data)."""
    with zipfile.ZipFile(path) as z, z.open(f"{key}.npy") as f:
        version = np.lib.format.read_magic(f)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        return tuple(reader(f)[0])


class RealClips(ClipData):
    """All ``real-*.npz`` files of a folder written by ``preprocess`` (sorted by name), in memory.

    The first ``holdout_clips`` usable clips are held out, and the other clips of the video the last
    held-out clip comes from are dropped, so no video is in both splits.
    """

    def __init__(self, folder: str | Path, holdout_clips: int = 20):
        from .preprocess import PREFIX

        folder = Path(folder)
        files = sorted(folder.glob(f"{PREFIX}*.npz"))
        if not files:
            raise FileNotFoundError(f"{folder}: no {PREFIX}*.npz files; run `python -m export3d.training preprocess "
                                    f"VIDEOS {folder}` first")
        shapes = [_npz_shape(p, "frames") for p in files]
        inner = {s[1:] for s in shapes}
        if len(inner) > 1:
            raise ValueError(f"{folder}: the real clips differ in length or frame size {sorted(inner)} "
                             "(preprocess them all with the same --clip-frames and --size)")
        total = sum(s[0] for s in shapes)
        self.name = f"real clips {folder}"
        self.frames = torch.empty((total, *shapes[0][1:]), dtype=torch.uint8)  # filled in place: no 2x peak
        self.camera = torch.empty((total, shapes[0][1], 25))
        self.beta = torch.empty((total, shapes[0][1], BETA_DIM))
        self.video = torch.empty(total, dtype=torch.long)  #: index into ``self.files`` per clip
        self.files = [p.name for p in files]
        start = 0
        for i, (path, shape) in enumerate(zip(files, shapes, strict=True)):
            end = start + shape[0]
            with np.load(path, allow_pickle=False) as z:
                self.frames[start:end] = torch.from_numpy(z["frames"])
                self.camera[start:end] = torch.from_numpy(z["camera"])
                self.beta[start:end] = torch.from_numpy(z["beta"])
            self.video[start:end] = i
            start = end
        self._split(holdout_clips)
        if len(self.heldout):
            self.train = self.train[self.video[self.train] != self.video[self.heldout[-1]]]
        if len(self.train) == 0:
            raise ValueError(f"{self.name}: no clip left for training after holding out {len(self.heldout)} "
                             "(whole videos are held out: add videos or lower the hold-out)")

    def clip_pool(self, frames: int, heldout: bool = False) -> torch.Tensor:
        """Only clips with at least ``frames`` tracked frames (real videos lose the face more often)."""
        pool = super().clip_pool(frames, heldout)
        pool = pool[self.valid[pool].sum(1) >= frames]
        if len(pool) == 0:
            raise ValueError(f"{self.name}: no {'held-out' if heldout else 'training'} clip has {frames} frames "
                             "with a tracked face")
        return pool


class _Indices:
    """Stands in for ``heldout`` / ``train`` of a mixture: only its length is used by the training loops."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n


class MixedData:
    """Synthetic and real clips drawn with a ratio: each example (pair or clip) is real with
    probability ``real_ratio``, decided by the training loop's generator ``g``.

    Same interface as ``TrainingData`` (``pairs``, ``clip_batch``, ``heldout``). With only one
    source, or a ratio of 0 or 1, it draws exactly what that source alone would (the same random
    numbers), so adding ``--real-ratio 0`` does not change a run.
    """

    def __init__(self, synthetic: ClipData | None, real: ClipData | None, real_ratio: float = 0.3):
        if synthetic is None and real is None:
            raise ValueError("no training data: give --data and/or --real")
        if not 0.0 <= real_ratio <= 1.0:
            raise ValueError(f"--real-ratio must be in [0, 1], got {real_ratio}")
        if synthetic is not None and real is not None:
            if real.frame_size != synthetic.frame_size:
                raise ValueError(f"the real clips are {real.frame_size}x{real.frame_size} but the synthetic frames "
                                 f"are {synthetic.frame_size}x{synthetic.frame_size}: preprocess with --size "
                                 f"{synthetic.frame_size}")
        if synthetic is None:
            real_ratio = 1.0
        elif real is None:
            real_ratio = 0.0
        self.synthetic, self.real, self.real_ratio = synthetic, real, float(real_ratio)
        self.single = synthetic if real_ratio == 0.0 else real if real_ratio == 1.0 else None
        if self.single is not None:
            self.heldout, self.train = self.single.heldout, self.single.train
        else:  # any split of a held-out batch between the two fits in both hold-outs
            self.heldout = _Indices(min(len(synthetic.heldout), len(real.heldout)))
            self.train = _Indices(len(synthetic.train) + len(real.train))

    def __repr__(self) -> str:
        parts = [f"{d.name}: {len(d.train)} train + {len(d.heldout)} held-out clips"
                 for d in (self.synthetic, self.real) if d is not None]
        return f"MixedData(real_ratio={self.real_ratio}; {'; '.join(parts)})"

    def _split(self, n: int, g: torch.Generator) -> torch.Tensor:
        """``(n,)`` bool: which examples are real."""
        return torch.rand(n, generator=g) < self.real_ratio

    def pairs(self, batch: int, g: torch.Generator, heldout: bool = False) -> Batch:
        if self.single is not None:
            return self.single.pairs(batch, g, heldout)
        real = self._split(batch, g)
        nr = int(real.sum())
        parts = [self.real.pairs(nr, g, heldout) if nr else None,
                 self.synthetic.pairs(batch - nr, g, heldout) if nr < batch else None]
        fields = []
        for name in ("source", "driver", "beta", "camera"):
            fields.append(_merge(real, [getattr(p, name) if p is not None else None for p in parts]))
        return Batch(*fields)

    def clip_batch(self, clips: int, frames: int, g: torch.Generator, heldout: bool = False
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.single is not None:
            return self.single.clip_batch(clips, frames, g, heldout)
        real = self._split(clips, g)
        nr = int(real.sum())
        parts = []
        for data, n in ((self.real, nr), (self.synthetic, clips - nr)):
            if n == 0:
                parts.append(None)
                continue
            pool = data.clip_pool(frames, heldout)
            if n > len(pool):
                raise ValueError(f"{data.name}: {n} clips needed in one batch, only {len(pool)} available")
            parts.append(data.clip_batch(n, frames, g, heldout))
        images = _merge(real, [p[0] if p is not None else None for p in parts])
        beta = _merge(real, [p[1] if p is not None else None for p in parts])
        return images, beta


def _merge(real: torch.Tensor, parts: list[torch.Tensor | None]) -> torch.Tensor:
    """Scatter the real rows ``parts[0]`` and the synthetic rows ``parts[1]`` into batch order."""
    like = parts[0] if parts[0] is not None else parts[1]
    out = like.new_empty((len(real), *like.shape[1:]))
    if parts[0] is not None:
        out[real] = parts[0]
    if parts[1] is not None:
        out[~real] = parts[1]
    return out


def load_training_data(synthetic: str | Path | None, real: str | Path | None = None, real_ratio: float = 0.3,
                       holdout_clips: int = 20) -> ClipData | MixedData:
    """The data for ``stage1`` / ``stage2``: a synthetic folder, a folder of real clips, or both mixed."""
    if synthetic is None and real is None:
        raise ValueError("no training data: give --data and/or --real")
    syn = TrainingData(synthetic, holdout_clips) if synthetic is not None else None
    if real is None:
        return syn
    return MixedData(syn, RealClips(real, holdout_clips), real_ratio)
