"""Data types and small file helpers of the inference pipeline (re-exported by ``export3d.pipeline``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..face.crop import CropTransform
from ..face.extractor import FaceSignals
from ..media.files import atomic_write
from ..models.generator import SourceFeatures

IMAGE_OUTPUTS = (".png", ".jpg", ".jpeg", ".webp")  #: still outputs of ``Animator.animate``
_STILL_INPUTS = {*IMAGE_OUTPUTS, ".bmp", ".tif", ".tiff"}


@dataclass
class PreparedSource:
    """A portrait ready to animate (prepare once, animate many times)."""

    image: np.ndarray  #: (H, W, 3) uint8, the original photo
    crop: np.ndarray  #: (S, S, 3) uint8, the model's input crop
    transform: CropTransform  #: image <-> crop map (its ``paste_back`` puts S-sized frames back into ``image``)
    signals: FaceSignals  #: the portrait's own expression and pose
    features: SourceFeatures  #: cached ``encode_source`` output, batch 1

    def to(self, device) -> PreparedSource:
        """The same portrait with its features on ``device`` (``self`` when they are already there)."""
        features = self.features.to(device)
        return self if features is self.features else replace(self, features=features)


@dataclass
class AnimationResult:
    path: Path | None  #: the written file (None: an image driver without ``out_path``)
    frames: int  #: frames written (1 for an image driver)
    fps: float  #: frame rate of the output (the driver's; 0 for an image driver)
    seconds: float  #: wall time
    lost_frames: int  #: driver frames where the face was lost (filled by interpolation)
    warnings: list[str] = field(default_factory=list)  #: sentences for the user
    image: np.ndarray | None = None  #: image driver: the (out, out, 3) uint8 result (driver | output if side by side)
    depth_path: Path | None = None  #: the depth video / image, when requested


def is_video(driver) -> bool:
    """Whether a driver is a video, by content: a path that PIL cannot open as a still, or a multi-frame GIF.

    Arrays, PIL images and bytes are stills; a missing path is judged by its suffix (the reader then reports it).
    """
    if not isinstance(driver, str | os.PathLike):
        return False
    path = Path(driver)
    if not path.is_file():
        return path.suffix.lower() not in _STILL_INPUTS
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.format == "GIF" and getattr(im, "n_frames", 1) > 1
    except (UnidentifiedImageError, OSError):
        return True


def save_image_atomic(path: Path, image: np.ndarray) -> Path:
    """``(H, W, 3)`` or ``(H, W)`` uint8 to an image file, complete or not at all."""
    from ..media.image import save_image

    return atomic_write(path, lambda tmp: save_image(tmp, image))
