"""The face mesh map (``face/mesh_map.py``) and the generator's mesh cue (``GeneratorConfig.mesh_cue``).

Truths used: protobuf's wire format (hand-encoded bytes); a triangle drawn at known pixels covers exactly its
interior; a triangle seen from behind (reversed winding) is not drawn; the nearer of two overlapping triangles
wins; zero weights on new input channels leave a network's output unchanged.
"""

from __future__ import annotations

import dataclasses
import struct

import numpy as np
import pytest
import torch
from conftest import have_face_models

from export3d.config import ModelConfig
from export3d.face.mesh_map import CanonicalMesh, mesh_map, parse_mesh, proto_fields
from export3d.models.export3d import Export3D
from export3d.training.stage_warp import widen_inputs


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def message(*fields: tuple[int, int, bytes | int]) -> bytes:
    """Encode ``(number, wire type, value)`` fields (wire 0: int, 2: bytes, 5: 4 raw bytes)."""
    out = b""
    for number, wire, value in fields:
        out += varint(number << 3 | wire)
        out += varint(value) if wire == 0 else (varint(len(value)) + value if wire == 2 else value)
    return out


def test_wire_format_fields_are_read_back():
    raw = message((1, 0, 300), (2, 2, b"abc"), (3, 5, struct.pack("<f", 1.5)))
    assert proto_fields(raw) == [(1, 0, 300), (2, 2, b"abc"), (3, 5, struct.pack("<f", 1.5))]


def test_a_hand_encoded_mesh_parses_packed_or_not():
    verts = [(0.0, 1.0, 2.0), (3.0, 4.0, 5.0), (6.0, 7.0, 8.0)]
    floats = [(3, 5, struct.pack("<f", x)) for v in verts for x in (*v, 0.25, 0.75)]  # x, y, z, u, v
    mesh = message((1, 0, 0), (2, 0, 0), *floats, (4, 0, 0), (4, 0, 2), (4, 0, 1))
    packed = message((1, 0, 0), *floats, (4, 2, varint(0) + varint(2) + varint(1)))
    for body in (mesh, packed):
        parsed = parse_mesh(message((3, 0, 1), (1, 2, body)))
        assert np.array_equal(parsed.vertices, np.array(verts, np.float32))
        assert parsed.triangles.tolist() == [[0, 2, 1]]
    with pytest.raises(ValueError, match="no canonical mesh"):
        parse_mesh(message((3, 0, 1)))


def square_mesh() -> tuple[CanonicalMesh, np.ndarray]:
    """Two triangles over the square [8, 24]² of a 32² image, facing the camera (counter-clockwise with y up),
    and their screen positions (pixels)."""
    verts = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 1], [-1, 1, 1]], np.float32)  # x right, y up
    screen = np.array([[8, 24], [24, 24], [24, 8], [8, 8]], np.float64)  # y down
    return CanonicalMesh(verts, np.array([[0, 1, 2], [0, 2, 3]], np.int32)), screen


def test_mesh_map_fills_the_faces_with_their_canonical_colours_and_nothing_else():
    mesh, screen = square_mesh()
    out = mesh_map(screen, 32, mesh)
    covered = out.any(-1)
    assert covered[10:22, 10:22].all() and not covered[:7].any() and not covered[:, 25:].any()
    colours = mesh.colours[mesh.triangles].mean(1)  # flat: each triangle its corners' mean
    assert np.allclose(out[20, 20], colours[0]) and np.allclose(out[11, 11], colours[1])


def test_triangles_seen_from_behind_are_not_drawn():
    mesh, screen = square_mesh()
    mirrored = screen.copy()
    mirrored[:, 0] = 32 - mirrored[:, 0]  # the same square seen from the back: every winding reversed
    assert not mesh_map(mirrored, 32, mesh).any()


def test_the_nearer_triangle_is_drawn_over_the_farther_one():
    verts = np.array([[-1, -1, 0], [1, -1, 0], [0, 1, 0], [-1, -1, 5], [1, -1, 5], [0, 1, 5]], np.float32)
    tris = np.array([[3, 4, 5], [0, 1, 2]], np.int32)  # the near one first: drawing order must not matter
    screen = np.array([[4, 28], [28, 28], [16, 4]] * 2, np.float64)
    mesh = CanonicalMesh(verts, tris)
    out = mesh_map(screen, 32, mesh)
    assert np.allclose(out[20, 16], mesh.colours[[3, 4, 5]].mean(0))


@pytest.mark.skipif(not have_face_models(), reason="MediaPipe's face_landmarker.task is not installed")
def test_the_landmarkers_canonical_mesh_is_a_symmetric_face():
    from export3d.face.mesh_map import canonical_mesh

    mesh = canonical_mesh()
    assert mesh.vertices.shape == (468, 3) and mesh.triangles.shape == (898, 3)
    assert mesh.triangles.min() == 0 and mesh.triangles.max() == 467
    assert np.isclose(mesh.vertices[:, 0].min(), -mesh.vertices[:, 0].max())  # left-right symmetric
    nose, chin, forehead = mesh.vertices[1], mesh.vertices[152], mesh.vertices[10]
    assert nose[2] > np.quantile(mesh.vertices[:, 2], 0.99) and chin[1] < nose[1] < forehead[1]  # nose near; y up
    frontal = np.stack([mesh.vertices[:, 0], -mesh.vertices[:, 1]], 1) * 5 + 64  # seen from the front
    drawn = mesh_map(frontal, 128, mesh)
    assert drawn.any(-1).mean() > 0.25  # the face covers the middle of the picture


def mesh_cue_config() -> ModelConfig:
    cfg = ModelConfig.small()
    return dataclasses.replace(cfg, generator=dataclasses.replace(cfg.generator, mesh_cue=True))


def test_a_mesh_cue_generator_needs_the_map_and_a_plain_one_refuses_it():
    torch.manual_seed(0)
    plain, cued = Export3D(ModelConfig.small()).eval(), Export3D(mesh_cue_config()).eval()
    image, mesh = torch.zeros(1, 3, 128, 128), torch.zeros(1, 3, 128, 128)
    with torch.no_grad(), pytest.raises(ValueError, match="needs the face mesh map"):
        cued.encode_source(image)
    with torch.no_grad(), pytest.raises(ValueError, match="takes no face mesh map"):
        plain.encode_source(image, mesh)


def test_widened_inputs_start_ignored_and_then_change_the_planes(inputs_factory):
    torch.manual_seed(0)
    plain = Export3D(ModelConfig.small()).eval()
    cued = Export3D(mesh_cue_config()).eval()
    cued.load_state_dict(widen_inputs(plain.state_dict(), cued.state_dict()))
    assert cued.generator.stem[0][0].weight.shape[1] == plain.generator.stem[0][0].weight.shape[1] + 3
    source, beta, _ = inputs_factory(plain.cfg, 1)
    mesh = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        want = plain.planes(plain.encode_source(source), beta)
        assert torch.allclose(cued.planes(cued.encode_source(source, mesh), beta), want, atol=1e-5)
        torch.nn.init.normal_(cued.generator.stem[0][0].weight[:, 5:], std=0.5)
        moved = cued.planes(cued.encode_source(source, mesh), beta)
    assert (moved - want).abs().amax() > 1e-3  # once trained, the cue reaches the tri-plane


@pytest.mark.skipif(not have_face_models(), reason="MediaPipe's face_landmarker.task is not installed")
def test_the_pipeline_gives_a_mesh_cue_model_the_map_of_the_portraits_landmarks(monkeypatch):
    """``prepare_source`` draws the map at the crop's landmarks and passes it to the generator."""
    from skimage.data import astronaut

    from export3d.pipeline import Animator

    torch.manual_seed(0)
    model = Export3D(mesh_cue_config()).eval()
    seen = {}
    encode = model.encode_source

    def spy(x, mesh=None):
        seen["mesh"] = mesh
        return encode(x, mesh)

    monkeypatch.setattr(model, "encode_source", spy)
    src = Animator(model, device="cpu").prepare_source(astronaut())
    points = src.transform.image_to_crop(src.signals.landmarks)
    want = mesh_map(points, 128)
    assert seen["mesh"].shape == (1, 3, 128, 128)
    assert np.allclose(seen["mesh"][0].permute(1, 2, 0).numpy(), want)
    assert want.any(-1).mean() > 0.2  # the face fills a good part of the crop
    nose = np.round(points[1]).astype(int)
    assert want[nose[1], nose[0]].any()  # the nose tip is drawn
