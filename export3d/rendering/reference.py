"""Naive reference renderer (a straight EG3D-style port) for tests and benchmarks.

Same maths and the same samples as ``render_triplane``, but written the obvious
way: one ``grid_sample`` per plane, a full composite in the coarse pass, and the
coarse and fine samples merged by sorting and gathering the whole feature vectors.
"""

from __future__ import annotations

import torch

from .compositing import sorted_weights
from .rays import generate_rays, importance_depths, stratified_depths
from .renderer import Decoder, RenderOutput, RenderSettings, _assemble, points_along_rays
from .triplane import sample_planes_separately


def _evaluate_naive(planes, decoder: Decoder, origins, dirs, depths, box_size):
    b, r, s = depths.shape
    feats = sample_planes_separately(planes, points_along_rays(origins, dirs, depths), box_size).mean(1)
    sigma, out = decoder(feats)
    return sigma.reshape(b, r, s, 1), out.reshape(b, r, s, -1)


def render_triplane_reference(planes: torch.Tensor, decoder: Decoder, camera: torch.Tensor,
                              settings: RenderSettings, generator: torch.Generator | None = None
                              ) -> RenderOutput:
    """Reference implementation of ``render_triplane`` (identical output, slower)."""
    st = settings
    origins, dirs = generate_rays(camera.to(planes.dtype), st.resolution)
    b, r = origins.shape[:2]
    t_c = stratified_depths((b, r), st.num_coarse, st.near, st.far, st.perturb,
                            planes.device, planes.dtype, generator)
    sig_c, feat_c = _evaluate_naive(planes, decoder, origins, dirs, t_c, st.box_size)
    w_c = sorted_weights(t_c, sig_c[..., 0], st.far)
    _coarse_image = (w_c.unsqueeze(-1) * feat_c).sum(-2)  # composited like EG3D, then unused
    if st.num_fine == 0:
        return _assemble((w_c.unsqueeze(-1) * feat_c).sum(-2), w_c, t_c, st.far, st.resolution)
    t_f = importance_depths(w_c.detach(), st.num_fine, st.near, st.far, st.perturb, generator)
    sig_f, feat_f = _evaluate_naive(planes, decoder, origins, dirs, t_f, st.box_size)
    depths = torch.cat([t_c, t_f], dim=-1)
    sigmas = torch.cat([sig_c, sig_f], dim=-2)
    feats = torch.cat([feat_c, feat_f], dim=-2)
    depths, order = torch.sort(depths, dim=-1)
    sigmas = torch.gather(sigmas, -2, order.unsqueeze(-1))
    feats = torch.gather(feats, -2, order.unsqueeze(-1).expand(-1, -1, -1, feats.shape[-1]))
    w = sorted_weights(depths, sigmas[..., 0], st.far)
    return _assemble((w.unsqueeze(-1) * feats).sum(-2), w, depths, st.far, st.resolution)
