"""What the frozen face tools see in a batch of images: expression, pose, landmarks and identity.

Used by the evaluation to compare outputs with targets (AED, APD, AKD, SFace-CSIM). Faces that
cannot be read give NaN rows (the metrics skip them and the report counts them).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..blendshapes import BETA_DIM
from ..errors import FaceInputError
from ..face.extractor import ExtractorSettings, FaceExtractor

NUM_LANDMARKS = 478
EMBED_DIM = 128


@dataclass
class FaceReadout:
    """Per-image readouts, first axis = image; NaN rows where no face was read."""

    beta: np.ndarray  #: (N, 52) calibrated expression (the model's input space)
    angles: np.ndarray  #: (N, 3) yaw, pitch, roll in degrees
    landmarks: np.ndarray  #: (N, 478, 2) pixels
    identity: np.ndarray  #: (N, 128) unit SFace embeddings (NaN when identity is off)

    def rows(self, idx) -> FaceReadout:
        """The readouts of images ``idx`` (indices or a boolean mask)."""
        return FaceReadout(self.beta[idx], self.angles[idx], self.landmarks[idx], self.identity[idx])

    @property
    def found(self) -> np.ndarray:
        """(N,) bool: the extractor read a face."""
        return ~np.isnan(self.beta).any(1)


class FaceAnalyzer:
    """Runs the extractor (and optionally SFace) on uint8 RGB images ``(N, H, W, 3)``."""

    def __init__(self, identity: bool = True, extractor: FaceExtractor | None = None):
        # Evaluation images are tight 128^2 crops: accept small faces and crops reaching past the border.
        self.extractor = extractor or FaceExtractor(ExtractorSettings(min_face_px=16, max_outside=1.0))
        self.sface = None
        if identity:
            from .identity import SFaceIdentity

            self.sface = SFaceIdentity(detector=self.extractor.detector)

    def read(self, images: np.ndarray) -> FaceReadout:
        """Readouts of ``images (N, H, W, 3)``; identical images are read once (the tools are deterministic)."""
        n = len(images)
        shapes = ((n, BETA_DIM), (n, 3), (n, NUM_LANDMARKS, 2), (n, EMBED_DIM))
        out = FaceReadout(*(np.full(s, np.nan, np.float32) for s in shapes))
        seen: dict[bytes, int] = {}
        for i, image in enumerate(images):
            image = np.ascontiguousarray(image)
            key = hashlib.sha1(image.data).digest() + repr(image.shape).encode()
            if key in seen:
                j = seen[key]
                out.beta[i], out.angles[i], out.landmarks[i], out.identity[i] = (
                    out.beta[j], out.angles[j], out.landmarks[j], out.identity[j])
                continue
            seen[key] = i
            try:
                s = self.extractor.extract(image)
            except FaceInputError:
                continue
            out.beta[i], out.angles[i], out.landmarks[i] = s.beta, s.angles, s.landmarks
            if self.sface is not None:
                try:
                    out.identity[i] = self.sface.embed(image)
                except FaceInputError:
                    pass
        return out


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of unit vectors ``(N, D)``; NaN where either row is NaN."""
    return np.sum(a * b, axis=1)
