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
        return self._sigma(h), self._features(h)

    def _sigma(self, h: torch.Tensor) -> torch.Tensor:
        return F.softplus(self.density(h).squeeze(-1) - 1.0)

    def _features(self, h: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.features(h)) * 1.002 - 0.001


class WarpDecoder(TriplaneDecoder):
    """``TriplaneDecoder`` that also returns, after the ``C_out`` features, per point:

    * channels ``C_out .. C_out+2``: the backward deformation ``delta = deform_scale * tanh(.)`` (world units):
      ``x + delta`` is the same surface point in the portrait's own expression;
    * channel ``C_out+3``: a visibility logit (is this point shown by the portrait?), initialised to
      ``visibility_bias``.

    The renderer composites them like any feature: ``sum_i w_i delta_i`` and ``sum_i w_i logit_i`` per ray.
    """

    EXTRA = 4  #: channels after the features: deformation (3) and visibility logit (1)

    def __init__(self, in_channels: int, hidden: int, out_channels: int, deform_scale: float,
                 visibility_bias: float, code_dim: int = 0):
        super().__init__(in_channels, hidden, out_channels)
        self.deform_scale = deform_scale
        #: with ``code_dim``: the deformation head also sees the expression code beta' (``forward(x, code)``)
        self.deform_code = nn.Linear(code_dim, hidden) if code_dim else None
        self.deform = nn.Linear(hidden, 3)
        self.visibility = nn.Linear(hidden, 1)
        nn.init.zeros_(self.deform.weight), nn.init.zeros_(self.deform.bias)
        nn.init.zeros_(self.visibility.weight), nn.init.constant_(self.visibility.bias, visibility_bias)

    def forward(self, x: torch.Tensor, code: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x (B, N, C)`` (and ``code (B, d)``, beta', when the head takes it) -> ``sigma (B, N)`` and
        ``(B, N, C_out + 4)``: features, deformation, visibility logit."""
        pre = self.trunk(x)
        h = F.softplus(pre)
        if self.deform_code is not None and code is not None:
            hd = F.softplus(pre + self.deform_code(code)[:, None])
            return self._sigma(h), torch.cat([self._features(h), self._delta(hd), self.visibility(h)], dim=-1)
        if torch.is_grad_enabled():
            return self._sigma(h), torch.cat([self._features(h), self._delta(h), self.visibility(h)], dim=-1)
        return self._sigma(h), self._heads_in_place(h)

    def _delta(self, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.deform(h)) * self.deform_scale

    def _heads_in_place(self, h: torch.Tensor) -> torch.Tensor:
        """Without gradients: the three heads as one matrix product, activated in place (the same values as the
        separate heads, without their intermediate copies; rendering's largest tensors)."""
        heads = (self.features, self.deform, self.visibility)
        out = F.linear(h, torch.cat([m.weight for m in heads]), torch.cat([m.bias for m in heads]))
        c = self.features.out_features
        out[..., :c].sigmoid_().mul_(1.002).sub_(0.001)
        out[..., c:c + 3].tanh_().mul_(self.deform_scale)
        return out
