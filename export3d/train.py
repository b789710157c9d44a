"""``python -m export3d.train prepare|stage1|stage2 ...`` (also under ``torchrun`` for DDP).

    python -m export3d.train prepare DATA                     # beta for every synthetic frame (extractor)
    python -m export3d.train stage1 --config small --data DATA --out runs/s1 --steps 3000 --minutes 20
    python -m export3d.train stage2 --config small --data DATA --stage1 runs/s1 --out runs/s2 --minutes 100
    torchrun --nproc_per_node 2 -m export3d.train stage2 ...  # multi-GPU / multi-node

Runs resume automatically from the ``--out`` folder (model, optimizers, EMA, step, RNG).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import torch

from .config import ModelConfig
from .training.config import Stage1Config, Stage2Config
from .training.distributed import init_distributed, shutdown


def _model_config(args) -> ModelConfig:
    cfg = ModelConfig.preset(args.config)
    if args.expression == "direct":
        cfg = replace(cfg, expression=replace(cfg.expression, kind="direct"))
    return cfg


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export3d.train", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    pr = sub.add_parser("prepare", help="extract beta for every frame of a synthetic dataset")
    pr.add_argument("data", type=Path)
    for name in ("stage1", "stage2"):
        s = sub.add_parser(name)
        s.add_argument("--config", default="small", choices=["small", "paper"])
        s.add_argument("--expression", default="clebs", choices=["clebs", "direct"],
                       help="direct = the paper's ablation: raw beta through a plain MLP")
        s.add_argument("--data", type=Path, required=True)
        s.add_argument("--out", type=Path, required=True)
        s.add_argument("--steps", type=int, default=100_000)
        s.add_argument("--minutes", type=float, default=60.0, help="stop (and checkpoint) after this long")
        s.add_argument("--checkpoint-minutes", type=float, default=10.0)
        s.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
        if name == "stage2":
            s.add_argument("--stage1", type=Path, default=None, help="folder of a stage-1 run (CLeBS weights)")
            s.add_argument("--batch", type=int, default=4)
            s.add_argument("--adv-start", type=int, default=Stage2Config.adv_start)
    args = p.parse_args(argv)
    if args.command == "prepare":
        from .training.data import prepare_synthetic

        print(f"wrote {prepare_synthetic(args.data)}")
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    from .runtime import tune_malloc
    from .training.data import TrainingData

    tune_malloc()
    d = init_distributed()
    try:
        data = TrainingData(args.data)
        cfg = _model_config(args)
        if args.command == "stage1":
            from .training.stage1 import train_stage1

            res = train_stage1(cfg, Stage1Config(), data, args.out, args.steps, args.minutes, d,
                               args.checkpoint_minutes)
        else:
            from .training.stage2 import train_stage2

            s2 = replace(Stage2Config(), batch=args.batch, adv_start=args.adv_start)
            res = train_stage2(cfg, s2, data, args.out, args.stage1, args.steps, args.minutes, d,
                               args.checkpoint_minutes)
        if d.main:
            print(json.dumps(res))
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        shutdown(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
