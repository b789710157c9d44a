"""Geometric eye features from MediaPipe's 478 landmarks: eyelid opening and iris offset per eye.

They complement MediaPipe's blendshape scores in the calibration (blinks, winks and gaze are
the paper's stated weak spots). All are normalised by the eye width, so they are scale-free.
Order: ``[open_R, open_L, iris_h_R, iris_h_L, iris_v_R, iris_v_L]`` (R/L = the subject's side);
``iris_h`` > 0 towards the subject's left, ``iris_v`` > 0 upwards (image y is down).
"""

from __future__ import annotations

import numpy as np

FEATURE_NAMES = ("open_R", "open_L", "iris_h_R", "iris_h_L", "iris_v_R", "iris_v_L")
# subject's right eye: outer corner 33, inner 133, upper lid 159, lower lid 145, iris centre 468
# subject's left eye: outer corner 263, inner 362, upper lid 386, lower lid 374, iris centre 473
_EYES = ((33, 133, 159, 145, 468), (263, 362, 386, 374, 473))


def eye_features(landmarks: np.ndarray) -> np.ndarray:
    """``(478, 2+)`` landmarks (pixels) -> ``(6,)`` float32 features (see module docstring)."""
    lm = np.asarray(landmarks, dtype=np.float64)[:, :2]
    opening, horiz, vert = [], [], []
    for outer, inner, upper, lower, iris in _EYES:
        a, b = lm[outer], lm[inner]
        width = max(np.linalg.norm(a - b), 1e-6)
        axis = (a - b) / width if outer == 263 else (b - a) / width  # unit vector towards the subject's left
        normal = np.array([axis[1], -axis[0]])  # perpendicular, pointing up in the image
        opening.append(np.linalg.norm(lm[upper] - lm[lower]) / width)
        offset = lm[iris] - (a + b) / 2
        horiz.append(offset @ axis / width)
        vert.append(offset @ normal / width)
    return np.array(opening + horiz + vert, dtype=np.float32)

