"""SegFormer-style transformer blocks whose LayerNorms are EAdaLN(beta').

Tokens are ``(B, N, D)`` on an ``h x w`` grid (row-major, ``N = h * w``).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class EAdaLN(nn.Module):
    """``sigma(beta') * LN(x) + mu(beta')`` with ``sigma = 1 + s(beta')``.

    ``s`` and ``mu`` come from one linear layer initialised to zero, so the block
    starts as a plain (affine-free) LayerNorm, as in DiT's adaLN-Zero.
    """

    def __init__(self, dim: int, code_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.modulation = nn.Linear(code_dim, 2 * dim)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """``x (B, N, D)``, ``code (B, code_dim)``."""
        scale, shift = self.modulation(code).unsqueeze(1).chunk(2, dim=-1)
        return self.norm(x) * (1.0 + scale) + shift


class EfficientSelfAttention(nn.Module):
    """Multi-head self-attention whose keys/values are spatially reduced by ``sr_ratio``."""

    def __init__(self, dim: int, heads: int, sr_ratio: int = 1):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, sr_ratio, stride=sr_ratio)
            self.sr_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        b, n, d = x.shape
        kv_in = x
        if self.sr_ratio > 1:
            grid = x.transpose(1, 2).reshape(b, d, *hw)
            kv_in = self.sr_norm(self.sr(grid).flatten(2).transpose(1, 2))
        q = self.q(x).view(b, n, self.heads, -1).transpose(1, 2)
        k, v = self.kv(kv_in).view(b, -1, 2, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class MixFFN(nn.Module):
    """Linear -> 3x3 depthwise conv on the token grid -> GELU -> Linear."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        b, n, _ = x.shape
        h = self.fc1(x)
        h = self.dwconv(h.transpose(1, 2).reshape(b, -1, *hw)).flatten(2).transpose(1, 2)
        return self.fc2(F.gelu(h))


class EAdaLNBlock(nn.Module):
    """``x += Attn(EAdaLN(x)); x += MixFFN(EAdaLN(x))``."""

    def __init__(self, dim: int, code_dim: int, heads: int, mlp_ratio: float, sr_ratio: int):
        super().__init__()
        self.norm1 = EAdaLN(dim, code_dim)
        self.attn = EfficientSelfAttention(dim, heads, sr_ratio)
        self.norm2 = EAdaLN(dim, code_dim)
        self.ffn = MixFFN(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, code: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        x = x + self.attn(self.norm1(x, code), hw)
        return x + self.ffn(self.norm2(x, code), hw)


class OverlapPatchEmbed(nn.Module):
    """Stride-2 3x3 conv + LayerNorm: ``(B, C, H, W)`` -> tokens ``(B, H/2 * W/2, D)``."""

    def __init__(self, cin: int, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, 3, stride=2, padding=1)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        x = self.proj(x)
        hw = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), hw
