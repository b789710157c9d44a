"""Head-part labels: the one integer enum of per-pixel regions, and the labels of the ICT head's triangles.

``Part`` is the label stored per pixel in datasets and benchmarks (uint8, docs/synthetic.md). The head's
triangles get theirs from ICT's region, refined geometrically on the template (canonical, cm): the neck is
what lies below the jaw line (front) or below the skull (back), ears are face skin, and any face/scalp
triangle whose hair coverage is at least one half is hair. Beards count as face skin.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

__all__ = ["Part", "PART_NAMES", "head_parts"]


class Part(IntEnum):
    """Per-pixel region label (uint8). 0 is the background."""

    BACKGROUND = 0
    SKIN = 1  #: face skin: face, lips, ears, beard
    EYES = 2  #: eyeballs, irises, lashes, caruncles, eye sockets
    MOUTH = 3  #: mouth interior, gums, tongue, teeth
    HAIR = 4  #: hair volume, hair-covered skin and the scalp (also when bald)
    NECK = 5  #: neck skin (head mesh below the jaw, and the body's neck above the collar)
    TORSO = 6  #: shoulders and upper torso (clothes)


PART_NAMES = tuple(p.name.lower() for p in Part)

_EYE_REGIONS = ("eyeball", "iris", "lacrimal", "eyelashes", "eye_socket")
_MOUTH_REGIONS = ("mouth_socket", "gums_tongue", "teeth")
BACK_NECK_Y = -4.5  #: cm: below this, the back half of the head mesh is neck (the skull ends)


def _region_parts(region_names: list[str]) -> np.ndarray:
    """``(R,)`` uint8 default part of every ICT region (skin for the face, hair for head_neck)."""
    out = np.full(len(region_names), Part.SKIN, np.uint8)
    for i, name in enumerate(region_names):
        if name.startswith(_EYE_REGIONS):
            out[i] = Part.EYES
        elif name.startswith(_MOUTH_REGIONS):
            out[i] = Part.MOUTH
        elif name == "head_neck":
            out[i] = Part.HAIR
    return out


def jaw_height(x: np.ndarray, jaw: np.ndarray) -> np.ndarray:
    """Height ``(N,)`` of the jaw line ``jaw (17, 2)`` (x, y landmarks 0..16, cm) above ``x (N,)``.

    Outside the landmarks' x range the end points' heights are kept.
    """
    order = np.argsort(jaw[:, 0])
    return np.interp(x, jaw[order, 0], jaw[order, 1])


def is_neck(p: np.ndarray, jaw: np.ndarray) -> np.ndarray:
    """``(N,)`` bool: template points ``p (N, 3)`` (cm) below the jaw line (front) or the skull (back)."""
    front = p[:, 2] > 0.0
    return np.where(front, p[:, 1] < jaw_height(p[:, 0], jaw), p[:, 1] < BACK_NECK_Y)


def is_ear(p: np.ndarray) -> np.ndarray:
    """``(N,)`` bool: template points ``p (N, 3)`` (cm) on the ears (the same box as the hair styles use)."""
    x, y, z = p.T
    return (np.abs(x) > 6.8) & (y > -3) & (y < 5.5) & (np.abs(z) < 4.5)


def head_parts(tri_region: np.ndarray, region_names: list[str], centroid: np.ndarray, jaw: np.ndarray,
               hair: np.ndarray) -> np.ndarray:
    """``(T,)`` uint8 ``Part`` of every head triangle.

    ``tri_region (T,)`` ICT region ids, ``centroid (T, 3)`` template centroids (cm), ``jaw (17, 2)`` the
    template's jaw landmarks (x, y), ``hair (T,)`` mean scalp-hair coverage of the corners in [0, 1].
    """
    parts = _region_parts(region_names)[tri_region]
    skin_or_scalp = (parts == Part.SKIN) | (parts == Part.HAIR)
    neck = skin_or_scalp & is_neck(centroid, jaw)
    ear = (parts == Part.HAIR) & is_ear(centroid) & ~neck
    parts[neck] = Part.NECK
    parts[ear] = Part.SKIN
    parts[skin_or_scalp & (hair >= 0.5)] = Part.HAIR
    return parts
