"""Seeded value noise in 2-D and 3-D, with octaves (numba). Values in [0, 1]."""

from __future__ import annotations

import numpy as np
from numba import njit

_TABLE_SIZE = 4096


def _table(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(_TABLE_SIZE).astype(np.float32)


@njit(cache=True)
def _lattice(ix, iy, iz, salt):
    h = (ix * 73856093) ^ (iy * 19349663) ^ (iz * 83492791) ^ salt
    h ^= h >> 13
    h = (h * 1274126177) & 0x7FFFFFFF
    return h % 4096


@njit(cache=True)
def _value_noise(points, table, salt):
    n, d = points.shape
    out = np.empty(n, np.float32)
    for i in range(n):
        x = points[i, 0]
        y = points[i, 1]
        z = points[i, 2] if d > 2 else 0.0
        x0, y0, z0 = np.floor(x), np.floor(y), np.floor(z)
        fx, fy, fz = x - x0, y - y0, z - z0
        fx, fy, fz = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy), fz * fz * (3 - 2 * fz)
        ix, iy, iz = np.int64(x0), np.int64(y0), np.int64(z0)
        acc = 0.0
        for c in range(8 if d > 2 else 4):
            dx, dy, dz = c & 1, (c >> 1) & 1, (c >> 2) & 1
            w = (fx if dx else 1 - fx) * (fy if dy else 1 - fy) * (fz if dz else 1 - fz)
            acc += w * table[_lattice(ix + dx, iy + dy, iz + dz, salt)]
        out[i] = acc
    return out


def value_noise(points: np.ndarray, seed: int, octaves: int = 1) -> np.ndarray:
    """Fractal value noise of points ``(N, D)`` (D = 2 or 3) -> ``(N,)`` float32 in [0, 1]."""
    pts = np.ascontiguousarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] not in (2, 3):
        raise ValueError(f"points must be (N, 2) or (N, 3), got {pts.shape}")
    total, amp, norm = np.zeros(len(pts), np.float32), 1.0, 0.0
    for o in range(octaves):
        salt = (seed * 2654435761 + 101 * o) % 2**31
        total += amp * _value_noise(pts * (2.0**o), _table(seed + 101 * o), salt)
        norm += amp
        amp *= 0.5
    return total / norm
