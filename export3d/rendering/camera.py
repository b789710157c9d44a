"""The 25-number EG3D camera: flattened OpenCV cam2world (16) + normalized intrinsics (9).

World frame (docs/conventions.md): right-handed, +x towards the viewer's right
(the subject's left), +y up, +z out of the face towards the frontal camera,
units of the EG3D box (the tri-plane cube has side 1). OpenCV camera axes:
+x image right, +y image down, +z viewing direction.
"""

from __future__ import annotations

import math

import numpy as np
import torch

RADIUS = 2.7  #: default camera distance from the look-at point.
LOOK_AT = (0.0, 0.0, 0.2)  #: default look-at point (pivot) in world units.
FOCAL = 4.2647  #: default normalized focal length (fraction of the image size).


def intrinsics(focal: float = FOCAL, batch: int = 1, device=None, dtype=torch.float32) -> torch.Tensor:
    """Normalized intrinsics ``(B, 3, 3)`` with principal point (0.5, 0.5)."""
    k = torch.tensor([[focal, 0.0, 0.5], [0.0, focal, 0.5], [0.0, 0.0, 1.0]], device=device, dtype=dtype)
    return k.expand(batch, 3, 3).clone()


def look_at_cam2world(position: torch.Tensor, target: torch.Tensor, up=(0.0, 1.0, 0.0)) -> torch.Tensor:
    """OpenCV cam2world ``(B, 4, 4)`` for cameras at ``position (B, 3)`` looking at ``target (B, 3)``.

    ``up`` is the world direction that appears *up* in the image (image -y).
    """
    forward = torch.nn.functional.normalize(target - position, dim=-1)
    up_t = torch.as_tensor(up, dtype=position.dtype, device=position.device).expand_as(forward)
    right = torch.nn.functional.normalize(torch.cross(forward, up_t, dim=-1), dim=-1)
    down = torch.cross(forward, right, dim=-1)
    m = torch.eye(4, dtype=position.dtype, device=position.device).repeat(position.shape[0], 1, 1)
    m[:, :3, 0], m[:, :3, 1], m[:, :3, 2], m[:, :3, 3] = right, down, forward, position
    return m


def orbit_position(yaw_deg, pitch_deg, radius: float = RADIUS, look_at=LOOK_AT) -> torch.Tensor:
    """Camera centres ``(B, 3)`` on a sphere around ``look_at``.

    Yaw 0 and pitch 0 is the frontal camera on +z. Positive yaw moves the camera
    towards +x (the viewer's right, so the subject's left cheek comes into view);
    positive pitch moves the camera up (+y, looking down at the face).
    """
    yaw = torch.deg2rad(torch.as_tensor(yaw_deg, dtype=torch.float32).reshape(-1))
    pitch = torch.deg2rad(torch.as_tensor(pitch_deg, dtype=torch.float32).reshape(-1))
    yaw, pitch = torch.broadcast_tensors(yaw, pitch)
    direction = torch.stack(
        [torch.cos(pitch) * torch.sin(yaw), torch.sin(pitch), torch.cos(pitch) * torch.cos(yaw)], dim=-1
    )
    return torch.as_tensor(look_at, dtype=torch.float32) + radius * direction


def orbit_camera(yaw_deg=0.0, pitch_deg=0.0, radius: float = RADIUS, look_at=LOOK_AT,
                 focal: float = FOCAL) -> torch.Tensor:
    """25-number cameras ``(B, 25)`` orbiting ``look_at`` at the given yaw/pitch in degrees."""
    pos = orbit_position(yaw_deg, pitch_deg, radius, look_at)
    target = torch.as_tensor(look_at, dtype=torch.float32).expand_as(pos)
    return pack_camera(look_at_cam2world(pos, target), intrinsics(focal, pos.shape[0]))


def pack_camera(cam2world: torch.Tensor, intrinsics_: torch.Tensor) -> torch.Tensor:
    """``(B, 4, 4)`` + ``(B, 3, 3)`` -> ``(B, 25)``."""
    return torch.cat([cam2world.reshape(-1, 16), intrinsics_.reshape(-1, 9)], dim=-1)


def unpack_camera(camera: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, 25)`` -> cam2world ``(B, 4, 4)``, intrinsics ``(B, 3, 3)``."""
    if camera.ndim != 2 or camera.shape[-1] != 25:
        raise ValueError(f"camera must have shape (B, 25), got {tuple(camera.shape)}")
    return camera[:, :16].reshape(-1, 4, 4), camera[:, 16:].reshape(-1, 3, 3)


def camera_angles(camera: torch.Tensor, look_at=LOOK_AT) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of ``orbit_position``: yaw and pitch in degrees ``(B,)`` of each camera centre."""
    cam2world, _ = unpack_camera(camera)
    d = cam2world[:, :3, 3] - torch.as_tensor(look_at, dtype=camera.dtype, device=camera.device)
    d = torch.nn.functional.normalize(d, dim=-1)
    yaw = torch.atan2(d[:, 0], d[:, 2])
    pitch = torch.asin(d[:, 1].clamp(-1, 1))
    return yaw * 180 / math.pi, pitch * 180 / math.pi


def project_points(points: torch.Tensor, camera: torch.Tensor, width: int, height: int | None = None) -> torch.Tensor:
    """World points ``(B, N, 3)`` -> ``(B, N, 3)``: pixel column x, pixel row y, view depth z.

    Pixel ``(row, col)`` has its centre at ``(col + 0.5, row + 0.5)``, matching ``generate_rays``.
    """
    height = height or width
    cam2world, k = unpack_camera(camera)
    rot, origin = cam2world[:, :3, :3], cam2world[:, :3, 3]
    cam = torch.einsum("bji,bnj->bni", rot, points - origin[:, None])  # R^T (p - o)
    z = cam[..., 2]
    u = (k[:, None, 0, 0] * cam[..., 0] / z + k[:, None, 0, 2]) * width
    v = (k[:, None, 1, 1] * cam[..., 1] / z + k[:, None, 1, 2]) * height
    return torch.stack([u, v, z], dim=-1)


def roll_camera(camera: torch.Tensor, roll_deg) -> torch.Tensor:
    """Rotate cameras ``(B, 25)`` about their optical axis; positive roll turns the image content
    counter-clockwise on screen (the camera itself turns clockwise)."""
    cam2world, k = unpack_camera(camera)
    a = torch.deg2rad(torch.as_tensor(roll_deg, dtype=camera.dtype).reshape(-1)).expand(camera.shape[0])
    c, s = torch.cos(a), torch.sin(a)
    rz = torch.zeros(camera.shape[0], 3, 3, dtype=camera.dtype)
    rz[:, 0, 0], rz[:, 0, 1], rz[:, 1, 0], rz[:, 1, 1], rz[:, 2, 2] = c, -s, s, c, 1.0
    out = cam2world.clone()
    out[:, :3, :3] = cam2world[:, :3, :3] @ rz
    return pack_camera(out, k)


def camera_from_angles(yaw: float, pitch: float, roll: float = 0.0, radius: float = RADIUS, look_at=LOOK_AT,
                       focal: float = FOCAL) -> np.ndarray:
    """The 25-number camera ``(25,)`` float32 for yaw, pitch, roll in degrees (the one angles -> camera map).

    ``orbit_camera(yaw, pitch)`` followed by ``roll_camera(roll)``; exactly ``orbit_camera`` when ``roll == 0``.
    """
    cam = orbit_camera(yaw, pitch, radius, look_at, focal)
    if roll != 0.0:
        cam = roll_camera(cam, torch.tensor([float(roll)]))
    return cam[0].numpy().astype(np.float32)


def reframe_camera(camera: np.ndarray, scale: float, centre=(0.5, 0.5), shift=(0.0, 0.0)) -> np.ndarray:
    """The ``(25,)`` camera whose image is ``camera``'s mapped by ``u' = scale (u - centre) + centre + shift``
    (normalised image units; ``face.framing.Framing``): focal lengths times ``scale``, the principal point moved
    with the image. The view direction and the world do not change."""
    out = np.array(camera, np.float32, copy=True)
    k = out[16:].reshape(3, 3)
    for axis in (0, 1):
        k[axis, axis] *= scale
        k[axis, 2] = scale * (k[axis, 2] - centre[axis]) + centre[axis] + shift[axis]
    return out
