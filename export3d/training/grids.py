"""Periodic image grids during training: one row per example, columns source | driver | raw | output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def grid_image(source: torch.Tensor, driver: torch.Tensor, raw: torch.Tensor, output: torch.Tensor,
               rows: int = 4) -> np.ndarray:
    """Tensors ``(B, 3, S, S)`` in [-1, 1] (``raw`` ``(B, 3, R, R)``, upsampled nearest to S) ->
    ``(rows*S, 4*S, 3)`` uint8, rows = examples, columns = source | driver | raw | output."""
    s = output.shape[-1]
    raw = F.interpolate(raw[:rows].float(), size=(s, s), mode="nearest")
    cols = [source[:rows], driver[:rows], raw, output[:rows]]
    x = torch.cat([c.detach().float().cpu() for c in cols], dim=3)  # (rows, 3, S, 4S)
    x = x.permute(0, 2, 3, 1).reshape(-1, 4 * s, 3)
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()


def save_grid(path: str | Path, source, driver, raw, output, rows: int = 4) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid_image(source, driver, raw, output, rows)).save(path)
    return path
