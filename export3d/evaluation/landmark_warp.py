"""A model-free baseline: a 2D piecewise-affine landmark warp of the portrait.

The portrait's 478 MediaPipe landmarks (in its output crop) plus ``BORDER_POINTS`` fixed points on the
crop border are triangulated once (Delaunay). Each driver frame moves the portrait's landmarks by the
driver's landmark motion relative to the driver's first frame, measured in a face-normalised frame
(origin at the centre of stable points: eye corners and nose bridge; unit = outer eye-corner distance),
so the driver's face size and position in its video do not matter. Every output pixel then samples the
portrait through the affine map of the triangle it falls in (backward mapping, bilinear, ``cv2.remap``).

No model and no 3D: the warp keeps the portrait's pixels (its identity), can stretch a visible mouth
open, but cannot show teeth a closed mouth hides, nor turn the head.

Coordinates: landmarks come in continuous crop pixels (centres at ``+0.5``, ``CropTransform``);
the maps use cv2 pixel indices (centres at integers), hence the ``0.5`` shifts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.spatial import Delaunay

#: landmarks that barely move with expression: eye corners (33, 133, 362, 263) and the nose bridge
STABLE = (33, 133, 362, 263, 168, 6, 197, 195)
OUTER_EYE_CORNERS = (33, 263)
SUBPIXEL = 4  #: fractional bits of the triangle raster (cv2 ``shift``)


def normalise(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Face-normalised landmarks.

    Args:
        landmarks: ``(..., 478, 2)`` pixels.
    Returns:
        ``(normalised (..., 478, 2), centre (..., 1, 2), scale (..., 1, 1))`` with
        ``landmarks = normalised * scale + centre``.
    """
    lm = np.asarray(landmarks, np.float64)
    centre = lm[..., STABLE, :].mean(-2, keepdims=True)
    a, b = OUTER_EYE_CORNERS
    scale = np.linalg.norm(lm[..., a, :] - lm[..., b, :], axis=-1)[..., None, None]
    return (lm - centre) / np.maximum(scale, 1e-9), centre, scale


def driver_motion(driver: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``(F, 478, 2)`` normalised displacement of each driver frame ``(F, 478, 2)`` from ``reference (478, 2)``."""
    return normalise(driver)[0] - normalise(reference)[0]


def border_points(size: int, per_side: int = 3) -> np.ndarray:
    """``(4 * per_side, 2)`` fixed points on the crop border (continuous pixels), corners included."""
    t = np.linspace(0.0, size, per_side + 1)[:-1]
    top = np.stack([t, np.zeros_like(t)], 1)
    right = np.stack([np.full_like(t, size), t], 1)
    bottom = np.stack([size - t, np.full_like(t, size)], 1)
    left = np.stack([np.zeros_like(t), size - t], 1)
    return np.concatenate([top, right, bottom, left])


def triangle_affines(src: np.ndarray, dst: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``(T, 2, 3)`` affine maps taking each destination triangle onto its source triangle.

    ``src``/``dst``: ``(P, 2)`` points; ``triangles``: ``(T, 3)`` indices. Degenerate destination
    triangles (no area, so no pixels) get the identity.
    """
    d = np.concatenate([dst[triangles], np.ones((len(triangles), 3, 1))], 2)  # (T, 3, 3) rows [x, y, 1]
    s = src[triangles]  # (T, 3, 2)
    ok = np.abs(np.linalg.det(d)) > 1e-9
    out = np.tile(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), (len(triangles), 1, 1))
    out[ok] = np.linalg.solve(d[ok], s[ok]).transpose(0, 2, 1)  # d @ X = s  ->  A = X^T
    return out


def triangle_index_map(dst: np.ndarray, triangles: np.ndarray, size: int) -> np.ndarray:
    """``(size, size)`` int32: which destination triangle covers each pixel (index coordinates), -1 for none."""
    ids = np.full((size, size), -1, np.int32)
    scaled = np.round(dst * (1 << SUBPIXEL)).astype(np.int32)
    for t, tri in enumerate(triangles):
        cv2.fillConvexPoly(ids, scaled[tri], int(t), lineType=cv2.LINE_8, shift=SUBPIXEL)
    return ids


def warp_maps(src: np.ndarray, dst: np.ndarray, triangles: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``cv2.remap`` maps ``(size, size)`` float32 x and y: output pixel -> source pixel (index coordinates).

    ``src``/``dst`` are ``(P, 2)`` in index coordinates; pixels outside every triangle map to themselves.
    """
    ids = triangle_index_map(dst, triangles, size)
    affines = triangle_affines(src, dst, triangles).reshape(-1, 6)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    a = affines[np.maximum(ids, 0)]  # (size, size, 6)
    mx = a[..., 0] * xs + a[..., 1] * ys + a[..., 2]
    my = a[..., 3] * xs + a[..., 4] * ys + a[..., 5]
    none = ids < 0
    mx[none], my[none] = xs[none], ys[none]
    return mx.astype(np.float32), my.astype(np.float32)


@dataclass
class LandmarkWarp:
    """The portrait ``image (S, S, 3)`` uint8 with its landmarks ``points (478, 2)`` (continuous crop pixels)."""

    image: np.ndarray
    points: np.ndarray
    control: np.ndarray = field(init=False)  #: (478 + B, 2) index coordinates: landmarks, then border points
    triangles: np.ndarray = field(init=False)  #: (T, 3)

    def __post_init__(self):
        size = self.image.shape[0]
        self.points = np.asarray(self.points, np.float64)
        self.control = np.concatenate([self.points, border_points(size)]) - 0.5
        self.triangles = Delaunay(self.control).simplices.astype(np.int64)

    @property
    def size(self) -> int:
        return self.image.shape[0]

    def warp(self, moved: np.ndarray) -> np.ndarray:
        """The portrait with its landmarks moved to ``moved (478, 2)`` (continuous crop pixels): ``(S, S, 3)``."""
        dst = self.control.copy()
        dst[: len(self.points)] = np.asarray(moved, np.float64) - 0.5
        mx, my = warp_maps(self.control, dst, self.triangles, self.size)
        return cv2.remap(self.image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def drive(self, driver: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """Frames ``(F, S, S, 3)`` following driver landmarks ``(F, 478, 2)`` relative to ``reference (478, 2)``
        (both in the driver's own pixels)."""
        _, _, scale = normalise(self.points)
        moved = self.points + driver_motion(driver, reference) * scale
        if len(moved) == 0:
            return np.zeros((0, *self.image.shape), np.uint8)
        return np.stack([self.warp(m) for m in moved])
