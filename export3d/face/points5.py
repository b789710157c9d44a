"""The five face points a crop is made from (``points5``), and their conversion from each tracker's landmarks.

Five-point layout (``points5``, shape ``(5, 2)``), always named from the *subject's* point
of view, so for a frontal face the subject's right eye is on the image's left::

    0 EYE_RIGHT    subject's right eye centre
    1 EYE_LEFT     subject's left eye centre
    2 NOSE         nose tip (not used by the crop rule)
    3 MOUTH_RIGHT  subject's right mouth corner
    4 MOUTH_LEFT   subject's left mouth corner

Pure geometry; the crop rule that uses them is in ``crop.py``.
"""

from __future__ import annotations

import numpy as np

EYE_RIGHT, EYE_LEFT, NOSE, MOUTH_RIGHT, MOUTH_LEFT = range(5)

#: 68-point (Multi-PIE / iBUG / dlib) layout, 0-based indices.
IBUG68_EYE_RIGHT = tuple(range(36, 42))  #: subject's right eye contour (image left)
IBUG68_EYE_LEFT = tuple(range(42, 48))  #: subject's left eye contour
IBUG68_NOSE = 30  #: nose tip
IBUG68_MOUTH_RIGHT = 48  #: subject's right mouth corner
IBUG68_MOUTH_LEFT = 54  #: subject's left mouth corner

#: MediaPipe FaceMesh (468 points, or 478 with irises) layout.
MEDIAPIPE_EYE_RIGHT = (33, 133, 159, 145, 158, 153, 160, 144)  #: subject's right eye ring
MEDIAPIPE_EYE_LEFT = (263, 362, 386, 374, 385, 380, 387, 373)  #: subject's left eye ring
MEDIAPIPE_NOSE = 1  #: nose tip
MEDIAPIPE_MOUTH_RIGHT = 61  #: subject's right mouth corner
MEDIAPIPE_MOUTH_LEFT = 291  #: subject's left mouth corner


def _as_points(points, n_min: int, name: str) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < n_min or arr.shape[1] < 2:
        raise ValueError(f"{name} must have shape (N >= {n_min}, 2 or 3), got {arr.shape}")
    return arr[:, :2]


def _five(lm: np.ndarray, eye_right, eye_left, nose: int, mouth_right: int, mouth_left: int) -> np.ndarray:
    """``(5, 2)`` from landmarks ``lm (N, 2)``: the eyes as the means of their index rings, the rest single points."""
    return np.stack([lm[list(eye_right)].mean(axis=0), lm[list(eye_left)].mean(axis=0), lm[nose], lm[mouth_right],
                     lm[mouth_left]])


def make_points5(eye_right, eye_left, mouth_right, mouth_left, nose=None) -> np.ndarray:
    """Build a ``(5, 2)`` array from named points (subject's left/right).

    Without ``nose`` the mean of the four other points stands in for it (the crop rule
    does not use the nose).
    """
    pts = [np.asarray(p, dtype=np.float64).reshape(2) for p in (eye_right, eye_left, mouth_right, mouth_left)]
    nose_pt = np.mean(pts, axis=0) if nose is None else np.asarray(nose, dtype=np.float64).reshape(2)
    return np.stack([pts[0], pts[1], nose_pt, pts[2], pts[3]])


def points5_from_68(landmarks) -> np.ndarray:
    """68-point Multi-PIE layout ``(68, 2|3)`` -> ``(5, 2)``.

    Eyes are the means of points 36-41 (subject's right) and 42-47 (subject's left);
    the nose is point 30, the mouth corners are 48 (subject's right) and 54 (left).
    """
    lm = _as_points(landmarks, 68, "68-point landmarks")
    if lm.shape[0] != 68:
        raise ValueError(f"expected 68 landmarks, got {lm.shape[0]}")
    return _five(lm, IBUG68_EYE_RIGHT, IBUG68_EYE_LEFT, IBUG68_NOSE, IBUG68_MOUTH_RIGHT, IBUG68_MOUTH_LEFT)


def points5_from_mediapipe(landmarks, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """MediaPipe FaceMesh landmarks ``(468 or 478, 2|3)`` -> ``(5, 2)``.

    Eyes are the means of the rings ``MEDIAPIPE_EYE_RIGHT`` / ``MEDIAPIPE_EYE_LEFT`` (subject's
    right / left), the nose is point 1, the mouth corners are 61 (subject's right) and 291
    (subject's left). MediaPipe reports coordinates normalized to [0, 1]; pass
    ``image_size=(width, height)`` to convert them to pixels (``x * width``, ``y * height``).
    Without it the landmarks must already be in pixels.
    """
    lm = _as_points(landmarks, 468, "MediaPipe landmarks")
    if image_size is not None:
        lm = lm * np.asarray(image_size, dtype=np.float64).reshape(1, 2)
    return _five(lm, MEDIAPIPE_EYE_RIGHT, MEDIAPIPE_EYE_LEFT, MEDIAPIPE_NOSE, MEDIAPIPE_MOUTH_RIGHT,
                 MEDIAPIPE_MOUTH_LEFT)


def points5_from_yunet(face) -> np.ndarray:
    """YuNet (``cv2.FaceDetectorYN``) keypoints -> ``(5, 2)``.

    Accepts a detection row of 15 values ``(x, y, w, h, 10 keypoint coordinates, score)``,
    14 values (no score), the 10 keypoint coordinates, or a ``(5, 2)`` array.
    YuNet order assumed: [subject's right eye (image left for a frontal face), subject's
    left eye, nose tip, subject's right mouth corner, subject's left mouth corner]. This is
    also our ``points5`` order, so the conversion only reshapes.
    """
    arr = np.asarray(face, dtype=np.float64)
    if arr.shape == (5, 2):
        kps = arr
    elif arr.ndim == 1 and arr.shape[0] in (14, 15):
        kps = arr[4:14].reshape(5, 2)
    elif arr.ndim == 1 and arr.shape[0] == 10:
        kps = arr.reshape(5, 2)
    else:
        raise ValueError(f"YuNet face must be 15, 14 or 10 values or (5, 2), got shape {arr.shape}")
    order = [EYE_RIGHT, EYE_LEFT, NOSE, MOUTH_RIGHT, MOUTH_LEFT]  # YuNet index -> ours (identity)
    out = np.empty((5, 2))
    out[order] = kps
    return out
