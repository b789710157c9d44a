"""Resampling a scaled and translated window of an image: what ``crop.CropTransform`` warps and pastes with.

Pixel coordinates are continuous with pixel centres at ``+0.5`` (docs/conventions.md, "Face crop"); cv2's matrices
use integer centres, and ``scale_translate_warp`` converts. Downscaling by more than ``1 / AREA_THRESHOLD`` is
antialiased by a box filter first (``cv2.INTER_AREA``). Border modes (``BORDERS``) resolve indices outside the image.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Downscaling factor below which ``warp``/``paste_back`` first shrink with INTER_AREA.
AREA_THRESHOLD = 0.5

BORDERS = {
    "replicate": cv2.BORDER_REPLICATE,
    "constant": cv2.BORDER_CONSTANT,
    "reflect": cv2.BORDER_REFLECT_101,
}


def index_matrix(a: float, tx: float, ty: float) -> np.ndarray:
    """cv2 (integer pixel-index) matrix for the continuous map ``u = a x + tx, v = a y + ty``."""
    # continuous = index + 0.5 on both sides
    return np.array([[a, 0.0, tx + 0.5 * a - 0.5], [0.0, a, ty + 0.5 * a - 0.5]], dtype=np.float64)


def _border_indices(idx: np.ndarray, n: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Source indices for (possibly out-of-range) ``idx`` and a validity mask (False = fill)."""
    valid = (idx >= 0) & (idx < n)
    if mode == "replicate":
        return np.clip(idx, 0, n - 1), np.ones_like(valid)
    if mode == "reflect":
        if n == 1:
            return np.zeros_like(idx), np.ones_like(valid)
        period = 2 * n - 2
        m = np.mod(idx, period)
        return np.where(m > n - 1, period - m, m), np.ones_like(valid)
    return np.clip(idx, 0, n - 1), valid


def extract_window(image: np.ndarray, x0: int, y0: int, x1: int, y1: int, mode: str, fill) -> np.ndarray:
    """``image[y0:y1, x0:x1]`` with indices outside the image resolved by the border ``mode``."""
    h, w = image.shape[:2]
    rows, rvalid = _border_indices(np.arange(y0, y1), h, mode)
    cols, cvalid = _border_indices(np.arange(x0, x1), w, mode)
    out = image[rows[:, None], cols[None, :]]
    if mode == "constant":
        invalid = ~(rvalid[:, None] & cvalid[None, :])
        out[invalid] = fill
    return out


def scale_translate_warp(src: np.ndarray, a: float, tx: float, ty: float, dsize: tuple[int, int],
                          border: int, fill) -> np.ndarray:
    """Resample ``src`` under the continuous map ``dst = a * src + (tx, ty)`` into ``dsize = (w, h)``.

    When ``a < AREA_THRESHOLD`` the source is first shrunk with INTER_AREA to about the
    target resolution (box-filter antialiasing); the remaining near-identity map uses
    bilinear interpolation.
    """
    if a < AREA_THRESHOLD:
        h, w = src.shape[:2]
        iw, ih = max(1, round(w * a)), max(1, round(h * a))
        src = cv2.resize(src, (iw, ih), interpolation=cv2.INTER_AREA)
        fx, fy = iw / w, ih / h
        # The two axes may round differently; warp each with its exact factor.
        m = np.array([[a / fx, 0.0, tx + 0.5 * a / fx - 0.5], [0.0, a / fy, ty + 0.5 * a / fy - 0.5]])
    else:
        m = index_matrix(a, tx, ty)
    out = cv2.warpAffine(src, m, dsize, flags=cv2.INTER_LINEAR, borderMode=border, borderValue=fill)
    if out.ndim == 2 and src.ndim == 3:  # cv2 drops a trailing channel axis of size 1
        out = out[..., None]
    return out


def fill_value(fill, channels: int):
    if np.isscalar(fill):
        return (float(fill),) * 4
    vals = tuple(float(v) for v in fill)
    if len(vals) != channels:
        raise ValueError(f"fill must be a scalar or have {channels} values, got {len(vals)}")
    return vals + (0.0,) * (4 - len(vals))
