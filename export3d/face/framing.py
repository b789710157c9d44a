"""Framing: where a face sits in its frame (position and size), and how a driver's changes move a portrait's.

The camera of ``face/head_pose.py`` carries the head's *rotation*; a face also moves across its frame and
grows or shrinks as it comes closer. Both are a 2D map of the image plane,

    u' = s (u - c) + c + t                          (normalised image units, ``u`` in [0, 1]^2)

with scale ``s``, a centre ``c`` and a shift ``t``. It is fitted by least squares to ``FRAMING_POINTS``
(landmarks that expression barely moves: eye corners, nose bridge, forehead, chin and the face oval) and
carried by the camera's intrinsics (``rendering.camera.reframe_camera``), so every rendered output (the
sampling field, depth, the pasted photo) moves with it.

A driver's change since its reference frame is measured in units of its own face size and applied around the
portrait's own face (``relative_framing``): a speaker who leans in by 5 % makes the portrait's face 5 % larger,
whatever the two faces' sizes in their frames. Pure geometry; points are ``(..., 478, 2)`` pixels (any frame
whose ``size`` is given).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..rendering.camera import reframe_camera

#: eye corners, nose bridge, forehead, chin and the face oval (MediaPipe FaceMesh indices)
FRAMING_POINTS = (33, 133, 362, 263, 168, 6, 197, 195, 10, 152, 234, 454, 127, 356, 93, 323, 58, 288)
MAX_SCALE_CHANGE = 0.25  #: the scale is kept in [1 / (1 + m), 1 + m]
MAX_SHIFT = 0.15  #: the shift is kept within this fraction of the frame on each axis


@dataclass(frozen=True)
class Framing:
    """``u' = scale (u - centre) + centre + shift`` in normalised image units (module docstring)."""

    scale: float = 1.0
    centre: tuple[float, float] = (0.5, 0.5)
    shift: tuple[float, float] = (0.0, 0.0)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """``(..., 2)`` normalised points -> the same points moved."""
        c = np.asarray(self.centre)
        return self.scale * (np.asarray(points, np.float64) - c) + c + np.asarray(self.shift)

    def matrix(self, size: int) -> np.ndarray:
        """``(2, 3)`` affine of the same map in continuous pixels of a ``size``-pixel square frame."""
        c, t = np.asarray(self.centre) * size, np.asarray(self.shift) * size
        offset = c * (1 - self.scale) + t
        return np.array([[self.scale, 0.0, offset[0]], [0.0, self.scale, offset[1]]])

    @property
    def is_identity(self) -> bool:
        return self.scale == 1.0 and self.shift == (0.0, 0.0)


def face_frame(points: np.ndarray) -> tuple[np.ndarray, float]:
    """``(centre (2,), size)`` of a face's ``FRAMING_POINTS`` in ``points (478, 2)``: their mean and their RMS
    distance from it (in the points' own units)."""
    p = np.asarray(points, np.float64)[list(FRAMING_POINTS)]
    centre = p.mean(0)
    return centre, float(np.sqrt(((p - centre) ** 2).sum(1).mean()))


def relative_framing(driver: np.ndarray, reference: np.ndarray, portrait: np.ndarray, size: float) -> Framing:
    """How the portrait's face moves when the driver's face moves from ``reference`` to ``driver``.

    Args:
        driver, reference: ``(478, 2)`` the driver's landmarks now and in its reference frame (its own pixels).
        portrait: ``(478, 2)`` the portrait's landmarks in the frame being rendered, ``size`` pixels a side.
    Returns:
        the ``Framing`` (normalised units of the portrait's frame), clamped to ``MAX_SCALE_CHANGE`` and
        ``MAX_SHIFT``; the identity when ``driver`` equals ``reference``.
    """
    c0, s0 = face_frame(reference)
    c1, s1 = face_frame(driver)
    cp, sp = face_frame(portrait)
    if s0 <= 0 or sp <= 0:
        return Framing()
    scale = float(np.clip(s1 / s0, 1 / (1 + MAX_SCALE_CHANGE), 1 + MAX_SCALE_CHANGE))
    shift = np.clip((c1 - c0) / s0 * sp / size, -MAX_SHIFT, MAX_SHIFT)
    return Framing(scale, (float(cp[0] / size), float(cp[1] / size)), (float(shift[0]), float(shift[1])))


def reframe(camera: np.ndarray, framing: Framing) -> np.ndarray:
    """``camera (25,)`` with ``framing`` carried by its intrinsics (``rendering.camera.reframe_camera``)."""
    return camera if framing.is_identity else reframe_camera(camera, framing.scale, framing.centre, framing.shift)
