"""Mesh export of a tri-plane: density on a grid, marching cubes, OBJ and binary glTF (GLB) writers.

Parameter-free like the renderer: the decoder is passed in. World frame and box: docs/conventions.md
(+x right, +y up, +z towards the frontal camera, the tri-plane spans ``[-box/2, box/2]^3``). glTF uses the
same axes (+y up, the asset's front facing +z) and so does the OBJ file, so the meshes open upright and
facing the viewer.

Surface: the iso-surface ``sigma = threshold`` of the decoder's density. The default threshold
(:func:`surface_threshold`) is the density at which one coarse sample step of the renderer,
``delta = (far - near) / num_coarse``, is half opaque: ``1 - exp(-sigma * delta) = 0.5``, i.e.
``sigma = ln 2 / delta`` (15.8 for the ``small`` and 31.7 for the ``paper`` preset). The grid is padded with
zero density, so the surface is closed where it meets the box.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path

import numpy as np
import torch

from ..errors import NoSurfaceError
from .renderer import Decoder, RenderSettings
from .triplane import sample_triplane

CHUNK_POINTS = 1 << 16  #: points per decoder call
_FLOAT, _UINT32 = 5126, 5125  #: glTF component types
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963  #: glTF buffer view targets


def surface_threshold(settings: RenderSettings) -> float:
    """Density at which one coarse renderer step is half opaque: ``ln 2 / ((far - near) / num_coarse)``."""
    return math.log(2.0) * settings.num_coarse / (settings.far - settings.near)


def grid_points(resolution: int, box_size: float) -> torch.Tensor:
    """World points ``(R, R, R, 3)`` of the grid ``x_i = -box/2 + i * box / (R - 1)`` (box corners included)."""
    if resolution < 2:
        raise ValueError(f"resolution must be >= 2, got {resolution}")
    axis = torch.linspace(-box_size / 2, box_size / 2, resolution)
    return torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1)


@torch.no_grad()
def evaluate(planes: torch.Tensor, decoder: Decoder, points: torch.Tensor,
             box_size: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Decoder outputs at world ``points (N, 3)`` of one tri-plane ``(1, 3, C, P, P)`` or ``(3, C, P, P)``.

    Returns ``sigma (N,)`` and ``features (N, C_out)`` (channels 0..2: RGB in [0, 1]), in chunks.
    """
    planes = planes if planes.dim() == 5 else planes[None]
    if planes.shape[0] != 1:
        raise ValueError(f"one tri-plane expected, got a batch of {planes.shape[0]}")
    pts = points.reshape(-1, 3).to(planes)
    sig, feat = [], []
    for i in range(0, len(pts), CHUNK_POINTS):
        s, f = decoder(sample_triplane(planes, pts[None, i:i + CHUNK_POINTS], box_size))
        sig.append(s[0].float())
        feat.append(f[0].float())
    return torch.cat(sig), torch.cat(feat)


def density_grid(planes: torch.Tensor, decoder: Decoder, resolution: int, box_size: float) -> np.ndarray:
    """Density ``(R, R, R)`` float32 with ``grid[i, j, k] = sigma(x_i, y_j, z_k)`` on :func:`grid_points`."""
    sigma, _ = evaluate(planes, decoder, grid_points(resolution, box_size), box_size)
    return sigma.reshape(resolution, resolution, resolution).cpu().numpy().astype(np.float32)


def extract_mesh(grid: np.ndarray, threshold: float, box_size: float) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes of ``grid (R, R, R)`` (as :func:`density_grid`) at ``threshold``.

    Returns ``verts (V, 3)`` float32 in world units and ``faces (F, 3)`` int64 (counter-clockwise seen from
    outside, i.e. from lower density). Raises ``NoSurfaceError`` when the density never reaches ``threshold``.
    """
    from skimage.measure import marching_cubes

    grid = np.asarray(grid, np.float32)
    if grid.ndim != 3 or len(set(grid.shape)) != 1:
        raise ValueError(f"grid must be a cube (R, R, R), got {grid.shape}")
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    if not grid.max() > threshold:
        raise NoSurfaceError(f"the density never reaches the surface threshold {threshold:.3g} "
                         f"(its maximum is {grid.max():.3g}): there is no surface to export")
    step = box_size / (grid.shape[0] - 1)
    padded = np.pad(grid, 1, constant_values=0.0)  # closes the surface at the box
    verts, faces, _, _ = marching_cubes(padded, level=threshold, spacing=(step,) * 3)
    verts = verts - (box_size / 2 + step)  # padded index 1 is the box corner
    # skimage's triangles face the decreasing values ("descent"); flip them to counter-clockwise seen from outside
    return verts.astype(np.float32), faces[:, ::-1].astype(np.int64)


def vertex_colors(planes: torch.Tensor, decoder: Decoder, verts: np.ndarray, box_size: float) -> np.ndarray:
    """The decoder's RGB features at ``verts (V, 3)``: ``(V, 3)`` float32 in [0, 1]."""
    _, feat = evaluate(planes, decoder, torch.from_numpy(np.asarray(verts, np.float32)), box_size)
    return feat[:, :3].clamp(0, 1).cpu().numpy()


def vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit vertex normals ``(V, 3)``: area-weighted sums of the adjacent counter-clockwise faces' normals."""
    v = np.asarray(verts, np.float64)
    f = np.asarray(faces)
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    out = np.zeros_like(v)
    for k in range(3):
        np.add.at(out, f[:, k], n)
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norm > 0, norm, 1.0)).astype(np.float32)


def _check(verts, faces, colors) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    verts = np.ascontiguousarray(verts, np.float32)
    faces = np.ascontiguousarray(faces, np.int64)
    if verts.ndim != 2 or verts.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"need verts (V, 3) and faces (F, 3), got {verts.shape} and {faces.shape}")
    if len(faces) and (faces.min() < 0 or faces.max() >= len(verts)):
        raise ValueError("face indices out of range")
    if colors is not None:
        colors = np.clip(np.ascontiguousarray(colors, np.float32), 0, 1)
        if colors.shape != verts.shape:
            raise ValueError(f"colors must be (V, 3) like verts, got {colors.shape}")
    return verts, faces, colors


def write_obj(path: str | os.PathLike, verts: np.ndarray, faces: np.ndarray, colors: np.ndarray | None = None) -> Path:
    """Wavefront OBJ: ``v x y z [r g b]`` lines (colours in [0, 1], the common extension) and 1-based ``f`` lines."""
    verts, faces, colors = _check(verts, faces, colors)
    rows = verts if colors is None else np.concatenate([verts, colors], axis=1)
    fmt = "v" + " {:.6f}" * rows.shape[1]
    lines = [f"# export3d mesh: {len(verts)} vertices, {len(faces)} faces"]
    lines += [fmt.format(*r) for r in rows.tolist()]
    lines += ["f {} {} {}".format(*f) for f in (faces + 1).tolist()]
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """sRGB values in [0, 1] -> linear (glTF vertex colours are linear)."""
    c = np.asarray(c, np.float32)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def write_glb(path: str | os.PathLike, verts: np.ndarray, faces: np.ndarray, colors: np.ndarray | None = None,
              normals: np.ndarray | None = None) -> Path:
    """Binary glTF 2.0: one triangle mesh with POSITION, optional NORMAL and COLOR_0 (``colors`` are sRGB in
    [0, 1], stored linear as glTF wants), uint32 indices and a matte (non-metallic) material."""
    verts, faces, colors = _check(verts, faces, colors)
    blob, views, accessors = bytearray(), [], []

    def add(array: np.ndarray, target: int, **acc) -> int:
        blob.extend(b"\0" * (-len(blob) % 4))
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": array.nbytes, "target": target})
        blob.extend(array.tobytes())
        accessors.append({"bufferView": len(views) - 1, **acc})
        return len(accessors) - 1

    attrs = {"POSITION": add(verts, _ARRAY_BUFFER, componentType=_FLOAT, count=len(verts), type="VEC3",
                             min=verts.min(0).tolist(), max=verts.max(0).tolist())}
    if normals is not None:
        attrs["NORMAL"] = add(np.ascontiguousarray(normals, np.float32), _ARRAY_BUFFER, componentType=_FLOAT,
                              count=len(verts), type="VEC3")
    if colors is not None:
        attrs["COLOR_0"] = add(srgb_to_linear(colors), _ARRAY_BUFFER, componentType=_FLOAT, count=len(verts),
                               type="VEC3")
    indices = add(faces.astype("<u4").reshape(-1), _ELEMENT_ARRAY_BUFFER, componentType=_UINT32,
                  count=faces.size, type="SCALAR")
    blob.extend(b"\0" * (-len(blob) % 4))
    doc = {"asset": {"version": "2.0", "generator": "export3d"}, "scene": 0, "scenes": [{"nodes": [0]}],
           "nodes": [{"mesh": 0}], "materials": [{"pbrMetallicRoughness": {"metallicFactor": 0.0,
                                                                             "roughnessFactor": 1.0},
                                                  "doubleSided": True}],
           "meshes": [{"primitives": [{"attributes": attrs, "indices": indices, "material": 0, "mode": 4}]}],
           "buffers": [{"byteLength": len(blob)}], "bufferViews": views, "accessors": accessors}
    text = json.dumps(doc, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    total = 12 + 8 + len(text) + 8 + len(blob)
    data = struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<I4s", len(text), b"JSON") + text \
        + struct.pack("<I4s", len(blob), b"BIN\0") + bytes(blob)
    path = Path(path)
    path.write_bytes(data)
    return path


def write_mesh(path: str | os.PathLike, verts: np.ndarray, faces: np.ndarray, colors: np.ndarray | None = None) -> Path:
    """``.obj`` or ``.glb`` by the suffix of ``path`` (GLB with vertex normals)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".obj":
        return write_obj(path, verts, faces, colors)
    if suffix == ".glb":
        return write_glb(path, verts, faces, colors, vertex_normals(verts, faces))
    raise ValueError(f"the mesh file must end with .obj or .glb, got {Path(path).name}")
