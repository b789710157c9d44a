"""Synthetic clips: one person, one light, one background, a talking motion at 25 fps.

Seeds: a clip is fully determined by ``(split, clip index, base seed)``. Identity
seeds of the train split are ``[0, TEST_SEED_OFFSET)`` and of the test split
``[TEST_SEED_OFFSET, ...)``, so the two never share a person.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..rendering.camera import LOOK_AT, orbit_camera, roll_camera
from .appearance import Lighting, sample_background, sample_lighting
from .correspondence import correspondence
from .motion import Motion, MotionConfig, sample_motion
from .scene import Frame, Person, PreparedPerson, SceneRenderer

TEST_SEED_OFFSET = 1_000_000
FLOW_STEPS = 32  #: stored flows are rounded to 1/32 pixel (exact in float16 up to 64 px)
SPLITS = ("train", "test")


def identity_seed(split: str, index: int) -> int:
    """The person of identity ``index`` in ``split``; train and test ranges are disjoint."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if not 0 <= index < TEST_SEED_OFFSET:
        raise ValueError(f"identity index out of range: {index}")
    return index + (TEST_SEED_OFFSET if split == "test" else 0)


def cameras_for(yaw, pitch, roll, translation) -> torch.Tensor:
    """25-number cameras ``(F, 25)`` for per-frame pose arrays (degrees; translation ``(F, 3)``)."""
    yaw, pitch, roll = (np.asarray(a, dtype=np.float32).reshape(-1) for a in (yaw, pitch, roll))
    trans = np.asarray(translation, dtype=np.float32).reshape(-1, 3)
    cams = [orbit_camera(float(y), float(p), look_at=tuple(np.add(LOOK_AT, t)))
            for y, p, t in zip(yaw, pitch, trans, strict=True)]
    return roll_camera(torch.cat(cams), torch.from_numpy(roll))


@dataclass
class ClipSpec:
    person: Person
    motion: Motion
    lighting: Lighting
    background: np.ndarray  #: (S, S, 3) float32 linear RGB
    cameras: torch.Tensor  #: (F, 25)


def make_clip_spec(split: str, clip_index: int, num_frames: int, size: int, base_seed: int = 0,
                   clips_per_identity: int = 1, motion_cfg: MotionConfig | None = None) -> ClipSpec:
    person = Person.from_seed(identity_seed(split, clip_index // clips_per_identity))
    rng = np.random.default_rng([base_seed, SPLITS.index(split), clip_index])
    motion = sample_motion(num_frames, rng, motion_cfg or MotionConfig())
    return ClipSpec(person, motion, sample_lighting(rng), sample_background(rng, size),
                    cameras_for(motion.yaw, motion.pitch, motion.roll, motion.translation))


def render_frames(renderer: SceneRenderer, prepared: PreparedPerson, expressions: np.ndarray,
                  cameras: torch.Tensor, lighting: Lighting, background: np.ndarray,
                  body_camera: torch.Tensor | None = None) -> list[Frame]:
    """One frame per (expression, camera); ``body_camera`` None = the body stays still while the head turns."""
    return [renderer.render(prepared, e, c, lighting, background, body_camera)
            for e, c in zip(expressions, cameras, strict=True)]


def stack_frames(frames: list[Frame]) -> dict[str, np.ndarray]:
    """Frames -> arrays: image (F,S,S,3) u8, mask (F,S,S) u8, landmarks2d (F,68,2), landmarks3d (F,68,3),
    foreground (F,S,S) u8 0/1 and part (F,S,S) u8 ``parts.Part`` at pixel centres."""
    return {
        "frames": np.stack([f.image for f in frames]),
        "masks": np.stack([(f.mask * 255 + 0.5).astype(np.uint8) for f in frames]),
        "landmarks2d": np.stack([f.landmarks2d for f in frames]),
        "landmarks3d": np.stack([f.landmarks3d for f in frames]),
        "foreground": np.stack([f.foreground for f in frames]).astype(np.uint8),
        "part": np.stack([f.part for f in frames]),
    }


def correspondences(frames: list[Frame], source: Frame, tris: np.ndarray) -> dict[str, np.ndarray]:
    """Fields from every frame to ``source``: flow (F,S,S,2) float16, the source pixel (x, y) minus the pixel's
    own centre rounded to ``1 / FLOW_STEPS`` px, and visible (F,S,S) u8 0/1 (``correspondence.py``; ``tris`` = the
    person's ``mesh.tris``). The rounding (at most 1/64 px) halves the compressed size of the flow."""
    fields = [correspondence(f.surface, source.surface, source.vertices, source.camera, tris) for f in frames]
    flow = np.round(np.stack([c.flow for c in fields]) * FLOW_STEPS) / FLOW_STEPS
    return {"flow": flow.astype(np.float16),
            "visible": np.stack([c.visible for c in fields]).astype(np.uint8)}


def render_clip(renderer: SceneRenderer, spec: ClipSpec) -> dict[str, np.ndarray]:
    """All arrays of one clip (see ``dataset.py`` for the field list)."""
    prepared = renderer.prepare(spec.person)
    frames = render_frames(renderer, prepared, spec.motion.expression, spec.cameras, spec.lighting, spec.background)
    out = stack_frames(frames) | correspondences(frames, frames[0], prepared.mesh.tris)
    m = spec.motion
    out.update(
        expression=m.expression.astype(np.float32), camera=spec.cameras.numpy().astype(np.float32),
        pose=np.stack([m.yaw, m.pitch, m.roll], 1).astype(np.float32), identity=spec.person.shape,
        identity_seed=np.int64(spec.person.seed),
    )
    return out
