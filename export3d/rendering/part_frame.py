"""A face part's local frame in image coordinates, and curves through its contour landmarks.

Shared by the part remaps (``eyelids.py``, ``mouth.py``). The frame of a part with corners ``a`` and ``b`` (the
two ends of its contours) has its origin at their midpoint, ``x`` along ``b - a``, ``y`` perpendicular to it and
pointing down the image, and the unit half the corner distance. Contours are piecewise-linear curves ``y(x)``
through landmark points, zero outside the corners.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class PartFrame:
    centre: torch.Tensor  #: (B, 2)
    ex: torch.Tensor  #: (B, 2) unit vector from corner a to corner b
    ey: torch.Tensor  #: (B, 2) unit vector perpendicular to ``ex``, pointing down the image
    half: torch.Tensor  #: (B,) half the corner distance (image units per frame unit)

    @classmethod
    def from_corners(cls, a: torch.Tensor, b: torch.Tensor) -> PartFrame:
        """Corners ``(B, 2)`` in image coordinates (x right, y down)."""
        half = ((b - a).norm(dim=-1) / 2).clamp_min(1e-6)
        ex = (b - a) / (2 * half[:, None])
        ey = torch.stack([-ex[:, 1], ex[:, 0]], dim=-1)
        ey = torch.where(ey[:, 1:2] < 0, -ey, ey)
        return cls((a + b) / 2, ex, ey, half)

    def to_local(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Image points ``(B, N, 2)`` -> frame coordinates ``x, y`` ``(B, N)``."""
        d = p - self.centre[:, None]
        return (d * self.ex[:, None]).sum(-1) / self.half[:, None], (d * self.ey[:, None]).sum(-1) / self.half[:, None]

    def shift_along_y(self, p: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
        """Image points ``(B, N, 2)`` moved by ``dy (B, N)`` frame units along the frame's ``y``."""
        return p + (dy * self.half[:, None])[..., None] * self.ey[:, None]


def curve(x: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear ``y(x)`` through the points ``(xs, ys) (B, K)`` at ``x (B, N)``; 0 outside them."""
    xs, order = xs.sort(dim=-1)
    ys = ys.gather(-1, order)
    i = torch.searchsorted(xs.contiguous(), x.contiguous()).clamp(1, xs.shape[-1] - 1)
    x0, x1 = xs.gather(-1, i - 1), xs.gather(-1, i)
    y0, y1 = ys.gather(-1, i - 1), ys.gather(-1, i)
    t = ((x - x0) / (x1 - x0).clamp_min(1e-6)).clamp(0.0, 1.0)
    inside = (x >= xs[:, :1]) & (x <= xs[:, -1:])
    return torch.where(inside, y0 + t * (y1 - y0), torch.zeros_like(x))


def contour_curve(frame: PartFrame, contour: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A contour ``(B, K, 2)`` in image coordinates, as ``y(x)`` of the frame at ``x (B, N)``."""
    cx, cy = frame.to_local(contour)
    return curve(x, cx, cy)


def part_coordinates(grid: torch.Tensor, contours: torch.Tensor):
    """A part's frame and the frame coordinates of ``grid (B, H, W, 2)``, for a part whose two contours
    ``(B, 2, K, 2)`` (upper, lower) share their corners: ``(frame, points (B, N, 2), x, y, y_upper, y_lower)``
    with ``N = H W`` and every other array ``(B, N)`` (the contours evaluated at each point's ``x``)."""
    b, h, w, _ = grid.shape
    frame = PartFrame.from_corners(contours[:, 0, 0], contours[:, 0, -1])
    points = grid.reshape(b, h * w, 2)
    x, y = frame.to_local(points)
    return frame, points, x, y, contour_curve(frame, contours[:, 0], x), contour_curve(frame, contours[:, 1], x)
