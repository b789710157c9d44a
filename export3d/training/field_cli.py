"""``python -m export3d.training field``: add an expression field to a warped checkpoint and train it alone.

    python -m export3d.training field --init checkpoints/export3d-small-warped --data DATA_V2 --real REAL \\
        --out runs/field --field-size 64

Renders ``--pairs`` synthetic and ``--real-pairs`` real pairs once (``field_cache.py``), trains the field on
them and writes the model to ``OUT/model`` (``save_pretrained``) with ``OUT/field_log.csv``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

from ..blendshapes import BLENDSHAPE_NAMES
from .field_cache import EMPHASIS, FieldTraining, build_cache, draw_real, draw_synthetic, train_field
from .loop import CsvLog


def add_field(sub) -> None:
    s = sub.add_parser("field", help="train an expression field alone on cached renders of a warped checkpoint")
    s.add_argument("--init", default="checkpoints/export3d-small-warped", help="warped checkpoint to extend")
    s.add_argument("--data", type=Path, required=True, help="synthetic dataset with correspondences (format 2)")
    s.add_argument("--real", type=Path, default=None, help="folder of real clips (photometric term)")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--field-size", type=int, default=64, help="rays a side of the sampling field")
    s.add_argument("--pairs", type=int, default=4096, help="synthetic pairs to render into the cache")
    s.add_argument("--real-pairs", type=int, default=1024, help="real pairs to render into the cache")
    s.add_argument("--steps", type=int, default=FieldTraining.steps)
    s.add_argument("--batch", type=int, default=FieldTraining.batch)
    s.add_argument("--lr", type=float, default=FieldTraining.lr)
    s.add_argument("--real-ratio", type=float, default=FieldTraining.real_ratio)
    s.add_argument("--oversample", type=int, default=4, help="candidate pairs drawn per cached synthetic pair")
    s.add_argument("--emphasis", action="append", default=[], metavar="NAME=W",
                   help="drawing weight per unit change of blendshape NAME (repeatable; replaces that default)")
    s.add_argument("--seed", type=int, default=0, help="seed of the pair drawing")
    s.add_argument("--field-code", choices=("beta", "clebs"), default=None,
                   help="what the field is linear in (appearance.field_code; default: as --init)")
    s.add_argument("--fresh-field", action="store_true",
                   help="start the expression field from zero even when --init has one (implied by a new --field-code)")
    s.add_argument("--without-remaps", action="store_true",
                   help="turn the landmark remaps off, so the field alone moves the face and learns the jaw too")
    s.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")


def parse_emphasis(items: list[str]) -> dict[str, float]:
    """``["eyeBlinkLeft=30", ...]`` -> ``{"eyeBlinkLeft": 30.0}``; ValueError for an unknown name or a bad value."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in BLENDSHAPE_NAMES:
            raise ValueError(f"--emphasis wants NAME=W with NAME one of the 52 blendshapes, got {item!r}")
        out[name] = float(value)
    return out


def run_field(args) -> int:
    from ..checkpoint import load_config, resolve_checkpoint
    from ..errors import Export3DError
    from ..runtime import tune_malloc
    from .data import RealClips
    from .stage_warp import warm_start
    from .warp_data import WarpClips

    if args.threads:
        torch.set_num_threads(args.threads)
    tune_malloc()
    t0 = time.time()
    try:
        base = load_config(resolve_checkpoint(args.init)).appearance
        appearance = dataclasses.replace(base, kind="warped", expression_field=True, field_size=args.field_size,
                                         field_code=args.field_code or base.field_code)
        if args.without_remaps:
            appearance = dataclasses.replace(appearance, eyelids=False, mouth=False, brows=False, gaze=False)
        fresh = args.fresh_field or appearance.field_code != base.field_code  # another code: other shapes
        model = warm_start(args.init, appearance, fresh=("appearance.expression_field.",) if fresh else ())
        g = torch.Generator().manual_seed(args.seed)
        clips = WarpClips(args.data)
        emphasis = {**EMPHASIS, **parse_emphasis(args.emphasis)}
        synthetic = build_cache(model, draw_synthetic(clips, g, args.oversample, emphasis), args.pairs,
                                desc="synthetic pairs")
        real = None
        if args.real is not None and args.real_pairs:
            real = build_cache(model, draw_real(RealClips(args.real), g), args.real_pairs, desc="real pairs")
        t = dataclasses.replace(FieldTraining(), steps=args.steps, batch=args.batch, lr=args.lr,
                                real_ratio=args.real_ratio)
        args.out.mkdir(parents=True, exist_ok=True)
        names = ("field", "visibility", "photometric")
        log = CsvLog(args.out / "field_log.csv", True, ["step", *names, "seconds"])
        res = train_field(model, synthetic, real, t, clips.frame_size,
                          lambda step, m: log.row(step, *[m.get(k, 0.0) for k in names], time.time() - t0))
    except (FileNotFoundError, ValueError, Export3DError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    model.save_pretrained(args.out / "model", extra={"field_steps": args.steps, "pairs": args.pairs,
                                                     "real_pairs": args.real_pairs})
    print(json.dumps({**{k: round(v, 6) for k, v in res.items()}, "seconds": round(time.time() - t0, 1)}))
    return 0
