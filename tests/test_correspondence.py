"""Correspondence fields on hand-built scenes: a two-triangle square moved by known amounts, an occluder.

The square faces the frontal camera at depth ``Z``, so a world offset ``d`` moves its image by exactly
``f * S * d / Z`` pixels (x right, y down: world +y is image -y), and an in-plane rotation by ``theta`` about the
optical axis rotates the image about the principal point. The fields and visibility are compared with these
hand-computed truths (no ICT data needed).
"""

from __future__ import annotations

import numpy as np

from export3d.rendering.camera import FOCAL, orbit_camera
from export3d.synthetic.correspondence import (
    Surface,
    correspondence,
    flow_to_coords,
    pixel_centres,
    project,
)
from export3d.synthetic.raster import rasterize
from export3d.synthetic.warp import oracle_warp, warp

S = 32
CAMERA = orbit_camera(0.0, 0.0)[0].numpy()  # at (0, 0, 2.9) looking along -z
Z_PLANE = 0.2  # world z of the square: depth 2.7 from the camera
PX = FOCAL * S / (2.9 - Z_PLANE)  # pixels per world unit on the square
HALF = 10.0 / PX  # the square spans +-10 pixels around the image centre
SQUARE = np.array([[-HALF, -HALF, Z_PLANE], [HALF, -HALF, Z_PLANE], [HALF, HALF, Z_PLANE], [-HALF, HALF, Z_PLANE]])
TRIS = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6]])  # the square's two triangles, then the occluder


def frame(verts: np.ndarray) -> Surface:
    f = rasterize(project(verts, CAMERA, S).astype(np.float32), TRIS, S, S)
    return Surface(f.tri_id, f.bary, f.depth)


def scene(square: np.ndarray, occluder: np.ndarray | None = None) -> np.ndarray:
    """Vertices ``(7, 3)``: the square and an occluding triangle (off-screen, behind the camera, if None)."""
    far = np.array([[0.0, 0.0, 5.0]] * 3)  # z = 5 > camera z: behind the camera, never drawn
    return np.concatenate([square, far if occluder is None else occluder])


def test_translation_gives_the_known_pixel_shift():
    shift = np.array([3.0, -2.0])  # source pixels: 3 right, 2 up
    source = scene(SQUARE + np.array([shift[0] / PX, -shift[1] / PX, 0.0]))
    target = scene(SQUARE)
    tgt = frame(target)
    c = correspondence(tgt, frame(source), source, CAMERA, TRIS)
    on = tgt.tri_id >= 0
    assert on.sum() == 20 * 20  # the square covers exactly 20 x 20 pixel centres
    np.testing.assert_allclose(c.coords[on], pixel_centres(S, S)[on] + shift, atol=1e-3)
    assert c.visible[on].all()  # every point lands inside the moved square in the source
    np.testing.assert_allclose(c.coords[~on], pixel_centres(S, S)[~on], atol=0)  # background maps to itself


def test_in_plane_rotation_rotates_about_the_principal_point():
    theta = np.radians(90.0)
    rot = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    target = scene(SQUARE)
    source = scene(SQUARE @ rot.T)  # world +90 deg about +z, seen from +z: counter-clockwise
    tgt = frame(target)
    c = correspondence(tgt, frame(source), source, CAMERA, TRIS)
    on = tgt.tri_id >= 0
    u, v = (pixel_centres(S, S)[on] - S / 2).T  # image offsets from the principal point (y down)
    truth = np.stack([u * np.cos(theta) + v * np.sin(theta), -u * np.sin(theta) + v * np.cos(theta)], 1) + S / 2
    np.testing.assert_allclose(c.coords[on], truth, atol=1e-3)


def test_occluder_hides_exactly_the_pixels_it_covers():
    shift = np.array([2.0, 0.0])
    # occluder in the source only: a right triangle nearer the camera whose legs lie on pixel lines + 0.25
    x0, y0, x1, y1 = 12.25, 10.25, 20.25, 18.25  # source pixels; corners (x0, y0), (x1, y0), (x0, y1)
    depth = 2.5
    to_world = lambda x, y: [(x - S / 2) * depth / (FOCAL * S), -(y - S / 2) * depth / (FOCAL * S), 2.9 - depth]  # noqa: E731
    occ = np.array([to_world(x0, y0), to_world(x1, y0), to_world(x0, y1)])
    source = scene(SQUARE + np.array([shift[0] / PX, 0.0, 0.0]), occ)
    target = scene(SQUARE)
    tgt = frame(target)
    c = correspondence(tgt, frame(source), source, CAMERA, TRIS)
    on = tgt.tri_id >= 0
    sx, sy = (pixel_centres(S, S) + shift).transpose(2, 0, 1)  # the source pixel centre each target pixel lands on
    covered = (sx > x0) & (sy > y0) & ((sx - x0) / (x1 - x0) + (sy - y0) / (y1 - y0) < 1)
    assert (on & covered).sum() > 20
    np.testing.assert_array_equal(c.visible[on], ~covered[on])


def test_points_leaving_the_source_image_are_not_visible():
    shift = np.array([8.0, 0.0])  # the square's right 2 columns leave the 32-pixel source image
    source = scene(SQUARE + np.array([shift[0] / PX, 0.0, 0.0]))
    tgt = frame(scene(SQUARE))
    c = correspondence(tgt, frame(source), source, CAMERA, TRIS)
    on = tgt.tri_id >= 0
    inside = (pixel_centres(S, S)[..., 0] + shift[0]) < S
    np.testing.assert_array_equal(c.visible[on], inside[on])
    assert (on & ~inside).sum() == 2 * 20


def test_background_is_visible_only_where_the_source_shows_background():
    source = scene(SQUARE + np.array([4.0 / PX, 0.0, 0.0]))
    src, tgt = frame(source), frame(scene(SQUARE))
    c = correspondence(tgt, src, source, CAMERA, TRIS)
    bg = tgt.tri_id < 0
    np.testing.assert_array_equal(c.visible[bg], (src.tri_id < 0)[bg])


def test_flow_round_trip_and_the_warp_reads_the_given_pixel():
    flow = np.zeros((S, S, 2), np.float32)
    flow[..., 0] = 1.0  # read one pixel to the right
    coords = flow_to_coords(flow)
    np.testing.assert_array_equal(coords, pixel_centres(S, S) + [1.0, 0.0])
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (S, S, 3)).astype(np.float32)
    out = warp(image, coords)
    np.testing.assert_allclose(out[:, :-1], image[:, 1:], atol=1e-3)  # exact at pixel centres
    half = warp(image, pixel_centres(S, S) + [0.5, 0.0])
    np.testing.assert_allclose(half[:, :-1], (image[:, :-1] + image[:, 1:]) / 2, atol=1e-3)  # bilinear midpoint


def test_oracle_warp_copies_the_source_where_not_visible():
    rng = np.random.default_rng(1)
    source = rng.integers(0, 256, (S, S, 3)).astype(np.uint8)
    coords = pixel_centres(S, S) + [2.0, 0.0]
    visible = np.zeros((S, S), bool)
    visible[:, :10] = True
    out = oracle_warp(source, coords[None], visible[None])[0]
    np.testing.assert_array_equal(out[:, :10], source[:, 2:12])
    np.testing.assert_array_equal(out[:, 10:], source[:, 10:])


def test_points_behind_the_source_camera_are_not_visible():
    source = scene(SQUARE + np.array([0.0, 0.0, 3.0]))  # the whole square moved behind the camera (z = 3.2 > 2.9)
    tgt = frame(scene(SQUARE))
    c = correspondence(tgt, frame(source), source, CAMERA, TRIS)
    on = tgt.tri_id >= 0
    assert on.any() and not c.visible[on].any()
