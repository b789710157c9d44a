"""Compositing maths and the volume renderer on analytic scenes, and the fast path vs the reference."""

from __future__ import annotations

import math

import pytest
import torch

from export3d.models.decoder import TriplaneDecoder
from export3d.rendering.camera import FOCAL, orbit_camera, unpack_camera
from export3d.rendering.compositing import composite, sorted_weights, unsorted_weights
from export3d.rendering.rays import generate_rays
from export3d.rendering.reference import render_triplane_reference
from export3d.rendering.renderer import RenderSettings, render_triplane

NEAR, FAR = 2.25, 3.3


def naive_weights(depths: torch.Tensor, sigmas: torch.Tensor, far: float) -> torch.Tensor:
    """Textbook quadrature with explicit loops: w_i = prod_{j<i}(1 - alpha_j) * alpha_i."""
    out = torch.zeros_like(depths)
    for idx in range(depths.shape[0]):
        t, s = depths[idx].tolist(), sigmas[idx].tolist()
        trans = 1.0
        for i in range(len(t)):
            delta = (t[i + 1] if i + 1 < len(t) else far) - t[i]
            alpha = 1.0 - math.exp(-s[i] * delta)
            out[idx, i] = trans * alpha
            trans *= 1.0 - alpha
    return out


# ---------------------------------------------------------------- compositing
def test_sorted_weights_match_the_textbook_quadrature():
    gen = torch.Generator().manual_seed(0)
    depths = torch.sort(torch.rand(6, 20, generator=gen, dtype=torch.float64) + 2.0, dim=-1).values
    sigmas = torch.rand(6, 20, generator=gen, dtype=torch.float64) * 8
    sigmas[0] = 0  # an empty ray
    w = sorted_weights(depths, sigmas, 3.1)
    torch.testing.assert_close(w, naive_weights(depths, sigmas, 3.1), atol=1e-10, rtol=1e-8)
    assert w[0].abs().max() == 0


def test_weights_sum_to_one_minus_exp_of_optical_depth():
    gen = torch.Generator().manual_seed(1)
    depths = torch.sort(torch.rand(4, 50, 32, generator=gen) * (FAR - NEAR) + NEAR, dim=-1).values
    sigmas = torch.rand(4, 50, 32, generator=gen) ** 3 * torch.rand(4, 50, 1, generator=gen) * 20
    w = sorted_weights(depths, sigmas, FAR)
    assert (w >= 0).all()
    total = w.sum(-1)
    assert (total <= 1 + 1e-6).all()
    deltas = torch.cat([depths[..., 1:] - depths[..., :-1], FAR - depths[..., -1:]], dim=-1)
    torch.testing.assert_close(total, 1 - torch.exp(-(sigmas * deltas).sum(-1)), atol=1e-5, rtol=0)
    assert total.min() < 0.5 and total.max() > 0.99  # both regimes are exercised


def test_an_opaque_first_sample_takes_all_the_weight():
    depths = torch.linspace(2.3, 3.2, 10).expand(1, 10)
    sigmas = torch.zeros(1, 10)
    sigmas[0, 3] = 1e4
    sigmas[0, 6] = 5.0  # hidden behind the opaque sample
    w = sorted_weights(depths, sigmas, FAR)
    expected = torch.zeros(1, 10)
    expected[0, 3] = 1.0
    torch.testing.assert_close(w, expected, atol=1e-6, rtol=0)


def test_unsorted_weights_are_permutation_equivariant():
    gen = torch.Generator().manual_seed(2)
    depths = torch.rand(3, 7, 24, generator=gen) + NEAR
    sigmas = torch.rand(3, 7, 24, generator=gen) * 5
    perm = torch.randperm(24, generator=gen)
    w = unsorted_weights(depths, sigmas, FAR)
    torch.testing.assert_close(unsorted_weights(depths[..., perm], sigmas[..., perm], FAR), w[..., perm])
    order = torch.argsort(depths, dim=-1)
    w_sorted = sorted_weights(depths.gather(-1, order), sigmas.gather(-1, order), FAR)
    torch.testing.assert_close(w.gather(-1, order), w_sorted)


def test_composite_is_a_weighted_sum():
    gen = torch.Generator().manual_seed(3)
    w = torch.rand(2, 5, 9, generator=gen)
    values = torch.randn(2, 5, 9, 4, generator=gen)
    torch.testing.assert_close(composite(w, values), torch.einsum("brs,brsc->brc", w, values))


# ------------------------------------------------------------ analytic scenes
def settings(res=9, coarse=16, fine=16, perturb=False, box=1.0):
    return RenderSettings(resolution=res, num_coarse=coarse, num_fine=fine, near=NEAR, far=FAR,
                          box_size=box, perturb=perturb)


def constant_planes(batch=1, channels=4, size=8, value=1.0):
    return torch.full((batch, 3, channels, size, size), value)


def coordinate_planes(size: int = 64, box: float = 1.0) -> torch.Tensor:
    """Planes whose mean encodes the point: channels (x/3, y/3, z/3, inside-indicator).

    plane 0 (xy) carries x = u*box/2 in channel 0; plane 1 (zy) carries y = -v*box/2 in
    channel 1; plane 2 (xz) carries z = v*box/2 in channel 2. Channel 3 is 1 on all
    planes, so its mean is 1 inside the region where bilinear sampling is exact.
    """
    t = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
    u = t.view(1, size).expand(size, size)
    v = t.view(size, 1).expand(size, size)
    planes = torch.zeros(1, 3, 4, size, size)
    planes[0, 0, 0] = u * box / 2
    planes[0, 1, 1] = -v * box / 2
    planes[0, 2, 2] = v * box / 2
    planes[0, :, 3] = 1.0
    return planes


def sphere_decoder(centre, radius, density=1e3, colour=(1.0, 1.0, 1.0)):
    centre = torch.tensor(centre)
    colour = torch.tensor(colour)

    def decoder(feats):
        xyz = feats[..., :3] * 3
        valid = feats[..., 3] > 0.999
        inside = ((xyz - centre).norm(dim=-1) < radius) & valid
        sigma = inside.float() * density
        return sigma, colour.expand(*feats.shape[:-1], colour.numel()).clone()

    return decoder


def test_zero_density_is_transparent():
    planes = torch.randn(2, 3, 4, 8, 8)

    def decoder(feats):
        return torch.zeros(feats.shape[:-1]), torch.full((*feats.shape[:-1], 5), 0.7)

    out = render_triplane(planes, decoder, orbit_camera([0.0, 25.0], [0.0, 10.0]), settings(res=6))
    assert out.rgb.shape == (2, 3, 6, 6) and out.features.shape == (2, 5, 6, 6)
    assert out.depth.shape == out.opacity.shape == (2, 1, 6, 6)
    assert out.opacity.abs().max() == 0
    torch.testing.assert_close(out.depth, torch.full((2, 1, 6, 6), FAR), rtol=0, atol=0)
    assert out.features.abs().max() == 0
    torch.testing.assert_close(out.rgb, torch.full((2, 3, 6, 6), -1.0), rtol=0, atol=0)  # black background


@pytest.mark.parametrize("perturb", [False, True])
def test_dense_box_of_constant_colour_composites_to_that_colour(perturb):
    colour = torch.tensor([0.2, 0.5, 0.9, 0.3])

    def decoder(feats):  # density read from channel 0 of the planes: 1 inside the box, 0 outside
        return 200.0 * feats[..., 0], colour.expand(*feats.shape[:-1], 4)

    out = render_triplane(constant_planes(), decoder, orbit_camera(0.0, 0.0), settings(res=8, perturb=perturb),
                          generator=torch.Generator().manual_seed(0))
    assert out.opacity.min() > 0.999  # every frontal ray crosses ~1 unit of the box
    assert out.opacity.max() <= 1 + 1e-6
    torch.testing.assert_close(out.features, colour.view(1, 4, 1, 1).expand(1, 4, 8, 8), atol=2e-3, rtol=0)
    torch.testing.assert_close(out.rgb, (colour[:3] * 2 - 1).view(1, 3, 1, 1).expand(1, 3, 8, 8),
                               atol=4e-3, rtol=0)
    # the box's front face is at z = 0.5, i.e. ~2.4 from the camera at z = 2.9
    assert out.depth.min() > 2.39 and out.depth.max() < 2.5


def test_constant_density_opacity_matches_the_closed_form():
    sigma, n = 0.8, 12

    def decoder(feats):
        return torch.full(feats.shape[:-1], sigma), torch.ones(*feats.shape[:-1], 3)

    out = render_triplane(constant_planes(), decoder, orbit_camera(0.0, 0.0), settings(res=4, coarse=n, fine=0))
    t0 = NEAR + (FAR - NEAR) / (2 * n)  # the first (unperturbed) sample sits at the first bin's centre
    expected = 1 - math.exp(-sigma * (FAR - t0))
    torch.testing.assert_close(out.opacity, torch.full_like(out.opacity, expected), atol=1e-5, rtol=0)
    # expected depth of the discrete quadrature, written out independently
    t = [NEAR + (i + 0.5) * (FAR - NEAR) / n for i in range(n)]
    w = naive_weights(torch.tensor([t], dtype=torch.float64), torch.full((1, n), sigma, dtype=torch.float64), FAR)
    depth = float((w[0] * torch.tensor(t, dtype=torch.float64)).sum() + (1 - w.sum()) * FAR)
    torch.testing.assert_close(out.depth, torch.full_like(out.depth, depth), atol=1e-5, rtol=0)
    # with importance samples the optical depth is counted from the first sample, which is in [near, t0]
    out = render_triplane(constant_planes(), decoder, orbit_camera(0.0, 0.0), settings(res=4, coarse=n, fine=n))
    assert out.opacity.min() >= expected - 1e-5
    assert out.opacity.max() <= 1 - math.exp(-sigma * (FAR - NEAR)) + 1e-5


@pytest.mark.parametrize("res", [15, 16])
def test_sphere_renders_the_analytic_silhouette_and_depth(res):
    radius = 0.3
    camera = orbit_camera(0.0, 0.0)
    c2w, _ = unpack_camera(camera)
    dist = float(c2w[0, :3, 3].norm())  # sphere at the origin; the camera is 0.2 + 2.7 away from it
    assert dist == pytest.approx(2.9, abs=1e-5)
    st = settings(res=res, coarse=24, fine=24)
    out = render_triplane(coordinate_planes(), sphere_decoder((0.0, 0.0, 0.0), radius), camera, st)
    # pixel (row, col) sees the sphere iff its ray's angle to the optical axis is < asin(r / dist)
    centres = (torch.arange(res) + 0.5) / res - 0.5
    tan = torch.sqrt(centres.view(-1, 1) ** 2 + centres.view(1, -1) ** 2) / FOCAL
    tan_edge = math.tan(math.asin(radius / dist))
    pixel = 1 / (res * FOCAL)  # angular size of one pixel (tan units)
    opacity = out.opacity[0, 0]
    inside = tan < tan_edge - 0.5 * pixel
    outside = tan > tan_edge + 0.5 * pixel
    assert inside.sum() > 20 and outside.sum() > 20
    assert opacity[inside].min() > 0.99
    assert opacity[outside].max() < 0.01
    torch.testing.assert_close(out.rgb[0, :, inside], torch.ones(3, int(inside.sum())), atol=0.02, rtol=0)
    torch.testing.assert_close(out.rgb[0, :, outside], -torch.ones(3, int(outside.sum())), atol=0.02, rtol=0)
    # depth at the image centre: the sphere's front at distance dist - r
    spacing = (FAR - NEAR) / st.num_coarse
    if res % 2:
        centre_depth = out.depth[0, 0, res // 2, res // 2]
    else:
        h = res // 2
        centre_depth = out.depth[0, 0, h - 1:h + 1, h - 1:h + 1].mean()
        # the 4 central rays are slightly oblique: the surface is a bit further along them
    front = dist - radius
    assert front - 1e-3 <= float(centre_depth) <= front + spacing + 5e-3


def test_sphere_seen_from_an_oblique_camera_has_the_ray_traced_depth():
    radius, centre = 0.25, torch.tensor([0.1, -0.05, 0.05])
    camera = orbit_camera(35.0, -15.0)
    res = 12
    st = settings(res=res, coarse=24, fine=24)
    out = render_triplane(coordinate_planes(), sphere_decoder(centre.tolist(), radius), camera, st)
    origins, dirs = generate_rays(camera, res)
    rel = centre - origins[0]
    along = (rel * dirs[0]).sum(-1)
    miss = (rel - along[:, None] * dirs[0]).norm(dim=-1)  # closest distance of each ray to the centre
    opacity, depth = out.opacity[0, 0].reshape(-1), out.depth[0, 0].reshape(-1)
    hit = miss < radius - 0.03
    assert hit.sum() > 10 and (miss > radius + 0.01).sum() > 10
    assert opacity[hit].min() > 0.99
    assert opacity[miss > radius + 0.01].max() == 0
    t_hit = along[hit] - torch.sqrt(radius**2 - miss[hit] ** 2)
    spacing = (FAR - NEAR) / st.num_coarse
    err = depth[hit] - t_hit
    assert err.min() > -1e-3 and err.max() < spacing + 5e-3


def test_an_off_centre_blob_appears_where_the_camera_projects_it():
    """End-to-end orientation: a blob at +x, +y shows up right of and above the image centre."""
    blob = torch.tensor([0.2, 0.15, 0.0])
    res = 24
    out = render_triplane(coordinate_planes(), sphere_decoder(blob.tolist(), 0.08), orbit_camera(0.0, 0.0),
                          settings(res=res, coarse=24, fine=24))
    op = out.opacity[0, 0]
    rows, cols = torch.meshgrid(torch.arange(res, dtype=torch.float32), torch.arange(res, dtype=torch.float32),
                                indexing="ij")
    row_c = float((op * rows).sum() / op.sum())
    col_c = float((op * cols).sum() / op.sum())
    z = 2.9 - float(blob[2])  # depth of the blob centre in front of the frontal camera
    col_expected = (0.5 + FOCAL * float(blob[0]) / z) * res - 0.5
    row_expected = (0.5 - FOCAL * float(blob[1]) / z) * res - 0.5
    assert col_c > res / 2 and row_c < res / 2 - 1
    assert abs(col_c - col_expected) < 0.5 and abs(row_c - row_expected) < 0.5


# ------------------------------------------------------ fast vs reference path
def _render_pair(fn, planes, decoder, camera, st, seed):
    return fn(planes, decoder, camera, st, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("num_fine", [0, 8])
def test_fast_renderer_matches_reference_values_and_gradients(num_fine):
    torch.manual_seed(0)
    decoder = TriplaneDecoder(in_channels=8, hidden=16, out_channels=6)
    planes0 = torch.randn(2, 3, 8, 16, 16) * 2
    camera = orbit_camera([0.0, 30.0], [5.0, -10.0])
    st = settings(res=8, coarse=10, fine=num_fine, perturb=True)
    gen = torch.Generator().manual_seed(42)
    probes = [torch.randn(2, c, 8, 8, generator=gen) for c in (3, 6, 1, 1)]
    results = []
    for fn in (render_triplane, render_triplane_reference):
        planes = planes0.clone().requires_grad_(True)
        decoder.zero_grad()
        out = _render_pair(fn, planes, decoder, camera, st, seed=123)
        tensors = (out.rgb, out.features, out.depth, out.opacity)
        loss = sum((t * p).sum() for t, p in zip(tensors, probes, strict=True))
        loss.backward()
        grads = [planes.grad] + [p.grad.clone() for p in decoder.parameters()]
        results.append(([t.detach() for t in tensors], grads))
    (fast, fast_grads), (ref, ref_grads) = results
    for a, b in zip(fast, ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    for a, b in zip(fast_grads, ref_grads, strict=True):
        assert a.abs().max() > 0
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    assert 0.05 < float(fast[3].mean()) < 0.95  # a semi-transparent scene, not a trivial one


def test_fast_inference_path_matches_reference():
    """Without gradients the renderer samples with the embedding-bag gather: same images."""
    torch.manual_seed(1)
    decoder = TriplaneDecoder(in_channels=8, hidden=16, out_channels=6)
    planes = torch.randn(2, 3, 8, 16, 16) * 2
    camera = orbit_camera([-20.0, 40.0], [0.0, 10.0])
    st = settings(res=8, coarse=10, fine=10, perturb=True)
    with torch.no_grad():
        fast = _render_pair(render_triplane, planes, decoder, camera, st, seed=9)
        ref = _render_pair(render_triplane_reference, planes, decoder, camera, st, seed=9)
    for name in ("rgb", "features", "depth", "opacity"):
        torch.testing.assert_close(getattr(fast, name), getattr(ref, name), atol=1e-5, rtol=1e-5)


def test_inference_in_decoder_blocks_matches_reference(monkeypatch):
    """Without gradients the decoder runs on blocks of ``DECODE_BLOCK`` points (here 50, so a 2 x 640-point pass
    is 26 blocks, the last one partial): the same images as the reference, which decodes every point at once."""
    import export3d.rendering.renderer as renderer

    torch.manual_seed(3)
    decoder = TriplaneDecoder(in_channels=8, hidden=16, out_channels=6)
    calls = []
    counted = lambda x: calls.append(x.shape[1]) or decoder(x)  # noqa: E731
    planes = torch.randn(2, 3, 8, 16, 16) * 2
    camera = orbit_camera([-20.0, 40.0], [0.0, 10.0])
    st = settings(res=8, coarse=10, fine=10, perturb=True)
    monkeypatch.setattr(renderer, "DECODE_BLOCK", 50)
    with torch.no_grad():
        fast = _render_pair(render_triplane, planes, counted, camera, st, seed=9)
        ref = _render_pair(render_triplane_reference, planes, decoder, camera, st, seed=9)
    assert calls[:26] == [25] * 25 + [15] and len(calls) == 52  # coarse then fine, blocks of 50 // 2 rays' points
    for name in ("rgb", "features", "depth", "opacity"):
        torch.testing.assert_close(getattr(fast, name), getattr(ref, name), atol=1e-5, rtol=1e-5)


def test_perturbed_renders_are_reproducible_with_the_same_generator_seed():
    torch.manual_seed(2)
    decoder = TriplaneDecoder(in_channels=8, hidden=16, out_channels=6)
    planes = torch.randn(1, 3, 8, 16, 16) * 2
    camera = orbit_camera(10.0, 0.0)
    st = settings(res=8, coarse=8, fine=8, perturb=True)
    with torch.no_grad():
        a = _render_pair(render_triplane, planes, decoder, camera, st, seed=5)
        b = _render_pair(render_triplane, planes, decoder, camera, st, seed=5)
        c = _render_pair(render_triplane, planes, decoder, camera, st, seed=6)
    assert torch.equal(a.features, b.features) and torch.equal(a.depth, b.depth)
    assert not torch.allclose(a.depth, c.depth)
