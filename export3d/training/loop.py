"""Pieces every training loop shares: the CSV log, the EMA update and setting an optimizer's hyper-parameters."""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from .distributed import unwrap


class CsvLog:
    """CSV log written by the main process only."""

    def __init__(self, path: Path, enabled: bool, header: list[str]):
        self.path, self.enabled = path, enabled
        if enabled and not path.exists():
            with path.open("w", newline="") as f:
                csv.writer(f).writerow(header)

    def row(self, *values) -> None:
        if self.enabled:
            with self.path.open("a", newline="") as f:
                csv.writer(f).writerow([f"{v:.6g}" if isinstance(v, float) else v for v in values])


def apply_hyperparameters(opt: torch.optim.Optimizer, lr: float, betas: tuple[float, float]) -> None:
    """Set every parameter group's ``lr`` and ``betas`` (the config wins over a resumed state's)."""
    for group in opt.param_groups:
        group["lr"], group["betas"] = lr, tuple(betas)


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """``ema <- decay * ema + (1 - decay) * model`` for parameters; buffers are copied."""
    src = unwrap(model)
    for e, p in zip(ema.parameters(), src.parameters(), strict=True):
        e.lerp_(p, 1.0 - decay)
    for e, b in zip(ema.buffers(), src.buffers(), strict=True):
        e.copy_(b)
