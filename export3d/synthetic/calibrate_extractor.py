"""Fit and measure the extractor against synthetic renders with exact pose and expression.

``python -m export3d.synthetic calibrate`` renders train-split people (random expression from
talking motion plus sparse random shapes, yaw ±30°, pitch ±15°, roll ±10°), runs the
uncalibrated extractor, fits ``Calibration`` and saves it. ``python -m export3d.synthetic measure``
evaluates any calibration on test-split people (never seen by the fit).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..errors import FaceInputError
from ..face.calibration import Calibration, fit_beta, fit_pose
from ..face.extractor import ExtractorSettings, FaceExtractor
from ..rendering.camera import camera_from_angles
from .appearance import sample_background, sample_lighting
from .arkit import ict_to_arkit
from .clips import identity_seed
from .motion import sample_motion


@dataclass
class Sample:
    true_angles: np.ndarray  #: (3,)
    true_beta: np.ndarray  #: (52,) ICT weights mapped to the beta order
    raw_angles: np.ndarray  #: (3,) extractor output without calibration
    raw_beta: np.ndarray  #: (52,)
    eye: np.ndarray  #: (6,) eye features
    identity: int
    expression_id: int


def random_expression(rng: np.random.Generator) -> np.ndarray:
    """A talking-motion frame plus a few random shapes, ``(57,)`` in [0, 1]."""
    e = sample_motion(8, rng).expression[int(rng.integers(8))].copy()
    k = rng.integers(0, 4)
    e[rng.choice(57, size=k, replace=False)] += rng.uniform(0.3, 1.0, size=k)
    return np.clip(e, 0, 1)


def render_samples(split: str, identities: int, per_identity: int, size: int = 256, seed: int = 0,
                   shared_expressions: bool = False, progress: bool = True) -> list[Sample]:
    """Render and extract. With ``shared_expressions`` every identity gets the same expressions and
    poses (to measure how beta changes with identity alone)."""
    from .ict_model import ICTFaceModel
    from .scene import Person, SceneRenderer

    torch.set_num_threads(1)
    renderer = SceneRenderer(ICTFaceModel(), size)
    extractor = FaceExtractor(ExtractorSettings(), Calibration())
    rng = np.random.default_rng([seed, 5])
    shared = [(random_expression(rng), _random_pose(rng)) for _ in range(per_identity)]
    out = []
    for i in tqdm(range(identities), desc=f"{split} identities", disable=not progress):
        prep = renderer.prepare(Person.from_seed(identity_seed(split, i)))
        for j in range(per_identity):
            expr, pose = shared[j] if shared_expressions else (random_expression(rng), _random_pose(rng))
            cam = torch.from_numpy(camera_from_angles(*pose))
            frame = renderer.render(prep, expr, cam, sample_lighting(rng), sample_background(rng, size))
            try:
                s = extractor.extract(frame.image)
            except FaceInputError:
                continue
            raw_angles = np.array(s.angles)  # identity calibration: these are raw
            out.append(Sample(np.array(pose), ict_to_arkit(expr), raw_angles, s.beta_raw, s.eye, i, j))
    return out


def _random_pose(rng: np.random.Generator) -> tuple[float, float, float]:
    return float(rng.uniform(-30, 30)), float(rng.uniform(-15, 15)), float(rng.uniform(-10, 10))


def fit(samples: list[Sample], command: str) -> Calibration:
    raw_a = np.stack([s.raw_angles for s in samples])
    true_a = np.stack([s.true_angles for s in samples])
    raw_b, true_b = np.stack([s.raw_beta for s in samples]), np.stack([s.true_beta for s in samples])
    w, b = fit_beta(raw_b, np.stack([s.eye for s in samples]), true_b)
    cal = Calibration(fit_pose(raw_a, true_a), w, b)
    cal.info = {"command": command, "samples": len(samples), "fitted": time.strftime("%Y-%m-%d")}
    return cal


KEY_SHAPES = ("jawOpen", "eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft", "mouthSmileRight", "browInnerUp",
              "browOuterUpLeft", "eyeLookOutLeft", "eyeLookInLeft", "eyeLookUpLeft", "eyeLookDownLeft",
              "mouthPucker", "mouthFunnel")


def measure(samples: list[Sample], cal: Calibration) -> dict:
    """Pose MAE (degrees), per-shape Pearson correlation, wink/blink detection, before and after calibration."""
    from ..blendshapes import BLENDSHAPE_NAMES

    raw_a = np.stack([s.raw_angles for s in samples])
    true_a = np.stack([s.true_angles for s in samples])
    cal_a = np.stack([cal.apply_pose(*a) for a in raw_a])
    raw_b, true_b = np.stack([s.raw_beta for s in samples]), np.stack([s.true_beta for s in samples])
    cal_b = cal.apply_beta(raw_b, np.stack([s.eye for s in samples]))
    res = {"n": len(samples),
           "pose_mae_raw": dict(zip(("yaw", "pitch", "roll"), np.abs(raw_a - true_a).mean(0).round(2).tolist(),
                                    strict=True)),
           "pose_mae": dict(zip(("yaw", "pitch", "roll"), np.abs(cal_a - true_a).mean(0).round(2).tolist(),
                                strict=True))}
    corr = {}
    for name in KEY_SHAPES:
        j = BLENDSHAPE_NAMES.index(name)
        corr[name] = (round(_pearson(raw_b[:, j], true_b[:, j]), 3), round(_pearson(cal_b[:, j], true_b[:, j]), 3))
    res["correlation_raw_calibrated"] = corr
    res["beta_mae_raw"] = float(np.abs(raw_b - true_b)[:, 1:].mean().round(4))
    res["beta_mae"] = float(np.abs(cal_b - true_b)[:, 1:].mean().round(4))
    return res


def identity_leakage(samples: list[Sample], cal: Calibration) -> dict:
    """Spread of beta across identities at a fixed true expression and pose, relative to the spread
    across expressions (0 = no identity leakage)."""
    by_expr: dict[int, list[np.ndarray]] = {}
    for s in samples:
        by_expr.setdefault(s.expression_id, []).append(cal.apply_beta(s.raw_beta, s.eye))
    within = np.mean([np.std(np.stack(v), axis=0).mean() for v in by_expr.values() if len(v) > 1])
    means = np.stack([np.mean(v, axis=0) for v in by_expr.values()])
    across = np.std(means, axis=0).mean()
    return {"std_across_identities": float(round(within, 4)), "std_across_expressions": float(round(across, 4)),
            "ratio": float(round(within / max(across, 1e-9), 3))}


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() < 1e-9 or b.std() < 1e-9:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


# ----------------------------------------------------------------------------- commands
def cmd_calibrate(a) -> None:
    samples = render_samples("train", a.identities, a.per_identity, seed=a.seed)
    cal = fit(samples, " ".join(["python -m export3d.synthetic"] + sys.argv[1:]))
    cal.info["fit_on_train"] = measure(samples, cal)
    path = cal.save(a.out) if a.out else cal.save()
    print(json.dumps(cal.info, indent=2))
    print(f"saved {path}")


def cmd_measure(a) -> None:
    from ..face.calibration import Calibration

    cal = Calibration.load(a.calibration) if a.calibration else Calibration.load()
    res = measure(render_samples("test", a.identities, a.per_identity, seed=a.seed + 1), cal)
    shared = render_samples("test", a.leak_identities, a.leak_expressions, seed=a.seed + 2, shared_expressions=True)
    res["identity_leakage"] = identity_leakage(shared, cal)
    print(json.dumps(res, indent=2))


def add_commands(sub) -> None:
    """The ``calibrate`` and ``measure`` commands of ``python -m export3d.synthetic``."""
    c = sub.add_parser("calibrate")
    c.add_argument("--identities", type=int, default=60)
    c.add_argument("--per-identity", type=int, default=20)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out", type=Path, default=None)
    c.set_defaults(func=cmd_calibrate)
    m = sub.add_parser("measure")
    m.add_argument("--identities", type=int, default=20)
    m.add_argument("--per-identity", type=int, default=15)
    m.add_argument("--leak-identities", type=int, default=12)
    m.add_argument("--leak-expressions", type=int, default=10)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--calibration", type=Path, default=None)
    m.set_defaults(func=cmd_measure)
