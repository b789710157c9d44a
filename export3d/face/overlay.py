"""Debug drawings for the face stage: crop square, landmarks, head axes, labels, contact sheets.

Images are ``uint8`` RGB ``(H, W, 3)`` only (no grayscale, no alpha); colours below are RGB.
Inputs are never modified. Point coordinates are continuous pixel coordinates
(pixel ``(r, c)`` has its centre at ``(c + 0.5, r + 0.5)``), as in ``export3d.face.crop``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .crop import CropBox

BOX_COLOR = (0, 255, 0)  #: crop square: green
LANDMARK_COLOR = (255, 255, 0)  #: landmark dots: yellow
AXIS_COLORS = ((255, 0, 0), (0, 255, 0), (0, 0, 255))  #: head x, y, z axes: red, green, blue
TEXT_COLOR = (255, 255, 255)
TEXT_BACKGROUND = (0, 0, 0)

_SHIFT = 4  # cv2 fractional bits for sub-pixel drawing
_ONE = 1 << _SHIFT


def _check_rgb(image: np.ndarray, name: str = "image") -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", None)
        raise ValueError(f"{name} must be a uint8 RGB array (H, W, 3), got shape {shape} dtype {dtype}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{name} is empty: {image.shape}")


def _fixed(x: float, y: float, limit: float) -> tuple[int, int]:
    """Continuous (x, y) -> cv2 fixed-point pixel-index coordinates, clamped to +-limit."""
    fx = min(max(x - 0.5, -limit), limit)
    fy = min(max(y - 0.5, -limit), limit)
    return round(fx * _ONE), round(fy * _ONE)


def line_thickness(height: int, width: int) -> int:
    """Stroke width in pixels for an image of this size (1 px up to ~384 px)."""
    return max(1, round(min(height, width) / 384))


def dot_radius(height: int, width: int) -> int:
    """Landmark dot radius in pixels for an image of this size (1 px up to ~300 px)."""
    return max(1, round(min(height, width) / 200))


def draw_overlay(image: np.ndarray, *, box: CropBox | None = None, landmarks=None, axes=None,
                 text: str | None = None) -> np.ndarray:
    """Return a copy of ``image`` (uint8 RGB ``(H, W, 3)``) with debug drawings.

    - ``box``: the crop square outline in green, drawn on the pixels just inside the box
      (rows/columns ``round(y0)`` .. ``round(y1) - 1``, ``round(x0)`` .. ``round(x1) - 1``).
    - ``landmarks``: ``(N, 2|3)`` points drawn as filled yellow dots whose radius grows with the
      image size; non-finite points are skipped.
    - ``axes = (rotation (3, 3), origin (2,), length_px)``: the columns of ``rotation`` are the
      head's x, y, z axes in OpenCV camera coordinates (x right, y down, z forward). Each is
      projected orthographically (its x, y components) from ``origin`` and drawn as a line of
      ``length_px * |(x, y)|`` pixels: x red, y green, z blue, farthest first. An axis pointing
      at the camera (negative z) is drawn short. An upright frontal head in the world frame of
      docs/conventions.md seen by the frontal camera has ``rotation = diag(1, -1, -1)``.
    - ``text``: a white label (lines split on ``\\n``) on a black band at the top left.
    """
    _check_rgb(image)
    out = np.ascontiguousarray(image).copy()
    h, w = out.shape[:2]
    thick = line_thickness(h, w)
    limit = 8.0 * max(h, w) + 16.0  # keeps cv2's int coordinates in range; far off-image anyway

    if box is not None:
        x0, y0 = round(box.x0), round(box.y0)
        x1, y1 = round(box.x1) - 1, round(box.y1) - 1
        lim = int(limit)
        pts = [min(max(v, -lim), lim) for v in (x0, y0, x1, y1)]
        cv2.rectangle(out, (pts[0], pts[1]), (pts[2], pts[3]), BOX_COLOR, thick, cv2.LINE_8)

    if landmarks is not None:
        lm = np.asarray(landmarks, dtype=np.float64)
        if lm.ndim != 2 or lm.shape[1] < 2:
            raise ValueError(f"landmarks must have shape (N, 2|3), got {lm.shape}")
        radius = dot_radius(h, w)
        for x, y in lm[:, :2]:
            if math.isfinite(x) and math.isfinite(y):
                cv2.circle(out, _fixed(x, y, limit), radius * _ONE, LANDMARK_COLOR, -1, cv2.LINE_8, _SHIFT)

    if axes is not None:
        rotation, origin, length = axes
        rot = np.asarray(rotation, dtype=np.float64)
        org = np.asarray(origin, dtype=np.float64).reshape(-1)
        if rot.shape != (3, 3) or org.shape != (2,):
            raise ValueError(f"axes need rotation (3, 3) and origin (2,), got {rot.shape} and {org.shape}")
        start = _fixed(org[0], org[1], limit)
        for i in np.argsort(-rot[2], kind="stable"):  # farthest (largest camera z) first
            end = _fixed(org[0] + length * rot[0, i], org[1] + length * rot[1, i], limit)
            if end == start:
                cv2.circle(out, start, thick * _ONE, AXIS_COLORS[i], -1, cv2.LINE_8, _SHIFT)
            else:
                cv2.line(out, start, end, AXIS_COLORS[i], thick, cv2.LINE_8, _SHIFT)

    if text:
        _draw_label(out, text)
    return out


def _draw_label(out: np.ndarray, text: str) -> None:
    h, w = out.shape[:2]
    font = cv2.FONT_HERSHEY_SIMPLEX
    font_scale = max(0.35, min(h, w) / 640)
    thick = max(1, round(font_scale * 1.5))
    pad = max(2, round(4 * font_scale))
    y = pad
    for line in text.split("\n"):
        (tw, th), base = cv2.getTextSize(line, font, font_scale, thick)
        cv2.rectangle(out, (0, y - pad // 2), (tw + 2 * pad, y + th + base + pad // 2), TEXT_BACKGROUND, -1)
        cv2.putText(out, line, (pad, y + th), font, font_scale, TEXT_COLOR, thick, cv2.LINE_AA)
        y += th + base + pad


def letterbox(image: np.ndarray, tile: int, background=(0, 0, 0)) -> np.ndarray:
    """Fit ``image`` (uint8 RGB) inside a ``tile x tile`` square, keeping its aspect ratio, centred."""
    _check_rgb(image)
    h, w = image.shape[:2]
    f = tile / max(h, w)
    nw, nh = max(1, min(tile, round(w * f))), max(1, min(tile, round(h * f)))
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR
    resized = image if (nw, nh) == (w, h) else cv2.resize(image, (nw, nh), interpolation=interp)
    out = np.empty((tile, tile, 3), dtype=np.uint8)
    out[:] = background
    top, left = (tile - nh) // 2, (tile - nw) // 2
    out[top:top + nh, left:left + nw] = resized
    return out


def overlay_contact_sheet(images: list[np.ndarray], columns: int = 4, tile: int = 256,
                          background=(0, 0, 0)) -> np.ndarray:
    """Tile uint8 RGB images (each letterboxed to ``tile x tile``) row by row.

    The sheet is ``ceil(n / c) * tile`` by ``c * tile`` with ``c = min(columns, n)``; empty
    cells are filled with ``background``.
    """
    if len(images) == 0:
        raise ValueError("overlay_contact_sheet needs at least one image")
    if columns < 1 or tile < 1:
        raise ValueError(f"columns and tile must be positive, got {columns} and {tile}")
    cols = min(columns, len(images))
    rows = math.ceil(len(images) / cols)
    sheet = np.empty((rows * tile, cols * tile, 3), dtype=np.uint8)
    sheet[:] = background
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        sheet[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile] = letterbox(img, tile, background)
    return sheet
