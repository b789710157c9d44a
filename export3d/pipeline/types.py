"""Data types and small file helpers of the inference pipeline (re-exported by ``export3d.pipeline``)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..face.crop import CropTransform
from ..face.extractor import FaceSignals
from ..models.generator import SourceFeatures
from ..models.warped import WarpSource


@dataclass
class PreparedSource:
    """A portrait ready to animate (prepare once, animate many times)."""

    image: np.ndarray  #: (H, W, 3) uint8, the original photo
    crop: np.ndarray  #: (S, S, 3) uint8, the model's input crop
    transform: CropTransform  #: image <-> crop map (its ``paste_back`` puts S-sized frames back into ``image``)
    signals: FaceSignals  #: the portrait's own expression and pose
    features: SourceFeatures  #: cached ``encode_source`` output, batch 1
    warp: WarpSource | None = None  #: warped models: the portrait at the model's output size and its camera
    canvases: dict = field(default_factory=dict, repr=False)  #: ``jobs.make_canvas``'s, by kind ("photo", "crop")

    def to(self, device) -> PreparedSource:
        """The same portrait with its features on ``device`` (``self`` when they are already there)."""
        features = self.features.to(device)
        if features is self.features:
            return self
        warp = None if self.warp is None else self.warp.to(device)
        return replace(self, features=features, warp=warp)


@dataclass
class AnimationResult:
    path: Path | None  #: the written file (None: an image driver without ``out_path``)
    frames: int  #: frames written (1 for an image driver)
    fps: float  #: frame rate of the output (the driver's; 0 for an image driver)
    seconds: float  #: wall time
    lost_frames: int  #: driver frames where the face was lost (filled by interpolation)
    warnings: list[str] = field(default_factory=list)  #: sentences for the user
    image: np.ndarray | None = None  #: image driver: the (H, W, 3) uint8 result (driver | output if side by side)
    depth_path: Path | None = None  #: the depth video / image, when requested
