"""YuNet face detector (OpenCV ``FaceDetectorYN``, MIT-licensed int8 ONNX).

MediaPipe's own detector misses small faces in large photos; YuNet finds them, and the
landmarker then runs on a crop around each face.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .assets import YUNET, locate
from .quiet import quiet_opencv


@dataclass(frozen=True)
class Detection:
    box: np.ndarray  #: (4,) x, y, w, h in image pixels
    score: float
    points5: np.ndarray  #: (5, 2) subject's right eye, left eye, nose tip, right mouth corner, left mouth corner

    @property
    def area(self) -> float:
        return float(self.box[2] * self.box[3])


class FaceDetector:
    """``detect(image uint8 RGB (H, W, 3)) -> list[Detection]``, largest face first.

    Images are downscaled so their longer side is at most ``max_side`` for detection;
    coordinates are returned in the original image's pixels.
    """

    def __init__(self, score_threshold: float = 0.6, max_side: int = 960):
        self.score_threshold = score_threshold
        self.max_side = max_side
        with quiet_opencv():
            self._net = cv2.FaceDetectorYN.create(str(locate(YUNET)), "", (320, 320), score_threshold, 0.3, 50)

    def detect(self, image: np.ndarray) -> list[Detection]:
        h, w = image.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA) if scale < 1 else image
        self._net.setInputSize((small.shape[1], small.shape[0]))
        _, faces = self._net.detect(cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2BGR))
        if faces is None:
            return []
        out = [Detection(box=f[:4] / scale, score=float(f[14]), points5=f[4:14].reshape(5, 2) / scale)
               for f in faces]
        return sorted(out, key=lambda d: -d.area)
