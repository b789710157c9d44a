"""Tri-plane volume renderer: parameter-free; the decoder MLP is passed in.

Fast path (what makes it ~2x quicker than a straight EG3D port on CPU):

* the coarse pass evaluates the decoder but composites nothing: it only yields weights;
* fine and coarse samples are never merged by sorting features: only the 1-channel
  depths and densities are sorted, the weights are scattered back to sample order,
  and the features are composited with one batched matmul per sample set;
* the three planes are sampled and averaged in one call: ``grid_sample`` when
  gradients reach the planes (training), else one ``embedding_bag`` over a
  channel-last table (inference);
* without gradients the decoder runs on blocks of ``DECODE_BLOCK`` points, whose hidden activations stay in
  the cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .compositing import composite, unsorted_weights
from .rays import generate_rays, importance_depths, stratified_depths
from .triplane import sample_triplane, sample_triplane_gather

DECODE_BLOCK = 8192  #: points per decoder call when rendering without gradients (``_decode_in_blocks``)

#: ``decoder(features (B, N, C)) -> (sigma (B, N) >= 0, features (B, N, C_out))``
Decoder = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class RenderSettings:
    """Sampling settings of one render call (see ``RenderConfig`` for the defaults)."""

    resolution: int
    num_coarse: int
    num_fine: int
    near: float
    far: float
    box_size: float = 1.0
    perturb: bool = False  #: jitter the stratified samples and draw random importance samples.


@dataclass
class RenderOutput:
    """Raw render. ``rgb`` is ``features[:, :3]`` mapped from [0, 1] to [-1, 1]."""

    rgb: torch.Tensor  #: (B, 3, H, W) in [-1, 1]; empty space is black (-1).
    features: torch.Tensor  #: (B, C, H, W) composited decoder features.
    depth: torch.Tensor  #: (B, 1, H, W) expected depth along the ray, empty space counted at ``far``.
    opacity: torch.Tensor  #: (B, 1, H, W) accumulated opacity in [0, 1].


def points_along_rays(origins: torch.Tensor, dirs: torch.Tensor, depths: torch.Tensor) -> torch.Tensor:
    """``origins, dirs (B, R, 3)``, ``depths (B, R, S)`` -> points ``(B, R*S, 3)``."""
    pts = origins.unsqueeze(2) + dirs.unsqueeze(2) * depths.unsqueeze(-1)
    return pts.reshape(origins.shape[0], -1, 3)


def _evaluate(planes, decoder: Decoder, origins, dirs, depths, box_size):
    b, r, s = depths.shape
    # grid_sample has the faster backward; the embedding_bag gather the faster forward.
    training = torch.is_grad_enabled() and planes.requires_grad
    sampler = sample_triplane if training else sample_triplane_gather
    feats = sampler(planes, points_along_rays(origins, dirs, depths), box_size)
    sigma, out = decoder(feats) if torch.is_grad_enabled() else _decode_in_blocks(decoder, feats)
    return sigma.reshape(b, r, s), out.reshape(b, r, s, -1)


def _decode_in_blocks(decoder: Decoder, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``decoder(feats)`` for ``feats (B, N, C)``, ``DECODE_BLOCK`` points at a time: the decoder's hidden
    activations then stay in the CPU's cache instead of passing through memory several times (the same values)."""
    b, n, _ = feats.shape
    step = max(1, DECODE_BLOCK // b)
    if n <= step:
        return decoder(feats)
    parts = [decoder(feats[:, i:i + step]) for i in range(0, n, step)]
    return torch.cat([p[0] for p in parts], dim=1), torch.cat([p[1] for p in parts], dim=1)


def render_triplane(planes: torch.Tensor, decoder: Decoder, camera: torch.Tensor,
                    settings: RenderSettings, generator: torch.Generator | None = None) -> RenderOutput:
    """Render tri-planes ``(B, 3, C, P, P)`` from cameras ``(B, 25)``.

    Coarse: ``num_coarse`` stratified samples in ``[near, far]``; fine: ``num_fine``
    importance samples from the coarse weights; the final image composites both sets.
    """
    st = settings
    origins, dirs = generate_rays(camera.to(planes.dtype), st.resolution)
    b, r = origins.shape[:2]
    t_c = stratified_depths((b, r), st.num_coarse, st.near, st.far, st.perturb,
                            planes.device, planes.dtype, generator)
    sig_c, feat_c = _evaluate(planes, decoder, origins, dirs, t_c, st.box_size)
    if st.num_fine > 0:
        with torch.no_grad():
            w_coarse = unsorted_weights(t_c, sig_c.detach(), st.far)
        t_f = importance_depths(w_coarse, st.num_fine, st.near, st.far, st.perturb, generator)
        sig_f, feat_f = _evaluate(planes, decoder, origins, dirs, t_f, st.box_size)
        depths = torch.cat([t_c, t_f], dim=-1)
        w = unsorted_weights(depths, torch.cat([sig_c, sig_f], dim=-1), st.far)
        w_c, w_f = w[..., : st.num_coarse], w[..., st.num_coarse:]
        feats = composite(w_c.contiguous(), feat_c) + composite(w_f.contiguous(), feat_f)
    else:
        depths, w = t_c, unsorted_weights(t_c, sig_c, st.far)
        feats = composite(w, feat_c)
    return _assemble(feats, w, depths, st.far, st.resolution)


def _assemble(feats, w, depths, far, res) -> RenderOutput:
    b = feats.shape[0]
    opacity = w.sum(-1, keepdim=True)
    depth = (w * depths).sum(-1, keepdim=True) + (1.0 - opacity) * far
    to_img = lambda x: x.permute(0, 2, 1).reshape(b, x.shape[-1], res, res)  # noqa: E731
    feature_image = to_img(feats)
    return RenderOutput(rgb=feature_image[:, :3] * 2.0 - 1.0, features=feature_image,
                        depth=to_img(depth), opacity=to_img(opacity))
