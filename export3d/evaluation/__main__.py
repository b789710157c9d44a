"""``python -m export3d.evaluation``: the evaluation report of a checkpoint.

    python -m export3d.evaluation --checkpoint checkpoints/export3d-small --out reports/export3d-small \\
        --benchmark /tmp/synth/benchmark --make-benchmark --train-data /tmp/synth/train_v2

Writes ``report.json``, ``report.md``, sample sheets (``samples_*.png``) and ``controllability.png`` into
``--out``. The synthetic benchmark is deterministic (``make-benchmark`` seed 1234), GRID clips and real
portraits are read from the shared data folder (``EXPORT3D_DATA``); parts whose data is missing are skipped
with a message. ``real_cross`` and ``controllability`` (``real_cross.py``, ``controllability.py``) run the
app's own pipeline (``export3d.pipeline.Animator``) on real portraits.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError
from ..models.export3d import Export3D
from ..paths import grid_clips_dir
from .analysis import FaceAnalyzer
from .methods import constant_method, copy_source, mean_image, mean_training_image, model_method
from .report import markdown, sheet

OURS = "Export3D (ours)"


def _args(argv):
    p = argparse.ArgumentParser(prog="python -m export3d.evaluation", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="model folder (config.json + model.safetensors) or Hub id")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--benchmark", type=Path, default=None, help="folder with benchmark.npz")
    p.add_argument("--make-benchmark", action="store_true", help="render the benchmark first if it is missing")
    p.add_argument("--identities", type=int, default=None, help="use only the first N benchmark identities")
    p.add_argument("--train-data", type=Path, default=None,
                   help="synthetic training folder: mean-image baseline and held-out clips for the leakage probe")
    p.add_argument("--grid", type=Path, default=None, help="folder of real clips (default: shared GRID clips)")
    p.add_argument("--no-grid", action="store_true")
    p.add_argument("--grid-seconds", type=float, default=None, help="use only the first seconds of each clip")
    p.add_argument("--grid-stride", type=int, default=2, help="GRID self-reenactment: every n-th frame")
    p.add_argument("--no-lpips", action="store_true")
    p.add_argument("--portraits", type=Path, default=None,
                   help="folder of real portraits for real_cross/controllability (default: shared portraits)")
    p.add_argument("--no-real", action="store_true", help="skip real_cross (real portraits x driver clips)")
    p.add_argument("--no-controllability", action="store_true")
    p.add_argument("--real-seconds", type=float, default=2.0, help="real_cross: first seconds of each driver clip")
    p.add_argument("--real-stride", type=int, default=2, help="real_cross: keep every n-th driver frame")
    p.add_argument("--sweep-steps", type=int, default=6, help="controllability: input values in [0, 1]")
    p.add_argument("--sweep-identities", type=int, default=8,
                   help="controllability: first N synthetic benchmark identities (with --benchmark)")
    return p.parse_args(argv)


def _benchmark(args) -> dict | None:
    from .synthetic_eval import load_benchmark

    if args.benchmark is None:
        return None
    if args.make_benchmark and not (args.benchmark / "benchmark.npz").is_file():
        from ..synthetic.benchmark import make_benchmark
        from ..synthetic.ict_model import ICTFaceModel
        from ..synthetic.scene import SceneRenderer

        make_benchmark(SceneRenderer(ICTFaceModel(), 128), args.benchmark)
    return load_benchmark(args.benchmark, args.identities)


def _leakage_synthetic(train_data: Path, encode, rank: int, holdout: int = 20) -> dict | None:
    from ..training.data import BETA_FILE
    from .leakage import identity_leakage

    path = train_data / BETA_FILE
    if not path.is_file():
        print(f"leakage probe (synthetic) skipped: {path} missing")
        return None
    beta = np.load(path)
    valid = ~np.isnan(beta).any(-1)
    clips = np.flatnonzero(valid.sum(1) >= 2)[:holdout]  # the training run's held-out clips
    return identity_leakage(np.nan_to_num(beta[clips]), valid[clips], encode, rank)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    t0 = time.time()
    try:
        model = Export3D.from_pretrained(args.checkpoint).configure_runtime(bf16_cnn=True, channels_last=True)
    except (CheckpointError, FileNotFoundError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    size = model.cfg.generator.source_size
    analyzer = FaceAnalyzer()
    lpips = None
    if not args.no_lpips:
        from ..training.losses import perceptual_loss

        lpips = perceptual_loss()
    report: dict = {"checkpoint": str(args.checkpoint), "command": "`python -m export3d.evaluation "
                    + " ".join(sys.argv[1:] if argv is None else argv) + "`", "sets": {}, "leakage": {}}
    mean_img, mean_note = None, ""
    if args.train_data is not None:
        mean_img, mean_note = mean_training_image(args.train_data), f"mean of 4,096 frames of {args.train_data}"
    bench = _benchmark(args)
    if bench is not None and mean_img is None:
        mean_img, mean_note = mean_image(bench["source_frames"]), "mean of the benchmark's source images"
    methods = {OURS: model_method(model), f"{OURS}, true camera": model_method(model), "copy source": copy_source}
    if mean_img is not None:
        methods["mean training image"] = constant_method(mean_img)
    args.out.mkdir(parents=True, exist_ok=True)
    if bench is not None:
        _run_synthetic(bench, methods, analyzer, lpips, report, args.out, model.warped)
    if not args.no_grid:
        _run_grid(args, grid_methods(methods), analyzer, lpips, size, report, model, args.out)
    if not (args.no_real and args.no_controllability):
        from .real_sets import run_real_sets

        run_real_sets(args, model, analyzer, bench, report)
    rank = _code_rank(model)
    if args.train_data is not None:
        syn = _leakage_synthetic(args.train_data, model.encode_expression, rank)
        if syn:
            report["leakage"]["synthetic held-out clips"] = syn
    report["mean_image"] = mean_note
    report["seconds"] = round(time.time() - t0, 1)
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "report.md").write_text(markdown(report))
    print(markdown(report))
    print(f"wrote {args.out / 'report.md'} in {report['seconds']} s")
    return 0


def _run_synthetic(bench, methods, analyzer, lpips, report, out: Path, warped: bool = False) -> None:
    from .synthetic_eval import evaluate_synthetic

    results, samples = evaluate_synthetic(bench, methods, analyzer, lpips, views_true_camera=warped)
    own = (" Warped model: the source's own camera is the one read from the source frame (the true one in the "
           "true-camera row), its own beta the one read from it.") if warped else ""
    for name, res in results.items():
        report["sets"][name] = {"scores": res.scores, "targets": res.targets, "skipped": res.skipped,
                                "note": f"{res.targets} targets; {res.skipped} skipped (no face read in the driver)."
                                        + own}
    for s in ("self", "cross"):
        if f"{s}/{OURS}" in samples:
            rows = [samples[f"{s}/driver"], samples[f"{s}/{OURS}"], samples[f"{s}/target"]]
            sheet([[samples["source"]] + list(r) for r in rows], out / f"samples_{s}.png")
    if f"views/{OURS}" in samples:
        sheet([list(samples[f"views/{OURS}"]), list(samples["views/target"])], out / "samples_views.png")


def grid_methods(methods: dict) -> dict:
    """The GRID sets' methods: the report's (without the true-camera row), the model also without the driver's
    framing, the copy moved by the framing, and the 2D landmark warp."""
    from .grid_eval import UNFRAMED
    from .methods import COPY_FRAMED, LANDMARK_WARP, copy_framed, landmark_warp

    out = {k: v for k, v in methods.items() if "true camera" not in k}
    return {**out, OURS + UNFRAMED: methods[OURS], COPY_FRAMED: copy_framed, LANDMARK_WARP: landmark_warp}


def _run_grid(args, methods, analyzer, lpips, size, report, model, out: Path) -> None:
    from .grid_eval import distinct_people, evaluate_grid, load_clips
    from .leakage import identity_leakage

    folder = args.grid or grid_clips_dir()
    if not folder.is_dir():
        print(f"GRID evaluation skipped: {folder} not found (set EXPORT3D_DATA)")
        return
    clips = load_clips(folder, size, analyzer.extractor, args.grid_seconds)
    res, samples = evaluate_grid(clips, methods, analyzer, lpips, self_stride=args.grid_stride)
    n = sum(c["frames"] for c in res["clips"])
    report["sets"]["grid_self"] = {"scores": res["self"], "clips": res["clips"],
                                   "note": f"{len(clips)} clips, {n} frames ({folder.name}/); every "
                                           f"{args.grid_stride}. later frame is a target."}
    report["sets"]["grid_cross"] = {"scores": res["cross"], "note": "Every other speaker's clip drives each source "
                                    "(every 5th frame); the two clips of the same man are never paired."}
    if f"self/{OURS}" in samples:
        sheet([list(samples["self/target"]), list(samples[f"self/{OURS}"])], out / "samples_grid.png")
    people = distinct_people(clips)
    f = min(len(c.beta) for c in people)
    report["leakage"]["GRID (real), one clip per speaker"] = identity_leakage(
        np.stack([c.beta[:f] for c in people]), np.stack([c.valid[:f] for c in people]), model.encode_expression,
        _code_rank(model))


def _code_rank(model) -> int:
    """Dimension of the space beta' lives in: the CLeBS basis size, else the code size."""
    e = model.cfg.expression
    return e.num_basis if e.kind == "clebs" else e.code_dim


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    sys.exit(main())
