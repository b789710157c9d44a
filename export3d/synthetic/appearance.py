"""Procedural identity appearance: skin, lips, brows, eyes, teeth, hair, beard; lights; backgrounds.

Albedo is defined per vertex of the template (smooth semantic masks, low-frequency
solid noise in canonical head coordinates) and refined per pixel with solid noise
of the interpolated canonical position (freckles, pores, hair strands). Solid
texturing in canonical 3-D space has no UV seams and deforms with the mesh.
All colours are linear RGB in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .noise import value_noise
from .semantics import MATERIALS, FaceSemantics

SKIN_TONES = np.array([  # very light .. very dark (sRGB-ish albedo, converted to linear below)
    [0.98, 0.86, 0.78], [0.95, 0.78, 0.66], [0.89, 0.70, 0.56], [0.80, 0.58, 0.43],
    [0.66, 0.46, 0.33], [0.52, 0.34, 0.23], [0.38, 0.24, 0.16], [0.24, 0.15, 0.10],
]) ** 2.2
HAIR_COLOURS = np.array([
    [0.04, 0.03, 0.03], [0.12, 0.08, 0.05], [0.28, 0.18, 0.10], [0.55, 0.40, 0.22],
    [0.85, 0.70, 0.45], [0.55, 0.22, 0.10], [0.60, 0.60, 0.60], [0.92, 0.92, 0.90],
]) ** 2.2
IRIS_COLOURS = np.array([
    [0.25, 0.13, 0.06], [0.40, 0.25, 0.10], [0.35, 0.40, 0.20], [0.25, 0.45, 0.65],
    [0.45, 0.50, 0.55], [0.15, 0.08, 0.04],
]) ** 2.2
HAIR_STYLES = ("bald", "short", "medium", "long")


@dataclass
class Appearance:
    skin: np.ndarray  #: (3,) base albedo
    skin_variation: float  #: amplitude of low-frequency tint noise
    freckles: float  #: 0 none .. 1 dense
    lip: np.ndarray  #: (3,)
    brow_thickness: float  #: cm
    hair: np.ndarray  #: (3,)
    hair_style: str
    hairline: float  #: cm above the template eye line where the scalp hair starts (front)
    beard: float  #: 0 none .. 1 full
    iris: np.ndarray  #: (3,)
    pupil_radius: float  #: cm
    noise_seed: int
    shirt: np.ndarray = field(default_factory=lambda: np.full(3, 0.2))  #: (3,) clothes albedo
    hair_volume: float = 1.0  #: factor on the hair style's shell thickness


def sample_appearance(rng: np.random.Generator) -> Appearance:
    t = rng.uniform(0, len(SKIN_TONES) - 1)
    i = int(t)
    skin = SKIN_TONES[i] * (1 - (t - i)) + SKIN_TONES[min(i + 1, len(SKIN_TONES) - 1)] * (t - i)
    skin = skin * rng.uniform(0.9, 1.1, 3) ** 0.5
    hair = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.8, 1.2, 3)
    lip = skin * np.array([1.0, 0.55, 0.55]) * rng.uniform(0.7, 1.0) + np.array([0.08, 0.0, 0.01])
    return Appearance(
        skin=np.clip(skin, 0, 1), skin_variation=rng.uniform(0.03, 0.12),
        freckles=float(rng.uniform(0, 1) ** 3 if rng.random() < 0.4 else 0.0),
        lip=np.clip(lip, 0, 1), brow_thickness=rng.uniform(0.3, 0.75),
        hair=np.clip(hair, 0, 1), hair_style=HAIR_STYLES[rng.choice(4, p=[0.12, 0.38, 0.25, 0.25])],
        hairline=rng.uniform(5.5, 8.0), beard=float(rng.uniform(0.3, 1.0) if rng.random() < 0.25 else 0.0),
        iris=IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))] * rng.uniform(0.8, 1.2, 3),
        pupil_radius=rng.uniform(0.18, 0.28), noise_seed=int(rng.integers(2**31)),
        shirt=rng.uniform(0.03, 0.85, 3) ** 1.8, hair_volume=rng.uniform(0.7, 1.4),  # drawn last: old draws unchanged
    )


def _smooth(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def hair_coverage(sem: FaceSemantics, app: Appearance) -> np.ndarray:
    """``(V,)`` scalp-hair coverage in [0, 1]."""
    x, y, z = sem.canonical.T
    if app.hair_style == "bald":
        # a fringe of hair around the back and sides only
        return _smooth(-4.0, -2.0, -z) * _smooth(-3, -1, y) * _smooth(9, 7, y) * sem.is_scalp
    eye_y = 3.44
    line = eye_y + app.hairline + 0.12 * x**2 / 4  # the hairline recedes at the temples
    front = _smooth(line - 0.3, line + 0.3, y) * (sem.is_face | sem.is_scalp)
    bottom = {"short": -1.5, "medium": -6.0, "long": -13.0}[app.hair_style]
    ear = (np.abs(x) > 6.8) & (y > -3) & (y < 5.5) & (np.abs(z) < 4.5)
    back = sem.is_scalp & (y > bottom) & (z < 4.0) & ~(ear & (app.hair_style == "short"))
    side = (sem.is_face | sem.is_scalp) & (np.abs(x) > 6.2) & (y > 3.0) & (z < 6.5)
    return np.clip(np.maximum(front, np.maximum(back, side).astype(np.float32)), 0, 1)


def vertex_albedo(sem: FaceSemantics, app: Appearance) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertex albedo ``(V, 3)`` and detail masks ``(V, 3)``: (freckle, hair, skin)."""
    p = sem.canonical
    tint = value_noise(p * 0.25, app.noise_seed, octaves=2)[:, None] - 0.5
    blotch = value_noise(p * 0.8 + 17.0, app.noise_seed + 1, octaves=2)[:, None] - 0.5
    albedo = app.skin[None] * (1 + app.skin_variation * (tint * 2) + 0.05 * blotch * np.array([0.5, -0.5, -0.5]))
    lips = _smooth(0.15, -0.1, sem.lip_dist)[:, None]
    albedo = albedo * (1 - lips) + app.lip[None] * lips
    brows = _smooth(app.brow_thickness, app.brow_thickness * 0.4, sem.brow_dist)[:, None]
    brow_colour = app.hair * 0.8 if app.hair.mean() < 0.5 else app.hair * 0.5
    albedo = albedo * (1 - 0.85 * brows) + brow_colour[None] * 0.85 * brows
    beard = _beard(sem, app)[:, None]
    hair = np.maximum(hair_coverage(sem, app), beard[:, 0])
    albedo = albedo * (1 - hair[:, None]) + app.hair[None] * hair[:, None]
    albedo = _materials(sem, app, albedo)
    skin = (sem.material == 0).astype(np.float32)
    freckle = skin * sem.is_face * app.freckles * _smooth(9.0, 4.0, np.abs(p[:, 1] - 1.0))
    return np.clip(albedo, 0, 1).astype(np.float32), np.stack([freckle, hair, skin], 1).astype(np.float32)


def _beard(sem: FaceSemantics, app: Appearance) -> np.ndarray:
    if app.beard <= 0:
        return np.zeros(len(sem.canonical), dtype=np.float32)
    x, y, z = sem.canonical.T
    lower = _smooth(-0.5, -1.5, y) * _smooth(-14, -10, y) * (z > 0)
    moustache = _smooth(-0.3, -0.8, y) * _smooth(3.2, 2.4, np.abs(x)) * (z > 8)
    not_lip = _smooth(-0.05, 0.25, sem.lip_dist)
    return (np.maximum(lower, moustache) * not_lip * sem.is_face * app.beard).astype(np.float32)


def _materials(sem: FaceSemantics, app: Appearance, albedo: np.ndarray) -> np.ndarray:
    m = sem.material
    colours = {
        "sclera": np.array([0.80, 0.76, 0.72]), "teeth": np.array([0.78, 0.74, 0.64]),
        "gums": np.array([0.55, 0.15, 0.15]), "mouth": np.array([0.12, 0.03, 0.03]),
        "lashes": np.array([0.02, 0.015, 0.01]), "caruncle": np.array([0.70, 0.35, 0.35]),
    }
    out = albedo.copy()
    for name, colour in colours.items():
        out[m == MATERIALS.index(name)] = colour
    iris = m == MATERIALS.index("iris")
    r = sem.iris_radius[iris][:, None]
    out[iris] = np.where(r < app.pupil_radius, 0.01, np.where(r < 0.62, app.iris, colours["sclera"]))
    return out


def pixel_detail(canonical: np.ndarray, masks: np.ndarray, seed: int) -> np.ndarray:
    """Multiplicative albedo detail ``(N, 1)`` from solid noise at canonical positions ``(N, 3)``."""
    freckle, hair, skin = masks[:, 0:1], masks[:, 1:2], masks[:, 2:3]
    f = value_noise(canonical * 3.0, seed + 2, octaves=1)[:, None]
    freckles = 1 - 0.45 * freckle * _smooth(0.62, 0.75, f)
    pores = 1 + 0.05 * skin * (value_noise(canonical * 9.0, seed + 3, octaves=1)[:, None] - 0.5)
    strands = value_noise(canonical * np.array([6.0, 1.0, 6.0]), seed + 4, octaves=2)[:, None]
    return freckles * pores * (1 + hair * 0.5 * (strands - 0.5))


@dataclass
class Lighting:
    direction: np.ndarray  #: (3,) unit vector towards the light (world)
    colour: np.ndarray  #: (3,)
    ambient: np.ndarray  #: (3,) ambient colour
    sky: float  #: extra light from above (hemispheric term)


def sample_lighting(rng: np.random.Generator) -> Lighting:
    d = np.array([rng.uniform(-1, 1), rng.uniform(-0.3, 1.0), rng.uniform(0.3, 1.2)])
    warm = rng.uniform(-0.1, 0.1)
    return Lighting(direction=d / np.linalg.norm(d), colour=np.array([1 + warm, 1.0, 1 - warm]) * rng.uniform(0.6, 1.0),
                    ambient=np.full(3, rng.uniform(0.25, 0.5)), sky=rng.uniform(0.0, 0.25))


def shade(albedo: np.ndarray, normals: np.ndarray, light: Lighting) -> np.ndarray:
    """Lambert + ambient + hemispheric sky: ``(N, 3)`` linear RGB."""
    n = normals / np.maximum(np.linalg.norm(normals, axis=-1, keepdims=True), 1e-8)
    diffuse = np.clip(n @ light.direction, 0, None)[:, None] * light.colour[None]
    sky = light.sky * (0.5 + 0.5 * n[:, 1:2])
    return albedo * (light.ambient[None] + diffuse + sky)


def sample_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """``(size, size, 3)`` float32 linear RGB background: solid, gradient or noise texture."""
    c1, c2 = rng.uniform(0.02, 0.9, 3) ** 1.5, rng.uniform(0.02, 0.9, 3) ** 1.5
    kind = rng.integers(3)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    if kind == 0:
        t = np.zeros_like(xx)
    elif kind == 1:
        a = rng.uniform(0, 2 * np.pi)
        t = np.clip(0.5 + (np.cos(a) * (xx - 0.5) + np.sin(a) * (yy - 0.5)), 0, 1)
    else:
        t = value_noise(np.stack([xx, yy], -1).reshape(-1, 2) * rng.uniform(2, 8), int(rng.integers(2**31)),
                           octaves=3).reshape(size, size)
    img = c1[None, None] * (1 - t[..., None]) + c2[None, None] * t[..., None]
    return img.astype(np.float32)
