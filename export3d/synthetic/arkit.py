"""Mapping between ICT-FaceKit expression weights (57) and the beta order (MediaPipe's 52 ARKit scores).

ICT splits some ARKit shapes into ``_L``/``_R`` halves (browInnerUp, cheekPuff); those map to
the mean of the halves. ICT's extra shapes (cheekRaiser_L/R, PupilDilate_L/R) have no ARKit
counterpart, and ``_neutral`` has no ICT counterpart (its target is 0).
"""

from __future__ import annotations

import numpy as np

from ..face.landmarker import BLENDSHAPE_NAMES
from .motion import ICT_EXPRESSION_NAMES


def _ict_sources(arkit: str) -> list[str]:
    if arkit == "_neutral":
        return []
    if arkit in ICT_EXPRESSION_NAMES:  # jawLeft, mouthRight, jawOpen, ...
        return [arkit]
    for side, suffix in (("Left", "_L"), ("Right", "_R")):
        if arkit.endswith(side):
            return [arkit[: -len(side)] + suffix]
    return [arkit + "_L", arkit + "_R"]


def ict_to_arkit_matrix() -> np.ndarray:
    """``(57, 52)`` matrix ``M`` with ``beta_target = ict_weights @ M``."""
    m = np.zeros((len(ICT_EXPRESSION_NAMES), len(BLENDSHAPE_NAMES)), dtype=np.float32)
    for j, name in enumerate(BLENDSHAPE_NAMES):
        src = _ict_sources(name)
        for s in src:
            m[ICT_EXPRESSION_NAMES.index(s), j] = 1.0 / len(src)
    return m


def ict_to_arkit(weights: np.ndarray) -> np.ndarray:
    """ICT weights ``(..., 57)`` -> ARKit-ordered ``(..., 52)``."""
    return np.asarray(weights, dtype=np.float32) @ ict_to_arkit_matrix()
