"""Linear corrections of the extractor, fitted on synthetic renders with exact ground truth.

* pose: ``[yaw, pitch, roll]_true ~ A @ [yaw, pitch, roll, 1]_mediapipe`` (A is 3x4);
* beta: ``beta_true ~ clip([beta_mp, eye_features] @ W + b, 0, 1)`` (W is 58x52, ridge regression;
  ``eye_features.py`` adds eyelid opening and iris offsets, which carry blinks, winks and gaze).

Fitted by ``python -m export3d.synthetic calibrate`` (``synthetic/calibrate_extractor.py``) and shipped as a small
safetensors file next to this module. Without the file both corrections are the identity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from ..blendshapes import BETA_DIM

DEFAULT_PATH = Path(__file__).with_name("calibration.safetensors")
NUM_EYE = 6


def _identity_weight() -> np.ndarray:
    return np.vstack([np.eye(BETA_DIM), np.zeros((NUM_EYE, BETA_DIM))])


@dataclass
class Calibration:
    pose: np.ndarray = field(default_factory=lambda: np.hstack([np.eye(3), np.zeros((3, 1))]))  #: (3, 4)
    beta_weight: np.ndarray = field(default_factory=_identity_weight)  #: (58, 52)
    beta_bias: np.ndarray = field(default_factory=lambda: np.zeros(BETA_DIM))  #: (52,)
    info: dict = field(default_factory=dict)  #: how it was fitted (command, data, errors)

    @property
    def is_identity(self) -> bool:
        return (np.allclose(self.pose, np.hstack([np.eye(3), np.zeros((3, 1))]))
                and np.allclose(self.beta_weight, _identity_weight()) and not self.beta_bias.any())

    def apply_pose(self, yaw: float, pitch: float, roll: float) -> tuple[float, float, float]:
        y, p, r = self.pose @ np.array([yaw, pitch, roll, 1.0])
        return float(y), float(p), float(r)

    def apply_beta(self, beta: np.ndarray, eye: np.ndarray) -> np.ndarray:
        """Raw scores ``(..., 52)`` and eye features ``(..., 6)`` -> corrected scores in [0, 1]."""
        x = np.concatenate([np.asarray(beta, np.float64), np.asarray(eye, np.float64)], axis=-1)
        return np.clip(x @ self.beta_weight + self.beta_bias, 0, 1).astype(np.float32)

    def save(self, path: str | Path = DEFAULT_PATH) -> Path:
        tensors = {k: np.ascontiguousarray(v, dtype=np.float32)  # safetensors writes the raw buffer
                   for k, v in (("pose", self.pose), ("beta_weight", self.beta_weight), ("beta_bias", self.beta_bias))}
        save_file(tensors, str(path), metadata={"info": json.dumps(self.info)})
        return Path(path)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_PATH) -> "Calibration":
        """The fitted calibration, or the identity when ``path`` does not exist."""
        path = Path(path)
        if not path.is_file():
            return cls()
        from safetensors import safe_open

        with safe_open(str(path), "np") as f:
            info = json.loads((f.metadata() or {}).get("info", "{}"))
        t = load_file(str(path))
        return cls(t["pose"].astype(np.float64), t["beta_weight"].astype(np.float64),
                   t["beta_bias"].astype(np.float64), info)


def fit_pose(raw: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Least squares ``(3, 4)`` from raw angles ``(N, 3)`` to true angles ``(N, 3)``."""
    x = np.hstack([raw, np.ones((len(raw), 1))])
    sol, *_ = np.linalg.lstsq(x, true, rcond=None)
    return sol.T


def fit_beta(raw: np.ndarray, eye: np.ndarray, true: np.ndarray, ridge: float = 1e-2
             ) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression on standardised inputs -> ``(58, 52)`` weight and ``(52,)`` bias.

    Targets without ground truth (e.g. "_neutral") keep the raw score.
    """
    x = np.hstack([raw, eye])
    mean, std = x.mean(0), x.std(0) + 1e-6
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    reg = ridge * len(x) * np.eye(z.shape[1])
    reg[-1, -1] = 0.0
    sol = np.linalg.solve(z.T @ z + reg, z.T @ true)
    weight = sol[:-1] / std[:, None]
    bias = sol[-1] - mean @ weight
    unmapped = ~true.any(axis=0)
    weight[:, unmapped] = _identity_weight()[:, unmapped]
    bias[unmapped] = 0.0
    return weight, bias
