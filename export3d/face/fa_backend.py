"""Optional 68-point landmark backend: the ``face-alignment`` package (FAN, BSD-3).

It downloads its network weights on first use (or finds them under
``$TORCH_HOME/hub/checkpoints/``), so it serves where a network exists; offline and without
the weights it raises ``ModelFileError`` with that explanation. Faces are located by our YuNet
detector and passed in, so face-alignment's own detector weights are never needed.
Install: ``pip install --no-deps face-alignment==1.5.0`` (its dependencies would add a second
OpenCV distribution; the others are in requirements.txt).
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelFileError
from .crop import CropBox, crop_box_from_points
from .points5 import points5_from_68


class FaceAlignmentLandmarks:
    """``landmarks68(image uint8 RGB, box xywh) -> (68, 2)`` image pixels, or None."""

    def __init__(self, device: str = "cpu"):
        try:
            import face_alignment
        except ImportError as e:
            raise ModelFileError("The face-alignment backend is not installed: "
                                 "pip install --no-deps face-alignment==1.5.0") from e
        try:
            self._fa = face_alignment.FaceAlignment(face_alignment.LandmarksType.TWO_D, device=device,
                                                    face_detector="blazeface")
        except Exception as e:  # noqa: BLE001 - network errors surface as many exception types
            raise ModelFileError("face-alignment could not load its weights (it downloads them on first use; "
                                 "place them under $TORCH_HOME/hub/checkpoints/ to work offline): "
                                 f"{type(e).__name__}: {e}") from e

    def landmarks68(self, image: np.ndarray, box_xywh: np.ndarray) -> np.ndarray | None:
        x, y, w, h = (float(v) for v in box_xywh)
        found = self._fa.get_landmarks_from_image(image, detected_faces=[np.array([x, y, x + w, y + h])])
        return None if not found else np.asarray(found[0], dtype=np.float32)[:, :2]

    @staticmethod
    def crop_box(landmarks68: np.ndarray, scale: float = 1.0, offset=(0.0, 0.0)) -> CropBox:
        """The project's crop convention from 68 points."""
        return crop_box_from_points(points5_from_68(landmarks68), scale, offset)
