"""Small convolutional building blocks shared by the generator and super-resolution."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


def init_variance_preserving(module: nn.Module, slope: float = 0.2) -> None:
    """He (fan-in, LeakyReLU) init for every conv and linear layer, zero biases.

    PyTorch's default init shrinks activations by ~2x per layer, which starved the
    expression path of the generator (its output was ~1/50 of the high-res branch).
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)) and m.weight.requires_grad:
            nn.init.kaiming_normal_(m.weight, a=slope, mode="fan_in", nonlinearity="leaky_relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def conv_act(cin: int, cout: int, stride: int = 1, slope: float = 0.2) -> nn.Sequential:
    """3x3 convolution followed by LeakyReLU (in place: it only ever overwrites the convolution's fresh output)."""
    return nn.Sequential(conv3x3(cin, cout, stride), nn.LeakyReLU(slope, inplace=True))


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

    def reset_parameters(self) -> None:
        """He init scaled up by the blur's white-noise variance reduction, so x2 stages keep variance."""
        k2d = torch.outer(self.blur.kernel, self.blur.kernel)
        nn.init.kaiming_normal_(self.conv.weight, a=0.2, mode="fan_in", nonlinearity="leaky_relu")
        with torch.no_grad():
            self.conv.weight.mul_(k2d.pow(2).sum().rsqrt().sqrt())
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.blur(self.shuffle(self.conv(x))))
