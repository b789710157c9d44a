"""Cameras, rays and depth sampling against hand-derived geometry."""

from __future__ import annotations

import math

import pytest
import torch

from export3d.rendering.camera import (
    FOCAL,
    LOOK_AT,
    RADIUS,
    camera_angles,
    intrinsics,
    orbit_camera,
    pack_camera,
    unpack_camera,
)
from export3d.rendering.rays import generate_rays, importance_depths, stratified_depths

YAWS = [0.0, 30.0, -45.0, 10.0, 170.0]
PITCHES = [0.0, 15.0, -20.0, 60.0, 5.0]


def expected_position(yaw_deg: float, pitch_deg: float, radius: float = RADIUS, look_at=LOOK_AT):
    y, p = math.radians(yaw_deg), math.radians(pitch_deg)
    d = (math.cos(p) * math.sin(y), math.sin(p), math.cos(p) * math.cos(y))
    return torch.tensor([look_at[i] + radius * d[i] for i in range(3)])


def point_line_distance(point: torch.Tensor, origin: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """Distance from ``point (3,)`` to the lines ``origin + t * direction`` (``(..., 3)``)."""
    d = direction / direction.norm(dim=-1, keepdim=True)
    rel = point - origin
    return (rel - (rel * d).sum(-1, keepdim=True) * d).norm(dim=-1)


# ------------------------------------------------------------------- cameras
def test_intrinsics_are_normalized_with_centred_principal_point():
    k = intrinsics(batch=2)
    expected = torch.tensor([[4.2647, 0.0, 0.5], [0.0, 4.2647, 0.5], [0.0, 0.0, 1.0]])
    assert k.shape == (2, 3, 3)
    torch.testing.assert_close(k, expected.expand(2, 3, 3), rtol=0, atol=0)
    assert FOCAL == pytest.approx(4.2647)


def test_orbit_camera_positions_follow_the_documented_formula():
    cam = orbit_camera(YAWS, PITCHES)
    assert cam.shape == (len(YAWS), 25)
    c2w, k = unpack_camera(cam)
    for i, (yaw, pitch) in enumerate(zip(YAWS, PITCHES, strict=True)):
        torch.testing.assert_close(c2w[i, :3, 3], expected_position(yaw, pitch), atol=1e-5, rtol=0)
    torch.testing.assert_close(k, intrinsics(batch=len(YAWS)))


def test_frontal_camera_is_on_plus_z_with_opencv_axes():
    c2w, _ = unpack_camera(orbit_camera(0.0, 0.0))
    expected = torch.tensor([
        [1.0, 0.0, 0.0, 0.0],
        [0.0, -1.0, 0.0, 0.0],
        [0.0, 0.0, -1.0, 0.2 + 2.7],
        [0.0, 0.0, 0.0, 1.0],
    ])
    torch.testing.assert_close(c2w[0], expected, atol=1e-6, rtol=0)


def test_positive_yaw_moves_right_and_positive_pitch_moves_up():
    c2w, _ = unpack_camera(orbit_camera([20.0, 0.0, -20.0], [0.0, 20.0, 0.0]))
    pos = c2w[:, :3, 3]
    assert pos[0, 0] > 0.5 and pos[2, 0] < -0.5  # yaw: +x / -x
    assert pos[1, 1] > 0.5 and abs(pos[1, 0]) < 1e-6  # pitch: +y, no sideways motion


def test_cam2world_is_a_proper_rotation_looking_at_the_target():
    look_at = (0.1, -0.05, 0.3)
    cam = orbit_camera(YAWS, PITCHES, radius=2.0, look_at=look_at)
    c2w, _ = unpack_camera(cam)
    rot = c2w[:, :3, :3]
    eye = torch.eye(3).expand_as(rot)
    torch.testing.assert_close(rot.transpose(1, 2) @ rot, eye, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(rot), torch.ones(len(YAWS)), atol=1e-5, rtol=0)
    torch.testing.assert_close(c2w[:, 3], torch.tensor([0.0, 0.0, 0.0, 1.0]).expand(len(YAWS), 4))
    forward = torch.nn.functional.normalize(torch.tensor(look_at) - c2w[:, :3, 3], dim=-1)
    torch.testing.assert_close(rot[:, :, 2], forward, atol=1e-5, rtol=0)
    # camera x (image right) is horizontal; camera y (image down) points down in the world
    torch.testing.assert_close(rot[:, 1, 0], torch.zeros(len(YAWS)), atol=1e-6, rtol=0)
    assert (rot[:, 1, 1] < 0).all()
    torch.testing.assert_close((c2w[:, :3, 3] - torch.tensor(look_at)).norm(dim=-1),
                               torch.full((len(YAWS),), 2.0), atol=1e-5, rtol=0)


def test_pack_unpack_round_trip_and_shape_check():
    c2w = torch.randn(3, 4, 4)
    k = torch.randn(3, 3, 3)
    cam = pack_camera(c2w, k)
    assert cam.shape == (3, 25)
    torch.testing.assert_close(cam[:, :16], c2w.reshape(3, 16), rtol=0, atol=0)
    c2w2, k2 = unpack_camera(cam)
    assert torch.equal(c2w2, c2w) and torch.equal(k2, k)
    with pytest.raises(ValueError):
        unpack_camera(torch.zeros(3, 24))
    with pytest.raises(ValueError):
        unpack_camera(torch.zeros(25))


def test_camera_angles_inverts_orbit_camera():
    yaws = [0.0, 30.0, -45.0, 10.0, 170.0]
    yaw, pitch = camera_angles(orbit_camera(yaws, PITCHES))
    torch.testing.assert_close(yaw, torch.tensor(yaws), atol=1e-3, rtol=0)
    torch.testing.assert_close(pitch, torch.tensor(PITCHES), atol=1e-3, rtol=0)


# ---------------------------------------------------------------------- rays
@pytest.mark.parametrize("resolution", [7, 8])
def test_rays_are_unit_length_and_start_at_the_camera(resolution):
    cam = orbit_camera(YAWS, PITCHES)
    origins, dirs = generate_rays(cam, resolution)
    assert origins.shape == dirs.shape == (len(YAWS), resolution**2, 3)
    torch.testing.assert_close(dirs.norm(dim=-1), torch.ones(len(YAWS), resolution**2), atol=1e-6, rtol=0)
    c2w, _ = unpack_camera(cam)
    torch.testing.assert_close(origins, c2w[:, None, :3, 3].expand_as(origins), rtol=0, atol=0)


@pytest.mark.parametrize("resolution", [9, 16])
def test_centre_ray_passes_through_the_look_at_point(resolution):
    look_at = (0.05, 0.1, 0.2)
    cam = orbit_camera(YAWS, PITCHES, radius=2.5, look_at=look_at)
    origins, dirs = generate_rays(cam, resolution)
    d = dirs.view(len(YAWS), resolution, resolution, 3)
    if resolution % 2:
        centre = d[:, resolution // 2, resolution // 2]
    else:  # the image centre is the corner shared by the 4 central pixels
        h = resolution // 2
        centre = d[:, h - 1:h + 1, h - 1:h + 1].reshape(len(YAWS), 4, 3).mean(1)
    dist = point_line_distance(torch.tensor(look_at), origins[:, 0], centre)
    assert dist.max() < 1e-5
    # and the look-at point is in front of the camera, not behind it
    assert ((torch.tensor(look_at) - origins[:, 0]) * centre).sum(-1).min() > 2.0


def test_frontal_rays_match_an_independent_pinhole_model():
    res = 6
    _, dirs = generate_rays(orbit_camera(0.0, 0.0), res)
    rows, cols = torch.meshgrid(torch.arange(res), torch.arange(res), indexing="ij")
    u = (cols.reshape(-1) + 0.5) / res
    v = (rows.reshape(-1) + 0.5) / res
    # OpenCV camera looking down -z with image-down = world -y and image-right = world +x
    expected = torch.stack([(u - 0.5) / FOCAL, -(v - 0.5) / FOCAL, -torch.ones_like(u)], -1)
    expected = expected / expected.norm(dim=-1, keepdim=True)
    torch.testing.assert_close(dirs[0], expected, atol=1e-6, rtol=0)


def test_frontal_image_right_is_plus_x_and_image_top_is_plus_y():
    res = 8
    _, dirs = generate_rays(orbit_camera(0.0, 0.0), res)
    d = dirs.view(res, res, 3)  # row-major: [row, col]
    assert (d[..., 2] < 0).all()  # every ray goes towards -z, into the scene
    assert (d[:, res - 1, 0] > 0).all() and (d[:, 0, 0] < 0).all()  # right column +x, left column -x
    assert (d[0, :, 1] > 0).all() and (d[res - 1, :, 1] < 0).all()  # row 0 (top) +y, bottom row -y
    # on the image plane (z = -1), x depends only on the column and y only on the row
    x, y = d[..., 0] / -d[..., 2], d[..., 1] / -d[..., 2]
    torch.testing.assert_close(x, x[:1].expand(res, res), atol=1e-6, rtol=0)
    torch.testing.assert_close(y, y[:, :1].expand(res, res), atol=1e-6, rtol=0)


def test_yawed_camera_rays_are_the_frontal_rays_rotated_about_y():
    res, yaw = 5, 35.0
    _, d0 = generate_rays(orbit_camera(0.0, 0.0), res)
    _, d1 = generate_rays(orbit_camera(yaw, 0.0), res)
    a = math.radians(yaw)
    rot_y = torch.tensor([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])
    torch.testing.assert_close(d1[0], d0[0] @ rot_y.T, atol=1e-5, rtol=0)


def test_corner_ray_angle_matches_the_field_of_view():
    res = 10
    _, dirs = generate_rays(orbit_camera(0.0, 0.0), res)
    axis = torch.tensor([0.0, 0.0, -1.0])
    cos = (dirs[0, 0] * axis).sum()
    half = 0.5 - 0.5 / res  # normalized offset of the corner pixel centre
    expected = math.atan(math.sqrt(2) * half / FOCAL)
    assert math.acos(float(cos)) == pytest.approx(expected, abs=1e-5)


# -------------------------------------------------------------- depth samples
def test_unperturbed_stratified_depths_are_bin_centres():
    near, far, n = 2.0, 3.0, 8
    t = stratified_depths((2, 3), n, near, far, perturb=False)
    expected = near + (torch.arange(n) + 0.5) * (far - near) / n
    assert t.shape == (2, 3, n)
    torch.testing.assert_close(t, expected.expand(2, 3, n), atol=1e-6, rtol=0)


def test_perturbed_stratified_depths_stay_in_their_bins_and_follow_the_generator():
    near, far, n = 2.25, 3.3, 12
    t = stratified_depths((4, 50), n, near, far, perturb=True, generator=torch.Generator().manual_seed(3))
    edges = torch.linspace(near, far, n + 1)
    assert ((t >= edges[:-1] - 1e-6) & (t <= edges[1:] + 1e-6)).all()
    assert (t[..., 1:] >= t[..., :-1]).all()
    same = stratified_depths((4, 50), n, near, far, perturb=True, generator=torch.Generator().manual_seed(3))
    other = stratified_depths((4, 50), n, near, far, perturb=True, generator=torch.Generator().manual_seed(4))
    assert torch.equal(t, same)
    assert not torch.allclose(t, other)
    # jittered, not at the bin centres
    centres = stratified_depths((4, 50), n, near, far, perturb=False)
    assert (t - centres).abs().mean() > 0.01


@pytest.mark.parametrize("perturb", [False, True])
def test_importance_samples_are_sorted_and_inside_near_far(perturb):
    near, far = 2.25, 3.3
    weights = torch.rand(3, 40, 16) ** 4
    t = importance_depths(weights, 24, near, far, perturb, generator=torch.Generator().manual_seed(0))
    assert t.shape == (3, 40, 24)
    assert (t >= near).all() and (t <= far).all()
    assert (t[..., 1:] >= t[..., :-1]).all()


def test_importance_samples_of_uniform_weights_are_evenly_spaced_quantiles():
    near, far, num = 1.0, 3.0, 10
    t = importance_depths(torch.full((1, 2, 8), 0.3), num, near, far, perturb=False)
    expected = near + (far - near) * (torch.arange(num) + 0.5) / num
    torch.testing.assert_close(t, expected.expand(1, 2, num), atol=1e-5, rtol=0)


@pytest.mark.parametrize("perturb", [False, True])
@pytest.mark.parametrize("peak", [0, 5, 17, 31])
def test_importance_samples_concentrate_on_a_single_peak(perturb, peak):
    near, far, bins, num = 2.0, 4.0, 32, 64
    weights = torch.zeros(2, 3, bins)
    weights[..., peak] = 0.9
    t = importance_depths(weights, num, near, far, perturb, generator=torch.Generator().manual_seed(1))
    width = (far - near) / bins
    lo, hi = near + (peak - 1) * width, near + (peak + 2) * width  # the peak bin +-1
    frac = ((t >= lo) & (t <= hi)).float().mean()
    assert frac > 0.8
    # and the bin itself receives far more than a uniform share
    in_peak = ((t >= near + peak * width) & (t <= near + (peak + 1) * width)).float().mean()
    assert in_peak > 5.0 / bins
