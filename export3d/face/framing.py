"""Framing: where a face sits in its frame (position and size), and how a driver's changes move a portrait's.

The camera of ``face/head_pose.py`` carries the head's *rotation*; a face also moves across its frame and
grows or shrinks as it comes closer. Both are a 2D map of the image plane,

    u' = s (u - c) + c + t                          (normalised image units, ``u`` in [0, 1]^2)

with scale ``s``, a centre ``c`` and a shift ``t``. It is measured on ``FRAMING_POINTS`` (landmarks that
expression barely moves: eye corners, nose bridge, forehead, chin and the face oval; their mean is the face's
position, their RMS distance from it its size, ``face_frame``) and carried by the camera's intrinsics
(``rendering.camera.reframe_camera``), so every rendered output (the sampling field, depth, the pasted photo) moves
with it.

A driver's change since its reference frame is measured in units of its own face size and applied around the
portrait's own face (``relative_framing``): a speaker who leans in by 5 % makes the portrait's face 5 % larger,
whatever the two faces' sizes in their frames. Pure geometry; points are ``(..., 478, 2)`` pixels (any frame
whose ``size`` is given).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..rendering.camera import intrinsics, reframe_camera
from .smoothing import OneEuroFilter, smoothing_params

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


def face_motion(driver: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``(3,)``: the driver's face centre shift ``(dx, dy)`` since ``reference`` in units of the reference face's
    size, and its size ratio (``(0, 0, 1)`` when it did not move). Both ``(478, 2)``, the same pixels."""
    c0, s0 = face_frame(reference)
    c1, s1 = face_frame(driver)
    if s0 <= 0:
        return np.array([0.0, 0.0, 1.0])
    return np.array([*((c1 - c0) / s0), s1 / s0])


def framing_of_motion(motion: np.ndarray, portrait: np.ndarray, size: float) -> Framing:
    """The ``Framing`` that moves the portrait's face (``(478, 2)`` in a ``size``-pixel frame) by ``motion``
    (``face_motion``), clamped to ``MAX_SCALE_CHANGE`` and ``MAX_SHIFT``."""
    cp, sp = face_frame(portrait)
    scale = float(np.clip(motion[2], 1 / (1 + MAX_SCALE_CHANGE), 1 + MAX_SCALE_CHANGE))
    shift = np.clip(np.asarray(motion[:2]) * sp / size, -MAX_SHIFT, MAX_SHIFT)
    return Framing(scale, (float(cp[0] / size), float(cp[1] / size)), (float(shift[0]), float(shift[1])))


def relative_framing(driver: np.ndarray, reference: np.ndarray, portrait: np.ndarray, size: float) -> Framing:
    """How the portrait's face moves when the driver's face moves from ``reference`` to ``driver``.

    Args:
        driver, reference: ``(478, 2)`` the driver's landmarks now and in its reference frame (its own pixels).
        portrait: ``(478, 2)`` the portrait's landmarks in the frame being rendered, ``size`` pixels a side.
    Returns:
        the ``Framing`` (normalised units of the portrait's frame), clamped to ``MAX_SCALE_CHANGE`` and
        ``MAX_SHIFT``; the identity when ``driver`` equals ``reference``.
    """
    return framing_of_motion(face_motion(driver, reference), portrait, size)


class FramingTrack:
    """A driving video's framings, frame after frame: ``face_motion`` since its first frame, smoothed with the
    tracker's One Euro filter at ``smoothing`` (0: off), then ``framing_of_motion`` around the portrait's face."""

    def __init__(self, portrait: np.ndarray, size: float, fps: float, smoothing: float):
        self.portrait, self.size = portrait, size
        self.reference: np.ndarray | None = None
        self.filter = OneEuroFilter(fps, *smoothing_params(smoothing))

    def __call__(self, driver: np.ndarray) -> Framing:
        """The framing of the next frame, whose landmarks are ``driver (478, 2)`` (the first frame: identity)."""
        if self.reference is None:
            self.reference = np.asarray(driver, np.float64)
        return framing_of_motion(self.filter(face_motion(driver, self.reference)), self.portrait, self.size)


def reframe(camera: np.ndarray, framing: Framing) -> np.ndarray:
    """``camera (25,)`` with ``framing`` carried by its intrinsics (``rendering.camera.reframe_camera``)."""
    return camera if framing.is_identity else reframe_camera(camera, framing.scale, framing.centre, framing.shift)


def framing_of_camera(camera: np.ndarray) -> Framing:
    """The framing ``camera (25,)``'s intrinsics carry relative to the default ones (inverse of ``reframe``)."""
    k, k0 = np.asarray(camera, np.float64)[16:].reshape(3, 3), intrinsics()[0].double().numpy()
    s = float(k[0, 0] / k0[0, 0])
    centre = (float(k0[0, 2]), float(k0[1, 2]))
    return Framing(s, centre, (float(k[0, 2] - k0[0, 2]), float(k[1, 2] - k0[1, 2])))
