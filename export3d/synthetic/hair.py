"""Hair volume: a shell offset from the hair-covered scalp along the surface normals (pure geometry).

The shell copies every head triangle whose three corners are hair-covered (coverage >= 1/2) and moves its
vertices outwards by ``thickness * taper``. The taper is the hair mask smoothed over the mesh (a few rounds of
neighbour averaging), remapped so that the shell's boundary vertices sit on the scalp: the volume grows from
zero at the hairline to the full thickness a few mesh rings inside it, so the shell has no open step. The shell
deforms with the head because its vertices follow the scalp vertices and their normals in every frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["HairShell", "build_hair_shell", "STYLE_THICKNESS_CM"]

#: Full shell thickness per hair style (cm), before the identity's volume factor.
STYLE_THICKNESS_CM = {"bald": 0.25, "short": 0.6, "medium": 1.2, "long": 1.6}
TAPER_ROUNDS = 3  #: neighbour-averaging rounds that set the width of the tapered band at the hairline


@dataclass(frozen=True)
class HairShell:
    """The shell of one identity, in terms of the head mesh."""

    vertices: np.ndarray  #: (H,) int head vertex each shell vertex sits on
    offset_cm: np.ndarray  #: (H,) float32 distance along that vertex's normal, cm
    tris: np.ndarray  #: (Ts, 3) int triangles over the shell vertices (0-based in the shell)

    @property
    def empty(self) -> bool:
        return len(self.tris) == 0

    def positions(self, verts: np.ndarray, normals: np.ndarray, cm: float) -> np.ndarray:
        """Shell vertices ``(H, 3)`` from head ``verts (V, 3)`` and unit ``normals (V, 3)``; ``cm`` = units per cm."""
        return verts[self.vertices] + normals[self.vertices] * (self.offset_cm * cm)[:, None]


def neighbour_average(tris: np.ndarray, num_vertices: int) -> sp.csr_matrix:
    """``(V, V)`` row-stochastic matrix averaging each vertex with its mesh neighbours (itself included)."""
    i = np.concatenate([tris[:, 0], tris[:, 1], tris[:, 2], tris[:, 1], tris[:, 2], tris[:, 0]])
    j = np.concatenate([tris[:, 1], tris[:, 2], tris[:, 0], tris[:, 0], tris[:, 1], tris[:, 2]])
    adj = sp.coo_matrix((np.ones(len(i)), (i, j)), shape=(num_vertices, num_vertices)).tocsr()
    adj.data[:] = 1.0  # duplicate edges count once
    adj = adj + sp.identity(num_vertices, format="csr")
    return sp.diags(1.0 / np.asarray(adj.sum(1)).ravel()) @ adj


def build_hair_shell(tris: np.ndarray, coverage: np.ndarray, thickness_cm: float,
                     average: sp.csr_matrix | None = None) -> HairShell:
    """Shell over the head triangles ``tris (T, 3)`` whose corners all have ``coverage (V,) >= 0.5``.

    ``average``: ``neighbour_average(tris, V)``, if already computed (it depends on the mesh only).
    """
    covered = coverage >= 0.5
    keep = covered[tris].all(axis=1)
    if not keep.any() or thickness_cm <= 0:
        return HairShell(np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros((0, 3), np.int64))
    smooth = covered.astype(np.float64)
    avg = neighbour_average(tris, len(coverage)) if average is None else average
    for _ in range(TAPER_ROUNDS):
        smooth = avg @ smooth
        smooth = np.where(covered, smooth, 0.0)  # the taper is measured inside the hair only
    inner = smooth[covered].max()
    used = np.unique(tris[keep])
    boundary = _boundary_vertices(tris[keep])
    taper = np.clip((smooth[used] - 0.5) / max(inner - 0.5, 1e-6), 0.0, 1.0)
    taper[np.isin(used, boundary)] = 0.0
    remap = np.full(len(coverage), -1, np.int64)
    remap[used] = np.arange(len(used))
    return HairShell(used, (thickness_cm * taper ** 0.5).astype(np.float32), remap[tris[keep]])


def _boundary_vertices(tris: np.ndarray) -> np.ndarray:
    """Vertices on the open boundary of a triangle set ``(T, 3)``: edges used by exactly one triangle."""
    edges = np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), axis=1)
    uniq, count = np.unique(edges, axis=0, return_counts=True)
    return np.unique(uniq[count == 1])
