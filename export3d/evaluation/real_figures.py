"""The figures of the real-portrait sets, as pure numpy on ``FaceReadout`` s (no model files).

* ``identity``: mean SFace cosine, output frames vs the source portrait (higher = identity kept);
* ``collapse``: mean SFace cosine between outputs of *different* portraits under the same driver frame
  (lower = people stay apart; compare with the same figure for the portraits themselves);
* ``jaw_r``, ``blink_r``, ``smile_r``: Pearson r across frames of the extractor's readout, driver vs output
  (jawOpen; mean of eyeBlinkLeft/Right; mean of mouthSmileLeft/Right);
* ``eyes_open_blink``: mean output eyeBlink readout on frames where the driver's eyes are open
  (lower = the eyes are open when they should be);
* ``pose_error``: mean absolute yaw/pitch/roll difference (degrees), output read vs the pose asked for: the
  driver's read pose for an absolute camera, the portrait's plus the driver's motion for a relative one;
* ``face_found``: share of output frames in which the extractor reads a face.

Pearson r conventions: frames where either readout is missing are dropped; fewer than ``MIN_FRAMES``
frames or a driver that does not move gives NaN (nothing to follow); an output that does not move while
the driver does gives 0 (it follows nothing, e.g. the copy-source baseline).
"""

from __future__ import annotations

import numpy as np

from ..face.landmarker import BLENDSHAPE_NAMES
from .analysis import FaceReadout

MIN_FRAMES = 3
EYES_OPEN = 0.3  #: driver frames with a mean eyeBlink readout below this count as eyes open
FLAT = 1e-6  #: a readout whose standard deviation is below this does not move

#: readout groups: figure name -> blendshapes averaged
GROUPS = {"jaw": ("jawOpen",), "blink": ("eyeBlinkLeft", "eyeBlinkRight"),
          "smile": ("mouthSmileLeft", "mouthSmileRight")}
FIGURES = ("identity", "collapse", "jaw_r", "blink_r", "smile_r", "eyes_open_blink", "pose_error", "face_found")
HIGHER_IS_BETTER = {"identity": True, "collapse": False, "jaw_r": True, "blink_r": True, "smile_r": True,
                    "eyes_open_blink": False, "pose_error": False, "face_found": True}


def group_readout(beta: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """``(N,)`` mean of the named blendshapes of ``beta (N, 52)`` (NaN rows stay NaN)."""
    return beta[:, [BLENDSHAPE_NAMES.index(n) for n in names]].mean(1)


def pearson(driver: np.ndarray, output: np.ndarray) -> float:
    """Pearson r of two ``(N,)`` sequences with the conventions of the module docstring."""
    d, o = np.asarray(driver, np.float64), np.asarray(output, np.float64)
    ok = ~(np.isnan(d) | np.isnan(o))
    d, o = d[ok], o[ok]
    if len(d) < MIN_FRAMES or d.std() < FLAT:
        return float("nan")
    if o.std() < FLAT:
        return 0.0
    return float(np.corrcoef(d, o)[0, 1])


def identity_similarity(output: FaceReadout, source_identity: np.ndarray) -> float:
    """Mean cosine of the output embeddings ``(N, 128)`` with ``source_identity (128,)``; NaN-skipping."""
    return nanmean(output.identity @ source_identity)


def collapse(identity: np.ndarray) -> float:
    """Mean cosine between different people at the same frame.

    Args:
        identity: ``(P, F, 128)`` unit embeddings of P people's outputs under the same F driver frames
            (NaN rows where no face was read).
    Returns:
        mean over all pairs ``p < q`` and frames of ``<identity[p, f], identity[q, f]>``; NaN for one person.
    """
    p = len(identity)
    sims = [np.sum(identity[a] * identity[b], axis=-1) for a in range(p) for b in range(a + 1, p)]
    return nanmean(np.concatenate(sims)) if sims else float("nan")


def pose_error(output: FaceReadout, target_angles: np.ndarray) -> float:
    """Mean absolute yaw/pitch/roll difference in degrees between the output's read pose and ``target_angles
    (N, 3)`` (the pose asked for), over frames where both are known."""
    return nanmean(np.abs(output.angles - target_angles).mean(1))


def relative_target(portrait_angles: np.ndarray, driver: FaceReadout) -> np.ndarray:
    """The pose a relative camera asks for, in readout terms: ``(N, 3)`` = the portrait's read pose ``(3,)`` plus
    the driver's read motion since its first frame."""
    return np.asarray(portrait_angles)[None] + driver.angles - driver.angles[:1]


def eyes_open_blink(output: FaceReadout, driver: FaceReadout) -> float:
    """Mean output eyeBlink readout on frames where the driver's eyes are open (``< EYES_OPEN``)."""
    drv = group_readout(driver.beta, GROUPS["blink"])
    out = group_readout(output.beta, GROUPS["blink"])
    return nanmean(out[drv < EYES_OPEN])


def pair_figures(output: FaceReadout, driver: FaceReadout, source_identity: np.ndarray,
                 target_angles: np.ndarray | None = None) -> dict[str, float]:
    """Every per-pair figure (all of ``FIGURES`` but ``collapse``) of one portrait driven by one clip;
    ``target_angles (N, 3)``: the pose asked for (default: the driver's read pose, an absolute camera)."""
    figs = {"identity": identity_similarity(output, source_identity)}
    for name, names in GROUPS.items():
        figs[f"{name}_r"] = pearson(group_readout(driver.beta, names), group_readout(output.beta, names))
    figs["eyes_open_blink"] = eyes_open_blink(output, driver)
    figs["pose_error"] = pose_error(output, driver.angles if target_angles is None else target_angles)
    figs["face_found"] = float(output.found.mean()) if len(output.found) else float("nan")
    return figs


def mean_figures(rows: list[dict[str, float]]) -> dict[str, float]:
    """NaN-skipping mean of each figure over ``rows``."""
    keys = [k for k in FIGURES if any(k in r for r in rows)]
    return {k: nanmean(np.array([r.get(k, np.nan) for r in rows], np.float64)) for k in keys}


def nanmean(values) -> float:
    """Mean of the non-NaN values; NaN when there are none."""
    v = np.asarray(values, np.float64)
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else float("nan")
