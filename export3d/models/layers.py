"""Small convolutional building blocks shared by the generator and super-resolution."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


def conv_act(cin: int, cout: int, stride: int = 1, slope: float = 0.2) -> nn.Sequential:
    """3x3 convolution followed by LeakyReLU."""
    return nn.Sequential(conv3x3(cin, cout, stride), nn.LeakyReLU(slope))


def coordinate_grid(batch: int, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """``(B, 2, H, W)`` pixel-centre coordinates (x, y) in (-1, 1)."""
    ys = (torch.arange(height, device=like.device, dtype=like.dtype) + 0.5) / height * 2 - 1
    xs = (torch.arange(width, device=like.device, dtype=like.dtype) + 0.5) / width * 2 - 1
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx, yy]).expand(batch, 2, height, width)


class GaussianBlur(nn.Module):
    """Fixed (non-learned) depthwise Gaussian low-pass, reflect-padded, size preserving."""

    def __init__(self, sigma: float = 1.0):
        super().__init__()
        radius = max(1, math.ceil(2 * sigma))
        x = torch.arange(-radius, radius + 1, dtype=torch.float32)
        k = torch.exp(-0.5 * (x / sigma) ** 2)
        self.register_buffer("kernel", k / k.sum(), persistent=False)
        self.radius = radius

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, r = x.shape[1], self.radius
        k = self.kernel.to(x.dtype)
        x = F.pad(x, (r, r, r, r), mode="reflect")
        x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
        return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


class PixelShuffleUp(nn.Module):
    """x2 upsampling: conv to ``4 * cout`` -> PixelShuffle(2) -> Gaussian low-pass -> LeakyReLU."""

    def __init__(self, cin: int, cout: int, blur_sigma: float):
        super().__init__()
        self.conv = conv3x3(cin, 4 * cout)
        self.shuffle = nn.PixelShuffle(2)
        self.blur = GaussianBlur(blur_sigma)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.blur(self.shuffle(self.conv(x))))
