"""``rendering/part_frame.py``: a part's frame and the selection of grid points near it, against their definitions."""

import math

import torch

from export3d.rendering.part_frame import PartFrame, PartPoints


def frame_at(angle: float, centre=(0.3, -0.2), half=0.1) -> PartFrame:
    """A frame whose corners are ``centre -/+ half (cos, sin)(angle)``."""
    c, d = torch.tensor([centre]), half * torch.tensor([[math.cos(angle), math.sin(angle)]])
    return PartFrame.from_corners(c - d, c + d)


def test_to_local_is_the_scaled_dot_product_with_the_axes():
    f = frame_at(0.4)
    p = torch.rand(1, 50, 2) * 2 - 1
    x, y = f.to_local(p)
    d = p - f.centre[:, None]
    assert torch.allclose(x, (d @ f.ex[0]) / f.half, atol=1e-6)
    assert torch.allclose(y, (d @ f.ey[0]) / f.half, atol=1e-6)
    corners = torch.tensor([[[0.3 - 0.1 * math.cos(0.4), -0.2 - 0.1 * math.sin(0.4)],
                             [0.3 + 0.1 * math.cos(0.4), -0.2 + 0.1 * math.sin(0.4)]]])
    cx, cy = f.to_local(corners)
    assert torch.allclose(cx, torch.tensor([[-1.0, 1.0]]), atol=1e-5) and torch.allclose(cy, torch.zeros(1, 2),
                                                                                          atol=1e-5)
    assert f.ey[0, 1] > 0  # y points down the image


def test_near_selects_the_box_and_moved_moves_only_it():
    f = PartFrame(torch.tensor([[0.0, 0.0], [0.5, 0.5]]), torch.tensor([[1.0, 0.0], [1.0, 0.0]]),
                  torch.tensor([[0.0, 1.0], [0.0, 1.0]]), torch.tensor([0.1, 0.2]))
    grid = torch.rand(2, 6, 7, 2) * 2 - 1
    near = PartPoints.near(grid, f, 1.0, torch.tensor([-0.5, -1.0]), torch.tensor([0.5, 2.0]))
    x, y = f.to_local(grid.reshape(2, 42, 2))
    want = (x.abs() < 1.0) & (y >= torch.tensor([[-0.5], [-1.0]])) & (y <= torch.tensor([[0.5], [2.0]]))
    assert torch.equal(near.rows, want.nonzero()[:, 0]) and torch.allclose(near.x, x[want])
    moved = near.moved(torch.ones_like(near.x), 2 * torch.ones_like(near.y), grid.shape).reshape(2, 42, 2)
    shift = torch.stack([f.half, 2 * f.half], -1)[:, None].expand(2, 42, 2)  # 1 along ex, 2 along ey, frame units
    assert torch.allclose(moved[want], (grid.reshape(2, 42, 2) + shift)[want])
    assert torch.equal(moved[~want], grid.reshape(2, 42, 2)[~want])
    weights = near.scatter(torch.full_like(near.x, 0.5), grid.shape[:3]).reshape(2, 42)
    assert torch.equal(weights, 0.5 * want.float())
