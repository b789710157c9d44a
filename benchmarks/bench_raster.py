"""Frames/s of the numba rasterizer on a synthetic ~26.7k-vertex / ~52.8k-triangle face-sized mesh.

One frame = scale the screen-space vertices to the supersampled resolution, ``rasterize``, ``interpolate`` a
3-channel per-vertex attribute, and ``downsample`` the image and the mask (2x2 supersampling by default).
The first call (JIT compile, or a load from numba's on-disk cache) is timed separately and excluded.

    python benchmarks/bench_raster.py            # first call may hit the on-disk cache
    python benchmarks/bench_raster.py --cold     # fresh numba cache dir: the first call is a real compile
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GRID = (164, 163)  #: vertices per row / column -> 26,732 vertices, 52,812 triangles.


def make_mesh(size: int, fill: float = 0.6):
    """A bumpy dome (``(V, 3)`` camera-space points, ``(T, 3)`` triangles) seen by a pinhole camera.

    Returns screen-space vertices for a ``size x size`` image (x col, y row, z depth) and the triangles; the grid's
    bounding square covers ``fill`` of the image.
    """
    nx, ny = GRID
    x, y = np.meshgrid(np.linspace(-1.0, 1.0, nx), np.linspace(-1.0, 1.0, ny))
    bump = 0.5 * np.exp(-2.0 * (x**2 + y**2)) + 0.05 * np.sin(9.0 * x) * np.cos(7.0 * y)
    pts = np.stack([x, y, 4.0 - bump], axis=-1).reshape(-1, 3)  # camera space, z forward
    focal = np.sqrt(fill) * size / 2.0 * 4.0  # the grid edge (|x| = 1 at z = 4) lands at sqrt(fill) * size / 2
    screen = np.empty_like(pts)
    screen[:, 0] = focal * pts[:, 0] / pts[:, 2] + size / 2.0
    screen[:, 1] = focal * pts[:, 1] / pts[:, 2] + size / 2.0
    screen[:, 2] = pts[:, 2]
    idx = np.arange(nx * ny).reshape(ny, nx)
    a, b, c, d = idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]  # counter-clockwise in the image: front
    quads = np.stack([a, b, c, d], axis=-1).reshape(-1, 4)
    tris = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    return screen.astype(np.float32), tris.astype(np.int32), pts.astype(np.float32)


def frame(raster, verts, tris, attr, size: int, factor: int):
    """Render one anti-aliased ``size x size`` frame -> image ``(size, size, 3)``, coverage ``(size, size)``."""
    hi = verts.copy()
    hi[:, :2] *= factor
    frags = raster.rasterize(hi, tris, size * factor, size * factor)
    image = raster.interpolate(frags, attr, tris)
    return raster.downsample(image, factor), raster.downsample(frags.mask, factor)


def bench(raster, size: int, factor: int, seconds: float):
    """Median seconds per frame and per rasterize call over ``seconds`` of repeated frames."""
    verts, tris, pts = make_mesh(size)
    attr = raster.vertex_normals(pts, tris)
    frame_t, raster_t = [], []
    hi = verts.copy()
    hi[:, :2] *= factor
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(frame_t) < 5:
        t0 = time.perf_counter()
        _, coverage = frame(raster, verts, tris, attr, size, factor)
        t1 = time.perf_counter()
        raster.rasterize(hi, tris, size * factor, size * factor)
        frame_t.append(t1 - t0)
        raster_t.append(time.perf_counter() - t1)
    return np.median(frame_t), np.median(raster_t), len(frame_t), float(coverage.mean()), len(verts), len(tris)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="compile into a fresh numba cache directory")
    parser.add_argument("--seconds", type=float, default=3.0, help="timing budget per resolution")
    parser.add_argument("--factor", type=int, default=2, help="supersampling factor")
    args = parser.parse_args()
    if args.cold:
        os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba_cache_")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from export3d.rendering import raster

    verts, tris, _ = make_mesh(16)
    t0 = time.perf_counter()
    raster.rasterize(verts, tris, 16, 16)
    first = time.perf_counter() - t0
    kind = "JIT compile, fresh cache" if args.cold else "JIT compile or load from the on-disk cache"
    print(f"first call ({kind}): {first:.2f} s")
    for size in (128, 256):
        per_frame, per_raster, n, cov, nv, nt = bench(raster, size, args.factor, args.seconds)
        inner = size * args.factor
        print(f"{size}x{size} ({args.factor}x SSAA, {inner}x{inner} internal), {nv} verts / {nt} tris, "
              f"coverage {cov:.2f}: {1 / per_frame:.0f} frames/s ({per_frame * 1e3:.2f} ms/frame; "
              f"rasterize alone {per_raster * 1e3:.2f} ms) over {n} frames")


if __name__ == "__main__":
    main()
