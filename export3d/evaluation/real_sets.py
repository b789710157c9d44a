"""The evaluation command's real-portrait sets: ``real_cross`` and ``controllability`` (glue for ``__main__``).

Both run the app's pipeline: an ``Animator`` around the evaluated model at the app's output size.
Portraits: ``--portraits`` (default ``paths.portraits_dir()``) plus ``skimage.data.astronaut()``;
driver clips: ``--grid`` (default ``paths.grid_clips_dir()``). With ``--benchmark`` the first
``--sweep-identities`` synthetic source images are swept too.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..paths import grid_clips_dir, portraits_dir
from ..pipeline import Animator
from .analysis import FaceAnalyzer
from .controllability import SWEEPS, ControllabilitySettings, evaluate_controllability, synthetic_portraits
from .controllability import to_report as controllability_report
from .controllability_plot import plot_curves
from .real_cross import RealCrossSettings, evaluate_real_cross, load_drivers, load_portraits
from .real_cross import to_report as real_cross_report
from .report import sheet

PLOT = "controllability.png"


def run_real_sets(args, model, analyzer: FaceAnalyzer, bench: dict | None, report: dict) -> None:
    """Add ``real_cross`` and/or ``controllability`` to ``report["sets"]`` (and their images to ``args.out``)."""
    animator = Animator(model)
    folder = args.portraits or portraits_dir()
    if not folder.is_dir():
        print(f"real portraits folder {folder} not found (set EXPORT3D_DATA or --portraits): astronaut only")
    portraits, unreadable = load_portraits(folder)
    if not args.no_real:
        _real_cross(args, animator, analyzer, portraits, unreadable, report)
    if not args.no_controllability:
        _controllability(args, animator, analyzer, portraits, bench, report)


def _real_cross(args, animator: Animator, analyzer: FaceAnalyzer, portraits, unreadable, report: dict) -> None:
    clips = args.grid or grid_clips_dir()
    if not Path(clips).is_dir():
        print(f"real_cross skipped: driver clips folder {clips} not found (set EXPORT3D_DATA or --grid)")
        return
    t0 = time.time()
    settings = RealCrossSettings(seconds=args.real_seconds, stride=args.real_stride)
    drivers = load_drivers(Path(clips), animator, settings)
    res = evaluate_real_cross(animator, analyzer, portraits, drivers, settings)
    res.skipped = unreadable + res.skipped
    entry = real_cross_report(res, drivers, settings, animator.output_size or model_size(animator))
    entry["seconds"] = round(time.time() - t0, 1)
    entry["note"] += f" Took {entry['seconds']:.0f} s."
    report["sets"]["real_cross"] = entry
    if res.samples:
        sheet(res.samples, args.out / "samples_real_cross.png")


def _controllability(args, animator: Animator, analyzer: FaceAnalyzer, portraits, bench, report: dict) -> None:
    t0 = time.time()
    items = [(p.name, "real", p.image) for p in portraits]
    if bench is not None:
        items += synthetic_portraits(bench["source_frames"][: args.sweep_identities])
    settings = ControllabilitySettings(steps=args.sweep_steps)
    res = evaluate_controllability(animator, analyzer, items, settings)
    png = None
    if res.curves:
        plot_curves({n: {s: vars(v) for s, v in c.items()} for n, c in res.curves.items()}, res.kinds,
                    args.out / PLOT, tuple(sw.name for sw in SWEEPS if sw.readout != "blendshapes"))
        png = PLOT
        sheet(res.samples, args.out / "samples_controllability.png")
    entry = controllability_report(res, settings, png)
    entry["seconds"] = round(time.time() - t0, 1)
    entry["note"] += f" Took {entry['seconds']:.0f} s."
    report["sets"]["controllability"] = entry


def model_size(animator: Animator) -> int:
    return animator.model.cfg.superres.output_size
