"""Contours of the face parts the warped model's remaps move, as indices into MediaPipe's 478 landmarks.

``eyelid_contours`` feeds ``rendering/eyelids.py``, ``lip_contours`` ``rendering/mouth.py``. Each contour runs
from one corner to the other, both corners included, so the two contours of a part share their ends. Eyes come in
the order subject's right (image left, MediaPipe's ``eyeBlinkRight``), then subject's left. Both functions take
numpy arrays or torch tensors ``(..., 478, 2+)`` and keep the leading dimensions.
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
CHIN = 152  #: the chin's lowest landmark


def eyelid_contours(landmarks):
    """``(..., 478, 2+)`` -> ``(..., 2, 2, 9, 2)``: per eye, the upper and the lower lid."""
    return landmarks[..., EYELID_INDEX, :2]


def lip_contours(landmarks):
    """``(..., 478, 2+)`` -> ``(..., 2, 11, 2)``: the inner upper and inner lower lip."""
    return landmarks[..., LIP_INDEX, :2]


def chin_point(landmarks):
    """``(..., 478, 2+)`` -> ``(..., 2)``: the chin's lowest point."""
    return landmarks[..., CHIN, :2]
