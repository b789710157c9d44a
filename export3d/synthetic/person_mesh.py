"""One person's whole mesh: ICT head + hair shell + body, as one vertex/triangle list with attributes.

Vertices are ordered head (``V``), hair shell (``H``), body (``B``); triangles index that concatenation, head
triangles first (the renderer's ``tris``), so a triangle id names a surface patch in every frame of the
person. Attributes per vertex ``(V + H + B, 9)``: albedo (3), canonical position in cm (3, for solid noise),
detail masks (freckle, hair, skin). Per triangle: ``Part`` label and ICT region (-1 off the head).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .appearance import Appearance, hair_coverage
from .body import NECK_CUT_Y, BodyShape, body_mesh, body_rotation, collar_skin, neck_fit, place_body, sample_body
from .hair import STYLE_THICKNESS_CM, HairShell, build_hair_shell
from .ict_model import ICT_TO_WORLD_SCALE, ict_to_world
from .noise import value_noise
from .parts import Part, head_parts
from .raster import vertex_normals
from .semantics import FaceSemantics

NECK_FIT_BAND = (-10.5, -9.0)  #: cm: template heights whose vertices fit the body's neck stump


@dataclass
class PersonMesh:
    """Geometry and attributes of one identity beyond the head's per-vertex data."""

    hair: HairShell
    body: BodyShape
    body_rest: np.ndarray  #: (B, 3) float64 rest body vertices, world units (frontal camera)
    pivot: np.ndarray  #: (3,) world neck pivot the body turns about
    tris: np.ndarray  #: (T, 3) int64 all triangles (head, hair, body)
    extra_tris: np.ndarray  #: (Th + Tb, 3) hair and body triangles, indices relative to the hair's first vertex
    attributes: np.ndarray  #: (V + H + B, 9) float32
    tri_part: np.ndarray  #: (T,) uint8 ``Part``
    tri_region: np.ndarray  #: (T,) int16 ICT region id, -1 for hair and body

    def vertices(self, head: np.ndarray, head_normals: np.ndarray, cam2world: np.ndarray) -> np.ndarray:
        """All vertices ``(V + H + B, 3)`` float32 for head ``(V, 3)`` world vertices and their unit normals.

        ``cam2world (4, 4)`` is the camera the body keeps its rest orientation in (``body.body_rotation``).
        """
        shell = self.hair.positions(head, head_normals, ICT_TO_WORLD_SCALE)
        body = place_body(self.body_rest, body_rotation(cam2world), self.pivot)
        return np.concatenate([head, shell, body]).astype(np.float32)

    def normals(self, verts: np.ndarray, head_normals: np.ndarray) -> np.ndarray:
        """Unit normals ``(V + H + B, 3)``: the head's, then the hair's and body's from their own triangles."""
        v = len(head_normals)
        return np.concatenate([head_normals, vertex_normals(verts[v:], self.extra_tris)])


def build_person_mesh(sem: FaceSemantics, app: Appearance, head_tris: np.ndarray, head_tri_region: np.ndarray,
                      region_names: list[str], jaw: np.ndarray, head_attrs: np.ndarray, neutral: np.ndarray,
                      seed: int, average=None) -> PersonMesh:
    """Assemble a person; ``neutral (V, 3)`` are the person's neutral head vertices in cm (identity applied).

    ``average``: the head mesh's ``hair.neighbour_average`` matrix, when cached by the caller.
    """
    coverage = hair_coverage(sem, app)
    hair = build_hair_shell(head_tris, coverage, STYLE_THICKNESS_CM[app.hair_style] * app.hair_volume, average)
    band = (neutral[:, 1] > NECK_FIT_BAND[0]) & (neutral[:, 1] < NECK_FIT_BAND[1]) & (np.abs(neutral[:, 0]) < 9)
    body = sample_body(np.random.default_rng([seed, 31337]), *neck_fit(neutral[band & (sem.is_face | sem.is_scalp)]))
    rest_cm, body_tris = body_mesh(body)
    v, h = len(neutral), len(hair.vertices)
    tris = np.concatenate([head_tris, hair.tris + v, body_tris + v + h])
    extra = np.concatenate([hair.tris, body_tris + h])
    skin = collar_skin(rest_cm, body)
    attrs = np.concatenate([head_attrs, _hair_attributes(sem, app, hair), _body_attributes(rest_cm, skin, app)])
    centroid = sem.canonical[head_tris].mean(1)
    parts = np.concatenate([
        head_parts(head_tri_region, region_names, centroid, jaw, coverage[head_tris].mean(1)),
        np.full(len(hair.tris), Part.HAIR, np.uint8),
        np.where(skin[body_tris].sum(1) >= 2, Part.NECK, Part.TORSO).astype(np.uint8)])
    region = np.concatenate([head_tri_region, np.full(len(extra), -1, np.int16)]).astype(np.int16)
    pivot_cm = np.array([body.neck_centre[0], NECK_CUT_Y, body.neck_centre[1]])
    return PersonMesh(hair, body, ict_to_world(rest_cm.astype(np.float64)), ict_to_world(pivot_cm), tris, extra,
                      attrs.astype(np.float32), parts, region)


def _hair_attributes(sem: FaceSemantics, app: Appearance, hair: HairShell) -> np.ndarray:
    """``(H, 9)``: hair colour, the scalp's canonical position (strands continue), hair mask."""
    n = len(hair.vertices)
    albedo = np.broadcast_to(app.hair, (n, 3))
    masks = np.tile(np.array([0.0, 1.0, 0.0]), (n, 1))
    return np.concatenate([albedo, sem.canonical[hair.vertices], masks], 1)


def _body_attributes(rest_cm: np.ndarray, skin: np.ndarray, app: Appearance) -> np.ndarray:
    """``(B, 9)``: skin above the neckline (the head's skin tint noise), clothes below (low-frequency folds)."""
    p = rest_cm.astype(np.float32)
    tint = value_noise(p * np.float32(0.25), app.noise_seed, octaves=2)[:, None] - 0.5
    folds = value_noise(p * np.float32([0.3, 0.12, 0.3]) + np.float32(5), app.noise_seed + 5, octaves=2)[:, None] - 0.5
    skin_albedo = app.skin[None] * (1 + app.skin_variation * (tint * 2))
    cloth = app.shirt[None] * (1 + 0.35 * folds)
    albedo = np.where(skin[:, None], skin_albedo, cloth)
    masks = np.where(skin[:, None], np.array([0.0, 0.0, 1.0]), np.zeros(3))
    return np.concatenate([np.clip(albedo, 0, 1), rest_cm, masks], 1)
