"""MediaPipe FaceLandmarker (Tasks API): 478 landmarks, 52 ARKit blendshapes, head pose matrix.

Run on a square face crop (see ``crop.py``); results are in that crop's pixels.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np

from ..blendshapes import BLENDSHAPE_NAMES
from .assets import LANDMARKER, locate
from .quiet import native_stderr_silenced


@dataclass
class LandmarkResult:
    landmarks: np.ndarray  #: (478, 3) x, y in crop pixels, z in MediaPipe's relative units
    blendshapes: np.ndarray  #: (52,) scores in [0, 1], ``BLENDSHAPE_NAMES`` order
    matrix: np.ndarray  #: (4, 4) head-to-camera transform (OpenGL camera axes: x right, y up, z to the viewer)


_SHARED: dict[float, Landmarker] = {}


class Landmarker:
    """``run(crop uint8 RGB (S, S, 3)) -> LandmarkResult | None`` (None when no face is found).

    Use ``Landmarker.shared()``: MediaPipe closes its task from ``__del__`` through a worker
    thread, which deadlocks when garbage collection happens to run during an import. Shared
    instances live until the interpreter exits and are closed by a thread exit hook before the
    worker pools stop.
    """

    @classmethod
    def shared(cls, min_confidence: float = 0.3) -> Landmarker:
        if min_confidence not in _SHARED:
            _SHARED[min_confidence] = cls(min_confidence)
        return _SHARED[min_confidence]

    def __init__(self, min_confidence: float = 0.3):
        os.environ.setdefault("GLOG_minloglevel", "2")
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(locate(LANDMARKER))),
            running_mode=vision.RunningMode.IMAGE, num_faces=1,
            min_face_detection_confidence=min_confidence, min_face_presence_confidence=min_confidence,
            output_face_blendshapes=True, output_facial_transformation_matrixes=True,
        )
        with native_stderr_silenced():  # MediaPipe's C++ start-up chatter (set EXPORT3D_VERBOSE=1 to see it)
            self._task = vision.FaceLandmarker.create_from_options(options)
            self._task.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.zeros((64, 64, 3), np.uint8)))
        # Close before the interpreter shuts its thread pools down (MediaPipe's own __del__ then fails
        # noisily). threading's exit hooks run in reverse order, so this runs before the pools stop.
        threading._register_atexit(self.close)  # noqa: SLF001

    def run(self, crop: np.ndarray) -> LandmarkResult | None:
        h, w = crop.shape[:2]
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(crop))
        res = self._task.detect(image)
        if not res.face_landmarks:
            return None
        lm = np.array([(p.x * w, p.y * h, p.z * w) for p in res.face_landmarks[0]], dtype=np.float32)
        scores = {c.category_name: c.score for c in res.face_blendshapes[0]}
        bs = np.array([scores.get(n, 0.0) for n in BLENDSHAPE_NAMES], dtype=np.float32)
        return LandmarkResult(lm, bs, np.asarray(res.facial_transformation_matrixes[0], dtype=np.float64))

    def close(self) -> None:
        task, self._task = getattr(self, "_task", None), None
        if task is not None:
            try:
                task.close()
            except Exception:  # noqa: BLE001 - closing at interpreter shutdown may fail harmlessly
                pass
