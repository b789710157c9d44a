"""Shoulders and upper torso: a procedural lofted mesh under the neck, and its placement (pure geometry).

The body is built in ICT centimetres as seen by the frontal camera: rings (superellipses in x-z) stacked
along y, from a neck stump that reaches up inside the head's neck down past the bottom of the frame. The
head mesh's own neck is cut at ``NECK_CUT_Y`` (``visible_head_faces``) and the stump carries on below it.

Placement. Head pose lives in the camera (docs/synthetic.md): the head stays fixed in the world and the
camera moves. A real body does not turn with the head, so in every frame the body is turned with the
*camera* about the neck pivot, ``p -> R (p - pivot) + pivot`` with ``R = R_cam R_front^T`` (the camera's
rotation relative to the frontal camera): seen through that camera the body keeps its rest orientation while
its neck follows the head's position. With ``R`` taken from another camera (e.g. the source frame's, for
novel views where the camera moves around a still person) the body is fixed in that frame instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BodyShape", "sample_body", "body_mesh", "body_rotation", "place_body", "visible_head_faces",
           "NECK_CUT_Y", "FRONT_ROTATION"]

NECK_CUT_Y = -10.5  #: cm: head polygons entirely below this height are not drawn (the body's neck replaces them)
STUMP_TOP_Y = -7.5  #: cm: the body's neck stump reaches up to here, inside the head's neck
#: OpenCV camera-to-world rotation of the frontal camera (camera x = world x, y down, looking along -z).
FRONT_ROTATION = np.diag([1.0, -1.0, -1.0])
SEGMENTS = 48  #: vertices per ring
COLLAR_BAND = 0.03  #: cm: half-height of the ring pair that carries the skin-to-clothes edge


@dataclass(frozen=True)
class BodyShape:
    """Per-identity body proportions (cm) and clothes."""

    neck_centre: np.ndarray  #: (2,) x, z of the head's neck axis at the cut, cm
    neck_radii: np.ndarray  #: (2,) half-width (x) and half-depth (z) of the head's neck at the cut, cm
    shoulder_half_width: float  #: cm
    shoulder_drop: float  #: how far the shoulder tips sit below the neck base, cm
    collar_y: float  #: height of the neckline (a ring of the mesh: a crisp, level edge), cm


def sample_body(rng: np.random.Generator, neck_centre: np.ndarray, neck_radii: np.ndarray) -> BodyShape:
    return BodyShape(np.asarray(neck_centre, np.float64), np.asarray(neck_radii, np.float64),
                     shoulder_half_width=float(rng.uniform(16.5, 20.0)), shoulder_drop=float(rng.uniform(3.0, 5.5)),
                     collar_y=float(rng.uniform(-12.5, -11.0)))


def neck_fit(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre ``(2,)`` (x, z) and radii ``(2,)`` of a ring of neck points ``(N, 3)`` (cm): bounding-box fit."""
    lo, hi = points[:, [0, 2]].min(0), points[:, [0, 2]].max(0)
    return (lo + hi) / 2, (hi - lo) / 2


def _profile(shape: BodyShape) -> np.ndarray:
    """Rings ``(K, 5)``: y, half-width, half-depth, centre z, superellipse exponent (cm)."""
    cz, (rx, rz) = shape.neck_centre[1], shape.neck_radii
    w, base = shape.shoulder_half_width, NECK_CUT_Y - 0.5
    tip = base - shape.shoulder_drop
    depth = 0.9 * rz + 3.5
    rows = [(STUMP_TOP_Y, 0.9 * rx, 0.9 * rz, cz, 2.0), (NECK_CUT_Y, 0.97 * rx, 0.97 * rz, cz, 2.0),
            (base, 1.05 * rx, 1.02 * rz, cz, 2.0)]
    for t in (0.25, 0.5, 0.75, 1.0):  # the trapezius slope out to the shoulder tips
        rows.append((base - shape.shoulder_drop * t, rx + (w - rx) * t ** 0.8, rz + (depth - rz) * t ** 0.7,
                     cz - 1.0 * t, 2.0 + 1.5 * t))
    rows += [(tip - 2.5, w + 0.6, depth + 0.5, cz - 1.0, 3.5), (tip - 8.0, w + 0.2, depth + 1.0, cz - 0.5, 3.0),
             (tip - 30.0, w - 1.5, depth + 0.5, cz - 0.5, 3.0)]
    prof = np.array(rows)
    extra = [_ring_at(prof, shape.collar_y + d) for d in (COLLAR_BAND, -COLLAR_BAND)]  # the neckline's two rings
    prof = np.concatenate([prof, extra])
    return prof[np.argsort(-prof[:, 0], kind="stable")]


def _ring_at(prof: np.ndarray, y: float) -> np.ndarray:
    """A ring ``(5,)`` at height ``y`` interpolated between the profile's rings ``(K, 5)`` (y descending)."""
    return np.array([y] + [np.interp(-y, -prof[:, 0], prof[:, j]) for j in range(1, 5)])


def body_mesh(shape: BodyShape) -> tuple[np.ndarray, np.ndarray]:
    """Rest vertices ``(K * SEGMENTS, 3)`` in ICT cm (x centred on the neck) and triangles ``(T, 3)``.

    Triangles are counter-clockwise seen from outside; the two ends are open (the top is inside the head's
    neck, the bottom below the frame).
    """
    prof = _profile(shape)
    phi = np.linspace(0, 2 * np.pi, SEGMENTS, endpoint=False)
    c, s = np.cos(phi), np.sin(phi)
    verts = []
    for y, a, b, cz, n in prof:
        e = 2.0 / n  # superellipse: |x/a|^n + |z/b|^n = 1
        x = a * np.sign(c) * np.abs(c) ** e + shape.neck_centre[0]
        z = b * np.sign(s) * np.abs(s) ** e + cz
        verts.append(np.stack([x, np.full_like(x, y), z], 1))
    k = np.arange(SEGMENTS)
    quads = []
    for r in range(len(prof) - 1):
        a, b = r * SEGMENTS + k, r * SEGMENTS + (k + 1) % SEGMENTS
        c_, d = a + SEGMENTS, b + SEGMENTS
        quads += [np.stack([a, b, c_], 1), np.stack([b, d, c_], 1)]
    return np.concatenate(verts).astype(np.float32), np.concatenate(quads).astype(np.int64)


def collar_skin(rest: np.ndarray, shape: BodyShape) -> np.ndarray:
    """``(N,)`` bool: rest body points ``(N, 3)`` (cm) above the neckline (bare skin, not clothes)."""
    return rest[:, 1] > shape.collar_y


def body_rotation(cam2world: np.ndarray) -> np.ndarray:
    """``(3, 3)`` world rotation that keeps the body's rest orientation in view of ``cam2world (4, 4)``."""
    return np.asarray(cam2world, np.float64)[:3, :3] @ FRONT_ROTATION.T


def place_body(rest_world: np.ndarray, rotation: np.ndarray, pivot_world: np.ndarray) -> np.ndarray:
    """Body vertices ``(N, 3)`` in the world: ``R (p - pivot) + pivot`` for rest world points ``(N, 3)``."""
    return (rest_world - pivot_world) @ rotation.T + pivot_world


def visible_head_faces(faces: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """``(F,)`` bool: ICT polygons ``(F, 4)`` (-1 pads triangles) not entirely below the neck cut (template, cm)."""
    y = np.where(faces >= 0, neutral[np.maximum(faces, 0), 1], np.inf)
    return (y >= NECK_CUT_Y).any(axis=1)
