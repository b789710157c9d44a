"""Losses of the warped model: photometric, rendered branch, and direct supervision of the field and visibility.

The field is compared with the synthetic world's exact correspondences at the render resolution ``R``: the
true source coordinates are averaged over each ``S/R`` block, and only blocks whose every pixel is foreground
and visible in the source count (at a silhouette the average of two surfaces is no correspondence at all).
Images ``(B, 3, S, S)`` in [-1, 1]; symbols: docs/conventions.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.export3d import Export3D, Export3DOutput
from ..models.warped import WarpSource
from .config import WarpConfig
from .warp_data import WarpBatch


def block_mean(x: torch.Tensor, r: int) -> torch.Tensor:
    """``(B, S, S, K)`` -> ``(B, r, r, K)``: the mean over each ``S/r`` block."""
    return F.adaptive_avg_pool2d(x.permute(0, 3, 1, 2).float(), r).permute(0, 2, 3, 1)


def field_targets(coords: torch.Tensor, valid: torch.Tensor, weight: torch.Tensor | None,
                  r: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The truth at ``r`` rays a side: source positions ``(B, r, r, 2)`` in image widths (block means of the
    source pixels ``coords (B, S, S, 2)``) and block weights ``(B, r, r)``: 0 unless ``valid (B, S, S)`` holds on
    the whole block, else the block mean of ``weight (B, S, S)`` (default 1)."""
    true = block_mean(coords, r) / coords.shape[1]
    ok = (block_mean(valid[..., None], r)[..., 0] > 0.999).float()
    if weight is not None:
        ok = ok * block_mean(weight[..., None], r)[..., 0]
    return true, ok


def field_error(grid: torch.Tensor, true: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted mean L1 distance, in image widths, between ``grid (B, r, r, 2)`` (``grid_sample`` units) and
    ``field_targets``."""
    err = ((grid + 1.0) / 2.0 - true).abs().sum(-1)
    return (err * weight).sum() / weight.sum().clamp_min(1e-6)


def field_loss(grid: torch.Tensor, coords: torch.Tensor, valid: torch.Tensor,
               weight: torch.Tensor | None = None) -> torch.Tensor:
    """Weighted mean L1 distance, in image widths, between the field ``grid (B, R, R, 2)`` (``grid_sample`` units)
    and the true source pixels ``coords (B, S, S, 2)`` over blocks where ``valid (B, S, S)`` holds everywhere;
    ``weight (B, S, S)`` (block-averaged) weighs the blocks (default 1)."""
    return field_error(grid, *field_targets(coords, valid, weight, grid.shape[1]))


def visibility_loss(logit: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the per-ray logit ``(B, 1, R, R)`` against the share of visible pixels per block."""
    target = block_mean(visible[..., None], logit.shape[-1]).permute(0, 3, 1, 2)
    return F.binary_cross_entropy_with_logits(logit, target)


def warp_losses(model: Export3D, batch: WarpBatch, w: WarpConfig, lpips) -> tuple[torch.Tensor, dict, Export3DOutput]:
    """``(total, terms, output)`` for one batch; the field/visibility terms only where the batch has the truth."""
    source = WarpSource(batch.source, batch.source_camera, batch.source_beta)
    out = model(batch.source, batch.beta, batch.camera, perturb=True, warp_source=source,
                mesh=batch.mesh if model.cfg.generator.mesh_cue else None)
    r = out.raw.rgb.shape[-1]
    target_raw = F.interpolate(batch.driver, size=(r, r), mode="area")
    terms = {"l1": (out.image - batch.driver).abs().mean(),
             "rendered": (out.rendered - batch.driver).abs().mean() + (out.raw.rgb - target_raw).abs().mean()}
    if lpips is not None and w.lpips > 0:
        terms["lpips"] = lpips(out.image, batch.driver).mean()
    if batch.coords is not None:
        terms["field"] = field_loss(out.warp.grid, batch.coords, batch.visible & batch.foreground, batch.weight)
        terms["visibility"] = visibility_loss(out.warp.logit, batch.visible)
    weights = {"l1": w.l1, "rendered": w.rendered, "lpips": w.lpips, "field": w.field, "visibility": w.visibility}
    return sum(weights[k] * v for k, v in terms.items()), terms, out
