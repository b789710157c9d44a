"""Cameras, image and depth-map helpers of the inference pipeline (``export3d.pipeline``).

Angles are in degrees with the conventions of docs/conventions.md: positive yaw moves the camera to the
viewer's right (the head appears turned to the viewer's left), positive pitch moves it up (looking down
at the face), positive roll turns the image content counter-clockwise.

Every camera the pipeline renders goes through :func:`clamp_angles`: the model is trained on heads
within ``|yaw| <= MAX_YAW`` and ``|pitch| <= MAX_PITCH`` (and small roll), and beyond that it invents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..rendering.camera import camera_from_angles, orbit_camera

MAX_YAW = 45.0  #: supported |yaw| in degrees (cameras are clamped to it)
MAX_PITCH = 30.0  #: supported |pitch| in degrees


def portrait_pose_warning(angles) -> str | None:
    """A sentence when the portrait's own head pose ``(yaw, pitch, roll)`` is beyond the supported range."""
    yaw, pitch = float(angles[0]), float(angles[1])
    if abs(yaw) <= MAX_YAW and abs(pitch) <= MAX_PITCH:
        return None
    return (f"The portrait's head is turned far from the camera (yaw {yaw:+.0f}°, pitch {pitch:+.0f}°; the model "
            f"supports about ±{MAX_YAW:g}° and ±{MAX_PITCH:g}°): the crop and the animation may be poor. A more "
            "frontal photo works better.")
MAX_ROLL = 30.0  #: supported |roll| in degrees (only a driver's head roll uses it)


@dataclass
class ViewSettings:
    """Where the camera is.

    ``relative=True`` (default) and the portrait's own pose known: the camera starts at the portrait's own pose,
    so the output at rest is the photo's own view; with ``follow_head`` a driving video's head *motion* (its pose
    minus its first frame's, ``reference``) is added, and ``yaw``/``pitch`` are offsets from there. A turned-away
    portrait keeps its turn instead of being swung to face the camera (the part of the face it never showed).
    With ``follow_position`` the face also moves across the frame and grows or shrinks as the driver's does since
    its first frame (``face/framing.py``, carried by the camera's intrinsics; smoothed like the tracking).
    ``relative=False``, or no portrait pose given: absolute, as the paper does it: ``follow_head=True`` puts the
    camera at the driver's head pose (yaw, pitch and roll) plus the offsets, ``follow_head=False`` (or no driver
    pose known) at ``(yaw, pitch)`` on the default orbit. The result is clamped to ``|yaw| <= 45``,
    ``|pitch| <= 30`` (and ``|roll| <= 30``).
    """

    yaw: float = 0.0
    pitch: float = 0.0
    follow_head: bool = True
    relative: bool = True
    follow_position: bool = True  #: relative and following a video: also its face's shift and size change


def clamp_angles(yaw: float, pitch: float, roll: float = 0.0) -> tuple[float, float, float]:
    """``(yaw, pitch, roll)`` limited to the supported range (degrees)."""
    return (float(np.clip(yaw, -MAX_YAW, MAX_YAW)), float(np.clip(pitch, -MAX_PITCH, MAX_PITCH)),
            float(np.clip(roll, -MAX_ROLL, MAX_ROLL)))


Angles = tuple[float, float, float]


def requested_angles(driver_angles: Angles | None, view: ViewSettings, own: Angles | None = None,
                     reference: Angles | None = None) -> Angles:
    """``(yaw, pitch, roll)`` the camera is asked for, before clamping (``ViewSettings``): ``own`` is the
    portrait's pose, ``reference`` the driver's first-frame pose (None: ``driver_angles`` itself, no motion)."""
    if view.relative and own is not None:
        motion = np.zeros(3)
        if view.follow_head and driver_angles is not None:
            start = driver_angles if reference is None else reference
            motion = np.asarray(driver_angles, np.float64) - np.asarray(start, np.float64)
        yaw, pitch, roll = np.asarray(own, np.float64) + motion
        return float(yaw + view.yaw), float(pitch + view.pitch), float(roll)
    if view.follow_head and driver_angles is not None:
        yaw, pitch, roll = driver_angles
        return float(yaw + view.yaw), float(pitch + view.pitch), float(roll)
    return float(view.yaw), float(view.pitch), 0.0


def view_angles(driver_angles: Angles | None, view: ViewSettings, own: Angles | None = None,
                reference: Angles | None = None) -> Angles:
    """Clamped :func:`requested_angles`."""
    return clamp_angles(*requested_angles(driver_angles, view, own, reference))


def view_camera(driver_angles: Angles | None, view: ViewSettings, own: Angles | None = None,
                reference: Angles | None = None) -> np.ndarray:
    """The ``(25,)`` float32 camera of :func:`view_angles`."""
    return camera_from_angles(*view_angles(driver_angles, view, own, reference))


def orbit_angles(frames: int, yaw_range: float, pitch_range: float) -> tuple[np.ndarray, np.ndarray]:
    """A closed loop of ``frames`` views: ``yaw = A sin(t)``, ``pitch = B sin(2t)``, ``t = 2 pi k / frames``.

    ``A``/``B`` are the ranges clamped to the supported limits; frame ``frames`` would equal frame 0, so the
    sequence loops without a repeated frame. With ``frames % 4 == 0`` the yaw reaches exactly ``+-A``.
    Returns ``(yaw (F,), pitch (F,))`` in degrees.
    """
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    a = min(abs(float(yaw_range)), MAX_YAW)
    b = min(abs(float(pitch_range)), MAX_PITCH)
    t = 2 * math.pi * np.arange(frames) / frames
    return a * np.sin(t), b * np.sin(2 * t)


def orbit_cameras(frames: int = 48, yaw_range: float = 30.0, pitch_range: float = 10.0) -> np.ndarray:
    """Cameras ``(F, 25)`` float32 of :func:`orbit_angles`."""
    yaw, pitch = orbit_angles(frames, yaw_range, pitch_range)
    return orbit_camera(torch.from_numpy(yaw), torch.from_numpy(pitch)).numpy().astype(np.float32)


def grid_cameras(yaws, pitches) -> np.ndarray:
    """Cameras ``(len(pitches) * len(yaws), 25)`` row-major: one row per pitch, yaws along the row (clamped)."""
    yaws, pitches = list(yaws), list(pitches)
    if not yaws or not pitches:
        raise ValueError("grid needs at least one yaw and one pitch")
    cams = [camera_from_angles(*clamp_angles(y, p)[:2]) for p in pitches for y in yaws]
    return np.stack(cams)


# ------------------------------------------------------------------------- images
def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Model images ``(N, 3, H, W)`` in [-1, 1] -> ``(N, H, W, 3)`` uint8."""
    x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> ``(size, size, 3)`` with PIL's Lanczos filter (the input itself if already so)."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.LANCZOS))


def resize_height(image: np.ndarray, height: int) -> np.ndarray:
    """``(H, W, 3)`` uint8 scaled to ``height`` rows, aspect kept (Lanczos)."""
    h, w = image.shape[:2]
    if h == height:
        return image
    width = max(1, round(w * height / h))
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS))


def depth_to_uint8(depth: torch.Tensor, opacity: torch.Tensor, near: float, far: float) -> np.ndarray:
    """Raw-render depth ``(N, 1, h, w)`` and opacity ``(N, 1, h, w)`` -> ``(N, h, w)`` uint8, near = bright.

    The visible surface's distance ``d = (depth - (1 - opacity) * far) / opacity`` (the renderer counts empty
    space at ``far``, docs/conventions.md) is mapped linearly with the *fixed* range of the config,
    ``near -> 255`` and ``far -> 0``, so frames and views are comparable; pixels with ``opacity < 0.5`` are 0.
    """
    op = opacity.detach().float()
    surface = (depth.detach().float() - (1 - op) * far) / op.clamp_min(1e-6)
    v = ((far - surface) / (far - near)).clamp(0, 1) * (op >= 0.5)
    return (v[:, 0] * 255).round().to(torch.uint8).cpu().numpy()


def resize_gray(image: np.ndarray, size: int) -> np.ndarray:
    """``(H, W)`` uint8 -> ``(size, size)`` with PIL's bilinear filter (the input itself if already so)."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))


def side_by_side(driver_frame: np.ndarray, output: np.ndarray) -> np.ndarray:
    """``driver | output``: the driver frame scaled to the output's height, then the output (uint8 RGB)."""
    return np.concatenate([resize_height(np.asarray(driver_frame, np.uint8), output.shape[0]), output], axis=1)


def contact_sheet(images: np.ndarray, cols: int) -> np.ndarray:
    """``(R * cols, H, W, 3)`` -> ``(R * H, cols * W, 3)``, row-major."""
    n, h, w, c = images.shape
    if n % cols:
        raise ValueError(f"{n} images do not fill rows of {cols}")
    rows = n // cols
    return images.reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4).reshape(rows * h, cols * w, c)
