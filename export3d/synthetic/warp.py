"""Backward warping with a correspondence field, and the oracle-warp prediction built on it.

``coords (..., S, S, 2)`` hold, for every output pixel, the continuous source pixel ``(x, y)`` to read
(docs/conventions.md, "Correspondence fields"). With ``grid_sample(align_corners=False)`` that position is
the normalised grid point ``coords * 2 / S - 1`` exactly; reads outside the image repeat the edge pixels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["warp", "oracle_warp"]


def warp(source: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Bilinear backward warp: ``source (Hs, Ws, C)`` read at ``coords (H, W, 2)`` -> ``(H, W, C)`` float32."""
    src = torch.from_numpy(np.ascontiguousarray(source, np.float32)).permute(2, 0, 1)[None]
    hs, ws = source.shape[:2]
    xy = torch.from_numpy(np.asarray(coords, np.float32))
    grid = torch.stack([xy[..., 0] * (2.0 / ws) - 1.0, xy[..., 1] * (2.0 / hs) - 1.0], -1)[None]
    out = F.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out[0].permute(1, 2, 0).numpy()


def oracle_warp(source: np.ndarray, coords: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """The target predicted from the true field: ``source (S, S, 3)`` uint8 warped by ``coords (N, S, S, 2)``.

    Pixels whose surface point is not visible in the source (``visible (N, S, S)`` False) copy the source
    pixel at the same position (the copy-source baseline). Returns ``(N, S, S, 3)`` uint8.
    """
    coords = np.asarray(coords, np.float32).reshape(-1, *np.shape(coords)[-3:])
    visible = np.asarray(visible, bool).reshape(len(coords), *coords.shape[1:3])
    out = np.empty((len(coords), *source.shape), np.uint8)
    for i, (c, v) in enumerate(zip(coords, visible, strict=True)):
        warped = np.clip(np.round(warp(source, c)), 0, 255).astype(np.uint8)
        out[i] = np.where(v[..., None], warped, source)
    return out
