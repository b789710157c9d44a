"""The sampling field rendered from a tri-plane (``rendering/warp.py``), checked on an analytic ball.

Truths used: the rendered surface point of a ray lies on the sphere, faces the camera and projects back onto
its own pixel; a point of a convex ball is seen by another camera exactly when it faces that camera; bilinear
sampling of a linear ramp image returns the sample coordinates themselves.
"""

from __future__ import annotations

import math

import pytest
import torch
from scenes import BallDecoder, ball_planes, ball_rho

from export3d.rendering.camera import FOCAL, LOOK_AT, RADIUS, orbit_camera, project_points
from export3d.rendering.renderer import RenderSettings, render_triplane
from export3d.rendering.warp import (
    deformed_points,
    hidden_by_depth,
    identity_grid,
    pixels_to_grid,
    source_pixels,
    surface_distance,
    surface_points,
    upsample_field,
    visibility_by_depth,
    warp_image,
)

CENTER, BALL_RADIUS = (0.0, 0.0, 0.1), 0.3
RES = 32
SETTINGS = RenderSettings(RES, 64, 64, 2.25, 3.3)


@pytest.fixture(scope="module")
def scene():
    decoder = BallDecoder(t0=0.5, density=2000.0, out_channels=4)
    planes = ball_planes(CENTER, ball_rho(BALL_RADIUS, decoder.t0, 0.0, decoder.density), size=128)
    return planes, decoder


def render(scene, camera):
    planes, decoder = scene
    with torch.no_grad():
        raw = render_triplane(planes, decoder, camera, SETTINGS)
    return raw, surface_distance(raw.depth, raw.opacity, SETTINGS.far)


def camera_centre(yaw: float, pitch: float = 0.0) -> torch.Tensor:
    y, p = math.radians(yaw), math.radians(pitch)
    return torch.tensor(LOOK_AT) + RADIUS * torch.tensor([math.cos(p) * math.sin(y), math.sin(p),
                                                           math.cos(p) * math.cos(y)])


def test_surface_points_lie_on_the_ball_face_the_camera_and_project_to_their_pixel(scene):
    camera = orbit_camera(25.0, 10.0)
    raw, dist = render(scene, camera)
    x = surface_points(camera, dist)  # (1, 3, R, R)
    solid = raw.opacity[0, 0] > 0.99
    assert solid.sum() > 100
    pts = x[0].permute(1, 2, 0)[solid]  # (K, 3)
    c = torch.tensor(CENTER)
    r = (pts - c).norm(dim=-1)  # the density ramps up inside the sigma = 0 sphere: rays end a little inside it
    assert r.max() <= BALL_RADIUS + 1e-3 and r.min() > BALL_RADIUS - 0.02
    facing = ((pts - c) * (camera_centre(25.0, 10.0) - pts)).sum(-1)
    assert (facing > 0).all()  # the near side
    uv = project_points(pts[None], camera, RES)[0, :, :2]
    rows, cols = torch.nonzero(solid, as_tuple=True)
    expected = torch.stack([cols + 0.5, rows + 0.5], dim=-1).float()
    assert (uv - expected).abs().max() < 1e-3


def test_same_camera_and_no_deformation_is_the_identity_field(scene):
    camera = orbit_camera(-15.0, 5.0)
    raw, dist = render(scene, camera)
    size = 128  # the portrait at 4x the render resolution
    pix = source_pixels(surface_points(camera, dist), camera, size)[0]
    solid = raw.opacity[0, 0] > 0.99
    rows, cols = torch.nonzero(solid, as_tuple=True)
    expected = torch.stack([(cols + 0.5) * size / RES, (rows + 0.5) * size / RES], dim=-1).float()
    assert (pix[solid] - expected).abs().max() < 1e-3


def test_warping_a_ramp_image_returns_the_sampling_coordinates(scene):
    """Bilinear sampling of ``image(x, y) = (x, y)`` is exact: the warp reads back where it sampled."""
    target, source = orbit_camera(30.0, 0.0), orbit_camera(0.0, 0.0)
    raw, dist = render(scene, target)
    size, out = 256, 64
    pix = source_pixels(surface_points(target, dist), source, size)
    grid = upsample_field(pixels_to_grid(pix, size), out)
    centres = torch.arange(size, dtype=torch.float32) + 0.5
    ramp = torch.stack([centres[None, :].expand(size, size), centres[:, None].expand(size, size)])[None]
    warped = warp_image(ramp, grid)  # (1, 2, out, out)
    expected = (grid[0] + 1) * size / 2  # back from grid to pixel coordinates
    inside = ((expected > 0.5) & (expected < size - 0.5)).all(-1)
    assert inside.sum() > 1000
    assert (warped[0].permute(1, 2, 0)[inside] - expected[inside]).abs().max() < 1e-3


def test_cross_view_pixels_match_the_analytic_projection(scene):
    """A surface point seen from yaw 30 lands where a pinhole camera at the frontal orbit sees it."""
    target, source = orbit_camera(30.0, 0.0), orbit_camera(0.0, 0.0)
    raw, dist = render(scene, target)
    x = surface_points(target, dist)
    size = 128
    pix = source_pixels(x, source, size)[0]
    solid = raw.opacity[0, 0] > 0.99
    pts = x[0].permute(1, 2, 0)[solid]
    # frontal camera at (0, 0, 0.2 + 2.7) looking along -z; x right, y down in the image
    z = LOOK_AT[2] + RADIUS - pts[:, 2]
    expected = torch.stack([FOCAL * pts[:, 0] / z + 0.5, FOCAL * -pts[:, 1] / z + 0.5], dim=-1) * size
    assert (pix[solid] - expected).abs().max() < 1e-3


def ball_seen_from_yaw_60(scene):
    """Surface points ``x`` of the ball seen from yaw 60, the source camera (yaw 0) and its surface distance,
    the cosine between each point's normal and its direction to the source camera, and the opaque rays."""
    target, source = orbit_camera(60.0, 0.0), orbit_camera(0.0, 0.0)
    raw, dist = render(scene, target)
    _, source_dist = render(scene, source)
    x = surface_points(target, dist)
    pts = x[0].permute(1, 2, 0)
    normal = (pts - torch.tensor(CENTER)) / BALL_RADIUS
    to_source = camera_centre(0.0) - pts
    cos = (normal * to_source / to_source.norm(dim=-1, keepdim=True)).sum(-1)
    return x, source, source_dist, cos, raw.opacity[0, 0] > 0.99


def test_visibility_by_depth_is_the_facing_test_on_a_convex_ball(scene):
    x, source, source_dist, cos, solid = ball_seen_from_yaw_60(scene)
    visible = visibility_by_depth(x, source, source_dist, tolerance=0.02)[0, 0]
    clear = solid & (cos.abs() > 0.25)  # away from the source's silhouette (sampling blurs it)
    assert (cos[clear] > 0).sum() > 50 and (cos[clear] < 0).sum() > 50  # both kinds occur at yaw 60
    assert torch.equal(visible[clear], cos[clear] > 0)


def test_deformation_moves_the_point_and_its_source_pixel_by_the_pinhole_amount(scene):
    camera = orbit_camera(0.0, 0.0)
    raw, dist = render(scene, camera)
    x = surface_points(camera, dist)
    delta = torch.tensor([0.05, -0.02, 0.0])[None, :, None, None]
    xs = deformed_points(x, raw.opacity * delta, raw.opacity)  # what compositing a constant delta gives
    solid = raw.opacity[0, 0] > 0.99
    assert torch.allclose((xs - x)[0].permute(1, 2, 0)[solid], delta.flatten().expand(int(solid.sum()), 3),
                          atol=1e-5)
    size = 128
    shift = (source_pixels(xs, camera, size) - source_pixels(x, camera, size))[0][solid]
    z = LOOK_AT[2] + RADIUS - xs[0, 2][solid]
    assert torch.allclose(shift[:, 0], FOCAL * size * 0.05 / z, atol=1e-3)
    assert torch.allclose(shift[:, 1], FOCAL * size * 0.02 / z, atol=1e-3)  # -y world is +y image


def test_empty_rays_get_the_far_distance():
    depth = torch.full((1, 1, 2, 2), 3.3)
    opacity = torch.zeros(1, 1, 2, 2)
    assert torch.equal(surface_distance(depth, opacity, 3.3), depth)
    half = surface_distance(torch.tensor([[[[0.5 * 2.8 + 0.5 * 3.3]]]]), torch.tensor([[[[0.5]]]]), 3.3)
    assert half.item() == pytest.approx(2.8)


def test_upsampled_identity_field_is_exact_to_the_border():
    small = identity_grid(8, torch.zeros(1))
    up = upsample_field(small.expand(2, -1, -1, -1), 64)
    assert up.shape == (2, 64, 64, 2) and torch.allclose(up, identity_grid(64, torch.zeros(1)).expand(2, -1, -1, -1),
                                                          atol=1e-6)
    image = torch.rand(1, 3, 64, 64)
    assert torch.allclose(warp_image(image, up[:1]), image, atol=1e-5)


def test_hidden_by_depth_is_the_back_facing_test_on_a_ball_and_one_sided(scene):
    """On a convex ball seen from yaw 60, the portrait (yaw 0) hides exactly the points facing away from it; a
    point pulled towards the source camera (in front of the surface it projects onto) is never hidden."""
    x, source, source_dist, cos, solid = ball_seen_from_yaw_60(scene)
    hidden = hidden_by_depth(x, source, source_dist, tolerance=0.02)[0, 0]
    clear = solid & (cos.abs() > 0.25)
    assert torch.equal(hidden[clear], cos[clear] < 0)
    towards = x + 0.3 * (camera_centre(0.0)[:, None, None] - x)  # 30% of the way to the source camera
    assert not hidden_by_depth(towards, source, source_dist, tolerance=0.02)[0, 0][solid].any()
