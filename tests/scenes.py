"""Analytic tri-plane scenes for tests: a ball of known centre and radius, and a model that renders it.

Each plane stores ``q(a, b) = 1 - ((a - a0)^2 + (b - b0)^2) / (2 rho^2)`` over its two world axes
(docs/conventions.md: plane 0 = (x, -y), 1 = (z, -y), 2 = (x, z)), so the averaged feature is exactly
``f(p) = 1 - |p - c|^2 / (3 rho^2)`` and :class:`BallDecoder`'s density ``D * max(0, f - t0)`` is a ball:
``sigma >= T`` inside the radius ``sqrt(3 rho^2 (1 - t0 - T / D))``. Outside the box the features are 0, so
``f = 0 < t0`` and space is empty.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from export3d.config import ModelConfig
from export3d.models.export3d import Export3D


def ball_planes(center, rho: float, size: int = 128, box: float = 1.0, channels: int = 4) -> torch.Tensor:
    """Tri-plane ``(1, 3, channels, size, size)`` whose channel 0 encodes the ball (the others are 0)."""
    x0, y0, z0 = center
    w = ((torch.arange(size) + 0.5) / size * 2 - 1) * box / 2  # world coordinate of texel centres (u or v / s)
    col, row = w[None, :], w[:, None]

    def q(a, a0, b, b0):
        return 1 - ((a - a0) ** 2 + (b - b0) ** 2) / (2 * rho ** 2)

    planes = torch.zeros(1, 3, channels, size, size)
    planes[0, 0, 0] = q(col, x0, -row, y0)  # xy: u = x, v = -y
    planes[0, 1, 0] = q(col, z0, -row, y0)  # zy: u = z, v = -y
    planes[0, 2, 0] = q(col, x0, row, z0)  # xz: u = x, v = z
    return planes


def ball_rho(radius: float, t0: float, threshold: float, density: float) -> float:
    """``rho`` for which the ``sigma = threshold`` surface is a sphere of ``radius``."""
    return radius / math.sqrt(3 * (1 - t0 - threshold / density))


class BallDecoder(nn.Module):
    """``sigma = density * max(0, f0 - t0)``; features: ``rgb`` (default white) and zeros."""

    def __init__(self, t0: float = 0.5, density: float = 400.0, out_channels: int = 32, rgb=(1.0, 1.0, 1.0)):
        super().__init__()
        self.t0, self.density, self.out_channels = t0, density, out_channels
        self.register_buffer("rgb", torch.tensor(rgb))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sigma = self.density * F.relu(x[..., 0] - self.t0)
        feats = x.new_zeros(*x.shape[:-1], self.out_channels)
        feats[..., :3] = self.rgb
        return sigma, feats


class UpsampleRGB(nn.Module):
    """Stands in for the super-resolution: the raw RGB, upsampled (nearest) to the output size."""

    def __init__(self, factor: int):
        super().__init__()
        self.factor = factor

    def forward(self, features: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        return F.interpolate(rgb, scale_factor=self.factor, mode="nearest")


def ball_model(center, radius: float = 0.08, cfg: ModelConfig | None = None) -> Export3D:
    """The ``small`` model rendering only a white ball (opaque, radius ``radius``) on black.

    ``model.planes`` ignores the source and expression; the decoder and super-resolution are replaced.
    """
    cfg = cfg or ModelConfig.small()
    model = Export3D(cfg).eval()
    decoder = BallDecoder(t0=0.5, density=400.0, out_channels=cfg.render.decoder_out)
    planes = ball_planes(center, ball_rho(radius, decoder.t0, 0.0, decoder.density), size=cfg.generator.plane_size)
    model.decoder = decoder
    model.superres = UpsampleRGB(cfg.superres.output_size // cfg.render.render_size)
    model.planes = lambda src, beta: planes.expand(len(beta), -1, -1, -1, -1).to(beta.device)
    return model
