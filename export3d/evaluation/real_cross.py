"""``real_cross``: real portraits driven by every real talking-head clip, through the app's own code path.

Each portrait (every file of ``--portraits`` that ``load_image`` reads, plus ``skimage.data.astronaut()``)
is prepared with ``Animator.prepare_source``; each driver clip (first ``seconds`` of every GRID video) is
tracked with ``Animator.extractor.track`` at the app's smoothing (0.5); frames are rendered with the app's
defaults (relative camera: the portrait's own pose plus the driver's head motion since its first frame,
``Animator.camera_for(signals, ViewSettings(), portrait, first)``, with the driver's framing, ``jobs.framing_track``;
the app's auto expression transfer at strength
1, i.e. relative to the driver's first frame for a video: ``ExpressionSettings().resolved(video=True)``), every
``stride``-th frame kept. ``pose_error`` of every
method is measured against that pose (the portrait's read pose plus the driver's read motion).

Three methods, all at the app's output crop size (``Animator.output_size``):

* ``Export3D (ours)``: ``Animator.render``;
* ``copy source``: the portrait's own crop (``CropTransform(box, out).warp(photo)``) in every frame;
* ``2D landmark warp``: ``landmark_warp.LandmarkWarp`` of that crop (no model).

Outputs and driver frames are read by the evaluation's ``FaceAnalyzer``; the figures are in
``real_figures``. Sample sheet: first driver clip, one row per portrait.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import FaceInputError
from ..face.crop import CropTransform
from ..face.extractor import FaceSignals
from ..face.framing import reframe
from ..media.image import load_image
from ..media.kind import suffix_kind
from ..media.video import iter_frames
from ..pipeline import Animator, ExpressionSettings, PreparedSource, ViewSettings, transfer_expression
from ..pipeline.jobs import framing_track
from .analysis import FaceAnalyzer, FaceReadout
from .landmark_warp import LandmarkWarp
from .real_figures import collapse, mean_figures, nanmean, pair_figures, relative_target
from .scoring import repeat_readout

OURS, COPY, WARP = "Export3D (ours)", "copy source", "2D landmark warp"
METHODS = (OURS, COPY, WARP)
ASTRONAUT = "astronaut (skimage)"
FPS = 25.0  #: GRID's frame rate (used for the tracker's smoothing filter)


@dataclass
class RealCrossSettings:
    seconds: float = 2.0  #: first seconds of each driver clip
    stride: int = 2  #: keep every stride-th tracked frame
    smoothing: float = 0.5  #: the app's default tracker smoothing
    sample_frames: int = 4  #: frames per method in the sample sheet


@dataclass
class Portrait:
    name: str
    image: np.ndarray  #: (H, W, 3) uint8 RGB photo


@dataclass
class Driver:
    name: str
    frames: np.ndarray  #: (F, H, W, 3) uint8 kept video frames
    signals: list[FaceSignals]  #: (F,) tracked signals of the kept frames (app smoothing)


@dataclass
class PreparedPortrait:
    name: str
    src: PreparedSource
    crop: np.ndarray  #: (out, out, 3) uint8: the photo in the app's output crop
    points: np.ndarray  #: (478, 2) the portrait's landmarks in that crop (continuous pixels)
    readout: FaceReadout  #: one row: what the analyzer reads in ``crop``


@dataclass
class RealCrossResult:
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  #: method -> mean figures
    portraits: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  #: portrait -> method -> figs
    pairs: list[dict] = field(default_factory=list)  #: {"portrait", "driver", "method", **figures}
    collapse: dict[str, dict[str, float]] = field(default_factory=dict)  #: method -> driver -> collapse
    skipped: list[str] = field(default_factory=list)  #: portraits/drivers not used, with the reason
    samples: list[list[np.ndarray]] = field(default_factory=list)  #: sheet rows of (out, out, 3) images


def load_portraits(folder: Path | None, astronaut: bool = True) -> tuple[list[Portrait], list[str]]:
    """Every file of ``folder`` the project's image loader reads (sorted by name), then the astronaut."""
    out, skipped = [], []
    if folder is not None and folder.is_dir():
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            try:
                out.append(Portrait(path.name, load_image(path)))
            except (FaceInputError, OSError, ValueError) as e:
                skipped.append(f"{path.name}: not an image ({e})")
    if astronaut:
        import skimage.data

        out.append(Portrait(ASTRONAUT, np.ascontiguousarray(skimage.data.astronaut())))
    return out, skipped


def prepare_all(animator: Animator, portraits: list[Portrait]) -> tuple[list[tuple[Portrait, PreparedSource]],
                                                                         list[str]]:
    """Every portrait the animator can prepare, with its ``PreparedSource``, and a line per one it refused."""
    done, skipped = [], []
    for portrait in portraits:
        try:
            done.append((portrait, animator.prepare_source(portrait.image)))
        except FaceInputError as e:
            skipped.append(f"{portrait.name}: {e}")
    return done, skipped


def load_drivers(folder: Path, animator: Animator, settings: RealCrossSettings) -> list[Driver]:
    """The first ``settings.seconds`` of every video in ``folder``, tracked as the app tracks, subsampled."""
    paths = sorted(p for p in folder.iterdir() if suffix_kind(p) == "video")
    drivers = []
    for path in paths:
        frames = list(iter_frames(path, max_seconds=settings.seconds))
        signals = list(animator.extractor.track(iter(frames), fps=FPS, smoothing=settings.smoothing))
        keep = slice(None, None, settings.stride)
        drivers.append(Driver(path.stem, np.stack(frames[keep]), signals[keep]))
    return drivers


def prepare_portraits(animator: Animator, analyzer: FaceAnalyzer,
                      portraits: list[Portrait]) -> tuple[list[PreparedPortrait], list[str]]:
    """``Animator.prepare_source`` of each portrait, its output-size crop and landmarks; refusals are listed."""
    out, skipped = [], []
    size = animator.output_size or animator.model.cfg.superres.output_size
    for p in portraits:
        try:
            src = animator.prepare_source(p.image)
        except FaceInputError as e:
            skipped.append(f"{p.name}: {e}")
            continue
        t = CropTransform(src.signals.box, size)
        crop = t.warp(src.image)
        points = t.image_to_crop(src.signals.landmarks)
        out.append(PreparedPortrait(p.name, src, crop, points, analyzer.read(crop[None])))
    return out, skipped


def render_methods(animator: Animator, portrait: PreparedPortrait, driver: Driver,
                   settings: RealCrossSettings | None = None) -> dict[str, np.ndarray]:
    """``{method: (F, out, out, 3) uint8}`` for one portrait and driver (app defaults for ours, the driver's framing
    included: ``jobs.framing_track`` at the kept frames' rate)."""
    sig, settings = driver.signals, settings or RealCrossSettings()
    beta = transfer_expression(np.stack([s.beta for s in sig]), portrait.src.signals.beta,
                               ExpressionSettings().resolved(video=True))
    track = framing_track(portrait.src, ViewSettings(), FPS / settings.stride, settings.smoothing)
    cameras = np.stack([reframe(animator.camera_for(s, ViewSettings(), portrait.src, sig[0]), track(s.landmarks))
                        for s in sig])
    landmarks = np.stack([s.landmarks for s in sig])
    return {OURS: animator.render(portrait.src, beta, cameras),
            COPY: np.repeat(portrait.crop[None], len(sig), 0),
            WARP: LandmarkWarp(portrait.crop, portrait.points).drive(landmarks, landmarks[0])}


def evaluate_real_cross(animator: Animator, analyzer: FaceAnalyzer, portraits: list[Portrait],
                        drivers: list[Driver], settings: RealCrossSettings | None = None,
                        progress: bool = True) -> RealCrossResult:
    """Every portrait x driver pair, every method (see the module docstring)."""
    settings = settings or RealCrossSettings()
    res = RealCrossResult()
    prepared, res.skipped = prepare_portraits(animator, analyzer, portraits)
    identities: dict[str, dict[str, list[np.ndarray]]] = {m: {} for m in METHODS}
    for driver in tqdm(drivers, desc="real_cross drivers", disable=not progress):
        drv = analyzer.read(driver.frames)
        for portrait in prepared:
            target = relative_target(portrait.readout.angles[0], drv)  # the pose the app asks for
            frames = render_methods(animator, portrait, driver, settings)
            for method, images in frames.items():
                out = repeat_readout(portrait.readout, len(images)) if method == COPY else analyzer.read(images)
                figs = pair_figures(out, drv, portrait.readout.identity[0], target)
                res.pairs.append({"portrait": portrait.name, "driver": driver.name, "method": method, **figs})
                identities[method].setdefault(driver.name, []).append(out.identity)
            if driver is drivers[0]:
                res.samples.append(_sample_row(portrait, frames, settings.sample_frames))
        if driver is drivers[0]:
            res.samples.insert(0, _driver_row(driver, animator, settings.sample_frames))
    for method in METHODS:
        res.collapse[method] = {d: collapse(np.stack(ids)) for d, ids in identities[method].items()}
    _summarise(res, [p.name for p in prepared])
    return res


def _summarise(res: RealCrossResult, names: list[str]) -> None:
    for method in METHODS:
        rows = [r for r in res.pairs if r["method"] == method]
        res.scores[method] = mean_figures(rows)
        res.scores[method]["collapse"] = nanmean(list(res.collapse[method].values()))
        for name in names:
            res.portraits.setdefault(name, {})[method] = mean_figures([r for r in rows if r["portrait"] == name])


def _picks(n: int, k: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, k).round().astype(int)) if n else np.zeros(0, int)


def _sample_row(portrait: PreparedPortrait, frames: dict[str, np.ndarray], k: int) -> list[np.ndarray]:
    idx = _picks(len(frames[OURS]), k)
    return [portrait.crop, *frames[OURS][idx], *frames[WARP][idx]]


def _driver_row(driver: Driver, animator: Animator, k: int) -> list[np.ndarray]:
    size = animator.output_size or animator.model.cfg.superres.output_size
    idx = _picks(len(driver.frames), k)
    crops = [CropTransform(driver.signals[i].box, size).warp(driver.frames[i]) for i in idx]
    blank = np.full((size, size, 3), 255, np.uint8)
    return [blank, *crops, *crops]


def to_report(res: RealCrossResult, drivers: list[Driver], settings: RealCrossSettings, size: int) -> dict:
    """The ``report.json`` entry of the set (``samples`` stay out)."""
    frames = sum(len(d.frames) for d in drivers)
    note = (f"{len(res.portraits)} portraits x {len(drivers)} driver clips ({frames} driver frames: first "
            f"{settings.seconds:g} s of each clip, all frames tracked, 1 in {settings.stride} kept, tracker "
            f"smoothing {settings.smoothing:g}); app defaults (relative camera: the portrait's own "
            f"pose plus the driver's head motion and framing; auto expression transfer: relative, the jaw copied, "
            f"strength 1; pose error against that pose); all methods compared at the app's {size}x{size} output "
            f"crop.")
    if res.skipped:
        note += " Not used: " + "; ".join(res.skipped) + "."
    return {"scores": res.scores, "portraits": res.portraits, "pairs": res.pairs, "collapse": res.collapse,
            "skipped": res.skipped, "note": note}
