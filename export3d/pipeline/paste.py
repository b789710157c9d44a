"""Carrying the model's face crop onto a bigger picture: the whole photo (paste-back) or a sharper face crop.

The model renders the face crop at its output size ``O`` (``CropLayers``): for warped models, the sampling field
into the portrait and the portrait warped by it. A ``Canvas`` (made once per portrait and target) applies the same
field to a target picture ``T`` that shows the portrait at a higher resolution: the whole photo (long side at most
``MAX_SIDE``, even sides) or the face crop at ``CROP_SIZE``. For a target pixel ``q`` inside the crop's box::

    out(q) = T(q + rho(q) d(q)) + rho(q) a(q) r(q),        out <- out + u(q) (plate(q) - out)

* ``d``: the field's offset from the identity, in target pixels (interpolated from ``O``);
* ``r``: the crop output minus the portrait warped by the field at ``O`` (rendered branch, refiner, the mouth's
  cavity: smooth, so interpolating it loses nothing the photo had), on the head only (``a``: the frame's opacity;
  the background is the photo's own);
* ``rho``: 0 at the box's border, 1 at ``FEATHER`` of its side inside it: the field fades to the identity, so
  there is no seam of colour, only a stretch where something moved near the border;
* ``u = rho clamp(m_s - a, 0, 1)``: where the portrait's own render was opaque (``m_s``: the head in the photo)
  and the frame's is not (``a``), background was uncovered; the **plate** (the photo with the head's area
  inpainted from its surroundings) shows there instead of a copy of the face.

Outside the box the target is returned unchanged. Generated (not warped) models have no field: their crop is
laid over the target with weight ``rho a``. Pixels use continuous coordinates with centres at ``+0.5``
(docs/conventions.md); cv2 maps use integer centres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..face.crop import CropBox, CropTransform

MAX_SIDE = 1920  #: the full-photo output's longest side (larger photos are scaled down)
CROP_SIZE = 512  #: the face-crop output's side
FEATHER = 0.12  #: the field fades out over this fraction of the box side at its border
PLATE_SIDE = 384  #: the background plate is inpainted at most at this size (then scaled up)
MASK_LEVEL = 0.3  #: own-render opacity above which a pixel is the head's, for the plate's inpainting mask
TURN_LIMIT = 20.0  #: degrees from the photo's own view beyond which the whole photo's neck and crop border visibly
#: stretch (looked at on the shared portraits at yaw 20 and 30; the face crop has no body to disagree with)


def turn_warning(degrees: float) -> str | None:
    """The user's sentence when the whole photo's head turns ``degrees`` (the largest yaw or pitch away from the
    photo's own view) beyond ``TURN_LIMIT``, else None."""
    if degrees <= TURN_LIMIT:
        return None
    return (f"The head turns up to {degrees:.0f}° from the photo's own view; on the whole photo the neck and the "
            f"face crop's border stretch visibly beyond about {TURN_LIMIT:g}°. Use smaller yaw/pitch offsets, or "
            "the face crop.")


@dataclass
class CropLayers:
    """One frame of the model at its output size ``O``."""

    image: np.ndarray  #: (O, O, 3) float32 in [0, 255], the model's output crop
    opacity: np.ndarray  #: (O, O) float32 in [0, 1], the frame's head opacity
    shift: np.ndarray | None = None  #: (O, O, 2) float32, the sampling field minus the identity, crop pixels (x, y)
    plain: np.ndarray | None = None  #: (O, O, 3) float32 in [0, 255], the portrait warped by the field alone


def full_photo(rgb: np.ndarray, max_side: int = MAX_SIDE) -> tuple[np.ndarray, float]:
    """The photo as the full-photo output shows it: ``(image, scale)``, scaled down (area) so that its long side is
    at most ``max_side``, then cut to even sides (one row / column dropped at the bottom / right when odd)."""
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        rgb = cv2.resize(rgb, (max(2, round(w * scale)), max(2, round(h * scale))), interpolation=cv2.INTER_AREA)
    h, w = rgb.shape[:2]
    return np.ascontiguousarray(rgb[: h - h % 2, : w - w % 2]), scale


def edge_ramp(n: int, feather: float) -> np.ndarray:
    """``(n,)`` weights of the crop's pixel centres: ``min(c, n - c) / (feather n)`` clipped to [0, 1]."""
    c = np.arange(n, dtype=np.float32) + 0.5
    if feather <= 0:
        return np.ones(n, np.float32)
    return np.clip(np.minimum(c, n - c) / (feather * n), 0.0, 1.0)


class Canvas:
    """The target picture of one portrait and what a frame needs to be laid on it (module docstring).

    ``target (H, W, 3)`` uint8; ``box``: the model's crop box in the target's pixels; ``size``: the crop side
    ``O`` the frames come at; ``own_opacity (O, O)``: the portrait's own render at its own camera.
    """

    def __init__(self, target: np.ndarray, box: CropBox, size: int, own_opacity: np.ndarray,
                 feather: float = FEATHER):
        self.target, self.box, self.size = np.ascontiguousarray(target), box, int(size)
        h, w = target.shape[:2]
        self.x0, self.y0 = max(0, math.floor(box.x0)), max(0, math.floor(box.y0))
        self.x1, self.y1 = min(w, math.ceil(box.x0 + box.size)), min(h, math.ceil(box.y0 + box.size))
        if self.x1 <= self.x0 or self.y1 <= self.y0:
            raise ValueError(f"the crop box {box} does not overlap the {w}x{h} target")
        self.step = box.size / self.size  #: target pixels per crop pixel
        self.rho = self._region(np.outer(edge_ramp(self.size, feather), edge_ramp(self.size, feather)))
        self.xs = np.arange(self.x0, self.x1, dtype=np.float32)[None]  #: (1, w) target columns of the region
        self.ys = np.arange(self.y0, self.y1, dtype=np.float32)[:, None]  #: (h, 1) target rows
        self.own = self._region(np.asarray(own_opacity, np.float32))
        self.plate = background_plate(target, (self.x0, self.y0, self.x1, self.y1), self.own)

    @classmethod
    def for_photo(cls, rgb: np.ndarray, transform: CropTransform, own_opacity: np.ndarray,
                  max_side: int = MAX_SIDE) -> Canvas:
        """The whole photo (``full_photo``) as the target; ``transform``: the model's crop of ``rgb``."""
        target, scale = full_photo(rgb, max_side)
        b = transform.box
        box = CropBox(b.cx * scale, b.cy * scale, b.size * scale)
        return cls(target, box, own_opacity.shape[0], own_opacity)

    @classmethod
    def for_crop(cls, rgb: np.ndarray, transform: CropTransform, own_opacity: np.ndarray,
                 size: int = CROP_SIZE) -> Canvas:
        """The face crop at ``size``² (resampled from the photo) as the target."""
        target = CropTransform(transform.box, size).warp(rgb)
        return cls(target, CropBox(size / 2, size / 2, size), own_opacity.shape[0], own_opacity)

    @property
    def shape(self) -> tuple[int, int]:
        return self.target.shape[:2]

    def _region(self, crop: np.ndarray) -> np.ndarray:
        """A ``(O, O[, C])`` crop map resampled (bilinear) at the target pixels of the box's region."""
        s = self.step
        m = np.array([[s, 0, self.box.x0 + 0.5 * s - 0.5 - self.x0],
                      [0, s, self.box.y0 + 0.5 * s - 0.5 - self.y0]], np.float32)
        return cv2.warpAffine(np.ascontiguousarray(crop, np.float32), m, (self.x1 - self.x0, self.y1 - self.y0),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def compose(self, layers: CropLayers) -> np.ndarray:
        """One frame on the target: ``(H, W, 3)`` uint8 (a new array; the target is untouched)."""
        rho = self.rho[..., None]
        if layers.shift is None:  # generated model: its crop over the target
            up = self._region(np.dstack([layers.image, layers.opacity]))
            region = self.target[self.y0:self.y1, self.x0:self.x1].astype(np.float32)
            out = region + rho * up[..., 3:] * (up[..., :3] - region)
            opacity = up[..., 3]
        else:
            residual = layers.image - layers.plain
            up = self._region(np.dstack([layers.shift * self.step, layers.opacity, residual]))
            mx = self.xs + self.rho * up[..., 0]
            my = self.ys + self.rho * up[..., 1]
            out = cv2.remap(self.target, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            opacity = up[..., 2]
            out = out.astype(np.float32) + (rho * opacity[..., None]) * up[..., 3:]
        uncovered = rho * np.clip(self.own - opacity, 0.0, 1.0)[..., None]
        out += uncovered * (self.plate.astype(np.float32) - out)
        frame = self.target.copy()
        frame[self.y0:self.y1, self.x0:self.x1] = np.clip(out + 0.5, 0, 255).astype(np.uint8)
        return frame


def background_plate(target: np.ndarray, region: tuple[int, int, int, int], own: np.ndarray,
                     level: float = MASK_LEVEL, max_side: int = PLATE_SIDE) -> np.ndarray:
    """``(h, w, 3)`` uint8: the target's ``region (x0, y0, x1, y1)`` with the head (``own > level``, grown by a
    tenth of the region) inpainted from its surroundings (Telea, at most ``max_side`` pixels a side, scaled up)."""
    x0, y0, x1, y1 = region
    patch = target[y0:y1, x0:x1]
    h, w = patch.shape[:2]
    k = min(1.0, max_side / max(h, w))
    size = (max(1, round(w * k)), max(1, round(h * k)))
    small = cv2.resize(patch, size, interpolation=cv2.INTER_AREA)
    mask = (cv2.resize(own, size, interpolation=cv2.INTER_LINEAR) > level).astype(np.uint8)
    grow = max(1, round(0.1 * max(size)))
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    filled = cv2.inpaint(small, mask * 255, max(3, grow // 2), cv2.INPAINT_TELEA)
    return cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
