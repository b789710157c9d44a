"""The ICT-FaceKit Light head model (MIT, USC ICT): identity and expression blendshapes.

``vertices = neutral + sum_i c_i * identity_deltas[i] + sum_j w_j * expression_deltas[j]``
in centimetres (ICT frame: +x the subject's left, +y up, +z out of the face, head
centred near the origin). Both sums are linear, so the model is linear in
identity coefficients ``c`` (roughly N(0, 1)) and expression weights ``w`` (in [0, 1]).
Expression names are ARKit's, with ``_L``/``_R`` meaning the subject's left/right.

``ict_to_world`` maps the ICT frame to the EG3D world frame (docs/conventions.md).
The data file is read from a path (``export3d.paths.ict_facekit_path``) and never
shipped with the project.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..paths import ict_facekit_path

#: World units per centimetre. FFHQ/EG3D crops put the eye distance at 1/4 of the image
#: width; at the frontal camera (distance ~2.67 to the eyes, focal 4.2647) that is
#: 2.67 / 4.2647 / 4 = 0.157 units for ICT's 6.51 cm eye distance -> 0.024 units/cm.
ICT_TO_WORLD_SCALE = 0.024
#: ICT point (cm) that maps to the world origin: the FFHQ crop centre lies 0.1 of the
#: eye-to-mouth distance below the eye midpoint (y = 3.44 - 0.1 * 6.86 = 2.75 cm).
ICT_WORLD_ORIGIN_CM = (0.0, 2.75, 0.0)

MISSING_MESSAGE = (
    "ICT-FaceKit model not found at {path}. Set EXPORT3D_ICT_FACEKIT to the ict_facekit.npz file "
    "(or EXPORT3D_DATA to the shared data folder that contains ict_facekit/ict_facekit.npz)."
)


def ict_to_world(points_cm):
    """ICT centimetres ``(..., 3)`` -> EG3D world units (torch or numpy)."""
    origin = ICT_WORLD_ORIGIN_CM
    if isinstance(points_cm, torch.Tensor):
        origin = torch.tensor(origin, dtype=points_cm.dtype, device=points_cm.device)
    else:
        origin = np.asarray(origin, dtype=points_cm.dtype)
    return (points_cm - origin) * ICT_TO_WORLD_SCALE


def world_to_ict(points_world):
    """Inverse of ``ict_to_world``."""
    return points_world / ICT_TO_WORLD_SCALE + (
        torch.tensor(ICT_WORLD_ORIGIN_CM, dtype=points_world.dtype)
        if isinstance(points_world, torch.Tensor) else np.asarray(ICT_WORLD_ORIGIN_CM, dtype=points_world.dtype)
    )


@dataclass
class Region:
    name: str
    vertices: tuple[int, int]  #: [start, end) vertex range
    faces: tuple[int, int]  #: [start, end) polygon range


class ICTFaceModel:
    """Loaded model; arrays are float32 torch tensors on ``device`` (polygons stay NumPy)."""

    def __init__(self, path: str | Path | None = None, device: str | torch.device = "cpu"):
        path = Path(path) if path is not None else ict_facekit_path()
        if not path.is_file():
            raise FileNotFoundError(MISSING_MESSAGE.format(path=path))
        with np.load(path, allow_pickle=False) as d:
            self.neutral = torch.from_numpy(d["neutral_vertices"].astype(np.float32)).to(device)
            nv = self.neutral.shape[0]
            self.identity_deltas = torch.from_numpy(d["identity_deltas"].astype(np.float32)).reshape(-1, nv * 3)
            self.expression_deltas = torch.from_numpy(d["expression_deltas"].astype(np.float32)).reshape(-1, nv * 3)
            self.identity_deltas = self.identity_deltas.to(device)
            self.expression_deltas = self.expression_deltas.to(device)
            self.expression_names = [str(n) for n in d["expression_names"]]
            self.faces = d["faces"].astype(np.int64)
            self.face_uvs = d["face_uvs"].astype(np.int64)
            self.uvs = d["uvs"].astype(np.float32)
            self.landmark_indices = torch.from_numpy(d["landmarks_68"].astype(np.int64)).to(device)
            self.regions = {
                str(n): Region(str(n), tuple(int(x) for x in vr), tuple(int(x) for x in fr))
                for n, vr, fr in zip(d["region_names"], d["region_vertex_ranges"], d["region_face_ranges"],
                                     strict=True)
            }
        self.path = path

    @property
    def num_vertices(self) -> int:
        return self.neutral.shape[0]

    @property
    def num_identity(self) -> int:
        return self.identity_deltas.shape[0]

    @property
    def num_expression(self) -> int:
        return self.expression_deltas.shape[0]

    def expression_index(self, name: str) -> int:
        return self.expression_names.index(name)

    def expression_vector(self, **weights: float) -> torch.Tensor:
        """``(57,)`` weights from names, e.g. ``expression_vector(jawOpen=0.8)``."""
        w = torch.zeros(self.num_expression)
        for name, value in weights.items():
            w[self.expression_index(name)] = value
        return w

    def vertices(self, identity: torch.Tensor | None = None, expression: torch.Tensor | None = None) -> torch.Tensor:
        """Vertices ``(B, V, 3)`` in cm for identity ``(B, 100)`` and expression ``(B, 57)`` (either may be None)."""
        batch = next((t.shape[0] for t in (identity, expression) if t is not None), 1)
        flat = self.neutral.reshape(1, -1).expand(batch, -1)
        if identity is not None:
            flat = flat + identity.to(self.neutral) @ self.identity_deltas
        if expression is not None:
            flat = flat + expression.to(self.neutral) @ self.expression_deltas
        return flat.reshape(batch, -1, 3)

    def landmarks(self, vertices: torch.Tensor) -> torch.Tensor:
        """The 68 Multi-PIE landmarks ``(B, 68, 3)`` of vertices ``(B, V, 3)``."""
        return vertices[:, self.landmark_indices]

    def face_regions(self) -> tuple[np.ndarray, list[str]]:
        """Region id ``(F,)`` of every polygon (nested ranges: the smallest range wins) and the names."""
        names = list(self.regions)
        rid = np.full(len(self.faces), -1, dtype=np.int16)
        by_size = sorted(range(len(names)), key=lambda i: -np.subtract(*self.regions[names[i]].faces[::-1]))
        for i in by_size:
            s, e = self.regions[names[i]].faces
            rid[s:e] = i
        return rid, names

    def vertex_mask(self, *region_names: str) -> torch.Tensor:
        """``(V,)`` bool mask of the vertices in the named regions."""
        mask = torch.zeros(self.num_vertices, dtype=torch.bool)
        for name in region_names:
            s, e = self.regions[name].vertices
            mask[s:e] = True
        return mask
