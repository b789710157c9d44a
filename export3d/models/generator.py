"""Hybrid tri-plane generator G(S, beta') with EAdaLN-modulated SegFormer blocks.

Split in two so a video encodes its source once:

* ``encode_source(S)`` (source only): CNN stem to 1/8 -> overlapping patch
  embedding to 1/16 tokens; and the high-resolution CNN branch at 1/2.
* ``planes_from_source(src, beta')`` (per expression): EAdaLN blocks over the
  tokens -> three x2 pixel-shuffle stages, each followed by a fixed Gaussian
  low-pass (1/16 -> 1/2) -> fused with the high-resolution branch -> tri-plane,
  plus the online-EMA tri-plane.

Online EMA tri-plane (our reading of "Online EMA is employed to stabilize the
tri-planes, adding T_EMA to the generated tri-planes"): a buffer ``T_EMA`` holds
an exponential moving average of the batch-mean *generated* planes (before the
addition); the output is ``T_gen + T_EMA``. It is updated (no gradient) only in
training mode and saved with the weights, so inference adds the same mean-face
prior the network was trained with. The network is thus free to predict only
the per-source, per-expression residual around the running mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from ..config import GeneratorConfig
from .layers import PixelShuffleUp, conv_act, coordinate_grid, init_variance_preserving
from .segformer import EAdaLNBlock, OverlapPatchEmbed


@dataclass
class SourceFeatures:
    """Cached source encoding. Batch 1 broadcasts against any expression batch."""

    tokens: torch.Tensor  #: (B, N, D) at the 1/16 grid.
    grid: tuple[int, int]  #: (h, w) of the token grid.
    highres: torch.Tensor  #: (B, C_hi, H/2, W/2) high-resolution branch.

    def expand(self, batch: int) -> "SourceFeatures":
        if self.tokens.shape[0] == batch:
            return self
        if self.tokens.shape[0] != 1:
            raise ValueError(f"cannot broadcast a source batch of {self.tokens.shape[0]} to {batch}")
        return SourceFeatures(self.tokens.expand(batch, -1, -1), self.grid,
                              self.highres.expand(batch, -1, -1, -1))

    @property
    def device(self) -> torch.device:
        return self.tokens.device

    def to(self, device) -> "SourceFeatures":
        """The same features on ``device`` (``self`` when they are already there)."""
        if self.tokens.device == torch.device(device):
            return self
        return SourceFeatures(self.tokens.to(device), self.grid, self.highres.to(device))


class TriplaneGenerator(nn.Module):
    """``G(S (B, 3, H, W) in [-1, 1], beta' (B, d))`` -> tri-plane ``(B, 3, C, H/2, W/2)``."""

    def __init__(self, cfg: GeneratorConfig, code_dim: int):
        super().__init__()
        self.cfg = cfg
        s1, s2, s3 = cfg.stem_channels
        cin = self.input_channels
        self.stem = nn.Sequential(
            conv_act(cin, s1, 2), conv_act(s1, s1), conv_act(s1, s2, 2), conv_act(s2, s2),
            conv_act(s2, s3, 2), conv_act(s3, s3),
        )
        self.patch_embed = OverlapPatchEmbed(s3, cfg.token_dim)
        hc = cfg.highres_channels
        self.highres = nn.Sequential(
            nn.Conv2d(cin, hc, 7, stride=2, padding=3), nn.LeakyReLU(0.01),
            *[conv_act(hc, hc, 1, 0.01) for _ in range(cfg.highres_layers)],
        )

        self.blocks = nn.ModuleList(
            EAdaLNBlock(cfg.token_dim, code_dim, cfg.num_heads, cfg.mlp_ratio, cfg.sr_ratio)
            for _ in range(cfg.num_blocks)
        )
        self.norm = nn.LayerNorm(cfg.token_dim)
        ups, cin = [], cfg.token_dim
        for cout in cfg.up_channels:
            ups.append(PixelShuffleUp(cin, cout, cfg.blur_sigma))
            cin = cout
        self.up = nn.Sequential(*ups)
        f = cfg.fusion_channels
        self.fusion = nn.Sequential(
            conv_act(cin + cfg.highres_channels, f), conv_act(f, f), nn.Conv2d(f, 3 * cfg.plane_channels, 1)
        )
        p = cfg.plane_size
        self.register_buffer("ema_planes", torch.zeros(3 * cfg.plane_channels, p, p))
        for part in (self.stem, self.highres, self.fusion):
            init_variance_preserving(part)
        for stage in self.up:
            stage.reset_parameters()

    MESH_CHANNELS = 3  #: channels of a face mesh map (``face/mesh_map.py``)

    @property
    def input_channels(self) -> int:
        """Channels the source CNNs read: RGB, the pixel coordinates (2) and, with ``mesh_cue``, the mesh map."""
        return 5 + (self.MESH_CHANNELS if self.cfg.mesh_cue else 0)

    # ------------------------------------------------------------------ source
    def encode_source(self, image: torch.Tensor, mesh: torch.Tensor | None = None) -> SourceFeatures:
        """Source-only part. ``image (B, 3, H, W)`` in [-1, 1]; ``mesh (B, 3, H, W)`` in [0, 1], the face mesh map
        of the same crop, required with ``mesh_cue`` (and refused without it)."""
        b, _, h, w = image.shape
        if h != self.cfg.source_size or w != self.cfg.source_size:
            raise ValueError(f"source must be {self.cfg.source_size}x{self.cfg.source_size}, got {h}x{w}")
        if (mesh is not None) != self.cfg.mesh_cue:
            raise ValueError("this generator needs the face mesh map of its source (mesh_cue)" if self.cfg.mesh_cue
                             else "this generator takes no face mesh map (mesh_cue is off)")
        parts = [image, coordinate_grid(b, h, w, image)] + ([mesh.to(image.dtype) * 2 - 1] if mesh is not None else [])
        x = torch.cat(parts, dim=1)
        tokens, grid = self.patch_embed(self.stem(x))
        return SourceFeatures(tokens=tokens, grid=grid, highres=self.highres(x))

    # -------------------------------------------------------------- expression
    def planes_from_source(self, src: SourceFeatures, code: torch.Tensor) -> torch.Tensor:
        """Expression-dependent part -> tri-plane ``(B, 3, C, P, P)``."""
        src = src.expand(code.shape[0])
        x = src.tokens
        for block in self.blocks:
            x = block(x, code, src.grid)
        b, _, d = x.shape
        x = self.norm(x).transpose(1, 2).reshape(b, d, *src.grid)
        x = self.up(x)
        planes = self.fusion(torch.cat([x, src.highres.to(x.dtype)], dim=1))
        planes = self._add_ema(planes.float())
        p = self.cfg.plane_size
        return planes.view(b, 3, self.cfg.plane_channels, p, p)

    def _add_ema(self, planes: torch.Tensor) -> torch.Tensor:
        if not self.cfg.ema_triplane:
            return planes
        if self.training:
            with torch.no_grad():
                m = self.cfg.ema_momentum
                self.ema_planes.mul_(m).add_(planes.detach().mean(0), alpha=1.0 - m)
        return planes + self.ema_planes

    def forward(self, image: torch.Tensor, code: torch.Tensor, mesh: torch.Tensor | None = None) -> torch.Tensor:
        return self.planes_from_source(self.encode_source(image, mesh), code)
