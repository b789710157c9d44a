"""FFHQ/EG3D-like face crops without rotation: pure geometry plus resampling.

Coordinates (docs/conventions.md, "Face crop"): points are continuous pixel coordinates
``(x, y)`` with x to the right and y down; pixel ``(row r, col c)`` covers
``[c, c + 1) x [r, r + 1)`` and has its centre at ``(c + 0.5, r + 0.5)``. This is the
convention of ``export3d.rendering.camera.project_points``.

Five points (``points5``, ``(5, 2)``; layout and conversions from landmarks in ``points5.py``) set the crop.

Crop rule (FFHQ's, minus the rotation): with ``eye_mid`` the eye midpoint,
``eye_to_eye = eye_left - eye_right`` and ``eye_to_mouth = mouth_mid - eye_mid``, the crop is
the axis-aligned square centred at ``eye_mid + 0.1 * eye_to_mouth`` with side
``2 * max(2.0 * |eye_to_eye|, 1.8 * |eye_to_mouth|)``. Head roll is *not* removed: it stays
in the image and is carried by the camera, so image -> crop is scale + translation only.
The rule only uses the midpoints and the two lengths, so swapping left and right by
mistake does not change the box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .points5 import EYE_LEFT, EYE_RIGHT, MOUTH_LEFT, MOUTH_RIGHT
from .resample import AREA_THRESHOLD, BORDERS, extract_window, fill_value, index_matrix, scale_translate_warp

#: FFHQ crop constants.
CENTER_SHIFT = 0.1  #: centre = eye midpoint + CENTER_SHIFT * eye_to_mouth
EYE_FACTOR = 2.0  #: half side >= EYE_FACTOR * |eye_to_eye|
MOUTH_FACTOR = 1.8  #: half side >= MOUTH_FACTOR * |eye_to_mouth|

# --------------------------------------------------------------------------- box
@dataclass(frozen=True)
class CropBox:
    """Axis-aligned square ``[cx - size/2, cx + size/2] x [cy - size/2, cy + size/2]`` in
    continuous pixel coordinates (pixel ``(r, c)`` has its centre at ``(c + 0.5, r + 0.5)``)."""

    cx: float
    cy: float
    size: float

    def __post_init__(self):
        for name in ("cx", "cy", "size"):
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise ValueError(f"CropBox.{name} must be finite, got {value}")
            object.__setattr__(self, name, value)
        if self.size <= 0:
            raise ValueError(f"CropBox.size must be positive, got {self.size}")

    @property
    def x0(self) -> float:
        return self.cx - self.size / 2

    @property
    def y0(self) -> float:
        return self.cy - self.size / 2

    @property
    def x1(self) -> float:
        return self.cx + self.size / 2

    @property
    def y1(self) -> float:
        return self.cy + self.size / 2

    def xyxy(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)``."""
        return self.x0, self.y0, self.x1, self.y1

    def scaled(self, factor: float) -> CropBox:
        """The same centre, side multiplied by ``factor``."""
        return CropBox(self.cx, self.cy, self.size * factor)

    def shifted(self, dx: float, dy: float) -> CropBox:
        """Centre moved by ``(dx, dy)`` pixels."""
        return CropBox(self.cx + dx, self.cy + dy, self.size)


def crop_box_from_points(points5, scale: float = 1.0, offset: tuple[float, float] = (0.0, 0.0)) -> CropBox:
    """FFHQ-rule crop square (no rotation) from ``points5`` ``(5, 2)`` in pixels.

    ``scale`` multiplies the side; ``offset = (ox, oy)`` then moves the centre by
    ``(ox * size, oy * size)`` (x right, y down) with the *scaled* side. Raises
    ``ValueError`` for non-finite or degenerate points (zero eye-to-eye and eye-to-mouth
    distances) and for a non-positive ``scale``.
    """
    pts = np.asarray(points5, dtype=np.float64)
    if pts.shape != (5, 2):
        raise ValueError(f"points5 must have shape (5, 2), got {pts.shape}")
    if not np.all(np.isfinite(pts)):
        raise ValueError("points5 contains non-finite values")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be positive, got {scale}")
    eye_mid = (pts[EYE_RIGHT] + pts[EYE_LEFT]) / 2
    mouth_mid = (pts[MOUTH_RIGHT] + pts[MOUTH_LEFT]) / 2
    eye_to_eye = pts[EYE_LEFT] - pts[EYE_RIGHT]
    eye_to_mouth = mouth_mid - eye_mid
    half = max(EYE_FACTOR * float(np.hypot(*eye_to_eye)), MOUTH_FACTOR * float(np.hypot(*eye_to_mouth)))
    magnitude = float(np.abs(pts).max())
    if half <= 1e-9 * max(1.0, magnitude):
        raise ValueError("degenerate face points: eyes and mouth coincide, cannot size the crop")
    size = 2.0 * half * scale
    center = eye_mid + CENTER_SHIFT * eye_to_mouth
    ox, oy = offset
    return CropBox(center[0] + ox * size, center[1] + oy * size, size)


def box_outside_fraction(box: CropBox, width: int, height: int) -> float:
    """Fraction in [0, 1] of the box's area lying outside the image ``[0, width] x [0, height]``."""
    ix = max(0.0, min(box.x1, float(width)) - max(box.x0, 0.0))
    iy = max(0.0, min(box.y1, float(height)) - max(box.y0, 0.0))
    inside = ix * iy / (box.size * box.size)
    return float(min(1.0, max(0.0, 1.0 - inside)))


# --------------------------------------------------------------------------- transform
@dataclass(frozen=True)
class CropTransform:
    """The map between an image and the ``out_size x out_size`` crop of ``box``.

    In continuous pixel coordinates (centres at ``+0.5``) the map is
    ``crop = (image - (box.x0, box.y0)) * out_size / box.size``, so crop pixel ``(r, c)``
    (centre ``(c + 0.5, r + 0.5)``) samples the image at ``box.x0 + (c + 0.5) * size / out_size``.
    """

    box: CropBox
    out_size: int

    def __post_init__(self):
        if int(self.out_size) != self.out_size or self.out_size <= 0:
            raise ValueError(f"out_size must be a positive integer, got {self.out_size}")
        object.__setattr__(self, "out_size", int(self.out_size))

    @property
    def scale(self) -> float:
        """Crop pixels per image pixel."""
        return self.out_size / self.box.size

    def image_to_crop(self, points) -> np.ndarray:
        """Image points ``(N, 2)`` -> crop points ``(N, 2)`` (continuous pixel coordinates)."""
        p = np.asarray(points, dtype=np.float64)
        return (p - np.array([self.box.x0, self.box.y0])) * self.scale

    def crop_to_image(self, points) -> np.ndarray:
        """Crop points ``(N, 2)`` -> image points ``(N, 2)``; exact inverse of ``image_to_crop``."""
        p = np.asarray(points, dtype=np.float64)
        return p / self.scale + np.array([self.box.x0, self.box.y0])

    def matrix(self) -> np.ndarray:
        """``(2, 3)`` affine image -> crop in continuous coordinates: ``crop = M @ [x, y, 1]``.

        To use it with ``cv2.warpAffine`` (integer pixel indices) use ``cv2_matrix``.
        """
        s = self.scale
        return np.array([[s, 0.0, -s * self.box.x0], [0.0, s, -s * self.box.y0]])

    def cv2_matrix(self) -> np.ndarray:
        """``(2, 3)`` image -> crop in cv2's pixel-index coordinates (centres at integers)."""
        s = self.scale
        return index_matrix(s, -s * self.box.x0, -s * self.box.y0)

    def warp(self, image: np.ndarray, border: str = "replicate", fill=0) -> np.ndarray:
        """Resample ``image (H, W, C)`` (uint8 RGB, or any cv2-supported dtype) into the crop.

        ``border``: ``"replicate"`` (default: outside pixels repeat the nearest edge pixel, so
        faces near the frame edge still give a usable crop), ``"constant"`` (``fill``, a scalar
        or one value per channel) or ``"reflect"`` (mirror without repeating the edge).
        Downscaling by more than ``1 / AREA_THRESHOLD`` is antialiased: the covered sub-image
        is shrunk with INTER_AREA before the final bilinear resampling.
        """
        if border not in BORDERS:
            raise ValueError(f"border must be one of {sorted(BORDERS)}, got {border!r}")
        if image.ndim not in (2, 3) or image.shape[0] == 0 or image.shape[1] == 0:
            raise ValueError(f"image must be (H, W) or (H, W, C) and non-empty, got {image.shape}")
        channels = 1 if image.ndim == 2 else image.shape[2]
        fill_v = fill_value(fill, channels)
        s, n = self.scale, self.out_size
        if s >= AREA_THRESHOLD:
            return scale_translate_warp(image, s, -s * self.box.x0, -s * self.box.y0, (n, n),
                                         BORDERS[border], fill_v)
        # Strong downscale: cut the covered region (with a margin for the bilinear taps and
        # the border rule applied), shrink it with INTER_AREA, then resample.
        margin = math.ceil(2.0 / s) + 1
        rx0, ry0 = math.floor(self.box.x0) - margin, math.floor(self.box.y0) - margin
        rx1, ry1 = math.ceil(self.box.x1) + margin, math.ceil(self.box.y1) + margin
        fill_px = fill_v[:channels] if channels > 1 else fill_v[0]
        roi = extract_window(image, rx0, ry0, rx1, ry1, border, fill_px)
        return scale_translate_warp(roi, s, s * (rx0 - self.box.x0), s * (ry0 - self.box.y0), (n, n),
                                     cv2.BORDER_REPLICATE, fill_v)

    def paste_back(self, crop_image: np.ndarray, original: np.ndarray, mask=None,
                   feather: float = 0.05) -> np.ndarray:
        """Put ``crop_image (out_size, out_size, C)`` back into a copy of ``original (H, W, C)``.

        The crop is inverse-warped into the image and blended with weight
        ``alpha = mask * edge_ramp``: ``mask`` is an optional ``(out_size, out_size)`` weight in
        [0, 1] (float) or [0, 255] (uint8), default all ones; ``edge_ramp`` rises linearly from
        0 at the crop's border to 1 at ``feather * out_size`` pixels inside it (``feather=0``:
        no ramp). Pixels outside the box are returned unchanged. The result has
        ``original``'s shape and dtype (uint8 values are rounded).
        """
        n = self.out_size
        if crop_image.shape[:2] != (n, n):
            raise ValueError(f"crop_image must be {n} x {n}, got {crop_image.shape[:2]}")
        if crop_image.ndim != original.ndim or crop_image.shape[2:] != original.shape[2:]:
            raise ValueError(f"crop_image {crop_image.shape} and original {original.shape} channels differ")
        if feather < 0:
            raise ValueError(f"feather must be >= 0, got {feather}")
        h, w = original.shape[:2]
        if mask is None:
            alpha = np.ones((n, n), dtype=np.float32)
        else:
            m = np.asarray(mask)
            if m.shape[:2] != (n, n) or m.ndim not in (2, 3) or (m.ndim == 3 and m.shape[2] != 1):
                raise ValueError(f"mask must be ({n}, {n}), got {m.shape}")
            alpha = m.reshape(n, n).astype(np.float32)
            if m.dtype == np.uint8:
                alpha /= 255.0
            alpha = np.clip(alpha, 0.0, 1.0)
        if feather > 0:
            centres = np.arange(n, dtype=np.float32) + 0.5
            dist = np.minimum(centres, n - centres)
            ramp = np.clip(dist / (feather * n), 0.0, 1.0)
            alpha = alpha * np.minimum(ramp[:, None], ramp[None, :])
        # Only the box's bounding pixels (clipped to the image) can change.
        rx0, ry0 = max(0, math.floor(self.box.x0) - 1), max(0, math.floor(self.box.y0) - 1)
        rx1, ry1 = min(w, math.ceil(self.box.x1) + 1), min(h, math.ceil(self.box.y1) + 1)
        out = original.copy()
        if rx0 >= rx1 or ry0 >= ry1:
            return out
        # inverse map, relative to the region: region = crop / s + (x0 - rx0, y0 - ry0)
        a, tx, ty = 1.0 / self.scale, self.box.x0 - rx0, self.box.y0 - ry0
        dsize = (rx1 - rx0, ry1 - ry0)
        zero = (0.0, 0.0, 0.0, 0.0)
        alpha_img = scale_translate_warp(alpha, a, tx, ty, dsize, cv2.BORDER_CONSTANT, zero)
        color_img = scale_translate_warp(crop_image.astype(np.float32), a, tx, ty, dsize,
                                          cv2.BORDER_REPLICATE, zero)
        if color_img.ndim == 2 and original.ndim == 3:
            color_img = color_img[..., None]
        alpha_img = np.clip(alpha_img, 0.0, 1.0)
        weight = alpha_img[..., None] if original.ndim == 3 else alpha_img
        region = out[ry0:ry1, rx0:rx1]
        orig_f = region.astype(np.float32)
        blended = orig_f + weight * (color_img - orig_f)
        if np.issubdtype(original.dtype, np.integer):
            info = np.iinfo(original.dtype)
            blended = np.clip(np.rint(blended), info.min, info.max)
        inside = alpha_img > 0
        region[inside] = blended[inside].astype(original.dtype)
        return out


def crop_face(image: np.ndarray, points5, out_size: int, scale: float = 1.0,
              offset: tuple[float, float] = (0.0, 0.0), border: str = "replicate") -> tuple[np.ndarray, CropTransform]:
    """Convenience: ``crop_box_from_points`` + ``CropTransform.warp``; returns ``(crop, transform)``."""
    transform = CropTransform(crop_box_from_points(points5, scale, offset), out_size)
    return transform.warp(image, border=border), transform
