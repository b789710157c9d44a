"""Render frames of synthetic people: ICT head + hair volume + shoulders, procedural appearance, light, background.

The head stays fixed in the world and the *camera* carries the head pose (as in
Export3D, where pose enters only through the 25-number camera); the body turns with
the camera about the neck, so it keeps still while the head turns (``body.py``).
Backgrounds are screen-space images, static over a clip, as in a real video.
Every frame also carries its pixel-centre ``Surface`` and vertices, from which
``correspondence.py`` computes exact fields between frames of the same person.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..rendering.camera import project_points
from .appearance import Appearance, Lighting, pixel_detail, sample_appearance, shade, vertex_albedo
from .body import visible_head_faces
from .correspondence import Surface
from .hair import neighbour_average
from .ict_model import ICTFaceModel, ict_to_world
from .person_mesh import PersonMesh, build_person_mesh
from .raster import (
    Fragments,
    downsample,
    interpolate,
    rasterize,
    triangulate_corners,
    triangulate_quads,
    vertex_normals,
)
from .semantics import compute_semantics

IDENTITY_SCALE = 0.9  #: std of the sampled identity coefficients (ICT's PCA is ~N(0, 1))
GAZE_YAW_DEG = 30.0  #: eyeball rotation at eyeLookIn/Out = 1
GAZE_PITCH_DEG = 25.0  #: eyeball rotation at eyeLookUp/Down = 1


@dataclass
class Person:
    """One synthetic identity: shape coefficients and appearance, all from ``seed``."""

    seed: int
    shape: np.ndarray  #: (100,) identity coefficients
    appearance: Appearance

    @classmethod
    def from_seed(cls, seed: int, num_identity: int = 100) -> "Person":
        rng = np.random.default_rng([seed, 7919])
        shape = (rng.standard_normal(num_identity) * IDENTITY_SCALE).astype(np.float32)
        return cls(seed, shape, sample_appearance(rng))


@dataclass
class PreparedPerson:
    person: Person
    identity_offset: torch.Tensor  #: (V*3,) identity displacement, cm
    mesh: PersonMesh  #: head + hair + body triangles, attributes (albedo, canonical position, detail masks), parts

    @property
    def attributes(self) -> np.ndarray:
        """``(V + H + B, 9)`` per-vertex albedo (3), canonical position (3), detail masks (3)."""
        return self.mesh.attributes


@dataclass
class Frame:
    image: np.ndarray  #: (S, S, 3) uint8 sRGB
    mask: np.ndarray  #: (S, S) float32 person coverage (head, hair, body) in [0, 1]
    depth: np.ndarray  #: (S, S) float32 view depth of the person, inf on background (supersampled min)
    region: np.ndarray  #: (S, S) int16 ICT region id at the pixel centre, -1 on background, hair volume and body
    landmarks2d: np.ndarray  #: (68, 2) float32 pixel (x = column, y = row), pixel centres at +0.5
    landmarks3d: np.ndarray  #: (68, 3) float32 world units
    part: np.ndarray  #: (S, S) uint8 ``parts.Part`` at the pixel centre (0 = background)
    surface: Surface  #: pixel-centre triangle ids, barycentrics and depth (for correspondences)
    vertices: np.ndarray  #: (V + H + B, 3) float32 world vertices of this frame
    camera: np.ndarray  #: (25,) float32

    @property
    def foreground(self) -> np.ndarray:
        """``(S, S)`` bool: the pixel centre shows the person."""
        return self.part > 0


class SceneRenderer:
    """Renders ``size x size`` frames with ``supersample``-fold anti-aliasing."""

    def __init__(self, model: ICTFaceModel, size: int, supersample: int = 2):
        self.model, self.size, self.ss = model, size, supersample
        self.semantics = compute_semantics(model)
        neutral = model.neutral.cpu().numpy()
        visible = np.flatnonzero(self.semantics.visible_faces & visible_head_faces(model.faces, neutral))
        faces = model.faces[visible]
        self.tris, tri_face = triangulate_quads(faces)
        self.tri_face = visible[tri_face]
        self.tri_uv = model.uvs[triangulate_corners(model.face_uvs[visible], faces)]  # (T, 3, 2)
        rid, self.region_names = model.face_regions()
        self.tri_region = rid[self.tri_face]
        self._average = neighbour_average(self.tris, model.num_vertices)  # hair-shell taper, mesh-only
        names = list(model.expression_names)
        self._eyes = [(model.vertex_mask(f"eyeball_{side}"), *(names.index(f"eyeLook{d}_{s}") for d in
                       ("In", "Out", "Up", "Down"))) for side, s in (("left", "L"), ("right", "R"))]

    def prepare(self, person: Person) -> PreparedPerson:
        offset = torch.from_numpy(person.shape) @ self.model.identity_deltas
        albedo, masks = vertex_albedo(self.semantics, person.appearance)
        attrs = np.concatenate([albedo, self.semantics.canonical, masks], axis=1).astype(np.float32)
        neutral = (self.model.neutral.reshape(-1) + offset).reshape(-1, 3).numpy()
        jaw = self.semantics.canonical[self.model.landmark_indices.numpy()[:17], :2]
        mesh = build_person_mesh(self.semantics, person.appearance, self.tris, self.tri_region, self.region_names,
                                 jaw, attrs, neutral, person.seed, self._average)
        return PreparedPerson(person, offset, mesh)

    def world_vertices(self, prepared: PreparedPerson, expression: np.ndarray) -> torch.Tensor:
        """``(V, 3)`` world-space vertices for expression weights ``(57,)``."""
        flat = self.model.neutral.reshape(-1) + prepared.identity_offset
        flat = flat + torch.as_tensor(expression, dtype=torch.float32) @ self.model.expression_deltas
        return ict_to_world(self._rotate_eyes(flat.reshape(-1, 3), expression))

    def _rotate_eyes(self, verts: torch.Tensor, expression: np.ndarray) -> torch.Tensor:
        """Gaze: ICT's eyeLook shapes only move the lids; rotate each eyeball (with iris) about its centre.

        Horizontal: towards the subject's left (+x) for lookOut_L / lookIn_R; vertical: up for lookUp.
        """
        verts = verts.clone()
        for mask, look_in, look_out, up, down in self._eyes:
            left_eye = mask is self._eyes[0][0]
            h = (expression[look_out] - expression[look_in]) * (1 if left_eye else -1)
            v = expression[up] - expression[down]
            if abs(h) < 1e-6 and abs(v) < 1e-6:
                continue
            yaw, pitch = np.radians(h * GAZE_YAW_DEG), np.radians(-v * GAZE_PITCH_DEG)
            ry = torch.tensor([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
            rx = torch.tensor([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
            eye = verts[mask]
            centre = (eye.amax(0) + eye.amin(0)) / 2
            verts[mask] = (eye - centre) @ (ry @ rx).T.float() + centre
        return verts

    def render(self, prepared: PreparedPerson, expression: np.ndarray, camera: torch.Tensor,
               lighting: Lighting, background: np.ndarray, body_camera: torch.Tensor | None = None) -> Frame:
        """One frame. ``camera (25,)`` or ``(1, 25)``; ``background (S, S, 3)`` linear RGB float.

        ``body_camera`` (default ``camera``): the camera in whose view the body keeps its rest orientation. The
        default is a head turning on a still body; pass a fixed camera (e.g. the source frame's) for a still
        person seen by a moving camera (novel views).
        """
        cam = camera.reshape(1, 25).float()
        body_cam = (cam if body_camera is None else body_camera.reshape(1, 25).float())[0, :16].reshape(4, 4)
        head = self.world_vertices(prepared, expression)
        head_np = head.numpy()
        head_normals = vertex_normals(head_np, self.tris)
        verts = prepared.mesh.vertices(head_np, head_normals, body_cam.numpy())
        normals = prepared.mesh.normals(verts, head_normals)
        big = self.size * self.ss
        screen = project_points(torch.from_numpy(verts)[None], cam, big)[0].numpy()
        frags = rasterize(screen, prepared.mesh.tris, big, big)
        image = self._shade(prepared, frags, normals, lighting, background)
        lm3 = self.model.landmarks(head[None])
        lm2 = project_points(lm3, cam, self.size)[0, :, :2]
        surface = self._surface(screen, prepared.mesh.tris)
        tri = np.maximum(surface.tri_id, 0)
        on = surface.tri_id >= 0
        depth = frags.depth.reshape(self.size, self.ss, self.size, self.ss).min(axis=(1, 3))
        return Frame(image=image, mask=downsample(frags.mask, self.ss), depth=depth,
                     region=np.where(on, prepared.mesh.tri_region[tri], -1).astype(np.int16),
                     landmarks2d=lm2.numpy().astype(np.float32), landmarks3d=lm3[0].numpy().astype(np.float32),
                     part=np.where(on, prepared.mesh.tri_part[tri], 0).astype(np.uint8), surface=surface,
                     vertices=verts, camera=cam[0].numpy().astype(np.float32))

    def _shade(self, prepared: PreparedPerson, frags: Fragments, normals: np.ndarray, lighting: Lighting,
               background: np.ndarray) -> np.ndarray:
        """Supersampled shading over the background, box-filtered to ``(S, S, 3)`` uint8 sRGB."""
        big = self.size * self.ss
        attrs = np.concatenate([prepared.attributes, normals], axis=1)
        px = interpolate(frags, attrs, prepared.mesh.tris)
        covered = frags.mask.reshape(-1)
        colour = np.repeat(np.repeat(background, self.ss, 0), self.ss, 1).reshape(-1, 3).copy()
        a = px.reshape(-1, attrs.shape[1])[covered]
        albedo = a[:, 0:3] * pixel_detail(a[:, 3:6], a[:, 6:9], prepared.person.appearance.noise_seed)
        colour[covered] = shade(albedo, a[:, 9:12], lighting)
        image = downsample(colour.reshape(big, big, 3), self.ss)
        return (np.clip(image, 0, 1) ** (1 / 2.2) * 255 + 0.5).astype(np.uint8)

    def _surface(self, screen: np.ndarray, tris: np.ndarray) -> Surface:
        """Rasterize once more at ``S x S`` (pixel centres) from the supersampled screen positions."""
        small = screen / np.array([self.ss, self.ss, 1.0], np.float32)
        f = rasterize(small, tris, self.size, self.size)
        return Surface(tri_id=f.tri_id, bary=f.bary, depth=f.depth)
