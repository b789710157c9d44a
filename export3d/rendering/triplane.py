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


def inside_box(points: torch.Tensor, box_size: float) -> torch.Tensor:
    """``(B, N)`` bool mask of the points inside the closed cube ``[-box/2, box/2]^3``.

    Samplers zero the features of the other points: a point outside the cube along
    only one axis still projects inside the plane that does not contain that axis.
    """
    return (points.abs() <= box_size / 2).all(dim=-1)


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
    inside = inside_box(points, box_size).to(planes.dtype).unsqueeze(1)  # (B, 1, N)
    return (out.view(b, p, c, n).mean(dim=1) * inside).transpose(1, 2).contiguous()


def sample_planes_separately(planes: torch.Tensor, points: torch.Tensor, box_size: float) -> torch.Tensor:
    """Per-plane samples ``(B, 3, N, C)`` (one ``grid_sample`` per plane; used by the reference renderer)."""
    uv = project_to_planes(points, box_size)
    inside = inside_box(points, box_size).to(planes.dtype).unsqueeze(-1)  # (B, N, 1)
    feats = []
    for i in range(planes.shape[1]):
        g = uv[:, i].unsqueeze(1).to(planes.dtype)  # (B, 1, N, 2)
        f = F.grid_sample(planes[:, i], g, mode="bilinear", padding_mode="zeros", align_corners=False)
        feats.append(f.squeeze(2).transpose(1, 2) * inside)
    return torch.stack(feats, dim=1)


def _plane_matrix(box_size: float, dtype, device) -> torch.Tensor:
    """``(3, 6)`` matrix mapping (x, y, z) to (u0, v0, u1, v1, u2, v2) of the three planes."""
    s = 2.0 / box_size
    m = torch.zeros(3, 6, dtype=dtype, device=device)
    m[0, 0], m[1, 1] = s, -s  # xy: (x, -y)
    m[2, 2], m[1, 3] = s, -s  # zy: (z, -y)
    m[0, 4], m[2, 5] = s, s  # xz: (x, z)
    return m


def sample_triplane_gather(planes: torch.Tensor, points: torch.Tensor, box_size: float) -> torch.Tensor:
    """Same result as ``sample_triplane`` with one ``embedding_bag`` over a channel-last table.

    The 3 planes x 4 bilinear taps of a point are one bag of 12 rows weighted by
    ``bilinear_weight / 3``, so lookup, interpolation and the plane mean are one call
    whose output is already point-major ``(B, N, C)``. The table has a zero border
    (1 texel before, 2 after) so clamped out-of-box taps read zeros without masks.
    Faster than ``grid_sample`` for inference on CPU (cache-friendly rows of C
    floats); its backward is slower, so training uses ``sample_triplane``.
    Gradients flow to ``planes`` only.
    """
    b, p, c, h, w = planes.shape
    if h != w:
        raise ValueError("planes must be square")
    n, wp = points.shape[1], w + 3
    table = F.pad(planes, (1, 2, 1, 2)).permute(0, 1, 3, 4, 2).reshape(b * p * wp * wp, c)
    with torch.no_grad():
        m = _plane_matrix(box_size, planes.dtype, planes.device) * (w / 2)
        pix = (points.detach().to(planes.dtype) @ m).view(b, n, p, 2)
        pix = pix.add_((w - 1) / 2 + 1).clamp_(0, w + 1)  # padded texel coordinates
        ij = pix.floor()
        frac = pix - ij
        ij = ij.long()
        base = torch.arange(b, device=planes.device).view(b, 1, 1) * (p * wp * wp) + \
            torch.arange(p, device=planes.device).view(1, 1, p) * (wp * wp)
        corner = base + ij[..., 1] * wp + ij[..., 0]  # (B, N, 3)
        taps = torch.tensor([0, 1, wp, wp + 1], device=planes.device)
        idx = (corner.unsqueeze(-1) + taps).reshape(-1)
        fx, fy = frac[..., 0:1], frac[..., 1:2]
        wx = torch.cat([1 - fx, fx], -1)
        wy = torch.cat([1 - fy, fy], -1) / p
        wy = wy * inside_box(points.detach(), box_size).to(planes.dtype)[..., None, None]  # out-of-box points: 0
        wts = (wy.unsqueeze(-1) * wx.unsqueeze(-2)).reshape(-1)
        offsets = torch.arange(0, b * n * p * 4, p * 4, device=planes.device)
    out = F.embedding_bag(idx, table, offsets, mode="sum", per_sample_weights=wts)
    return out.view(b, n, c)
