"""Driving signals from a photo or video frame: face crop, expression beta (52) and camera p (25).

Image: YuNet finds the faces (largest first); MediaPipe runs on an FFHQ-style crop around the
chosen face; the crop is then recomputed from MediaPipe's landmarks (the project's crop
convention, ``crop.py``) and MediaPipe runs once more on that final crop, whose pose and
blendshapes give p and beta after the calibration (``calibration.py``).
Video (``track``): the previous frame's crop is reused (YuNet only when the face is lost),
lost frames are interpolated or held and reported, beta and the pose angles are One-Euro
smoothed. The same extractor serves training data and inference.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from ..errors import FaceCutOffError, FaceInputError, FaceTooSmallError, NoFaceError
from ..rendering.camera import camera_from_angles
from .calibration import Calibration
from .crop import CropBox, CropTransform, box_outside_fraction, crop_box_from_points
from .detection import FaceDetector
from .eye_features import eye_features
from .head_pose import angles_from_rotation
from .landmarker import Landmarker, LandmarkResult
from .points5 import points5_from_mediapipe
from .smoothing import OneEuroFilter, smoothing_params

LANDMARK_CROP = 256  #: resolution of the crop the landmarker sees
REUSE_TOLERANCE = 0.03  #: video: keep the previous frame's crop while the new one moves less (fraction of side)


@dataclass
class FaceSignals:
    beta: np.ndarray  #: (52,) calibrated blendshape scores (the model's expression input)
    beta_raw: np.ndarray  #: (52,) MediaPipe's scores
    eye: np.ndarray  #: (6,) eyelid opening and iris offsets (``eye_features.py``)
    camera: np.ndarray  #: (25,) EG3D camera
    angles: tuple[float, float, float]  #: calibrated yaw, pitch, roll in degrees
    box: CropBox  #: the crop in the original image (``CropTransform(box, size)`` maps to the model's input)
    landmarks: np.ndarray  #: (478, 2) MediaPipe landmarks in original image pixels
    num_faces: int = 1  #: faces found in the image
    face_index: int = 0  #: which one was used (0 = largest)
    interpolated: bool = False  #: video only: the face was lost in this frame and the values are filled in


@dataclass
class ExtractorSettings:
    min_face_px: int = 40  #: faces whose detector box is narrower are refused
    max_outside: float = 0.35  #: refuse crops with more than this fraction outside the image
    crop_scale: float = 1.0  #: multiplies the crop side
    crop_offset: tuple[float, float] = (0.0, 0.0)  #: shifts the crop centre by a fraction of its side


class FaceExtractor:
    def __init__(self, settings: ExtractorSettings | None = None, calibration: Calibration | None = None):
        self.settings = settings or ExtractorSettings()
        self.calibration = calibration if calibration is not None else Calibration.load()
        self.detector = FaceDetector()
        self.landmarker = Landmarker.shared()

    # ----------------------------------------------------------------- images
    def extract(self, image: np.ndarray, face_index: int | None = None) -> FaceSignals:
        """Signals of one face of ``image`` (uint8 RGB (H, W, 3)); raises a ``FaceInputError`` subclass."""
        dets = self.detector.detect(image)
        if not dets:
            raise NoFaceError("No face was found in the image. Use a photo where the face is clearly visible.")
        index = 0 if face_index is None else face_index
        if not 0 <= index < len(dets):
            raise FaceInputError(f"Face number {index + 1} was requested but only {len(dets)} face(s) were found.")
        det = dets[index]
        if det.box[2] < self.settings.min_face_px:
            raise FaceTooSmallError(
                f"The face is too small ({det.box[2]:.0f} pixels wide, at least {self.settings.min_face_px} needed). "
                "Use a larger or closer photo.")
        first = self._landmarks_in(image, crop_box_from_points(det.points5))
        if first is None:
            raise NoFaceError("A face was detected but its landmarks could not be found. Try a clearer, frontal photo.")
        signals = self._final(image, first)
        if signals is None:
            raise NoFaceError("The face could not be tracked in its crop. Try a clearer, frontal photo.")
        return replace(signals, num_faces=len(dets), face_index=index)

    def _landmarks_in(self, image: np.ndarray, box: CropBox) -> np.ndarray | None:
        t = CropTransform(box, LANDMARK_CROP)
        res = self.landmarker.run(t.warp(image))
        return None if res is None else t.crop_to_image(res.landmarks[:, :2])

    def _final(self, image: np.ndarray, landmarks: np.ndarray) -> FaceSignals | None:
        s = self.settings
        box = crop_box_from_points(points5_from_mediapipe(landmarks), s.crop_scale, s.crop_offset)
        if box_outside_fraction(box, image.shape[1], image.shape[0]) > s.max_outside:
            raise FaceCutOffError("The face is cut off by the edge of the picture. Use a photo with the whole head "
                                  "and some margin around it.")
        t = CropTransform(box, LANDMARK_CROP)
        res = self.landmarker.run(t.warp(image))
        return None if res is None else self._signals(res, t)

    def _signals(self, res: LandmarkResult, t: CropTransform) -> FaceSignals:
        raw_angles = angles_from_rotation(res.matrix[:3, :3])
        angles = self.calibration.apply_pose(*raw_angles)
        eye = eye_features(res.landmarks)
        return FaceSignals(beta=self.calibration.apply_beta(res.blendshapes, eye), beta_raw=res.blendshapes, eye=eye,
                           camera=camera_from_angles(*angles), angles=angles, box=t.box,
                           landmarks=t.crop_to_image(res.landmarks[:, :2]))

    # ------------------------------------------------------------------ video
    def track(self, frames: Iterable[np.ndarray], fps: float, smoothing: float = 0.5,
              face_index: int | None = None) -> Iterator[FaceSignals]:
        """Per-frame signals of a video, streaming. Lost frames are filled (``interpolated=True``).

        Raises ``NoFaceError`` if no frame at all shows a face.
        """
        min_cut, beta_ = smoothing_params(smoothing)
        filters = [OneEuroFilter(fps, min_cut, beta_) for _ in range(2)]
        last: FaceSignals | None = None
        pending = 0
        for frame in frames:
            cur = self._track_frame(frame, last, face_index)
            if cur is None:
                pending += 1
                continue
            cur = self._smooth(cur, filters, smoothing)
            if pending:
                yield from _fill(last, cur, pending)
                pending = 0
            last = cur
            yield cur
        if last is None:
            raise NoFaceError("No face was found in any frame of the video.")
        for _ in range(pending):
            yield replace(last, interpolated=True)

    def _track_frame(self, frame, last, face_index) -> FaceSignals | None:
        try:
            if last is not None:
                t = CropTransform(last.box, LANDMARK_CROP)
                res = self.landmarker.run(t.warp(frame))
                if res is not None:
                    sig = self._signals(res, t)
                    s = self.settings
                    box = crop_box_from_points(points5_from_mediapipe(sig.landmarks), s.crop_scale, s.crop_offset)
                    if _close(box, last.box, REUSE_TOLERANCE):  # the crop barely moved: one landmarker run
                        return sig
                    return self._final(frame, sig.landmarks)
            return self.extract(frame, face_index)
        except FaceInputError:
            return None

    def _smooth(self, s: FaceSignals, filters: list[OneEuroFilter], strength: float) -> FaceSignals:
        if strength <= 0:
            return s
        beta = np.clip(filters[0](s.beta), 0, 1).astype(np.float32)
        angles = tuple(float(a) for a in filters[1](np.array(s.angles)))
        return replace(s, beta=beta, angles=angles, camera=camera_from_angles(*angles))


def _close(a: CropBox, b: CropBox, tol: float) -> bool:
    side = max(a.size, b.size)
    return abs(a.cx - b.cx) < tol * side and abs(a.cy - b.cy) < tol * side and abs(a.size - b.size) < tol * side


def _fill(a: FaceSignals | None, b: FaceSignals, count: int) -> Iterator[FaceSignals]:
    """``count`` signals between ``a`` and ``b`` (linear in beta and angles); held at ``b`` if ``a`` is None."""
    for k in range(1, count + 1):
        if a is None:
            yield replace(b, interpolated=True)
            continue
        w = k / (count + 1)
        angles = tuple(float((1 - w) * x + w * y) for x, y in zip(a.angles, b.angles, strict=True))
        yield replace(b, beta=((1 - w) * a.beta + w * b.beta).astype(np.float32), angles=angles,
                      camera=camera_from_angles(*angles), interpolated=True)
