"""Software triangle rasterizer (numba, CPU): z-buffer, top-left fill rule, perspective-correct barycentrics.

Conventions
-----------
* Screen space: ``x`` = column and ``y`` = row in pixels (row 0 at the top); pixel ``(r, c)`` has its centre at
  ``(x, y) = (c + 0.5, r + 0.5)``. ``z`` is the positive view-space depth; a triangle with any vertex at
  ``z <= 0`` (or a non-finite coordinate) is skipped, there is no near-plane clipping.
* Coverage: a pixel is covered when its centre is inside the triangle. A centre exactly on an edge or vertex is
  decided by the top-left rule, made exact: each edge function is evaluated from the same endpoint whatever the
  winding, so the two triangles of a shared edge get exactly opposite values and exactly one of them takes the
  tie. A mesh without holes renders without cracks or double coverage (vertices shared by index or coordinates).
* Winding: both windings are drawn. With ``cull_backfaces=True``, only triangles that are **counter-clockwise as
  seen in the image** (y down), i.e. with ``(x1-x0)*(y2-y0) - (y1-y0)*(x2-x0) < 0``, are kept. An OBJ-style mesh
  (counter-clockwise seen from outside, outward ``vertex_normals``) projected by an OpenCV camera (x right,
  y down, z forward) has exactly its camera-facing triangles counter-clockwise in the image.
* Depth test: nearest wins (smallest perspective-correct z, i.e. largest screen-linear 1/z); ties keep the
  earlier triangle. The rasterizer is single-threaded and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

__all__ = ["Fragments", "rasterize", "interpolate", "triangulate_quads", "triangulate_corners", "downsample",
           "vertex_normals"]


@dataclass(frozen=True)
class Fragments:
    """Per-pixel result of ``rasterize`` for an ``H x W`` image."""

    tri_id: np.ndarray  #: ``(H, W)`` int32 visible triangle index, -1 where empty.
    bary: np.ndarray  #: ``(H, W, 3)`` float32 perspective-correct weights of the 3 corners (sum 1), 0 where empty.
    depth: np.ndarray  #: ``(H, W)`` float32 view-space z of the visible surface, ``inf`` where empty.

    @property
    def mask(self) -> np.ndarray:
        """``(H, W)`` bool, True on covered pixels."""
        return self.tri_id >= 0


@njit(cache=True)
def _edge(ax, ay, bx, by):
    """Edge function of the directed edge a->b: ``(A, B, ox, oy, tie)`` with ``E(p) = A*(px-ox) + B*(py-oy)``.

    ``E > 0`` on the inside of a triangle with positive ``E_{v0v1}(v2)``. The origin ``o`` is the endpoint that
    comes first by (y, x), so the reversed edge gives exactly ``-E``. ``tie`` says whether ``E == 0`` counts as
    inside: true for top and left edges (the inside lies in direction (+1, +eps) from the edge).
    """
    dx = bx - ax
    dy = by - ay
    tie = dy < 0.0 or (dy == 0.0 and dx > 0.0)
    if ay < by or (ay == by and ax < bx):
        return -dy, dx, ax, ay, tie
    return -dy, dx, bx, by, tie


@njit(cache=True)
def _weight(e, px, py):
    """Edge value at pixel centre ``(px, py)`` if the centre is on the inner side of edge ``e``, else -1."""
    w = e[0] * (px - e[2]) + e[1] * (py - e[3])
    if w > 0.0 or (w == 0.0 and e[4]):
        return w
    return -1.0


@njit(cache=True)
def _span(lo, hi, n):
    """Inclusive range ``[a, b]`` of indices ``i`` in ``[0, n)`` whose centres ``i + 0.5`` lie in ``[lo, hi]``."""
    a = min(max(np.ceil(lo - 0.5), 0.0), float(n))
    b = max(min(np.floor(hi - 0.5), n - 1.0), -1.0)
    return int(a), int(b)


@njit(cache=True)
def _winding(x0, y0, z0, x1, y1, z1, x2, y2, z2, cull):
    """+1 to draw the triangle as is, -1 to draw it with corners 1 and 2 swapped (positive area), 0 to skip."""
    if not (0.0 < z0 < np.inf and 0.0 < z1 < np.inf and 0.0 < z2 < np.inf):
        return 0
    area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
    if not abs(area) < np.inf:  # NaN or infinite x, y
        return 0
    if area < 0.0:  # counter-clockwise in the image: front-facing
        return -1
    return 1 if area > 0.0 and not cull else 0  # degenerate triangles are skipped


@njit(cache=True)
def _raster_kernel(xyz, tris, cull, tri_id, invz, bary):
    """Z-buffer ``tris (T, 3)`` of ``xyz (V, 3)`` float64 in order into ``tri_id (H, W)``, ``invz`` (1/z, 0 where
    empty) ``(H, W)`` and ``bary (H, W, 3)``. One flat loop: array-passing helper calls would cost refcounting.
    """
    for t in range(tris.shape[0]):
        i0, i1, i2 = tris[t, 0], tris[t, 1], tris[t, 2]
        x0, y0, z0 = xyz[i0, 0], xyz[i0, 1], xyz[i0, 2]
        x1, y1, z1 = xyz[i1, 0], xyz[i1, 1], xyz[i1, 2]
        x2, y2, z2 = xyz[i2, 0], xyz[i2, 1], xyz[i2, 2]
        sign = _winding(x0, y0, z0, x1, y1, z1, x2, y2, z2, cull)
        if sign == 0:
            continue
        k1, k2 = 1, 2  # output slots of corners 1 and 2
        if sign < 0:
            x1, y1, z1, x2, y2, z2, k1, k2 = x2, y2, z2, x1, y1, z1, 2, 1
        r0, r1 = _span(min(y0, y1, y2), max(y0, y1, y2), tri_id.shape[0])
        c0, c1 = _span(min(x0, x1, x2), max(x0, x1, x2), tri_id.shape[1])
        e0, e1, e2 = _edge(x1, y1, x2, y2), _edge(x2, y2, x0, y0), _edge(x0, y0, x1, y1)
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                px, py = c + 0.5, r + 0.5
                w0, w1, w2 = _weight(e0, px, py), _weight(e1, px, py), _weight(e2, px, py)
                s = w0 + w1 + w2  # twice the area, whatever the pixel
                if w0 < 0.0 or w1 < 0.0 or w2 < 0.0 or not s > 0.0:
                    continue
                q0, q1, q2 = w0 / z0, w1 / z1, w2 / z2
                qs = q0 + q1 + q2
                if qs / s > invz[r, c]:
                    invz[r, c] = qs / s
                    tri_id[r, c] = t
                    bary[r, c, 0], bary[r, c, k1], bary[r, c, k2] = q0 / qs, q1 / qs, q2 / qs


def rasterize(verts: np.ndarray, tris: np.ndarray, height: int, width: int, *,
              cull_backfaces: bool = False) -> Fragments:
    """Rasterize ``tris (T, 3)`` int of screen-space ``verts (V, 3)`` (x col, y row, z depth) into ``H x W``.

    See the module docstring for the pixel, fill-rule, winding and depth conventions.
    """
    xyz = np.ascontiguousarray(verts, dtype=np.float64)
    tri = np.ascontiguousarray(tris, dtype=np.int64)
    if xyz.ndim != 2 or xyz.shape[1] != 3 or tri.ndim != 2 or tri.shape[1] != 3:
        raise ValueError(f"expected verts (V, 3) and tris (T, 3), got {xyz.shape} and {tri.shape}")
    if tri.size and (tri.min() < 0 or tri.max() >= len(xyz)):
        raise IndexError(f"triangle indices must lie in [0, {len(xyz)})")
    tri_id = np.full((height, width), -1, np.int32)
    invz = np.zeros((height, width), np.float64)
    bary = np.zeros((height, width, 3), np.float32)
    _raster_kernel(xyz, tri, bool(cull_backfaces), tri_id, invz, bary)
    depth = np.full((height, width), np.inf, np.float32)
    np.divide(1.0, invz, out=depth, where=tri_id >= 0, casting="same_kind")
    return Fragments(tri_id=tri_id, bary=bary, depth=depth)


def interpolate(frags: Fragments, attr: np.ndarray, tris: np.ndarray | None = None) -> np.ndarray:
    """Interpolate an attribute with ``frags.bary`` -> ``(H, W, C)`` float32, zeros where empty.

    ``attr`` is per-vertex ``(V, C)`` (``tris (T, 3)`` then gives the corners) or per-corner ``(T, 3, C)``
    (e.g. UVs across seams, see ``triangulate_corners``; ``tris`` is then unused).
    """
    attr = np.asarray(attr, np.float32)
    if attr.ndim == 2 and tris is None:
        raise ValueError("per-vertex attributes (V, C) need tris (T, 3)")
    if attr.ndim not in (2, 3) or (attr.ndim == 3 and attr.shape[1] != 3):
        raise ValueError(f"attr must be (V, C) or (T, 3, C), got {attr.shape}")
    h, w = frags.tri_id.shape
    flat = np.flatnonzero(frags.tri_id.ravel() >= 0)  # covered pixels (N,)
    ids = np.take(frags.tri_id.ravel(), flat)
    weights = np.take(frags.bary.reshape(-1, 3), flat, axis=0)  # (N, 3)
    acc = np.zeros((len(flat), attr.shape[-1]), np.float32)
    vals = np.empty_like(acc)  # reused buffers: np.take(out=) avoids fresh (page-faulting) temporaries
    corner = np.empty(len(flat), np.intp)
    for k in range(3):
        if attr.ndim == 2:
            np.take(np.asarray(tris, np.intp)[:, k], ids, out=corner)
            np.take(attr, corner, axis=0, out=vals)
        else:
            np.take(attr[:, k], ids, axis=0, out=vals)
        vals *= weights[:, k : k + 1]
        acc += vals
    out = np.zeros((h * w, attr.shape[-1]), np.float32)
    out[flat] = acc
    return out.reshape(h, w, -1)


def _split_faces(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``faces (F, 4)`` (4th index negative for triangles) -> source face ``(T,)`` and face corners ``(T, 3)``."""
    faces = np.asarray(faces)
    if faces.ndim != 2 or faces.shape[1] != 4:
        raise ValueError(f"faces must be (F, 4) with -1 as the 4th index of triangles, got {faces.shape}")
    count = 1 + (faces[:, 3] >= 0)
    face = np.repeat(np.arange(len(faces)), count)
    second = np.zeros(len(face), bool)
    second[np.cumsum(count)[count == 2] - 1] = True
    corner = np.where(second[:, None], np.array([0, 2, 3]), np.array([0, 1, 2]))
    return face, corner


def triangulate_quads(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``faces (F, 4)`` int, ``-1`` as 4th index for triangles (ICT-FaceKit) -> ``tris (T, 3)``, ``face (T,)``.

    Quads ``(a, b, c, d)`` become ``(a, b, c)`` then ``(a, c, d)``; the triangles of a face are consecutive and in
    face order. ``face[t]`` is the source face of triangle ``t`` (use it for per-face data).
    """
    face, corner = _split_faces(faces)
    return np.asarray(faces)[face[:, None], corner], face


def triangulate_corners(face_attr: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Carry per-face-corner data ``face_attr (F, 4, ...)`` to the triangles of ``triangulate_quads(faces)``.

    Returns ``(T, 3, ...)``. E.g. ``uv[triangulate_corners(face_uvs, faces)]`` is the per-corner ``(T, 3, 2)``
    UV attribute for ``interpolate`` (``face_uvs (F, 4)`` indices into ``uv (N, 2)``).
    """
    face, corner = _split_faces(faces)
    return np.asarray(face_attr)[face[:, None], corner]


def downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Box-filter ``(H*f, W*f[, C])`` -> ``(H, W[, C])`` (supersampling anti-aliasing).

    Bool and integer inputs give float32 (a mask gives coverage fractions); float inputs keep their dtype.
    """
    image = np.asarray(image)
    hf, wf = image.shape[:2]
    if factor < 1 or hf % factor or wf % factor:
        raise ValueError(f"image size {hf}x{wf} is not a multiple of factor {factor}")
    if not np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float32)
    out = np.zeros((hf // factor, wf // factor, *image.shape[2:]), image.dtype)
    for i in range(factor):  # sum strided sub-pixel planes: far faster than a mean over a 5-D reshape
        for j in range(factor):
            out += image[i::factor, j::factor]
    out /= factor * factor
    return out


@njit(cache=True)
def _normal_kernel(verts, tris, acc):
    """Add every triangle's ``(v1-v0) x (v2-v0)`` (float64) to its three corners' rows of ``acc (V, 3)``."""
    for t in range(tris.shape[0]):
        i0, i1, i2 = tris[t, 0], tris[t, 1], tris[t, 2]
        ax, ay, az = verts[i1, 0] - verts[i0, 0], verts[i1, 1] - verts[i0, 1], verts[i1, 2] - verts[i0, 2]
        bx, by, bz = verts[i2, 0] - verts[i0, 0], verts[i2, 1] - verts[i0, 1], verts[i2, 2] - verts[i0, 2]
        nx, ny, nz = ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx
        for i in (i0, i1, i2):
            acc[i, 0] += nx
            acc[i, 1] += ny
            acc[i, 2] += nz


def vertex_normals(verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Unit normals ``(V, 3)`` of ``verts (V, 3)``: area-weighted sum of the faces' ``(v1-v0) x (v2-v0)``.

    Counter-clockwise triangles (seen from outside) give outward normals. Unused vertices get zero normals.
    """
    verts = np.ascontiguousarray(verts, np.float64)
    tris = np.ascontiguousarray(tris, np.int64)
    acc = np.zeros((len(verts), 3), np.float64)  # length of a face's cross product = 2 * area
    _normal_kernel(verts, tris, acc)
    norm = np.sqrt((acc * acc).sum(1, keepdims=True))
    return (acc / np.maximum(norm, 1e-30)).astype(np.float32)
