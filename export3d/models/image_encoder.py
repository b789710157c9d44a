"""Image encoder f_I for CLeBS contrastive pre-training (discarded afterwards)."""

from __future__ import annotations

import torch
import torch.nn as nn


class ImageEncoder(nn.Module):
    """Small CNN: image ``(B, 3, H, W)`` in [-1, 1] -> embedding ``(B, code_dim)``.

    Five stride-2 conv stages (widths ``base * (1, 2, 4, 8, 8)``), global average
    pooling and a linear projection.
    """

    def __init__(self, code_dim: int, base: int = 32):
        super().__init__()
        widths = [base, base * 2, base * 4, base * 8, base * 8]
        layers: list[nn.Module] = []
        cin = 3
        for w in widths:
            layers += [nn.Conv2d(cin, w, 3, stride=2, padding=1), nn.GroupNorm(min(8, w), w), nn.SiLU(),
                       nn.Conv2d(w, w, 3, padding=1), nn.SiLU()]
            cin = w
        self.features = nn.Sequential(*layers)
        self.project = nn.Linear(cin, code_dim)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.project(self.features(image).mean(dim=(2, 3)))
