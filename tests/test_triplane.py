"""Tri-plane projection and sampling: plane order, axes, orientation, box and outside points."""

from __future__ import annotations

import pytest
import torch

from export3d.rendering.triplane import (
    PLANE_NAMES,
    project_to_planes,
    sample_planes_separately,
    sample_triplane,
    sample_triplane_gather,
)


def mean_of_separate(planes, points, box_size):
    return sample_planes_separately(planes, points, box_size).mean(1)


SAMPLERS = {
    "grid_sample": sample_triplane,
    "gather": sample_triplane_gather,
    "separate": mean_of_separate,
}


def plane_uv(points: torch.Tensor, plane: int, box_size: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The documented (u, v) of ``points (..., 3)`` on plane ``plane``, written out by hand."""
    s = 2.0 / box_size
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    if plane == 0:  # "xy"
        return s * x, -s * y
    if plane == 1:  # "zy"
        return s * z, -s * y
    return s * x, s * z  # "xz"


def texel_centres(size: int) -> torch.Tensor:
    """Normalized coordinates of texel centres with ``align_corners=False``."""
    return (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1


def linear_plane(size: int, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``(C, size, size)`` with texel ``[row, col]`` = ``a * u_col + b * v_row + c`` per channel."""
    t = texel_centres(size)
    u = t.view(1, 1, size)
    v = t.view(1, size, 1)
    return a.view(-1, 1, 1) * u + b.view(-1, 1, 1) * v + c.view(-1, 1, 1)


def random_interior_points(batch: int, n: int, box_size: float, size: int, gen: torch.Generator) -> torch.Tensor:
    """Points whose plane coordinates all lie between the outermost texel centres (exact bilinear region)."""
    half = box_size / 2 * (1 - 1 / size)
    return (torch.rand(batch, n, 3, generator=gen) * 2 - 1) * half


def test_plane_names_and_projection_of_known_points():
    assert PLANE_NAMES == ("xy", "zy", "xz")
    pts = torch.tensor([[[0.25, 0.1, -0.4], [-0.5, 0.5, 0.5]]])
    uv = project_to_planes(pts, 1.0)
    assert uv.shape == (1, 3, 2, 2)
    expected = torch.tensor([
        [[0.5, -0.2], [-1.0, -1.0]],  # xy: (2x, -2y)
        [[-0.8, -0.2], [1.0, -1.0]],  # zy: (2z, -2y)
        [[0.5, -0.8], [-1.0, 1.0]],  # xz: (2x, 2z)
    ])
    torch.testing.assert_close(uv[0], expected, atol=1e-6, rtol=0)
    # box_size scales the coordinates: s = 2 / box
    torch.testing.assert_close(project_to_planes(pts, 2.0), uv / 2, atol=1e-6, rtol=0)


@pytest.mark.parametrize("sampler", SAMPLERS.keys())
@pytest.mark.parametrize("plane", [0, 1, 2])
@pytest.mark.parametrize("box_size", [1.0, 2.0])
def test_each_plane_samples_a_linear_function_of_its_own_axes(sampler, plane, box_size):
    gen = torch.Generator().manual_seed(plane)
    batch, channels, size, n = 2, 3, 16, 200
    planes = torch.zeros(batch, 3, channels, size, size)
    coeffs = torch.randn(batch, 3, channels, generator=gen)  # (a, b, c) per batch item and channel
    for i in range(batch):
        planes[i, plane] = linear_plane(size, coeffs[i, 0], coeffs[i, 1], coeffs[i, 2])
    pts = random_interior_points(batch, n, box_size, size, gen)
    out = SAMPLERS[sampler](planes, pts, box_size)
    assert out.shape == (batch, n, channels)
    u, v = plane_uv(pts, plane, box_size)
    expected = (coeffs[:, 0, None, :] * u[..., None] + coeffs[:, 1, None, :] * v[..., None]
                + coeffs[:, 2, None, :]) / 3  # the other two planes are zero, the result is the mean
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("sampler", SAMPLERS.keys())
def test_sample_is_the_mean_of_the_three_planes(sampler):
    gen = torch.Generator().manual_seed(7)
    size, n = 8, 100
    fns = [(1.0, 2.0, 0.5), (-3.0, 0.5, 1.0), (0.25, -1.5, -2.0)]  # (a, b, c) per plane
    planes = torch.stack([
        linear_plane(size, torch.tensor([a]), torch.tensor([b]), torch.tensor([c])) for a, b, c in fns
    ])[None]
    pts = random_interior_points(1, n, 1.0, size, gen)
    expected = 0
    for k, (a, b, c) in enumerate(fns):
        u, v = plane_uv(pts, k, 1.0)
        expected = expected + (a * u + b * v + c) / 3
    out = SAMPLERS[sampler](planes, pts, 1.0)
    torch.testing.assert_close(out[..., 0], expected, atol=1e-5, rtol=1e-5)


def test_plane_zero_is_an_upright_frontal_image():
    """Row 0 of the xy plane is the top of the head (+y) and column 0 its left side (-x)."""
    size = 8
    planes = torch.zeros(1, 3, 1, size, size)
    planes[0, 0, 0, 0, 0] = 3.0  # top-left texel of the xy plane
    centre = texel_centres(size)[0] * 0.5  # world coordinate of that texel centre (box 1)
    pts = torch.tensor([[[centre, -centre, 0.0], [-centre, -centre, 0.0], [centre, centre, 0.0]]])
    out = sample_triplane(planes, pts, 1.0)[0, :, 0]
    torch.testing.assert_close(out, torch.tensor([1.0, 0.0, 0.0]), atol=1e-6, rtol=0)


@pytest.mark.parametrize("sampler", SAMPLERS.keys())
def test_points_outside_the_box_sample_zero(sampler):
    gen = torch.Generator().manual_seed(11)
    size, n = 8, 60
    planes = torch.rand(2, 3, 4, size, size, generator=gen) + 1.0  # strictly positive everywhere
    box = 1.0
    inside = (torch.rand(2, n, 3, generator=gen) - 0.5) * 0.9 * box
    outside = []
    for axes in ([0], [1], [2], [0, 1], [1, 2], [0, 2], [0, 1, 2]):  # out along one, two or three axes
        p = inside.clone()
        for a in axes:
            sign = torch.where(torch.rand(2, n, generator=gen) < 0.5, -1.0, 1.0)
            p[..., a] = sign * (box / 2 + 1e-3 + torch.rand(2, n, generator=gen) * 0.5)
        outside.append(p)
    pts = torch.cat(outside, dim=1)
    out = SAMPLERS[sampler](planes, pts, box)
    assert out.shape == (2, pts.shape[1], 4)
    assert out.abs().max() == 0
    # sanity: the same samplers give non-zero values inside
    assert SAMPLERS[sampler](planes, inside, box).min() > 0.9


def test_gather_sampler_matches_grid_sample_values_and_gradients():
    gen = torch.Generator().manual_seed(5)
    planes = torch.randn(2, 3, 6, 12, 12, generator=gen)
    pts = (torch.rand(2, 500, 3, generator=gen) - 0.5) * 1.2  # includes the border region and outside
    weights = torch.randn(2, 500, 6, generator=gen)
    grads = []
    outs = []
    for fn in (sample_triplane, sample_triplane_gather, mean_of_separate):
        p = planes.clone().requires_grad_(True)
        out = fn(p, pts, 1.0)
        (out * weights).sum().backward()
        outs.append(out.detach())
        grads.append(p.grad)
    for out, grad in zip(outs[1:], grads[1:], strict=True):
        torch.testing.assert_close(out, outs[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(grad, grads[0], atol=1e-5, rtol=1e-5)
    # gradients of one interior point go to exactly 4 texels of each plane (bilinear taps)
    p = planes.clone().requires_grad_(True)
    sample_triplane(p, torch.tensor([[[0.01, 0.02, 0.03]]]).expand(2, 1, 3), 1.0)[0, 0, 0].backward()
    assert (p.grad[0, :, 0] != 0).sum(dim=(-1, -2)).tolist() == [4, 4, 4]
    assert p.grad[1].abs().max() == 0 and p.grad[0, :, 1:].abs().max() == 0


def test_gather_sampler_rejects_non_square_planes():
    with pytest.raises(ValueError):
        sample_triplane_gather(torch.zeros(1, 3, 2, 4, 6), torch.zeros(1, 1, 3), 1.0)
