"""Per-vertex semantic fields of the ICT template (computed once, identity-independent).

Fields are defined on the template's neutral vertices (cm) from the 68 landmarks and
the region ranges, so they deform with identity and expression for free. Each
identity's appearance thresholds them differently (brow thickness, hairline, beard).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ict_model import ICTFaceModel

#: Regions that are shading helpers in ICT (semi-transparent layers) and are not rendered.
HIDDEN_REGIONS = ("eye_occlusion_left", "eye_occlusion_right", "eye_blend_left", "eye_blend_right")
#: Material ids, one per vertex.
MATERIALS = ("skin", "sclera", "iris", "teeth", "gums", "mouth", "lashes", "caruncle")


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance ``(N, S)`` from 2-D points ``(N, 2)`` to segments ``a -> b`` ``(S, 2)``."""
    ab = b - a
    t = ((p[:, None] - a[None]) * ab[None]).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12)
    closest = a[None] + np.clip(t, 0, 1)[..., None] * ab[None]
    return np.linalg.norm(p[:, None] - closest, axis=-1)


def polyline_distance(p: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Distance ``(N,)`` from points ``(N, 2)`` to an open polyline ``(K, 2)``."""
    return _segment_distance(p, line[:-1], line[1:]).min(axis=1)


def inside_polygon(p: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd rule point-in-polygon for points ``(N, 2)`` and a closed polygon ``(K, 2)``."""
    a, b = poly, np.roll(poly, -1, axis=0)
    x, y = p[:, 0:1], p[:, 1:2]
    crosses = (a[None, :, 1] > y) != (b[None, :, 1] > y)
    t = (y - a[None, :, 1]) / np.where(b[:, 1] == a[:, 1], 1e-12, b[:, 1] - a[:, 1])[None]
    x_at = a[None, :, 0] + t * (b[:, 0] - a[:, 0])[None]
    return ((crosses & (x < x_at)).sum(1) % 2) == 1


@dataclass
class FaceSemantics:
    canonical: np.ndarray  #: (V, 3) template neutral positions, cm
    material: np.ndarray  #: (V,) int index into MATERIALS
    lip_dist: np.ndarray  #: (V,) signed-ish distance to the outer lip contour (<0 inside), cm
    brow_dist: np.ndarray  #: (V,) distance to the brow lines (front of the face only; inf elsewhere)
    iris_radius: np.ndarray  #: (V,) distance from the iris axis (iris vertices; inf elsewhere)
    is_face: np.ndarray  #: (V,) bool, face region
    is_scalp: np.ndarray  #: (V,) bool, head/neck region (scalp, ears, neck)
    visible_faces: np.ndarray  #: (F,) bool, polygons that are rendered


def compute_semantics(model: ICTFaceModel) -> FaceSemantics:
    p = model.neutral.cpu().numpy()
    lm = p[model.landmark_indices.cpu().numpy()]
    n = len(p)
    xy = p[:, :2]
    region = lambda name: model.vertex_mask(name).numpy()  # noqa: E731
    is_face, is_scalp = region("face"), region("head_neck")
    front = is_face & (p[:, 2] > 7.0)

    outer_lip = lm[48:60, :2]
    d = polyline_distance(xy, np.vstack([outer_lip, outer_lip[:1]]))
    lip_dist = np.where(inside_polygon(xy, outer_lip), -d, d)
    lip_dist = np.where(front | ~is_face, lip_dist, np.inf)

    brows = np.minimum(polyline_distance(xy, lm[17:22, :2] + [0, 0.15]),
                       polyline_distance(xy, lm[22:27, :2] + [0, 0.15]))
    brow_dist = np.where(is_face & (p[:, 2] > 6.0), brows, np.inf)

    material = np.zeros(n, dtype=np.int8)
    for names, mat in ((("eyeball_left", "eyeball_right"), "sclera"), (("iris_left", "iris_right"), "iris"),
                       (("teeth",), "teeth"), (("gums_tongue",), "gums"), (("mouth_socket",), "mouth"),
                       (("eyelashes_left", "eyelashes_right"), "lashes"),
                       (("lacrimal_left", "lacrimal_right"), "caruncle")):
        material[model.vertex_mask(*names).numpy()] = MATERIALS.index(mat)
    iris_radius = np.full(n, np.inf, dtype=np.float32)
    for iris, ball in (("iris_left", "eyeball_left"), ("iris_right", "eyeball_right")):
        m = region(iris)
        centre = p[m, :2].mean(0)
        # the iris disc is seen through the (opaque here) cornea: colour the front of the eyeball
        front_ball = region(ball) & (p[:, 2] > p[m, 2].max() - 0.3)
        iris_radius[m | front_ball] = np.linalg.norm(p[m | front_ball, :2] - centre, axis=1)
        material[front_ball] = MATERIALS.index("iris")

    rid, names = model.face_regions()
    hidden = np.isin(np.array(names)[rid], HIDDEN_REGIONS)
    return FaceSemantics(p.astype(np.float32), material, lip_dist.astype(np.float32), brow_dist.astype(np.float32),
                         iris_radius, is_face, is_scalp, ~hidden)
