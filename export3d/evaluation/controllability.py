"""``controllability``: does each expression input move the output, and the right part of the face?

For each portrait one input is swept from 0 to 1 at a time (``SWEEPS``; paired blendshapes move
together) while the other 51 stay at the portrait's own extracted expression, at the portrait's own
camera (``Animator.camera_for(signals, ViewSettings())``), rendered by ``Animator.render`` at the app's
output size. The outputs are read by the extractor; per sweep:

* ``slope``, ``r``: least-squares slope and Pearson r of the readout (mean of the swept blendshapes)
  against the input (a perfectly controllable model: slope 1, r 1; r = 0 when the readout never moves);
* for the brow-raise sweep the readout is not a blendshape score but the brow height from the tracker's landmarks
  (``part_contours.brow_height``: brows above the upper lids, in eye widths), because MediaPipe's brow scores do not
  follow raised brows (docs/model.md);
* ``pixel_change``: mean absolute grey-level change between the outputs at input 1 and input 0 inside
  the sweep's face region (``face_regions``; from the portrait's landmarks mapped into the output crop).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from ..errors import FaceInputError
from ..face.crop import CropTransform
from ..face.landmarker import BLENDSHAPE_NAMES
from ..face.part_contours import brow_height
from ..pipeline import Animator, PreparedSource, ViewSettings
from .analysis import FaceAnalyzer
from .face_regions import mean_abs_change, region_mask
from .real_figures import group_readout, nanmean, pearson


@dataclass(frozen=True)
class Sweep:
    name: str
    blendshapes: tuple[str, ...]  #: set together to the input value
    region: str  #: ``face_regions.REGIONS`` key whose pixels should change
    readout: str = "blendshapes"  #: what is read from the outputs: the mean of ``blendshapes``, or "brow_height"


SWEEPS = (
    Sweep("jawOpen", ("jawOpen",), "mouth"),
    Sweep("eyeBlink L+R", ("eyeBlinkLeft", "eyeBlinkRight"), "eyes"),
    Sweep("mouthSmile L+R", ("mouthSmileLeft", "mouthSmileRight"), "mouth"),
    Sweep("browInnerUp", ("browInnerUp",), "brows"),
    Sweep("brows up: brow height", ("browInnerUp", "browOuterUpLeft", "browOuterUpRight"), "brows", "brow_height"),
    Sweep("gaze: eyeLookOutLeft+eyeLookInRight", ("eyeLookOutLeft", "eyeLookInRight"), "eyes"),
)
SUMMARY = ("slope", "r", "pixel_change")


@dataclass
class ControllabilitySettings:
    steps: int = 6  #: input values ``linspace(0, 1, steps)``


@dataclass
class SweepResult:
    inputs: list[float]
    readout: list[float]  #: NaN where no face was read
    slope: float
    r: float
    pixel_change: float


@dataclass
class ControllabilityResult:
    curves: dict[str, dict[str, SweepResult]] = field(default_factory=dict)  #: portrait -> sweep -> result
    kinds: dict[str, str] = field(default_factory=dict)  #: portrait -> "real" | "synthetic"
    skipped: list[str] = field(default_factory=list)
    samples: list[list[np.ndarray]] = field(default_factory=list)  #: per portrait: outputs at input 0 and 1, per sweep

    def summary(self, kind: str) -> dict[str, dict[str, float]]:
        """``{sweep: {slope, r, pixel_change}}`` averaged (NaN-skipping) over the portraits of ``kind``."""
        names = [n for n, k in self.kinds.items() if k == kind and n in self.curves]
        out = {}
        for sw in SWEEPS:
            vals = [self.curves[n][sw.name] for n in names]
            out[sw.name] = {k: nanmean([getattr(v, k) for v in vals]) for k in SUMMARY}
        return out


def sweep_betas(beta0: np.ndarray, sweep: Sweep, values: np.ndarray) -> np.ndarray:
    """``(K, 52)`` float32: ``beta0 (52,)`` with the sweep's blendshapes set to each of ``values (K,)``."""
    betas = np.repeat(np.asarray(beta0, np.float32).reshape(1, -1), len(values), 0)
    betas[:, [BLENDSHAPE_NAMES.index(n) for n in sweep.blendshapes]] = np.asarray(values, np.float32)[:, None]
    return betas


def fit_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(slope, r)`` of ``y`` against ``x`` (both ``(K,)``), skipping NaN ``y``; NaN when < 3 points."""
    ok = ~np.isnan(y)
    if ok.sum() < 3:
        return float("nan"), float("nan")
    slope = float(np.polyfit(x[ok], y[ok], 1)[0])
    return slope, pearson(x[ok], y[ok])


def sweep_portrait(animator: Animator, analyzer: FaceAnalyzer, src: PreparedSource,
                   settings: ControllabilitySettings) -> tuple[dict[str, SweepResult], list[np.ndarray]]:
    """Every sweep of one prepared portrait (one ``render`` call for all of them), and the outputs at input 0
    and 1 of each sweep (``2 * len(SWEEPS)`` images ``(out, out, 3)``) for the sample sheet."""
    values = np.linspace(0.0, 1.0, settings.steps)
    betas = np.concatenate([sweep_betas(src.signals.beta, sw, values) for sw in SWEEPS])
    images = animator.render(src, betas, animator.camera_for(src.signals, ViewSettings()))
    size = images.shape[1]
    points = CropTransform(src.signals.box, size).image_to_crop(src.signals.landmarks)
    readout = analyzer.read(images)
    out, ends = {}, []
    for i, sw in enumerate(SWEEPS):
        part = slice(i * len(values), (i + 1) * len(values))
        if sw.readout == "brow_height":
            y = brow_height(readout.landmarks[part])
        else:
            y = group_readout(readout.beta[part], sw.blendshapes)
        slope, r = fit_line(values, y)
        change = mean_abs_change(images[part][-1], images[part][0], region_mask(points, sw.region, size))
        out[sw.name] = SweepResult(values.tolist(), y.tolist(), slope, r, change)
        ends += [images[part][0], images[part][-1]]
    return out, ends


def evaluate_controllability(animator: Animator, analyzer: FaceAnalyzer, portraits: list[tuple[str, str, object]],
                             settings: ControllabilitySettings | None = None,
                             progress: bool = True) -> ControllabilityResult:
    """``portraits``: ``(name, kind, image (H, W, 3) uint8)``; images the extractor refuses are listed as skipped."""
    settings = settings or ControllabilitySettings()
    res = ControllabilityResult()
    for name, kind, image in tqdm(portraits, desc="controllability", disable=not progress):
        try:
            src = animator.prepare_source(image)
        except FaceInputError as e:
            res.skipped.append(f"{name}: {e}")
            continue
        res.curves[name], ends = sweep_portrait(animator, analyzer, src, settings)
        res.kinds[name] = kind
        res.samples.append(ends)
    return res


def synthetic_portraits(source_frames: np.ndarray, pad: float = 0.5) -> list[tuple[str, str, np.ndarray]]:
    """Benchmark source crops ``(N, S, S, 3)`` as photos: edge-padded by ``pad * S`` on each side, so that the
    extractor's crop (which reaches a little past a tight crop) stays inside the picture."""
    p = int(round(pad * source_frames.shape[1]))
    return [(f"synthetic #{i}", "synthetic", np.pad(f, ((p, p), (p, p), (0, 0)), mode="edge"))
            for i, f in enumerate(source_frames)]


def to_report(res: ControllabilityResult, settings: ControllabilitySettings, png: str | None) -> dict:
    kinds = sorted(set(res.kinds.values()))
    note = (f"{len(res.curves)} portraits ({', '.join(f'{sum(k == x for k in res.kinds.values())} {x}' for x in kinds)}"
            f"); each input swept over {settings.steps} values in [0, 1], the rest at the portrait's own expression "
            "and camera. Ideal: slope 1, r 1. pixel change = mean |grey(input 1) - grey(input 0)| in the region "
            "(mouth for jawOpen/smile, eyes for blink/gaze, brows+eyes for browInnerUp).")
    if res.skipped:
        note += " Not used: " + "; ".join(res.skipped) + "."
    curves = {n: {s: vars(v) for s, v in c.items()} for n, c in res.curves.items()}
    return {"summary": {k: res.summary(k) for k in kinds}, "curves": curves, "kinds": res.kinds,
            "skipped": res.skipped, "plot": png, "note": note}

