"""Plain convolutional x4 super-resolution (no style modulation, since there is no latent w)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import conv_act


class SuperResolution(nn.Module):
    """Feature image ``(B, C, h, w)`` + raw RGB ``(B, 3, h, w)`` -> image ``(B, 3, h*2^k, w*2^k)``.

    ``k = len(channels)`` stages of (bilinear x2 -> 3x3 conv -> 3x3 conv), then a 1x1
    to RGB, added to the bilinearly upsampled raw RGB (skip), all in [-1, 1] units.
    """

    def __init__(self, in_channels: int, channels: tuple[int, ...]):
        super().__init__()
        self.scale = 2 ** len(channels)
        self.conv_in = conv_act(in_channels, channels[0])
        stages, cin = [], channels[0]
        for c in channels:
            stages.append(nn.Sequential(conv_act(cin, c), conv_act(c, c)))
            cin = c
        self.stages = nn.ModuleList(stages)
        self.to_rgb = nn.Conv2d(cin, 3, 1)

    def forward(self, features: torch.Tensor, raw_rgb: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(features)
        for stage in self.stages:
            x = stage(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
        skip = F.interpolate(raw_rgb, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return self.to_rgb(x).float() + skip.float()
