"""Exact correspondence fields between two rendered frames (pure geometry, NumPy).

A frame's ``Surface`` is what the rasterizer saw at every pixel centre: triangle id, perspective-correct
barycentrics and view depth. For a target pixel showing triangle ``t`` at barycentrics ``b``, the same surface
point in the source frame is ``P = sum_k b_k V_src[tris[t, k]]`` (the source frame's vertices); the field holds
its projection by the source camera in source pixels, with the convention of docs/conventions.md
("Correspondence fields"): continuous ``(x, y)``, x right, y down, pixel ``(r, c)`` centred at
``(c + 0.5, r + 0.5)``. Background pixels are screen-space and static, so they map to their own centre.

Visibility: a foreground point is visible in the source when it projects inside the source image and is not
behind the source z-buffer sample of the pixel containing it by more than ``tolerance`` (world units), or that
sample shows the same triangle. A background pixel is visible when the source pixel is background too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Surface", "Correspondence", "project", "surface_points", "correspondence", "pixel_centres",
           "flow_to_coords", "DEPTH_TOLERANCE"]

DEPTH_TOLERANCE = 0.005  #: world units (0.21 cm at the ICT scale): depth slack of the visibility test


@dataclass(frozen=True)
class Surface:
    """Pixel-centre samples of one rendered frame ``S x S``."""

    tri_id: np.ndarray  #: (S, S) int32 triangle index, -1 on background
    bary: np.ndarray  #: (S, S, 3) float32 perspective-correct corner weights
    depth: np.ndarray  #: (S, S) float32 view-space z, inf on background


@dataclass(frozen=True)
class Correspondence:
    """Target -> source field of one frame pair."""

    coords: np.ndarray  #: (S, S, 2) float32 source pixel (x, y) of every target pixel's surface point
    visible: np.ndarray  #: (S, S) bool the point is visible in the source frame

    @property
    def flow(self) -> np.ndarray:
        """``(S, S, 2)`` float32 backward flow ``coords - pixel centre`` (the stored form: small, precise)."""
        return self.coords - pixel_centres(*self.coords.shape[:2])


def pixel_centres(height: int, width: int) -> np.ndarray:
    """``(H, W, 2)`` float32 ``(x, y) = (c + 0.5, r + 0.5)``: the identity field."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([xx + 0.5, yy + 0.5], -1)


def flow_to_coords(flow: np.ndarray) -> np.ndarray:
    """Stored backward flow ``(..., H, W, 2)`` (source pixel minus own pixel centre) -> source coords, float32."""
    flow = np.asarray(flow, np.float32)
    return flow + pixel_centres(*flow.shape[-3:-1])


def project(points: np.ndarray, camera: np.ndarray, width: int, height: int | None = None) -> np.ndarray:
    """World points ``(N, 3)`` -> ``(N, 3)`` float64 pixel x, pixel y, view depth z (``camera (25,)``)."""
    height = height or width
    cam = np.asarray(camera, np.float64).reshape(25)
    c2w, k = cam[:16].reshape(4, 4), cam[16:].reshape(3, 3)
    p = (np.asarray(points, np.float64) - c2w[:3, 3]) @ c2w[:3, :3]  # R^T (p - o), row vectors
    z = p[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = (k[0, 0] * p[:, 0] / z + k[0, 2]) * width
        y = (k[1, 1] * p[:, 1] / z + k[1, 2]) * height
    return np.stack([x, y, z], 1)


def surface_points(surface: Surface, verts: np.ndarray, tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """3-D points ``(N, 3)`` float64 of the covered pixels of ``surface`` for vertices ``verts (V, 3)``.

    Also returns the flat indices ``(N,)`` of those pixels. ``tris (T, 3)`` are the rendered triangles.
    """
    flat = np.flatnonzero(surface.tri_id.ravel() >= 0)
    t = surface.tri_id.ravel()[flat]
    w = surface.bary.reshape(-1, 3)[flat].astype(np.float64)
    corners = np.asarray(verts, np.float64)[np.asarray(tris)[t]]  # (N, 3 corners, 3)
    return np.einsum("nk,nkc->nc", w, corners), flat


def correspondence(target: Surface, source: Surface, source_verts: np.ndarray, source_camera: np.ndarray,
                   tris: np.ndarray, tolerance: float = DEPTH_TOLERANCE) -> Correspondence:
    """Target -> source field for frames rendered with the same ``tris``; ``source_verts (V, 3)`` world."""
    h, w = target.tri_id.shape
    coords = pixel_centres(h, w).reshape(-1, 2)
    visible = (source.tri_id < 0).ravel().copy()  # background: static, visible where the source is background
    visible[target.tri_id.ravel() >= 0] = False
    points, flat = surface_points(target, source_verts, tris)
    if len(flat):
        xyz = project(points, source_camera, source.tri_id.shape[1], source.tri_id.shape[0])
        coords[flat] = xyz[:, :2]
        visible[flat] = _visible(xyz, target.tri_id.ravel()[flat], source, tolerance)
    return Correspondence(coords.reshape(h, w, 2).astype(np.float32), visible.reshape(h, w))


def _visible(xyz: np.ndarray, tri: np.ndarray, source: Surface, tolerance: float) -> np.ndarray:
    """``(N,)`` bool: points ``xyz (N, 3)`` (source pixels + depth) of triangles ``tri (N,)`` seen in ``source``."""
    sh, sw = source.tri_id.shape
    ok = np.isfinite(xyz).all(1) & (xyz[:, 2] > 0)
    col = np.floor(np.where(ok, xyz[:, 0], -1)).astype(np.int64)
    row = np.floor(np.where(ok, xyz[:, 1], -1)).astype(np.int64)
    ok &= (col >= 0) & (col < sw) & (row >= 0) & (row < sh)
    r, c = np.where(ok, row, 0), np.where(ok, col, 0)
    same = source.tri_id[r, c] == tri
    front = xyz[:, 2] <= source.depth[r, c].astype(np.float64) + tolerance
    return ok & (same | front)
