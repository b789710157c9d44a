"""Expression field: how a surface point moves between the driven expression and the portrait's own.

A warped model's tri-plane gives, per output ray, the visible surface point ``X`` (world units, the head's
canonical frame). Where ``X`` is in the portrait depends on *both* expressions: a jaw that opens in the driver
moves the chin down, so the chin pixel must be fetched from higher up in a closed-mouth portrait. The
expression field makes that dependence explicit, like a blendshape model extended to space:

    delta(X) = sum_k (beta_s,k - beta_k) B_k(X)           (backward deformation, world units)
    logit(X) = V(X, beta, beta_s)                         (added to the visibility logit)

``B (3 -> 52 x 3)`` and ``V`` are small MLPs of a Fourier encoding of ``X``. ``delta`` is linear in the
expression difference, so it is exactly zero at the portrait's own expression (the output is the portrait),
and every blendshape has its own displacement field: expression cannot be ignored by construction, which a
deformation read from the tri-plane's features alone did not manage (docs/training.md, "The warped model").
Both last layers start at zero. Symbols: docs/conventions.md.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn


def fourier_encoding(points: torch.Tensor, frequencies: int) -> torch.Tensor:
    """``(..., 3)`` -> ``(..., 3 + 6 F)``: the points, then ``sin`` and ``cos`` of ``pi 2^j x`` for j < F."""
    scales = math.pi * 2.0 ** torch.arange(frequencies, device=points.device, dtype=points.dtype)
    angles = (points[..., None] * scales).flatten(-2)
    return torch.cat([points, torch.sin(angles), torch.cos(angles)], dim=-1)


def _mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    last = nn.Linear(hidden, outputs)
    nn.init.zeros_(last.weight), nn.init.zeros_(last.bias)
    return nn.Sequential(nn.Linear(inputs, hidden), nn.Softplus(), nn.Linear(hidden, hidden), nn.Softplus(), last)


class ExpressionField(nn.Module):
    """``forward(points (B, 3, R, R), beta (B, K), source_beta (B, K))`` -> ``delta (B, 3, R, R)``,
    ``logit (B, 1, R, R)`` (module docstring)."""

    def __init__(self, beta_dim: int, hidden: int = 128, frequencies: int = 6):
        super().__init__()
        self.beta_dim, self.frequencies = beta_dim, frequencies
        encoded = 3 + 6 * frequencies
        self.basis = _mlp(encoded, hidden, 3 * beta_dim)
        self.visibility = _mlp(encoded + 2 * beta_dim, hidden, 1)

    def forward(self, points: torch.Tensor, beta: torch.Tensor,
                source_beta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, _, r, _ = points.shape
        x = fourier_encoding(points.flatten(2).transpose(1, 2), self.frequencies)  # (B, R*R, E)
        basis = self.basis(x).reshape(b, r * r, self.beta_dim, 3)
        delta = torch.einsum("bnkc,bk->bcn", basis, source_beta - beta).reshape(b, 3, r, r)
        codes = torch.cat([beta, source_beta], dim=-1)[:, None].expand(-1, r * r, -1)
        logit = self.visibility(torch.cat([x, codes], dim=-1)).reshape(b, 1, r, r)
        return delta, logit
