"""Real talking-head clips (GRID): self-reenactment and cross-identity expression transfer.

* **self**: the first frame of a clip is the source, every ``self_stride``-th later frame drives it and is the target
  (both are the model's input crop of that frame, framed by the extractor as at inference);
* **cross**: the first frame of clip A driven by every ``cross_stride``-th frame of clip B of another
  speaker; there is no ground truth, so only identity (SFace-CSIM with A) and expression/pose
  transfer (AED/APD against B's frame) are measured.

The driving camera carries the driver's framing (``face/framing.py``): how its face moved and grew in its crop
since its first frame, applied around the source's face — in self-reenactment exactly where the target crop
has the face. A method named with ``UNFRAMED`` gets the cameras without it.

``same_person`` lists clips showing the same speaker (never paired in cross).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..face.crop import CropTransform
from ..face.extractor import FaceExtractor
from ..face.framing import reframe, relative_framing
from ..media.kind import suffix_kind
from ..media.video import iter_frames
from .analysis import FaceAnalyzer
from .methods import Method, cameras_from_angles
from .scoring import mean_scores, score

SAME_PERSON = (("pwij3p", "swwp2s"),)  #: GRID clips of the same speaker (see shared/data/README.md)
UNFRAMED = ", no framing"  #: suffix of a method name that gets the cameras without the driver's framing


@dataclass
class ClipData:
    name: str
    crops: np.ndarray  #: (F, S, S, 3) uint8 model-input crops
    beta: np.ndarray  #: (F, 52)
    camera: np.ndarray  #: (F, 25)
    valid: np.ndarray  #: (F,) bool, False where tracking filled in a lost face
    landmarks: np.ndarray | None = None  #: (F, 478, 2) MediaPipe landmarks in crop pixels


def load_clip(path: Path, size: int, extractor: FaceExtractor, max_seconds: float | None = None) -> ClipData:
    frames = list(iter_frames(path, max_seconds=max_seconds))
    signals = list(extractor.track(iter(frames), fps=25.0, smoothing=0.0))
    crops = np.stack([CropTransform(s.box, size).warp(f) for s, f in zip(signals, frames, strict=True)])
    marks = np.stack([CropTransform(s.box, size).image_to_crop(s.landmarks) for s in signals])
    return ClipData(path.stem, crops, np.stack([s.beta for s in signals]),
                    cameras_from_angles(np.array([s.angles for s in signals])),
                    np.array([not s.interpolated for s in signals]), marks)


def _first(rows: np.ndarray | None) -> np.ndarray | None:
    return None if rows is None else rows[0]


def _same_person(a: str, b: str) -> bool:
    return a == b or any({a, b} <= set(group) for group in SAME_PERSON)


def load_clips(folder: str | Path, size: int, extractor: FaceExtractor, max_seconds: float | None = None,
               progress: bool = True) -> list[ClipData]:
    paths = sorted(p for p in Path(folder).iterdir() if suffix_kind(p) == "video")
    if not paths:
        raise FileNotFoundError(f"no videos in {folder}")
    return [load_clip(p, size, extractor, max_seconds) for p in tqdm(paths, desc="GRID clips", disable=not progress)]


def distinct_people(clips: list[ClipData]) -> list[ClipData]:
    """One clip per speaker (drops later clips of a speaker already listed)."""
    kept: list[ClipData] = []
    for c in clips:
        if not any(_same_person(c.name, k.name) for k in kept):
            kept.append(c)
    return kept


def framed_cameras(driver: ClipData, idx: np.ndarray, source: ClipData, size: int) -> np.ndarray:
    """``(N, 25)``: the driver's cameras at frames ``idx`` with its framing since its first frame, applied
    around the source's face (its first frame; all landmarks in crop pixels of ``size``)."""
    ref, own = driver.landmarks[0], source.landmarks[0]
    return np.stack([reframe(driver.camera[i], relative_framing(driver.landmarks[i], ref, own, size)) for i in idx])


def predict(method: Method, name: str, src: ClipData, driver: ClipData, idx: np.ndarray, size: int) -> np.ndarray:
    """``method``'s outputs for ``src``'s first frame driven by ``driver``'s frames ``idx`` (framed cameras unless
    ``name`` ends with ``UNFRAMED``)."""
    camera = driver.camera[idx] if name.endswith(UNFRAMED) else framed_cameras(driver, idx, src, size)
    return method(src.crops[0], driver.beta[idx], camera, source_camera=src.camera[0], source_beta=src.beta[0],
                  source_landmarks=_first(src.landmarks), driver_landmarks=driver.landmarks[idx],
                  reference_landmarks=driver.landmarks[0])


def evaluate_grid(clips: list[ClipData], methods: dict[str, Method], analyzer: FaceAnalyzer, lpips=None,
                  cross_stride: int = 5, progress: bool = True,
                  self_stride: int = 2) -> tuple[dict, dict[str, np.ndarray]]:
    """``({"self": {method: scores}, "cross": {...}, "clips": [...]}, samples)``.

    Self-reenactment uses every ``self_stride``-th later frame, cross-identity every ``cross_stride``-th.
    """
    readouts = {c.name: analyzer.read(c.crops) for c in clips}
    self_scores = {m: [] for m in methods}
    cross_scores = {m: [] for m in methods}
    samples: dict[str, np.ndarray] = {}
    for a in tqdm(clips, desc="GRID reenactment", disable=not progress):
        src, src_id = a.crops[0], readouts[a.name].identity[:1]
        ok = (np.flatnonzero(a.valid[1:]) + 1)[::self_stride]
        ra = readouts[a.name]
        for name, method in methods.items():
            pred = predict(method, name, a, a, ok, src.shape[0])
            self_scores[name].append(score(pred, a.crops[ok], analyzer.read(pred), ra.rows(ok), ra.rows(ok),
                                           np.repeat(src_id, len(ok), 0), lpips))
            if a is clips[0]:
                samples[f"self/{name}"] = pred[:: max(1, len(pred) // 8)][:8]
        if a is clips[0]:
            samples["self/target"] = a.crops[ok][:: max(1, len(ok) // 8)][:8]
        for b in clips:
            if _same_person(a.name, b.name):
                continue
            idx = np.flatnonzero(b.valid)[::cross_stride]
            rb = readouts[b.name]
            for name, method in methods.items():
                pred = predict(method, name, a, b, idx, src.shape[0])
                s = score(pred, b.crops[idx], analyzer.read(pred), rb.rows(idx), rb.rows(idx),
                          np.repeat(src_id, len(idx), 0), None)
                cross_scores[name].append({k: s[k] for k in ("SFace-CSIM", "AED", "APD", "face found")})
    return {"self": {m: mean_scores(_cat(v)) for m, v in self_scores.items()},
            "cross": {m: mean_scores(_cat(v)) for m, v in cross_scores.items()},
            "clips": [{"name": c.name, "frames": len(c.crops), "lost": int((~c.valid).sum())} for c in clips]}, samples


def _cat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}
