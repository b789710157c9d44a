"""InfoNCE between image embeddings f_I(X) and expression codes f_e(beta)."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def info_nce(image_emb: torch.Tensor, expr_emb: torch.Tensor, temperature: torch.Tensor | float,
             symmetric: bool = True) -> torch.Tensor:
    """Contrastive loss with negatives drawn only from the *same* clip.

    Args:
        image_emb: ``(K, d)`` f_I of frames X_1..X_K of one clip, or ``(N, K, d)`` for N clips.
        expr_emb: f_e(beta_k) of the same frames, same shape, row-aligned.
        temperature: tau (> 0).
        symmetric: average the expression->image and image->expression directions.
    Returns:
        scalar loss, averaged over frames and clips. For frame ``k``:
        ``-log(exp(s_kk / tau) / sum_j exp(s_jk / tau))`` with
        ``s_jk = cos(f_I(X_j), f_e(beta_k))`` and ``j`` over the frames of the same clip.
        **The positive ``j = k`` is included in the denominator** (standard InfoNCE;
        excluding it makes the loss unbounded below). Appearance is shared by all
        candidates, so it cannot separate them. Chance level is ``log(K)``.
    """
    if image_emb.shape != expr_emb.shape or image_emb.ndim not in (2, 3):
        raise ValueError(f"need matching (K, d) or (N, K, d) embeddings, got {image_emb.shape} and {expr_emb.shape}")
    if image_emb.ndim == 2:
        image_emb, expr_emb = image_emb[None], expr_emb[None]
    n, k, _ = image_emb.shape
    logits = F.normalize(expr_emb, dim=-1) @ F.normalize(image_emb, dim=-1).transpose(1, 2) / temperature
    target = torch.arange(k, device=logits.device).repeat(n)
    loss = F.cross_entropy(logits.reshape(n * k, k), target)
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(logits.transpose(1, 2).reshape(n * k, k), target))
    return loss


class LearnableTemperature(nn.Module):
    """tau = exp(-s) with ``s`` learned, clamped so 1/tau stays within [1, 100]."""

    def __init__(self, initial: float = 0.07, learnable: bool = True):
        super().__init__()
        value = torch.tensor(math.log(1.0 / initial))
        if learnable:
            self.log_inv_tau = nn.Parameter(value)
        else:
            self.register_buffer("log_inv_tau", value)

    def forward(self) -> torch.Tensor:
        return torch.exp(-self.log_inv_tau.clamp(0.0, math.log(100.0)))
