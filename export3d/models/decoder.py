"""Tri-plane decoder MLP: averaged plane features -> density and colour features (EG3D-style)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class TriplaneDecoder(nn.Module):
    """``FC(C -> hidden) -> softplus`` then two separate heads.

    * density head ``hidden -> 1``, activated as ``softplus(x - 1)`` (so sigma >= 0);
    * feature head ``hidden -> C_out``, squashed to ``[-0.001, 1.001]`` by
      ``sigmoid(x) * 1.002 - 0.001``; channels 0..2 are the raw RGB in [0, 1].

    Separate heads avoid slicing a ``(N, 1 + C_out)`` output, whose backward
    materialises a zero-filled gradient of the whole tensor.
    """

    def __init__(self, in_channels: int = 32, hidden: int = 64, out_channels: int = 32):
        super().__init__()
        self.trunk = nn.Linear(in_channels, hidden)
        self.density = nn.Linear(hidden, 1)
        self.features = nn.Linear(hidden, out_channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x (B, N, C)`` -> ``sigma (B, N)``, ``features (B, N, C_out)``."""
        h = F.softplus(self.trunk(x))
        sigma = F.softplus(self.density(h).squeeze(-1) - 1.0)
        feats = torch.sigmoid(self.features(h)) * 1.002 - 0.001
        return sigma, feats
