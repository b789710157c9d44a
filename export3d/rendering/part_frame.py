"""A face part's local frame in image coordinates, and curves through its contour landmarks.

Shared by the part remaps (``eyelids.py``, ``mouth.py``). The frame of a part with corners ``a`` and ``b`` (the
two ends of its contours) has its origin at their midpoint, ``x`` along ``b - a``, ``y`` perpendicular to it and
pointing down the image, and the unit half the corner distance. Contours are piecewise-linear curves ``y(x)``
through landmark points, zero outside the corners. ``PartPoints`` selects the points of a sampling grid inside a
part's box, so that a remap computes only those (a 256² grid has 65,536 points; an eye's box a few thousand).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


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
        basis = torch.stack([self.ex, self.ey], dim=-1) / self.half[:, None, None]  # (B, 2, 2): columns ex, ey
        local = torch.baddbmm(-(self.centre[:, None] @ basis), p, basis)  # one product, not a sum over a size-2 axis
        return local[..., 0], local[..., 1]

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


@dataclass
class PartPoints:
    """The points of a sampling grid inside a part's box, in the part's frame; the rest of the grid is left alone
    (a remap only moves points near its part, so only those are computed).

    ``x, y, rows, index`` are ``(M,)``: the frame coordinates of the ``M`` selected points, the batch row of each and
    its index in the flattened ``(B * N)`` grid.
    """

    frame: PartFrame
    points: torch.Tensor  #: (B, N, 2) the whole grid, flattened
    index: torch.Tensor  #: (M,) the selected points' indices into ``points.reshape(B * N, 2)``
    rows: torch.Tensor  #: (M,) batch row of each selected point
    x: torch.Tensor  #: (M,)
    y: torch.Tensor  #: (M,)

    @classmethod
    def near(cls, grid: torch.Tensor, frame: PartFrame, x_reach: float, y_low: torch.Tensor,
             y_high: torch.Tensor) -> PartPoints:
        """Points of ``grid (B, H, W, 2)`` with ``|x| < x_reach`` and ``y_low <= y <= y_high`` (``(B,)`` each)."""
        b, h, w, _ = grid.shape
        points = grid.reshape(b, h * w, 2)
        x, y = frame.to_local(points)
        keep = (x.abs() < x_reach) & (y >= y_low[:, None]) & (y <= y_high[:, None])
        index = keep.reshape(-1).nonzero().squeeze(1)
        rows = torch.div(index, h * w, rounding_mode="floor")
        return cls(frame, points, index, rows, x.reshape(-1)[index], y.reshape(-1)[index])

    def take(self, per_row: torch.Tensor) -> torch.Tensor:
        """A per-batch-row value ``(B, ...)`` for each selected point, ``(M, ...)``."""
        return per_row[self.rows]

    def contour(self, contour: torch.Tensor) -> torch.Tensor:
        """A contour ``(B, K, 2)`` as ``y(x)`` at each selected point's ``x``: ``(M,)``."""
        cx, cy = self.frame.to_local(contour)
        return curve(self.x[:, None], self.take(cx), self.take(cy))[:, 0]

    def moved(self, dx: torch.Tensor | None, dy: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        """The grid ``shape (B, H, W, 2)`` with the selected points moved by ``dx, dy (M,)`` frame units."""
        f = self.frame
        d = dy[:, None] * self.take(f.ey)
        if dx is not None:
            d = d + dx[:, None] * self.take(f.ex)
        flat = self.points.reshape(-1, 2)
        return flat.index_add(0, self.index, (d * self.take(f.half)[:, None]).to(flat.dtype)).reshape(shape)

    def scatter(self, values: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        """``values (M,)`` placed on a zero grid of ``shape (B, H, W)``."""
        out = torch.zeros(self.points.shape[0] * self.points.shape[1], dtype=values.dtype, device=values.device)
        return out.index_copy(0, self.index, values).reshape(shape)


def local_contours(frame: PartFrame, contours: torch.Tensor) -> torch.Tensor:
    """The frame ``y`` of every point of contours ``(B, C, K, 2)``: ``(B, C, K)``."""
    b, c, k, _ = contours.shape
    return frame.to_local(contours.reshape(b, c * k, 2))[1].reshape(b, c, k)


def shaded_colour(image: torch.Tensor, points: torch.Tensor, shade: float) -> torch.Tensor:
    """``(B, 3, 1, 1)``: the mean colour of ``image (B, 3, H, W)`` (in [-1, 1]) at ``points (B, ..., 2)``
    (``grid_sample`` units), its [0, 1] intensity scaled by ``shade``: a part's own colour, darkened (the mouth's
    cavity, the closed eyes' lashes)."""
    grid = points.reshape(points.shape[0], 1, -1, 2).to(image.dtype)
    mean01 = (F.grid_sample(image, grid, align_corners=False).mean(dim=(2, 3), keepdim=True) + 1) / 2
    return (shade * mean01) * 2 - 1
