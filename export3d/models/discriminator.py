"""EG3D-style dual discriminator and the R1 penalty."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import DiscriminatorConfig


class _DownBlock(nn.Module):
    """Residual block: two 3x3 convs (second one stride 2) + avg-pool/1x1 skip, scaled by 1/sqrt(2)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(cin, cin, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
        )
        self.skip = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.skip(F.avg_pool2d(x, 2))) / math.sqrt(2)


class DualDiscriminator(nn.Module):
    """Logits ``(B,)`` for an SR image ``(B, 3, H, W)`` and its raw render ``(B, 3, h, w)``.

    The raw image is bilinearly upsampled to ``H x W`` and concatenated (6 channels),
    so the discriminator also enforces consistency between the two. With
    ``camera_conditioning`` a projection term ``<phi(x), embed(camera)>`` is added.
    """

    def __init__(self, cfg: DiscriminatorConfig):
        super().__init__()
        ch = cfg.channels
        self.from_rgb = nn.Sequential(nn.Conv2d(6, ch[0], 1), nn.LeakyReLU(0.2))
        self.blocks = nn.Sequential(*[_DownBlock(a, b) for a, b in zip(ch[:-1], ch[1:], strict=True)])
        self.epilogue = nn.Sequential(nn.Conv2d(ch[-1], ch[-1], 3, padding=1), nn.LeakyReLU(0.2))
        self.out = nn.Linear(ch[-1], 1)
        self.camera_embed = nn.Linear(25, ch[-1]) if cfg.camera_conditioning else None

    def forward(self, image: torch.Tensor, raw: torch.Tensor, camera: torch.Tensor | None = None) -> torch.Tensor:
        raw_up = F.interpolate(raw, size=image.shape[-2:], mode="bilinear", align_corners=False)
        x = self.epilogue(self.blocks(self.from_rgb(torch.cat([image, raw_up], dim=1))))
        h = x.mean(dim=(2, 3))
        logits = self.out(h).squeeze(-1)
        if self.camera_embed is not None:
            if camera is None:
                raise ValueError("this discriminator is camera-conditioned: pass camera (B, 25)")
            logits = logits + (h * self.camera_embed(camera)).sum(-1) / math.sqrt(h.shape[-1])
        return logits


def r1_penalty(real_logits: torch.Tensor, real_inputs: list[torch.Tensor]) -> torch.Tensor:
    """Mean over the batch of ``||d logits / d inputs||^2`` (inputs must require grad).

    Multiply by ``gamma / 2`` (and the lazy-regularisation interval) in the loss.
    """
    grads = torch.autograd.grad(real_logits.sum(), real_inputs, create_graph=True)
    return sum(g.pow(2).flatten(1).sum(1) for g in grads).mean()
