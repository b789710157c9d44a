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
import torch.nn.functional as F


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
        """The module docstring's sums, with each per-point product folded into per-row weights (exact): the
        basis's last layer is contracted with ``beta_s - beta`` before it meets the points, and the expressions'
        share of the visibility MLP's first layer is computed once per row, not once per point."""
        b, _, r, _ = points.shape
        x = fourier_encoding(points.flatten(2).transpose(1, 2), self.frequencies)  # (B, R*R, E)
        return self._delta(x, source_beta - beta).reshape(b, 3, r, r), self._logit(x, beta, source_beta).reshape(
            b, 1, r, r)

    def _delta(self, x: torch.Tensor, diff: torch.Tensor) -> torch.Tensor:
        """``sum_k diff_k B_k(x)`` as ``(B, 3, N)`` for encoded points ``x (B, N, E)``, ``diff (B, K)``."""
        hidden = self.basis[:-1](x)  # (B, N, H)
        last = self.basis[-1]
        weight = torch.einsum("kch,bk->bch", last.weight.view(self.beta_dim, 3, -1), diff)  # (B, 3, H)
        bias = diff @ last.bias.view(self.beta_dim, 3)  # (B, 3)
        return torch.baddbmm(bias[:, :, None], weight, hidden.transpose(1, 2))

    def _logit(self, x: torch.Tensor, beta: torch.Tensor, source_beta: torch.Tensor) -> torch.Tensor:
        """``V([x, beta, beta_s])`` as ``(B, N, 1)``: the first layer split into its point and expression parts."""
        first, e = self.visibility[0], x.shape[-1]
        codes = torch.cat([beta, source_beta], dim=-1)
        pre = F.linear(x, first.weight[:, :e]) + F.linear(codes, first.weight[:, e:], first.bias)[:, None]
        return self.visibility[1:](pre)
