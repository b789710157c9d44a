"""Software rasterizer: coverage vs brute force, fill rule, z-buffer, perspective-correct barycentrics, helpers."""

from __future__ import annotations

import numpy as np
import pytest

from export3d.synthetic.raster import (
    Fragments,
    downsample,
    interpolate,
    rasterize,
    triangulate_corners,
    triangulate_quads,
    vertex_normals,
)

FOCAL, CX, CY = 40.0, 16.0, 16.0  # pinhole camera of the 32x32 tests


def project(points: np.ndarray, focal=FOCAL, cx=CX, cy=CY) -> np.ndarray:
    """Camera-space points ``(N, 3)`` (OpenCV: x right, y down, z forward) -> screen ``(N, 3)`` float32."""
    p = np.asarray(points, np.float64)
    return np.stack([focal * p[:, 0] / p[:, 2] + cx, focal * p[:, 1] / p[:, 2] + cy, p[:, 2]], 1).astype(np.float32)


def centres(h: int, w: int):
    """Pixel-centre coordinates ``x (H, W)``, ``y (H, W)``."""
    y, x = np.mgrid[0:h, 0:w] + 0.5
    return x, y


def brute_inside(tri_xy: np.ndarray, h: int, w: int, margin: float = 1e-4):
    """Independent point-in-triangle test: ``inside (H, W)`` and ``near (H, W)`` (within ``margin`` of an edge)."""
    x, y = centres(h, w)
    p = np.stack([x, y], -1)
    a = tri_xy.astype(np.float64)
    sides, near = [], np.zeros((h, w), bool)
    for i in range(3):
        s, e = a[i], a[(i + 1) % 3]
        d = e - s
        sides.append(d[0] * (p[..., 1] - s[1]) - d[1] * (p[..., 0] - s[0]))
        t = np.clip(((p - s) @ d) / (d @ d), 0.0, 1.0)
        near |= np.linalg.norm(p - (s + t[..., None] * d), axis=-1) < margin
    sides = np.stack(sides)
    inside = np.all(sides > 0, axis=0) | np.all(sides < 0, axis=0)
    return inside, near


def coverage_count(verts: np.ndarray, tris: np.ndarray, h: int, w: int) -> np.ndarray:
    """How many triangles cover each pixel centre, rendering each one on its own -> ``(H, W)`` int."""
    return sum(rasterize(verts, tris[i : i + 1], h, w).mask.astype(int) for i in range(len(tris)))


def uv_sphere_faces(n_lat: int, n_lon: int):
    """Unit sphere as ICT-style faces: ``verts (V, 3)``, ``faces (F, 4)`` (-1 for the pole triangles),
    counter-clockwise seen from outside."""
    theta = np.pi * np.arange(1, n_lat) / n_lat
    phi = 2 * np.pi * np.arange(n_lon) / n_lon
    ring = np.stack([np.outer(np.sin(theta), np.cos(phi)), np.outer(np.sin(theta), np.sin(phi)),
                     np.repeat(np.cos(theta)[:, None], n_lon, 1)], -1).reshape(-1, 3)
    verts = np.concatenate([[[0.0, 0.0, 1.0]], ring, [[0.0, 0.0, -1.0]]])
    south = len(verts) - 1
    idx = 1 + np.arange((n_lat - 1) * n_lon).reshape(n_lat - 1, n_lon)
    nxt = np.roll(idx, -1, axis=1)
    quads = np.stack([idx[:-1], idx[1:], nxt[1:], nxt[:-1]], -1).reshape(-1, 4)
    north = np.stack([np.zeros(n_lon, int), idx[0], nxt[0], -np.ones(n_lon, int)], -1)
    south_cap = np.stack([np.full(n_lon, south), nxt[-1], idx[-1], -np.ones(n_lon, int)], -1)
    return verts, np.concatenate([north, quads, south_cap])


@pytest.mark.parametrize("seed", range(6))
def test_single_triangle_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    h, w = 24, 32
    for _ in range(5):
        xy = rng.uniform([-6, -6], [w + 6, h + 6], size=(3, 2))
        verts = np.concatenate([xy, rng.uniform(1, 3, (3, 1))], 1).astype(np.float32)
        inside, near = brute_inside(verts[:, :2], h, w)
        for tris in ([[0, 1, 2]], [[0, 2, 1]]):  # both windings
            frags = rasterize(verts, np.array(tris), h, w)
            np.testing.assert_array_equal(frags.mask[~near], inside[~near])
            assert np.all(frags.tri_id[frags.mask] == 0)
            assert np.all(np.isinf(frags.depth[~frags.mask])) and np.all(frags.bary[~frags.mask] == 0)


@pytest.mark.parametrize("diagonal", [[[0, 1, 2], [0, 2, 3]], [[0, 1, 3], [1, 2, 3]]])
@pytest.mark.parametrize("flip", [(False, False), (True, False), (False, True)])
def test_shared_edge_square_covered_exactly_once(diagonal, flip):
    verts = np.array([[2, 2, 1], [10, 2, 1], [10, 10, 1], [2, 10, 1]], np.float32)
    tris = np.array([t[::-1] if f else t for t, f in zip(diagonal, flip, strict=True)])
    x, y = centres(12, 12)
    square = (x > 2) & (x < 10) & (y > 2) & (y < 10)
    on_diagonal = np.isclose(x, y) if diagonal[0] == [0, 1, 2] else np.isclose(x + y, 12)
    assert np.count_nonzero(square & on_diagonal) == 8  # the tie rule is really exercised
    np.testing.assert_array_equal(coverage_count(verts, tris, 12, 12), square.astype(int))
    np.testing.assert_array_equal(rasterize(verts, tris, 12, 12).mask, square)


def test_fan_around_vertex_on_pixel_centre_and_top_left_rule():
    """8 triangles around a vertex at a pixel centre; every edge passes through pixel centres."""
    ring = [(4.5, 4.5), (8.5, 4.5), (12.5, 4.5), (12.5, 8.5), (12.5, 12.5), (8.5, 12.5), (4.5, 12.5), (4.5, 8.5)]
    verts = np.array([(8.5, 8.5, 1.0)] + [(x, y, 1.0) for x, y in ring], np.float32)
    tris = np.array([[0, 1 + i, 1 + (i + 1) % 8] for i in range(8)])
    tris[::3] = tris[::3, ::-1]  # mixed windings
    x, y = centres(16, 16)
    expected = (x >= 4.5) & (x < 12.5) & (y >= 4.5) & (y < 12.5)  # top and left boundary edges are inside
    np.testing.assert_array_equal(coverage_count(verts, tris, 16, 16), expected.astype(int))


def test_shared_edge_through_centre_up_to_rounding_covers_it_once():
    """Float64 edges passing a pixel centre within rounding: the two sides must still agree exactly."""
    rng = np.random.default_rng(0)
    p = np.array([4.5, 4.5])
    for _ in range(200):
        d = rng.normal(size=2)
        a, b = p - d * rng.uniform(1, 4), p + d * rng.uniform(1, 4)
        side = np.array([-d[1], d[0]]) * 3
        verts = np.array([[*a, 1], [*b, 1], [*(p + side + 0.3 * d), 1], [*(p - side - 0.2 * d), 1]])
        left, right = [0, 1, 2], [1, 0, 3]
        if rng.random() < 0.5:
            left = left[::-1]
        count = coverage_count(verts, np.array([left, right]), 9, 9)
        assert count[4, 4] == 1


def test_jittered_grid_has_no_cracks_or_double_coverage():
    rng = np.random.default_rng(3)
    n = 8
    gx, gy = np.meshgrid(np.linspace(2, 30, n + 1), np.linspace(2, 30, n + 1))
    gx[1:-1, 1:-1] += rng.uniform(-1.0, 1.0, (n - 1, n - 1))
    gy[1:-1, 1:-1] += rng.uniform(-1.0, 1.0, (n - 1, n - 1))
    snap = rng.random(gx.shape) < 0.3  # some vertices exactly on pixel centres
    gx[snap], gy[snap] = np.floor(gx[snap]) + 0.5, np.floor(gy[snap]) + 0.5
    gx[:, [0, -1]], gy[[0, -1], :] = gx[:, [0, -1]].round(), gy[[0, -1], :].round()  # straight outer boundary
    verts = np.stack([gx.ravel(), gy.ravel(), np.ones(gx.size)], 1).astype(np.float32)
    idx = np.arange(gx.size).reshape(n + 1, n + 1)
    a, b, c, d = (q.ravel() for q in (idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]))
    alt = rng.random(a.size) < 0.5  # random diagonal per quad
    tris = np.concatenate([np.where(alt[:, None], np.stack([a, b, d], 1), np.stack([a, b, c], 1)),
                           np.where(alt[:, None], np.stack([b, c, d], 1), np.stack([a, c, d], 1))])
    e1, e2 = verts[tris[:, 1], :2] - verts[tris[:, 0], :2], verts[tris[:, 2], :2] - verts[tris[:, 0], :2]
    assert np.all(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0] > 0)  # a valid, unfolded mesh
    flip = rng.random(len(tris)) < 0.5  # mixed windings
    tris[flip] = tris[flip][:, ::-1]
    x, y = centres(32, 32)
    expected = ((x > 2) & (x < 30) & (y > 2) & (y < 30)).astype(int)
    np.testing.assert_array_equal(coverage_count(verts, tris, 32, 32), expected)


def test_closed_sphere_has_no_holes_and_culling_keeps_camera_facing_triangles():
    unit, faces = uv_sphere_faces(24, 48)
    tris, _ = triangulate_quads(faces)
    centre, radius, size, focal = np.array([0.0, 0.0, 4.0]), 1.0, 64, 48.0
    pts = unit * radius + centre
    verts = project(pts, focal, size / 2, size / 2)
    culled = rasterize(verts, tris, size, size, cull_backfaces=True)
    full = rasterize(verts, tris, size, size)
    x, y = centres(size, size)
    r = np.hypot(x - size / 2, y - size / 2)
    r_sil = focal * radius / np.sqrt(centre[2] ** 2 - radius**2)  # projected silhouette radius
    assert np.all(culled.mask[r < 0.97 * r_sil]) and not np.any(full.mask[r > 1.01 * r_sil])
    np.testing.assert_array_equal(culled.tri_id, full.tri_id)  # the visible surface is the front one
    tri_pts = pts[tris]
    normal = np.cross(tri_pts[:, 1] - tri_pts[:, 0], tri_pts[:, 2] - tri_pts[:, 0])
    facing = np.einsum("tk,tk->t", normal, tri_pts.mean(1)) < 0  # normal towards the camera at the origin
    assert np.all(facing[culled.tri_id[culled.mask]])
    # depth: the ray through each pixel hits the (polygonal) sphere at the analytic depth up to tessellation error
    d = np.stack([(x - size / 2) / focal, (y - size / 2) / focal, np.ones_like(x)], -1)
    b, c = d @ centre, centre @ centre - radius**2
    inner = r < 0.9 * r_sil
    t_hit = (b - np.sqrt(np.maximum(b * b - (d * d).sum(-1) * c, 0))) / (d * d).sum(-1)
    np.testing.assert_allclose(culled.depth[inner], t_hit[inner], rtol=5e-3)


@pytest.mark.parametrize("order", [[0, 1], [1, 0]])
def test_zbuffer_nearest_wins_regardless_of_order(order):
    near = [[2, 2, 2.0], [20, 4, 2.0], [6, 20, 2.0]]
    far = [[4, 3, 5.0], [22, 10, 5.0], [3, 22, 5.0]]
    verts = np.array(near + far, np.float32)
    tris = np.array([[0, 1, 2], [3, 4, 5]])[order]
    frags = rasterize(verts, tris, 24, 24)
    alone_near = rasterize(verts, tris[order.index(0)][None], 24, 24).mask
    alone_far = rasterize(verts, tris[order.index(1)][None], 24, 24).mask
    both = alone_near & alone_far
    assert both.sum() > 20
    assert np.all(frags.tri_id[both] == order.index(0)) and np.all(frags.depth[both] == 2.0)
    assert np.all(frags.tri_id[alone_far & ~alone_near] == order.index(1))
    np.testing.assert_array_equal(frags.mask, alone_near | alone_far)


@pytest.mark.parametrize("tri", [[0, 1, 2], [0, 2, 1], [2, 1, 0]])
def test_perspective_correct_barycentrics_and_plane_depth(tri):
    p3 = np.array([[-0.5, -0.4, 2.0], [0.6, -0.3, 3.5], [0.1, 0.7, 5.0]])
    frags = rasterize(project(p3), np.array([tri]), 32, 32)
    m = frags.mask
    assert m.sum() > 50
    np.testing.assert_allclose(frags.bary[m].sum(-1), 1.0, atol=1e-6)
    assert np.all(frags.bary[m] >= 0)
    pts = interpolate(frags, p3, np.array([tri]))[m].astype(np.float64)  # (N, 3) 3D points
    x, y = centres(32, 32)
    np.testing.assert_allclose(FOCAL * pts[:, 0] / pts[:, 2] + CX, x[m], atol=2e-4)
    np.testing.assert_allclose(FOCAL * pts[:, 1] / pts[:, 2] + CY, y[m], atol=2e-4)
    n = np.cross(p3[1] - p3[0], p3[2] - p3[0])
    off_plane = np.abs((pts - p3[0]) @ n) / (np.linalg.norm(n) * np.linalg.norm(pts, axis=1))
    assert off_plane.max() < 1e-4
    ray = np.stack([(x[m] - CX) / FOCAL, (y[m] - CY) / FOCAL, np.ones(m.sum())], 1)
    np.testing.assert_allclose(frags.depth[m], (n @ p3[0]) / (ray @ n), rtol=1e-5)
    # screen-space (affine) barycentrics would be clearly different: the correction matters here
    xy = project(p3)[tri, :2].astype(np.float64)
    affine = np.linalg.solve(np.vstack([xy.T, np.ones(3)]), np.stack([x[m], y[m], np.ones(m.sum())]))
    assert np.abs(affine.T - frags.bary[m]).max() > 0.05


def test_triangles_behind_camera_skipped_and_backface_culling():
    verts = np.array([[2, 2, 1], [2, 10, 1], [10, 2, 1],  # counter-clockwise in the image: front
                      [14, 2, 1], [22, 2, 1], [14, 10, 1],  # clockwise: back
                      [2, 14, 1], [2, 22, -1], [10, 14, 1],  # a vertex behind the camera
                      [14, 14, 1], [14, 22, 0], [22, 14, 1]], np.float32)  # a vertex at z = 0
    tris = np.array([[0, 1, 2], [3, 4, 5], [7, 8, 6], [11, 9, 10]])  # the bad vertex first, then last
    ids = set(np.unique(rasterize(verts, tris, 24, 24).tri_id)) - {-1}
    assert ids == {0, 1}
    ids = set(np.unique(rasterize(verts, tris, 24, 24, cull_backfaces=True).tri_id)) - {-1}
    assert ids == {0}
    # a camera-facing triangle that is counter-clockwise seen from the camera (normal towards it) is front
    p3 = np.array([[0.0, 0.0, 2.0], [0.2, 0.0, 2.0], [0.0, -0.2, 2.0]])
    assert np.cross(p3[1] - p3[0], p3[2] - p3[0])[2] < 0
    assert rasterize(project(p3), np.array([[0, 1, 2]]), 32, 32, cull_backfaces=True).mask.sum() > 5
    assert rasterize(project(p3), np.array([[0, 2, 1]]), 32, 32, cull_backfaces=True).mask.sum() == 0


def test_non_finite_degenerate_and_huge_triangles():
    verts = np.array([[1, 1, 1], [np.nan, 1, 1], [1, 6, 1], [np.inf, 2, 1], [6, 6, 1], [3, 3, 1], [5, 5, 1],
                      [-1e6, -1e6, 2], [1e6, -1e6, 2], [0, 1e6, 2]], np.float32)
    tris = np.array([[0, 1, 2], [0, 3, 2], [0, 4, 3], [0, 5, 6], [7, 8, 9]])  # NaN, inf, inf, collinear, huge
    frags = rasterize(verts, tris, 8, 8)
    assert np.all(frags.tri_id == 4) and np.all(frags.depth == 2.0)


def test_empty_inputs_and_errors():
    frags = rasterize(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32), 4, 5)
    assert isinstance(frags, Fragments) and frags.tri_id.shape == (4, 5) and frags.bary.shape == (4, 5, 3)
    assert frags.tri_id.dtype == np.int32 and frags.bary.dtype == np.float32 and frags.depth.dtype == np.float32
    assert not frags.mask.any() and np.all(np.isinf(frags.depth))
    with pytest.raises(IndexError):
        rasterize(np.zeros((3, 3), np.float32), np.array([[0, 1, 3]]), 4, 4)


def test_interpolate_per_vertex_and_per_corner():
    verts = np.array([[2, 2, 1], [10, 2, 1], [10, 10, 1], [2, 10, 1]], np.float32)
    tris = np.array([[0, 1, 2], [0, 2, 3]])
    frags = rasterize(verts, tris, 12, 12)
    x, y = centres(12, 12)
    out = interpolate(frags, verts[:, :2], tris)  # constant depth: affine, so the position is the pixel centre
    assert out.shape == (12, 12, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out[frags.mask], np.stack([x, y], -1)[frags.mask], atol=1e-5)
    assert np.all(out[~frags.mask] == 0)
    np.testing.assert_array_equal(interpolate(frags, verts[tris][:, :, :2]), out)  # per-corner (T, 3, C) form
    seam = np.array([[[1.0], [1.0], [1.0]], [[2.0], [2.0], [2.0]]])  # (T, 3, 1): different values per triangle
    out = interpolate(frags, seam)[..., 0]
    np.testing.assert_allclose(out, np.where(frags.mask, frags.tri_id + 1.0, 0.0), atol=1e-6)
    with pytest.raises(ValueError):
        interpolate(frags, verts[:, :2])


def test_triangulate_quads_and_corners():
    faces = np.array([[0, 1, 2, 3], [2, 3, 4, -1], [4, 5, 6, 7]])
    tris, face = triangulate_quads(faces)
    np.testing.assert_array_equal(tris, [[0, 1, 2], [0, 2, 3], [2, 3, 4], [4, 5, 6], [4, 6, 7]])
    np.testing.assert_array_equal(face, [0, 0, 1, 2, 2])
    face_uvs = np.array([[10, 11, 12, 13], [20, 21, 22, -1], [30, 31, 32, 33]])
    np.testing.assert_array_equal(triangulate_corners(face_uvs, faces),
                                  [[10, 11, 12], [10, 12, 13], [20, 21, 22], [30, 31, 32], [30, 32, 33]])
    uv = np.arange(40 * 2, dtype=np.float32).reshape(40, 2)
    assert uv[triangulate_corners(face_uvs, faces)].shape == (5, 3, 2)


def test_downsample():
    np.testing.assert_allclose(downsample(np.full((8, 6, 3), 0.25, np.float32), 2), 0.25)
    checker = (np.add.outer(np.arange(8), np.arange(6)) % 2).astype(bool)
    out = downsample(checker, 2)
    assert out.shape == (4, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out, 0.5)
    img = np.random.default_rng(0).random((9, 6, 2))
    np.testing.assert_allclose(downsample(img, 3), img.reshape(3, 3, 2, 3, 2).mean((1, 3)))
    with pytest.raises(ValueError):
        downsample(img, 2)


def test_vertex_normals():
    unit, faces = uv_sphere_faces(16, 32)
    tris, _ = triangulate_quads(faces)
    normals = vertex_normals(unit * 2.0 + [1.0, -2.0, 3.0], tris)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-6)
    assert np.einsum("vk,vk->v", normals, unit).min() > 0.99
    one = vertex_normals(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [5, 5, 5]]), np.array([[0, 1, 2]]))
    np.testing.assert_allclose(one, [[0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 0]])
