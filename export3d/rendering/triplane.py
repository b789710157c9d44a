"""Tri-plane projection and bilinear sampling (the three features are averaged).

Plane order and axes (docs/conventions.md), with ``s = 2 / box_size``:

* plane 0, "xy" (frontal view):  ``(u, v) = (s*x, -s*y)``
* plane 1, "zy" (side view):     ``(u, v) = (s*z, -s*y)``
* plane 2, "xz" (top view):      ``(u, v) = (s*x,  s*z)``

``u`` runs along the plane's width (columns) and ``v`` along its height (rows),
both in ``[-1, 1]`` over the cube ``[-box/2, box/2]^3``; so plane 0 looks like an
upright frontal image of the head. Points outside the cube sample zeros.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PLANE_NAMES = ("xy", "zy", "xz")


def project_to_planes(points: torch.Tensor, box_size: float) -> torch.Tensor:
    """World points ``(B, N, 3)`` -> plane coordinates ``(B, 3, N, 2)`` in ``[-1, 1]`` inside the box."""
    s = 2.0 / box_size
    x, y, z = (points * s).unbind(-1)
    uv = torch.stack(
        [torch.stack([x, -y], -1), torch.stack([z, -y], -1), torch.stack([x, z], -1)], dim=1
    )
    return uv


def sample_triplane(planes: torch.Tensor, points: torch.Tensor, box_size: float) -> torch.Tensor:
    """Mean of the bilinear samples of the three planes.

    Args:
        planes: ``(B, 3, C, H, W)``.
        points: ``(B, N, 3)`` world coordinates.
    Returns:
        ``(B, N, C)`` features, ``(F_xy + F_zy + F_xz) / 3``.
    """
    b, p, c, h, w = planes.shape
    n = points.shape[1]
    grid = project_to_planes(points, box_size).reshape(b * p, 1, n, 2).to(planes.dtype)
    out = F.grid_sample(planes.reshape(b * p, c, h, w), grid, mode="bilinear",
                        padding_mode="zeros", align_corners=False)  # (B*3, C, 1, N)
    return out.view(b, p, c, n).mean(dim=1).transpose(1, 2).contiguous()


def sample_planes_separately(planes: torch.Tensor, points: torch.Tensor, box_size: float) -> torch.Tensor:
    """Per-plane samples ``(B, 3, N, C)`` (one ``grid_sample`` per plane; used by the reference renderer)."""
    uv = project_to_planes(points, box_size)
    feats = []
    for i in range(planes.shape[1]):
        g = uv[:, i].unsqueeze(1).to(planes.dtype)  # (B, 1, N, 2)
        f = F.grid_sample(planes[:, i], g, mode="bilinear", padding_mode="zeros", align_corners=False)
        feats.append(f.squeeze(2).transpose(1, 2))
    return torch.stack(feats, dim=1)
