"""InfoNCE between image embeddings f_I(X) and expression codes f_e(beta)."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def info_nce(image_emb: torch.Tensor, expr_emb: torch.Tensor, temperature: torch.Tensor | float,
             symmetric: bool = True) -> torch.Tensor:
    """Contrastive loss over ``K`` frames of the *same* clip.

    Args:
        image_emb: ``(K, d)`` f_I of frames X_1..X_K of one clip.
        expr_emb: ``(K, d)`` f_e(beta_k) of the same frames, row-aligned.
        temperature: tau (> 0).
        symmetric: average the expression->image and image->expression directions.
    Returns:
        scalar loss. For frame ``k``: ``-log(exp(s_kk / tau) / sum_j exp(s_jk / tau))``
        with ``s_jk = cos(f_I(X_j), f_e(beta_k))``. **The positive ``j = k`` is included
        in the denominator** (standard InfoNCE; excluding it makes the loss unbounded
        below). The negatives are the other frames of the same clip, so appearance
        cannot separate them. Chance level is ``log(K)``.
    """
    if image_emb.shape != expr_emb.shape or image_emb.ndim != 2:
        raise ValueError(f"need matching (K, d) embeddings, got {image_emb.shape} and {expr_emb.shape}")
    logits = F.normalize(expr_emb, dim=-1) @ F.normalize(image_emb, dim=-1).T / temperature
    target = torch.arange(logits.shape[0], device=logits.device)
    loss = F.cross_entropy(logits, target)
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(logits.T, target))
    return loss


def clip_info_nce(image_emb: torch.Tensor, expr_emb: torch.Tensor, temperature, symmetric: bool = True):
    """``info_nce`` averaged over clips: embeddings ``(N_clips, K, d)``, negatives only within a clip."""
    losses = [info_nce(i, e, temperature, symmetric) for i, e in zip(image_emb, expr_emb)]
    return torch.stack(losses).mean()


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
