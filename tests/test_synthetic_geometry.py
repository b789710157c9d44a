"""Hair shell and body geometry on hand-built inputs (no ICT data): taper, thickness, placement, normals."""

from __future__ import annotations

import numpy as np

from export3d.rendering.camera import orbit_camera, unpack_camera
from export3d.synthetic.body import (
    FRONT_ROTATION,
    BodyShape,
    body_mesh,
    body_rotation,
    collar_skin,
    place_body,
    visible_head_faces,
)
from export3d.synthetic.hair import build_hair_shell
from export3d.synthetic.raster import vertex_normals


def grid_mesh(n: int = 21) -> tuple[np.ndarray, np.ndarray]:
    """A flat ``n x n`` vertex grid in the x-y plane (spacing 1) and its triangles."""
    yy, xx = np.mgrid[0:n, 0:n]
    verts = np.stack([xx.ravel(), yy.ravel(), np.zeros(n * n)], 1).astype(np.float64)
    a = (yy[:-1, :-1] * n + xx[:-1, :-1]).ravel()
    tris = np.concatenate([np.stack([a, a + 1, a + n + 1], 1), np.stack([a, a + n + 1, a + n], 1)])
    return verts, tris


def test_hair_shell_covers_the_hair_and_tapers_to_zero_at_its_edge():
    verts, tris = grid_mesh()
    covered = (np.abs(verts[:, 0] - 10) <= 6) & (np.abs(verts[:, 1] - 10) <= 6)  # a 13 x 13 vertex patch
    shell = build_hair_shell(tris, covered.astype(float), thickness_cm=1.5)
    assert len(shell.tris) == 2 * 12 * 12  # exactly the triangles with three covered corners
    assert set(shell.vertices) == set(np.flatnonzero(covered))
    edge = (np.abs(verts[shell.vertices, 0] - 10) == 6) | (np.abs(verts[shell.vertices, 1] - 10) == 6)
    assert np.all(shell.offset_cm[edge] == 0)  # the shell meets the scalp at the hairline: no open step
    centre = (np.abs(verts[shell.vertices, 0] - 10) <= 2) & (np.abs(verts[shell.vertices, 1] - 10) <= 2)
    np.testing.assert_allclose(shell.offset_cm[centre], 1.5, atol=1e-6)  # full thickness inside the taper band
    assert np.all((shell.offset_cm >= 0) & (shell.offset_cm <= 1.5))
    normals = np.tile([0.0, 0.0, 1.0], (len(verts), 1))
    pos = shell.positions(verts, normals, cm=0.5)
    np.testing.assert_allclose(pos[:, 2], shell.offset_cm * 0.5)  # moved along the normal, in world units
    assert build_hair_shell(tris, np.zeros(len(verts)), 1.0).empty


def test_body_rotation_is_the_camera_rotation_relative_to_the_frontal_camera():
    front = unpack_camera(orbit_camera(0.0, 0.0))[0][0].numpy()
    np.testing.assert_allclose(front[:3, :3], FRONT_ROTATION, atol=1e-6)
    np.testing.assert_allclose(body_rotation(front), np.eye(3), atol=1e-6)
    turned = unpack_camera(orbit_camera(30.0, 0.0))[0][0].numpy()
    r = body_rotation(turned)
    yaw = np.radians(30.0)  # the camera orbits about +y: so does the body
    np.testing.assert_allclose(r, [[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]],
                               atol=1e-6)
    # seen from the turned camera, the placed body has the rest body's orientation (camera-space edges agree)
    rest = np.random.default_rng(0).normal(size=(5, 3))
    pivot = np.array([0.0, -0.3, 0.0])
    placed = place_body(rest, r, pivot)
    np.testing.assert_allclose(place_body(pivot[None], r, pivot), pivot[None])  # the neck pivot stays put
    np.testing.assert_allclose((placed[1:] - placed[0]) @ turned[:3, :3], (rest[1:] - rest[0]) @ front[:3, :3],
                               atol=1e-6)


def test_body_mesh_rings_have_outward_normals_and_widen_into_shoulders():
    shape = BodyShape(np.array([0.0, -0.5]), np.array([6.0, 6.0]), shoulder_half_width=18.0, shoulder_drop=4.0,
                      collar_y=-12.0)
    verts, tris = body_mesh(shape)
    n = vertex_normals(verts, tris)
    radial = verts[:, [0, 2]] - np.array([0.0, -0.5])
    ring_interior = np.abs(n[:, 1]) < 0.9  # side walls (all of them here)
    assert ((n[:, [0, 2]] * radial).sum(1)[ring_interior] > 0).all()
    assert verts[:, 0].max() > 17.5 and verts[verts[:, 1] > -10.5, 0].max() < 6.0  # neck narrow, shoulders wide
    skin = collar_skin(verts, shape)
    mixed = skin[tris].any(1) & ~skin[tris].all(1)  # triangles across the neckline: one thin ring of them
    assert np.ptp(verts[tris[mixed]][..., 1]) <= 2 * 0.03 + 1e-5


def test_neck_cut_hides_only_polygons_entirely_below_it():
    neutral = np.array([[0.0, 0.0, 0], [0, -11.0, 0], [1, -11.0, 0], [1, -12.0, 0], [0, -12.0, 0]])
    faces = np.array([[0, 1, 2, -1], [1, 2, 3, 4]])
    np.testing.assert_array_equal(visible_head_faces(faces, neutral), [True, False])
