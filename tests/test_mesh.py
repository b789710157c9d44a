"""Mesh export (export3d.rendering.mesh, Animator.export_mesh) on an analytic ball of known centre and radius."""

from __future__ import annotations

import json
import struct
import types

import numpy as np
import pytest
from scenes import BallDecoder, ball_model, ball_planes, ball_rho

from export3d.config import ModelConfig
from export3d.pipeline import Animator, PreparedSource
from export3d.rendering.mesh import (
    NoSurfaceError,
    density_grid,
    extract_mesh,
    surface_threshold,
    vertex_colors,
    vertex_normals,
    write_glb,
    write_obj,
)
from export3d.rendering.renderer import RenderSettings

CENTER = np.array([0.1, -0.05, 0.15])  #: off-centre, so that a swapped or flipped axis moves the mesh
RADIUS = 0.25
RES = 48
_R = ModelConfig.small().render
THRESHOLD = surface_threshold(RenderSettings(_R.render_size, _R.num_coarse, _R.num_fine, _R.near, _R.far))  #: 15.8


@pytest.fixture(scope="module")
def ball():
    """``(planes, decoder, verts, faces)`` of a ball of ``RADIUS`` at ``CENTER``, surface at ``THRESHOLD``."""
    decoder = BallDecoder(t0=0.5, density=400.0, rgb=(1.0, 0.5, 0.0))
    planes = ball_planes(CENTER, ball_rho(RADIUS, decoder.t0, THRESHOLD, decoder.density), size=128)
    grid = density_grid(planes, decoder, RES, 1.0)
    verts, faces = extract_mesh(grid, THRESHOLD, 1.0)
    return planes, decoder, verts, faces


def test_threshold_is_half_opacity_per_coarse_step():
    delta = (3.3 - 2.25) / 24
    assert 1 - np.exp(-THRESHOLD * delta) == pytest.approx(0.5)


def test_density_grid_is_the_analytic_density(ball):
    planes, decoder, _, _ = ball
    grid = density_grid(planes, decoder, 11, 1.0)  # grid[i, j, k] at (x_i, y_j, z_k), x_i = -0.5 + 0.1 i
    axis = np.linspace(-0.5, 0.5, 11)
    p = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1)
    rho = ball_rho(RADIUS, decoder.t0, THRESHOLD, decoder.density)
    want = 400 * np.maximum(0, 0.5 - ((p - CENTER) ** 2).sum(-1) / (3 * rho ** 2))
    inner = (np.abs(p) < 0.45).all(-1)  # the planes' outer half texel blends with the zero padding
    assert np.abs(grid - want)[inner].max() < 0.5 and want.max() > 100


def test_ball_mesh_has_the_ball_radius_and_faces_outwards(ball):
    _, _, verts, faces = ball
    step = 1.0 / (RES - 1)
    dist = np.linalg.norm(verts - CENTER, axis=1)
    assert len(verts) > 500 and np.abs(dist - RADIUS).max() < step  # within a voxel
    assert np.allclose(verts.mean(0), CENTER, atol=0.2 * step)
    assert faces.min() >= 0 and faces.max() < len(verts)
    v = verts.astype(np.float64)
    volume = np.einsum("ij,ij->i", v[faces[:, 0]], np.cross(v[faces[:, 1]], v[faces[:, 2]])).sum() / 6
    assert volume == pytest.approx(4 / 3 * np.pi * RADIUS ** 3, rel=0.03)  # > 0: counter-clockwise from outside
    normals = vertex_normals(verts, faces)
    assert np.allclose(np.linalg.norm(normals, axis=1), 1, atol=1e-5)
    assert (np.einsum("ij,ij->i", normals, verts - CENTER) > 0).all()


def test_no_surface_is_an_error(ball):
    planes, decoder, _, _ = ball
    with pytest.raises(NoSurfaceError, match="never reaches"):
        extract_mesh(density_grid(planes, decoder, 8, 1.0), 1e6, 1.0)


def test_vertex_colors_are_the_decoder_rgb(ball):
    planes, decoder, verts, _ = ball
    colors = vertex_colors(planes, decoder, verts, 1.0)
    assert colors.shape == verts.shape and np.allclose(colors, [1.0, 0.5, 0.0])


def test_obj_round_trip(ball, tmp_path):
    _, _, verts, faces = ball
    colors = np.tile([[1.0, 0.5, 0.0]], (len(verts), 1))
    lines = write_obj(tmp_path / "ball.obj", verts, faces, colors).read_text().splitlines()
    v = np.array([[float(t) for t in line.split()[1:]] for line in lines if line.startswith("v ")])
    f = np.array([[int(t) for t in line.split()[1:]] for line in lines if line.startswith("f ")])
    assert v.shape == (len(verts), 6) and f.shape == faces.shape
    assert np.allclose(v[:, :3], verts, atol=1e-6) and np.allclose(v[:, 3:], colors)
    assert f.min() == 1 and f.max() == len(verts) and np.array_equal(f - 1, faces)


def read_glb(path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    magic, version, total = struct.unpack_from("<4sII", data, 0)
    assert magic == b"glTF" and version == 2 and total == len(data)
    json_len, json_type = struct.unpack_from("<I4s", data, 12)
    assert json_type == b"JSON" and json_len % 4 == 0
    doc = json.loads(data[20:20 + json_len])
    bin_len, bin_type = struct.unpack_from("<I4s", data, 20 + json_len)
    assert bin_type == b"BIN\0" and bin_len % 4 == 0 and 28 + json_len + bin_len == total
    return doc, data[28 + json_len:]


def accessor(doc: dict, blob: bytes, index: int) -> np.ndarray:
    acc = doc["accessors"][index]
    view = doc["bufferViews"][acc["bufferView"]]
    assert view["byteOffset"] % 4 == 0 and view["byteOffset"] + view["byteLength"] <= len(blob)
    dtype = {5126: "<f4", 5125: "<u4"}[acc["componentType"]]
    width = {"VEC3": 3, "SCALAR": 1}[acc["type"]]
    out = np.frombuffer(blob, dtype, acc["count"] * width, view["byteOffset"])
    assert out.nbytes == view["byteLength"]
    return out.reshape(acc["count"], width) if width > 1 else out


def test_glb_is_valid_binary_gltf(ball, tmp_path):
    _, _, verts, faces = ball
    colors = np.tile([[1.0, 0.5, 0.0]], (len(verts), 1))
    doc, blob = read_glb(write_glb(tmp_path / "ball.glb", verts, faces, colors, vertex_normals(verts, faces)))
    assert doc["asset"]["version"] == "2.0" and doc["buffers"][0]["byteLength"] == len(blob)
    prim = doc["meshes"][0]["primitives"][0]
    pos = doc["accessors"][prim["attributes"]["POSITION"]]
    assert pos["count"] == len(verts)
    assert np.allclose(pos["min"], verts.min(0)) and np.allclose(pos["max"], verts.max(0))
    assert np.array_equal(accessor(doc, blob, prim["attributes"]["POSITION"]), verts)
    assert accessor(doc, blob, prim["attributes"]["NORMAL"]).shape == verts.shape
    linear = accessor(doc, blob, prim["attributes"]["COLOR_0"])
    assert np.allclose(linear[0], [1.0, 0.214, 0.0], atol=1e-3)  # sRGB 0.5 is linear 0.214
    idx = accessor(doc, blob, prim["indices"])
    assert idx.shape == (faces.size,) and idx.max() < len(verts) and np.array_equal(idx.reshape(-1, 3), faces)


def test_animator_export_mesh(tmp_path):
    center = (0.05, 0.0, 0.1)
    anim = Animator(ball_model(center, radius=0.2), extractor=object(), output_size=None, fast=False)
    src = PreparedSource(None, None, None, types.SimpleNamespace(beta=np.zeros(52, np.float32)), None)
    path = anim.export_mesh(src, tmp_path / "ball.glb", resolution=40)
    doc, blob = read_glb(path)
    verts = accessor(doc, blob, doc["meshes"][0]["primitives"][0]["attributes"]["POSITION"])
    # density 400 * (f - 0.5) reaches the threshold 15.8 slightly inside the radius 0.2 where it starts
    expected = 0.2 * np.sqrt((1 - 0.5 - THRESHOLD / 400) / 0.5)
    assert np.abs(np.linalg.norm(verts - center, axis=1) - expected).max() < 1 / 39
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ball.glb"]  # no temporary file left
    assert anim.export_mesh(src, tmp_path / "ball.obj", resolution=24).read_text().startswith("# export3d mesh")
    with pytest.raises(ValueError, match=".obj or .glb"):
        anim.export_mesh(src, tmp_path / "ball.stl")
