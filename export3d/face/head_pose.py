"""Head pose from MediaPipe's transformation matrix -> yaw/pitch/roll -> the 25-number EG3D camera.

The head is fixed in the world and the camera moves (docs/conventions.md), so the head's
rotation in the camera frame is the world-to-camera rotation. MediaPipe uses OpenGL camera
axes (x right, y up, z towards the viewer); its matrix rows are then the camera's right,
up and backward directions in head (= world) coordinates.
"""

from __future__ import annotations

import numpy as np

from ..rendering.camera import camera_from_angles


def angles_from_rotation(rot_gl: np.ndarray) -> tuple[float, float, float]:
    """Yaw, pitch, roll (degrees, ``orbit_camera`` + ``roll_camera`` conventions) of a head rotation (3, 3)."""
    r = np.asarray(rot_gl, dtype=np.float64)[:3, :3]
    right, back = r[0], r[2]  # camera axes in world coordinates
    d = back / np.linalg.norm(back)  # from the look-at point towards the camera
    yaw, pitch = np.arctan2(d[0], d[2]), np.arcsin(np.clip(d[1], -1, 1))
    forward = -d
    right0 = np.cross(forward, [0.0, 1.0, 0.0])
    right0 /= max(np.linalg.norm(right0), 1e-9)
    down0 = np.cross(forward, right0)
    roll = np.arctan2(right @ down0, right @ right0)
    return float(np.degrees(yaw)), float(np.degrees(pitch)), float(np.degrees(roll))


def rotation_from_angles(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Inverse of ``angles_from_rotation``: the OpenGL world-to-camera rotation (3, 3)."""
    c2w = camera_from_angles(yaw, pitch, roll)[:16].reshape(4, 4)[:3, :3]  # OpenCV columns: right, down, fwd
    return np.stack([c2w[:, 0], -c2w[:, 1], -c2w[:, 2]]).astype(np.float64)
