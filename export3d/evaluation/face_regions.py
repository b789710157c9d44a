"""Face regions (mouth, eyes, brows) as pixel masks, from a portrait's 478 MediaPipe landmarks.

Index sets follow MediaPipe's face-mesh topology: the outer lip contour, each eye's contour and
each brow. A region is the union of the convex hulls of its parts, dilated by ``MARGIN`` of the
outer eye-corner distance so that motion just outside the contour (a dropping chin, a lid) counts.
"""

from __future__ import annotations

import cv2
import numpy as np

LIPS_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
CHIN = (152, 148, 176, 377, 400)
EYE_RIGHT = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
EYE_LEFT = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
BROW_RIGHT = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
BROW_LEFT = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)

#: region name -> parts (each part is one convex hull)
REGIONS: dict[str, tuple[tuple[int, ...], ...]] = {
    "mouth": (LIPS_OUTER + CHIN,),
    "eyes": (EYE_RIGHT, EYE_LEFT),
    "brows": (BROW_RIGHT + EYE_RIGHT, BROW_LEFT + EYE_LEFT),
}
MARGIN = 0.1  #: dilation, as a fraction of the outer eye-corner distance


def region_mask(points: np.ndarray, region: str, size: int) -> np.ndarray:
    """``(size, size)`` bool mask of ``region`` for landmarks ``points (478, 2)`` in continuous crop pixels."""
    mask = np.zeros((size, size), np.uint8)
    for part in REGIONS[region]:
        hull = cv2.convexHull(np.round(points[list(part)] - 0.5).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1)
    radius = int(round(MARGIN * np.linalg.norm(points[33] - points[263])))
    if radius > 0:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    return mask.astype(bool)


def grey(images: np.ndarray) -> np.ndarray:
    """``(..., 3)`` uint8 RGB -> ``(...)`` float64 luma (ITU-R BT.601 weights), grey levels 0..255."""
    return np.asarray(images, np.float64) @ np.array([0.299, 0.587, 0.114])


def mean_abs_change(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute grey-level difference of two ``(S, S, 3)`` images over ``mask (S, S)``."""
    if not mask.any():
        return float("nan")
    return float(np.abs(grey(a) - grey(b))[mask].mean())
