"""Contours of the face parts the warped model's remaps move, as indices into MediaPipe's 478 landmarks.

``eyelid_contours`` feeds ``rendering/eyelids.py``, ``rendering/brows.py`` and ``rendering/gaze.py``,
``lip_contours`` ``rendering/mouth.py``, ``brow_contours`` ``rendering/brows.py``, ``iris_centres``
``rendering/gaze.py``. Each lid or lip contour runs from one corner to the other, both corners included, so the two
contours of a part share their ends; a brow's two contours (its upper and lower edge) run from its outer end to its
inner end. Eyes and brows come in the order subject's right (image left, MediaPipe's ``eyeBlinkRight``), then
subject's left. The functions take numpy arrays or torch tensors ``(..., 478, 2+)`` and keep the leading
dimensions.
"""

from __future__ import annotations

import numpy as np

#: per eye (subject's right, left): upper lid, lower lid, each from the outer corner to the inner one
EYELID_INDEX = np.array([[[33, 246, 161, 160, 159, 158, 157, 173, 133], [33, 7, 163, 144, 145, 153, 154, 155, 133]],
                         [[263, 466, 388, 387, 386, 385, 384, 398, 362],
                          [263, 249, 390, 373, 374, 380, 381, 382, 362]]])
#: inner upper lip, inner lower lip, from the subject's right inner corner to the left one
LIP_INDEX = np.array([[78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308],
                      [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]])
#: per brow (subject's right, left): upper and lower edge, each from the outer end to the inner one
BROW_INDEX = np.array([[[70, 63, 105, 66, 107], [46, 53, 52, 65, 55]],
                       [[300, 293, 334, 296, 336], [276, 283, 282, 295, 285]]])
IRIS_CENTRE = np.array([468, 473])  #: the iris centres (subject's right, left) of MediaPipe's 10 iris landmarks
CHIN = 152  #: the chin's lowest landmark
#: skin away from the eyes, brows, lips and hair line: forehead, nose bridge and tip, cheeks
SKIN_INDEX = np.array([151, 9, 108, 337, 6, 197, 4, 50, 280, 205, 425, 117, 346])


def eyelid_contours(landmarks):
    """``(..., 478, 2+)`` -> ``(..., 2, 2, 9, 2)``: per eye, the upper and the lower lid."""
    return landmarks[..., EYELID_INDEX, :2]


def lip_contours(landmarks):
    """``(..., 478, 2+)`` -> ``(..., 2, 11, 2)``: the inner upper and inner lower lip."""
    return landmarks[..., LIP_INDEX, :2]


def brow_contours(landmarks):
    """``(..., 478, 2+)`` -> ``(..., 2, 2, 5, 2)``: per brow, the upper and the lower edge."""
    return landmarks[..., BROW_INDEX, :2]


def iris_centres(landmarks):
    """``(..., 478, 2+)`` -> ``(..., 2, 2)``: per eye, the iris centre."""
    return landmarks[..., IRIS_CENTRE, :2]


def brow_height(landmarks: np.ndarray) -> np.ndarray:
    """``(..., 478, 2+)`` -> ``(...)``: how high the brows sit above the eyes, the mean over both sides of the upper
    lid's mean height minus the brow's lower edge's, in eye widths (corner to corner); NaN landmarks give NaN."""
    lm = np.asarray(landmarks, np.float64)
    lids, brows = eyelid_contours(lm)[..., 0, :, :], brow_contours(lm)[..., 1, :, :]  # (..., 2, K, 2)
    width = np.linalg.norm(lids[..., -1, :] - lids[..., 0, :], axis=-1)
    return ((lids[..., 1].mean(-1) - brows[..., 1].mean(-1)) / width).mean(-1)


def eye_opening(landmarks: np.ndarray) -> np.ndarray:
    """``(..., 478, 2+)`` -> ``(...)``: how open the eyes are, the mean over both eyes of the lower lid's mean height
    minus the upper lid's (corners excluded), in eye widths (corner to corner); 0 when the lids meet, negative when
    they cross; NaN landmarks give NaN. Image y grows downwards."""
    lm = np.asarray(landmarks, np.float64)
    lids = eyelid_contours(lm)  # (..., 2 eyes, 2 lids, K, 2)
    upper, lower = lids[..., 0, 1:-1, 1], lids[..., 1, 1:-1, 1]
    width = np.linalg.norm(lids[..., 0, -1, :] - lids[..., 0, 0, :], axis=-1)
    return ((lower.mean(-1) - upper.mean(-1)) / width).mean(-1)


def skin_points(landmarks):
    """``(..., 478, 2+)`` -> ``(..., 13, 2)``: points on the face's skin (``SKIN_INDEX``)."""
    return landmarks[..., SKIN_INDEX, :2]


def chin_point(landmarks):
    """``(..., 478, 2+)`` -> ``(..., 2)``: the chin's lowest point."""
    return landmarks[..., CHIN, :2]
