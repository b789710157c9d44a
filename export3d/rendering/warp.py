"""Where each output pixel comes from in the portrait: a sampling field rendered from the tri-plane.

Parameter-free, like the renderer. A raw render in the *target* camera gives, per ray, the opacity ``a``,
the expected depth and (for a warped model) the composited backward deformation ``sum_i w_i delta_i``. The
visible surface point of a ray and the same surface point in the portrait's own expression are

    t = (depth - (1 - a) far) / a                     (visible-surface distance, as in depth maps)
    X = o + t d,        X_s = X + (sum_i w_i delta_i) / a

and projecting ``X_s`` with the portrait's camera gives the portrait pixel the output pixel shows.
``visibility_by_depth`` says whether the portrait shows that point at all (a depth test against a render of
the portrait's own expression in its own camera). Symbols and pixel conventions: docs/conventions.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .camera import project_points
from .rays import generate_rays

EPS = 1e-4  #: opacity below which a ray counts as empty (its distance is set to ``far``)


def surface_distance(depth: torch.Tensor, opacity: torch.Tensor, far: float) -> torch.Tensor:
    """Visible-surface distance ``(B, 1, R, R)`` from a render's ``depth`` and ``opacity`` (``far`` where empty)."""
    t = (depth - (1.0 - opacity) * far) / opacity.clamp_min(EPS)
    return torch.where(opacity > EPS, t, torch.full_like(t, far))


def surface_points(camera: torch.Tensor, distance: torch.Tensor) -> torch.Tensor:
    """World points ``(B, 3, R, R)`` at ``distance (B, 1, R, R)`` along each pixel's ray of ``camera (B, 25)``."""
    b, _, r, _ = distance.shape
    origins, dirs = generate_rays(camera.to(distance.dtype), r)  # (B, R*R, 3)
    pts = origins + dirs * distance.reshape(b, r * r, 1)
    return pts.transpose(1, 2).reshape(b, 3, r, r)


def deformed_points(points: torch.Tensor, deformation: torch.Tensor, opacity: torch.Tensor) -> torch.Tensor:
    """``X_s = X + (sum_i w_i delta_i) / a``: points ``(B, 3, R, R)``, composited ``deformation (B, 3, R, R)``."""
    return points + deformation / opacity.clamp_min(EPS)


def source_pixels(points: torch.Tensor, source_camera: torch.Tensor, size: int) -> torch.Tensor:
    """Pixel coordinates ``(B, R, R, 2)`` (x right, y down; centres at ``c + 0.5``) of world points
    ``(B, 3, R, R)`` in a ``size x size`` image of ``source_camera (B, 25)``."""
    b, _, r, _ = points.shape
    uvz = project_points(points.reshape(b, 3, -1).transpose(1, 2), source_camera.to(points.dtype), size)
    return uvz[..., :2].reshape(b, r, r, 2)


def pixels_to_grid(pixels: torch.Tensor, size: int) -> torch.Tensor:
    """Pixel coordinates of a ``size``-pixel image -> ``grid_sample`` coordinates in [-1, 1]
    (``align_corners=False``)."""
    return pixels * (2.0 / size) - 1.0


def identity_grid(size: int, like: torch.Tensor) -> torch.Tensor:
    """The field that samples every pixel centre of a ``size``² image from itself: ``(1, size, size, 2)``."""
    c = (torch.arange(size, device=like.device, dtype=like.dtype) + 0.5) * (2.0 / size) - 1.0
    y, x = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([x, y], dim=-1)[None]


def upsample_field(grid: torch.Tensor, size: int) -> torch.Tensor:
    """A smooth sampling field ``(B, R, R, 2)`` -> ``(B, size, size, 2)``.

    The offset from the identity field is interpolated bilinearly and the identity at ``size`` added back, so
    the identity stays exact up to the image border (interpolating the field itself would clamp it there).
    """
    r = grid.shape[1]
    if r == size:
        return grid
    offset = (grid - identity_grid(r, grid)).permute(0, 3, 1, 2)
    up = F.interpolate(offset, size=(size, size), mode="bilinear", align_corners=False)
    return up.permute(0, 2, 3, 1) + identity_grid(size, grid)


def warp_image(image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Sample ``image (B, C, H, W)`` at ``grid (B, h, w, 2)`` (bilinear, border padding) -> ``(B, C, h, w)``."""
    return F.grid_sample(image, grid.to(image.dtype), mode="bilinear", padding_mode="border", align_corners=False)


def hidden_by_depth(points: torch.Tensor, source_camera: torch.Tensor, source_distance: torch.Tensor,
                    tolerance: float) -> torch.Tensor:
    """Whether the portrait's own surface hides each point: ``(B, 1, R, R)`` in {0, 1}, true when the point is
    farther from the source camera centre than the surface it projects onto by more than ``tolerance`` (world
    units). One-sided, unlike ``visibility_by_depth``: a point in front of that surface is not hidden."""
    dist, seen, _ = _source_depths(points, source_camera, source_distance)
    return dist > seen + tolerance


def _source_depths(points: torch.Tensor, source_camera: torch.Tensor, source_distance: torch.Tensor):
    """Distance of ``points`` to the source camera centre, the source surface distance at their projection (both
    ``(B, 1, R, R)``) and whether they project inside the image."""
    rs = source_distance.shape[-1]
    grid = pixels_to_grid(source_pixels(points, source_camera, rs), rs)
    seen = F.grid_sample(source_distance, grid, mode="bilinear", padding_mode="border", align_corners=False)
    origin = source_camera[:, 3:12:4].to(points.dtype)  # column 3 of cam2world: the camera centre
    dist = (points - origin[:, :, None, None]).norm(dim=1, keepdim=True)
    return dist, seen, (grid.abs() <= 1.0).all(dim=-1)[:, None]


def visibility_by_depth(points: torch.Tensor, source_camera: torch.Tensor, source_distance: torch.Tensor,
                        tolerance: float) -> torch.Tensor:
    """Whether the portrait shows each point: ``(B, 1, R, R)`` in {0, 1}.

    ``points (B, 3, R, R)`` (e.g. ``X_s``) are compared with ``source_distance (B, 1, R_s, R_s)``, the
    visible-surface distance of a render of the portrait's own expression in ``source_camera``: a point is
    visible when its distance to the source camera centre is within ``tolerance`` (world units) of the
    surface distance at its projection, and it projects inside the image.
    """
    dist, seen, inside = _source_depths(points, source_camera, source_distance)
    return ((dist - seen).abs() <= tolerance) & inside
