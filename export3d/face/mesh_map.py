"""The portrait's face mesh as an image: MediaPipe's canonical face mesh drawn at the tracked landmarks.

A geometry cue that looks the same on photos, paintings and synthetic renders (issue 12, point 4): every pixel
the face mesh covers gets the *canonical* 3D position of the surface point it shows (like PNCC), so where the
eyes, nose and mouth are does not have to be guessed from skin texture.

The canonical mesh (468 vertices, 898 triangles) ships inside the FaceLandmarker bundle
(``face_landmarker.task``, Apache-2.0), in ``geometry_pipeline_metadata_landmarks.binarypb``: a protobuf
``GeometryPipelineMetadata`` whose field 1 is a ``Mesh3d`` with ``vertex_buffer`` (field 3: x, y, z, u, v per
vertex, centimetres) and ``index_buffer`` (field 4: triangle corners). ``canonical_mesh`` reads it with a
minimal wire-format reader (no protobuf classes needed).

``mesh_map`` draws it: triangles facing away from the camera (clockwise in the image, y down, given the
canonical mesh's winding) are dropped, the rest are filled flat with their corners' mean colour from back to
front by canonical depth (the nose last), colours ``(X - lo) / (hi - lo)`` per axis over the canonical
vertices. Pure geometry apart from reading the bundle.
"""

from __future__ import annotations

import functools
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

METADATA = "geometry_pipeline_metadata_landmarks.binarypb"
MESH_VERTICES = 468  #: the face mesh's vertices are the first 468 of the 478 landmarks (10 iris points follow)


@dataclass(frozen=True)
class CanonicalMesh:
    vertices: np.ndarray  #: (468, 3) float32 canonical positions, cm (x right, y up, z towards the viewer)
    triangles: np.ndarray  #: (T, 3) int32 vertex indices

    @property
    def colours(self) -> np.ndarray:
        """``(468, 3)`` float32 in [0, 1]: each vertex's canonical position scaled per axis to the mesh's extent."""
        lo, hi = self.vertices.min(0), self.vertices.max(0)
        return ((self.vertices - lo) / (hi - lo)).astype(np.float32)


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def proto_fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """``(field number, wire type, value)`` of every field of one protobuf message (varint values as ints, the
    rest as bytes). Raises ``ValueError`` on a wire type it does not know (3, 4: groups)."""
    out, i = [], 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire in (1, 5):
            n = 8 if wire == 1 else 4
            value, i = buf[i:i + n], i + n
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((number, wire, value))
    return out


def _repeated(fields, number: int, fmt: str) -> np.ndarray:
    """A repeated scalar field, packed or not: ``fmt`` ``"f"`` (float32) or ``"u"`` (varint)."""
    values: list = []
    for n, wire, v in fields:
        if n != number:
            continue
        if fmt == "f":
            values.extend(np.frombuffer(v, "<f4").tolist())
        elif wire == 0:
            values.append(v)
        else:  # packed varints
            i = 0
            while i < len(v):
                x, i = _varint(v, i)
                values.append(x)
    return np.asarray(values, np.float32 if fmt == "f" else np.int64)


def parse_mesh(metadata: bytes) -> CanonicalMesh:
    """The canonical mesh of a serialised ``GeometryPipelineMetadata``."""
    meshes = [v for n, w, v in proto_fields(metadata) if n == 1 and w == 2]
    if not meshes:
        raise ValueError("no canonical mesh in the geometry metadata")
    fields = proto_fields(meshes[0])
    vertices = _repeated(fields, 3, "f").reshape(-1, 5)[:, :3]
    triangles = _repeated(fields, 4, "u").reshape(-1, 3).astype(np.int32)
    return CanonicalMesh(vertices, triangles)


@functools.cache
def canonical_mesh(bundle: Path | None = None) -> CanonicalMesh:
    """The canonical face mesh from the FaceLandmarker bundle (default: the one the tracker uses)."""
    if bundle is None:
        from .assets import LANDMARKER, locate

        bundle = locate(LANDMARKER)
    with zipfile.ZipFile(bundle) as z:
        return parse_mesh(z.read(METADATA))


def mesh_map(landmarks: np.ndarray, size: int, mesh: CanonicalMesh | None = None) -> np.ndarray:
    """``(size, size, 3)`` float32 in [0, 1]: the canonical mesh drawn at ``landmarks (>=468, 2)`` (pixels of a
    ``size``² image, x right, y down; pixel centres at ``i + 0.5``), 0 where no triangle is drawn."""
    mesh = mesh or canonical_mesh()
    pts = np.asarray(landmarks, np.float64)[:MESH_VERTICES, :2]
    tri = pts[mesh.triangles]  # (T, 3, 2)
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    facing = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0] < 0  # counter-clockwise in a y-up frame
    order = np.argsort(mesh.vertices[mesh.triangles, 2].mean(1))  # back to front
    colours = mesh.colours[mesh.triangles].mean(1)
    out = np.zeros((size, size, 3), np.float32)
    shift = 4  # sub-pixel precision of cv2's fill: coordinates in 1/16 px
    fixed = np.round((tri - 0.5) * (1 << shift)).astype(np.int32)
    for t in order:
        if facing[t]:
            cv2.fillConvexPoly(out, fixed[t], colours[t].tolist(), lineType=cv2.LINE_8, shift=shift)
    return out
