"""``python -m export3d.training prepare|preprocess|stage1|stage2|warp|field ...`` (stage1/2 also under ``torchrun``).

    python -m export3d.training prepare DATA                     # beta for every synthetic frame (extractor)
    python -m export3d.training mesh-maps DATA                   # face mesh maps of the portraits (--mesh-cue)
    python -m export3d.training preprocess VIDEOS REAL --shard 0/4   # real videos -> clips (one shard of four)
    python -m export3d.training stage1 --config small --data DATA --out runs/s1 --steps 3000 --minutes 20
    python -m export3d.training stage2 --config small --data DATA --stage1 runs/s1 --out runs/s2 --minutes 100
    python -m export3d.training stage2 --data DATA --real REAL --real-ratio 0.3 ...  # mix real clips in
    torchrun --nproc_per_node 2 -m export3d.training stage2 ...  # multi-GPU / multi-node
    python -m export3d.training warp --data DATA_V2 --init checkpoints/export3d-small-generated --out runs/warp

Runs resume automatically from the ``--out`` folder (model, optimizers, EMA, step, RNG).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import torch

from ..config import ModelConfig
from .config import Stage1Config, Stage2Config
from .distributed import init_distributed, shutdown
from .field_cli import add_field, run_field


def _model_config(args) -> ModelConfig:
    cfg = ModelConfig.preset(args.config)
    if args.expression == "direct":
        cfg = replace(cfg, expression=replace(cfg.expression, kind="direct"))
    return cfg


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export3d.training", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    pr = sub.add_parser("prepare", help="extract beta for every frame of a synthetic dataset")
    pr.add_argument("data", type=Path)
    pm = sub.add_parser("mesh-maps", help="face mesh maps of each synthetic clip's first frame (for --mesh-cue)")
    pm.add_argument("data", type=Path)
    pp = sub.add_parser("preprocess", help="real videos -> training clips (crops, beta, cameras), resumable, sharded")
    pp.add_argument("videos", type=Path, help="a folder of videos (*.mp4 *.mpg *.mov *.avi *.mkv *.webm) or one video")
    pp.add_argument("out", type=Path, help="output folder (real-<video stem>.npz + .json per video)")
    pp.add_argument("--shard", default="0/1", help="i/n: only the videos whose sorted index %% n == i (0-based)")
    pp.add_argument("--size", type=int, default=128, help="crop side in pixels (must match the synthetic frames)")
    pp.add_argument("--max-seconds", type=float, default=30.0, help="use at most this much of each video (0 = all)")
    pp.add_argument("--every", type=int, default=1, help="keep every N-th frame")
    pp.add_argument("--clip-frames", type=int, default=32, help="frames per clip (a shorter tail is dropped)")
    pp.add_argument("--quiet", action="store_true", help="no progress bar")
    for name in ("stage1", "stage2"):
        s = sub.add_parser(name)
        s.add_argument("--config", default="small", choices=["small", "paper"])
        s.add_argument("--expression", default="clebs", choices=["clebs", "direct"],
                       help="direct = the paper's ablation: raw beta through a plain MLP")
        s.add_argument("--data", type=Path, default=None, help="synthetic dataset folder (after `prepare`)")
        s.add_argument("--real", type=Path, default=None, help="folder of real clips written by `preprocess`")
        s.add_argument("--real-ratio", type=float, default=0.3,
                       help="with --data and --real: probability that an example is a real clip")
        s.add_argument("--holdout-clips", type=int, default=20, help="clips held out for evaluation (per source)")
        s.add_argument("--out", type=Path, required=True)
        s.add_argument("--steps", type=int, default=100_000)
        s.add_argument("--minutes", type=float, default=60.0, help="stop (and checkpoint) after this long")
        s.add_argument("--checkpoint-minutes", type=float, default=10.0)
        s.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
        if name == "stage2":
            s.add_argument("--stage1", type=Path, default=None, help="folder of a stage-1 run (CLeBS weights)")
            s.add_argument("--batch", type=int, default=4)
            s.add_argument("--adv-start", type=int, default=Stage2Config.adv_start,
                           help="generator-only warm-up steps before the adversarial loss starts")
            s.add_argument("--lr", type=float, default=Stage2Config.lr_g, help="generator learning rate")
            s.add_argument("--beta1", type=float, default=Stage2Config.betas[0], help="Adam beta1 of both optimizers")
            s.add_argument("--lpips-weight", type=float, default=Stage2Config.lpips, help="ST-LPIPS loss weight")
            s.add_argument("--adv-weight", type=float, default=Stage2Config.adversarial,
                           help="adversarial loss weight (0 = no discriminator)")
            s.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                           help="bf16 autocast for the CNNs (renderer stays fp32); auto = bf16 on CUDA")
            s.add_argument("--image-every", type=int, default=Stage2Config.image_every,
                           help="write an image grid (source | driver | raw | output) every N steps")
    _add_warp(sub)
    add_field(sub)
    args = p.parse_args(argv)
    if args.command == "warp":
        return _warp(args)
    if args.command == "field":
        return run_field(args)
    if args.command == "mesh-maps":
        from .mesh_maps import prepare_mesh_maps

        path, missed = prepare_mesh_maps(args.data)
        print(f"wrote {path} ({missed} clips without a face: no cue)")
        return 0
    if args.command == "prepare":
        from .data import prepare_synthetic

        print(f"wrote {prepare_synthetic(args.data)}")
        return 0
    if args.command == "preprocess":
        from .preprocess import main as preprocess_main

        return preprocess_main(args)
    if args.data is None and args.real is None:
        p.error(f"{args.command} needs --data SYNTHETIC and/or --real REAL_CLIPS")
    if args.threads:
        torch.set_num_threads(args.threads)
    from ..runtime import tune_malloc
    from .data import load_training_data

    tune_malloc()
    d = init_distributed()
    try:
        data = load_training_data(args.data, args.real, args.real_ratio, args.holdout_clips)
        if d.main and args.real is not None:
            print(data, file=sys.stderr)
        cfg = _model_config(args)
        if args.command == "stage1":
            from .stage1 import train_stage1

            res = train_stage1(cfg, Stage1Config(), data, args.out, args.steps, args.minutes, d,
                               args.checkpoint_minutes)
        else:
            from .stage2 import train_stage2

            s2 = replace(Stage2Config(), batch=args.batch, adv_start=args.adv_start, image_every=args.image_every,
                         lpips=args.lpips_weight, adversarial=args.adv_weight, lr_g=args.lr,
                         betas=(args.beta1, Stage2Config.betas[1]))
            bf16 = args.precision == "bf16" or (args.precision == "auto" and d.device.type == "cuda")
            res = train_stage2(cfg, s2, data, args.out, args.stage1, args.steps, args.minutes, d,
                               args.checkpoint_minutes, bf16=bf16)
        if d.main:
            print(json.dumps(res))
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        shutdown(d)
    return 0



def _add_warp(sub) -> None:
    from .config import WarpConfig

    s = sub.add_parser("warp", help="train the warped-appearance model (warm start from a generated checkpoint)")
    s.add_argument("--data", type=Path, default=None,
                   help="synthetic dataset with correspondences (make-dataset format 2, after `prepare`)")
    s.add_argument("--real", type=Path, default=None, help="folder of real clips (photometric losses only)")
    s.add_argument("--real-ratio", type=float, default=WarpConfig.real_ratio, help="share of steps on real clips")
    s.add_argument("--init", default="checkpoints/export3d-small-generated",
                   help="checkpoint to start from (generated: new warp parts start neutral; warped: all kept)")
    s.add_argument("--output-size", type=int, default=256, help="the warped model's output size at inference")
    s.add_argument("--deform-from-code", action="store_true",
                   help="the deformation head also sees the expression code beta' (new heads start neutral)")
    s.add_argument("--expression-field", action="store_true",
                   help="add the expression field (models/expression_field.py; starts neutral)")
    s.add_argument("--mesh-cue", action="store_true",
                   help="the generator also reads the portrait's face mesh map (needs `mesh-maps DATA`; new input "
                        "weights start at zero)")
    s.add_argument("--field-size", type=int, default=None,
                   help="rays a side of the sampling field (default: --init's, else the render size)")
    s.add_argument("--train", action="append", default=[], metavar="PREFIX",
                   help="train only parameters whose names start with PREFIX (repeatable), e.g. appearance.refiner")
    s.add_argument("--max-clips", type=int, default=None, help="load at most this many synthetic clips")
    s.add_argument("--holdout-clips", type=int, default=20)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--steps", type=int, default=100_000)
    s.add_argument("--minutes", type=float, default=60.0)
    s.add_argument("--checkpoint-minutes", type=float, default=10.0)
    s.add_argument("--batch", type=int, default=WarpConfig.batch)
    s.add_argument("--lr", type=float, default=WarpConfig.lr)
    s.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")


def _warp(args) -> int:
    from ..errors import Export3DError
    from ..runtime import tune_malloc
    from .config import WarpConfig
    from .data import RealClips
    from .stage_warp import train_warp, warm_start
    from .warp_data import WarpClips

    if args.data is None and args.real is None:
        print("error: warp needs --data SYNTHETIC_V2 and/or --real REAL_CLIPS", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    tune_malloc()
    try:
        from ..checkpoint import load_config, resolve_checkpoint

        synthetic = WarpClips(args.data, args.holdout_clips, args.max_clips) if args.data is not None else None
        real = RealClips(args.real, args.holdout_clips) if args.real is not None else None
        base = load_config(resolve_checkpoint(args.init)).appearance  # a warped --init keeps its own settings
        appearance = replace(base, kind="warped", output_size=args.output_size,
                             deform_from_code=args.deform_from_code or base.deform_from_code,
                             expression_field=args.expression_field or base.expression_field,
                             field_size=base.field_size if args.field_size is None else args.field_size)
        model = warm_start(args.init, appearance, True if args.mesh_cue else None)
        if model.cfg.generator.mesh_cue and synthetic is not None and synthetic.mesh is None:
            raise ValueError(f"--mesh-cue needs the portraits' mesh maps: run `python -m export3d.training "
                             f"mesh-maps {args.data}`")
        if model.cfg.generator.mesh_cue and real is not None:
            raise ValueError("--mesh-cue trains on synthetic clips only for now (real clips carry no mesh maps)")
        w = replace(WarpConfig(), batch=args.batch, lr=args.lr, real_ratio=args.real_ratio,
                    trainable=tuple(args.train))
        res = train_warp(model, w, synthetic, real, args.out, args.steps, args.minutes, args.checkpoint_minutes)
    except (FileNotFoundError, ValueError, Export3DError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(res))
    return 0
