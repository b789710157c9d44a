"""Networks: shapes, gradients, CLeBS, InfoNCE, source caching, EMA tri-plane, layers, runtime switches."""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from export3d.config import DiscriminatorConfig, ExpressionConfig, ModelConfig
from export3d.models.contrastive import LearnableTemperature, info_nce
from export3d.models.decoder import TriplaneDecoder
from export3d.models.discriminator import DualDiscriminator, r1_penalty
from export3d.models.expression import CLeBS, DirectExpression
from export3d.models.generator import SourceFeatures
from export3d.models.layers import GaussianBlur, coordinate_grid
from export3d.models.superres import SuperResolution


def expected_shapes(cfg: ModelConfig, batch: int) -> dict[str, tuple[int, ...]]:
    out, raw, p = cfg.superres.output_size, cfg.render.render_size, cfg.generator.plane_size
    return {
        "image": (batch, 3, out, out),
        "rgb": (batch, 3, raw, raw),
        "features": (batch, cfg.render.decoder_out, raw, raw),
        "depth": (batch, 1, raw, raw),
        "opacity": (batch, 1, raw, raw),
        "planes": (batch, 3, cfg.generator.plane_channels, p, p),
    }


def check_output(out, cfg: ModelConfig, batch: int) -> None:
    shapes = expected_shapes(cfg, batch)
    got = {"image": out.image, "rgb": out.raw.rgb, "features": out.raw.features, "depth": out.raw.depth,
           "opacity": out.raw.opacity, "planes": out.planes}
    for name, tensor in got.items():
        assert tuple(tensor.shape) == shapes[name], name
        assert tensor.dtype == torch.float32, name
        assert torch.isfinite(tensor).all(), name
    r = cfg.render
    assert out.raw.opacity.min() >= 0 and out.raw.opacity.max() <= 1 + 1e-5
    assert out.raw.depth.min() >= r.near - 1e-4 and out.raw.depth.max() <= r.far + 1e-4
    assert out.raw.rgb.min() >= -1.0 - 1e-4 and out.raw.rgb.max() <= 1.002 + 1e-4


# --------------------------------------------------------------------- shapes
@pytest.mark.parametrize("batch", [1, 2])
def test_small_model_output_shapes(small_cfg, model_factory, inputs_factory, batch):
    assert (small_cfg.generator.source_size, small_cfg.generator.plane_size) == (128, 64)
    model = model_factory(small_cfg)
    with torch.no_grad():
        out = model(*inputs_factory(small_cfg, batch))
    check_output(out, small_cfg, batch)
    assert out.image.shape == (batch, 3, 128, 128) and out.planes.shape == (batch, 3, 32, 64, 64)


@pytest.mark.parametrize("batch", [1, 2])
def test_paper_architecture_output_shapes(paper_model, inputs_factory, batch):
    cfg = paper_model.cfg
    assert (cfg.generator.source_size, cfg.generator.plane_size, cfg.render.render_size,
            cfg.superres.output_size) == (64, 32, 16, 64)
    assert cfg.generator.token_dim == 1024 and cfg.generator.num_blocks == 5
    assert sum(p.numel() for p in paper_model.parameters()) > 50_000_000
    with torch.no_grad():
        out = paper_model(*inputs_factory(cfg, batch))
    check_output(out, cfg, batch)


def test_wrong_source_size_is_rejected(small_cfg, model_factory):
    model = model_factory(small_cfg)
    with pytest.raises(ValueError):
        model.encode_source(torch.zeros(1, 3, 64, 64))


# ------------------------------------------------------------------ gradients
def _l1_loss(model, cfg, inputs, seed):
    out = model(*inputs, perturb=True, generator=torch.Generator().manual_seed(seed))
    gen = torch.Generator().manual_seed(seed + 1)
    return (F.l1_loss(out.image, torch.rand(out.image.shape, generator=gen) * 2 - 1)
            + F.l1_loss(out.raw.rgb, torch.rand(out.raw.rgb.shape, generator=gen) * 2 - 1)
            + F.l1_loss(out.raw.depth, torch.full_like(out.raw.depth, 2.6)))


def test_every_trainable_parameter_gets_a_finite_nonzero_gradient(small_cfg, model_factory, inputs_factory):
    model = model_factory(small_cfg).train()
    inputs = inputs_factory(small_cfg, 2)
    params = dict(model.named_parameters())
    assert len(params) > 50
    _l1_loss(model, small_cfg, inputs, 0).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in params.values())
    # At initialisation the EAdaLN modulations are zero (adaLN-Zero): they receive a gradient,
    # but pass none on to the expression encoder, whose gradient is exactly zero.
    modulation = [n for n in params if ".modulation." in n]
    assert len(modulation) == 2 * 2 * small_cfg.generator.num_blocks
    assert all(params[n].grad.abs().max() > 0 for n in modulation)
    expression = [n for n in params if n.startswith("expression.")]
    assert expression and all(params[n].grad.abs().max() == 0 for n in expression)
    bad = [n for n, p in params.items() if not n.startswith("expression.") and p.grad.abs().max() == 0]
    assert not bad, bad
    # After one optimiser step every parameter, the expression encoder included, is reached.
    torch.optim.SGD(model.parameters(), lr=0.05).step()
    model.zero_grad()
    _l1_loss(model, small_cfg, inputs, 1).backward()
    bad = [n for n, p in params.items()
           if p.grad is None or not torch.isfinite(p.grad).all() or p.grad.abs().max() == 0]
    assert not bad, bad


def test_ema_planes_is_a_saved_buffer_not_a_parameter(small_cfg, model_factory):
    model = model_factory(small_cfg)
    assert "generator.ema_planes" not in dict(model.named_parameters())
    assert "generator.ema_planes" in dict(model.named_buffers())
    assert "generator.ema_planes" in model.state_dict()
    assert model.generator.ema_planes.shape == (3 * 32, 64, 64)


def test_discriminator_parameters_all_get_gradients():
    cfg = DiscriminatorConfig(channels=(8, 16, 16, 16))
    disc = DualDiscriminator(cfg)
    image, raw = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 8, 8)
    camera = torch.randn(2, 25)
    logits = disc(image, raw, camera)
    assert logits.shape == (2,)
    logits.sum().backward()
    for name, p in disc.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().max() > 0, name
    with pytest.raises(ValueError):
        disc(image, raw)
    plain = DualDiscriminator(dataclasses.replace(cfg, camera_conditioning=False))
    assert plain.camera_embed is None and plain(image, raw).shape == (2,)


def test_discriminator_sees_the_raw_image():
    disc = DualDiscriminator(DiscriminatorConfig(channels=(8, 16, 16), camera_conditioning=False))
    image, raw = torch.randn(1, 3, 16, 16), torch.randn(1, 3, 4, 4).requires_grad_(True)
    disc(image, raw).sum().backward()
    assert raw.grad.abs().max() > 0


def test_r1_penalty_matches_a_hand_computation():
    gen = torch.Generator().manual_seed(0)
    w1 = torch.randn(5, generator=gen, requires_grad=True)
    w2 = torch.randn(2, 3, generator=gen)
    x1 = torch.randn(4, 5, generator=gen, requires_grad=True)
    x2 = torch.randn(4, 2, 3, generator=gen, requires_grad=True)
    # logits_i = sum_k w1_k x1_ik^2 + <w2, x2_i>  =>  d/dx1 = 2 w1 x1_i, d/dx2 = w2
    logits = (w1 * x1**2).sum(-1) + (w2 * x2).sum(dim=(1, 2))
    penalty = r1_penalty(logits, [x1, x2])
    expected = ((2 * w1 * x1) ** 2).sum(-1).mean() + (w2**2).sum()
    torch.testing.assert_close(penalty, expected)
    # the penalty itself is differentiable (create_graph): d/dw1 of mean_i sum_k 4 w1_k^2 x1_ik^2
    penalty.backward()
    torch.testing.assert_close(w1.grad, (8 * w1 * x1**2).mean(0).detach())


# ----------------------------------------------------------------------- CLeBS
def test_clebs_basis_is_orthonormal_and_codes_lie_in_its_span():
    cfg = ExpressionConfig(hidden_dim=32, num_basis=12, code_dim=40)
    enc = CLeBS(cfg)
    q = enc.basis()
    assert q.shape == (40, 12)
    torch.testing.assert_close(q.T @ q, torch.eye(12), atol=1e-5, rtol=0)
    # sign convention: Q^T W is upper-triangular with a positive diagonal (W = Q R, diag R > 0)
    r = q.T @ enc.basis_weight.detach()
    assert (torch.diagonal(r) > 0).all()
    torch.testing.assert_close(torch.tril(r, -1), torch.zeros(12, 12), atol=1e-4, rtol=0)
    beta = torch.rand(6, cfg.beta_dim)
    code = enc(beta)
    lam = enc.coefficients_of(beta)
    assert code.shape == (6, 40) and lam.shape == (6, 12)
    torch.testing.assert_close(code, lam @ q.T, atol=1e-5, rtol=0)
    torch.testing.assert_close(code @ q @ q.T, code, atol=1e-5, rtol=0)  # projection onto the span
    torch.testing.assert_close(code.norm(dim=-1), lam.norm(dim=-1), atol=1e-5, rtol=1e-5)
    # a vector orthogonal to the basis is never produced: its component is zero
    ortho = torch.randn(40)
    ortho = ortho - q @ (q.T @ ortho)
    assert (code @ ortho).abs().max() < 1e-4 * ortho.norm()


def test_clebs_basis_weight_is_trained_through_the_qr():
    enc = CLeBS(ExpressionConfig(hidden_dim=16, num_basis=4, code_dim=8))
    enc(torch.rand(3, 52)).pow(2).sum().backward()
    assert enc.basis_weight.grad is not None and enc.basis_weight.grad.abs().max() > 0


def test_model_clebs_code_norm_equals_coefficient_norm(small_model):
    beta = torch.rand(4, 52)
    with torch.no_grad():
        code = small_model.encode_expression(beta)
        lam = small_model.expression.coefficients_of(beta)
        q = small_model.expression.basis()
    assert q.shape == (128, 16)
    torch.testing.assert_close(q.T @ q, torch.eye(16), atol=1e-5, rtol=0)
    torch.testing.assert_close(code.norm(dim=-1), lam.norm(dim=-1), atol=1e-5, rtol=1e-5)


def test_direct_expression_ablation():
    cfg = dataclasses.replace(ModelConfig.small(), expression=dataclasses.replace(
        ModelConfig.small().expression, kind="direct"))
    from export3d.models.export3d import Export3D

    model = Export3D(cfg)
    assert isinstance(model.expression, DirectExpression)
    assert model.encode_expression(torch.rand(2, 52)).shape == (2, 128)


# --------------------------------------------------------------------- InfoNCE
def test_info_nce_matches_a_hand_computation():
    image = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    expr = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    tau = 0.5
    c = 1 / math.sqrt(2)
    # logits[k, j] = cos(expr_k, image_j) / tau: [[1, 0], [c, c]] / tau
    e2i = 0.5 * (-math.log(math.exp(1 / tau) / (math.exp(1 / tau) + 1)) + math.log(2))
    # transposed: for image j, candidates are the expressions: [[1, c], [0, c]] / tau
    i2e = 0.5 * (-math.log(math.exp(1 / tau) / (math.exp(1 / tau) + math.exp(c / tau)))
                 - math.log(math.exp(c / tau) / (1 + math.exp(c / tau))))
    assert float(info_nce(image, expr, tau, symmetric=False)) == pytest.approx(e2i, rel=1e-5)
    assert float(info_nce(image, expr, tau)) == pytest.approx(0.5 * (e2i + i2e), rel=1e-5)
    assert float(info_nce(image, expr, torch.tensor(tau))) == pytest.approx(0.5 * (e2i + i2e), rel=1e-5)


def test_info_nce_is_log_k_for_random_embeddings():
    gen = torch.Generator().manual_seed(0)
    k, d = 8, 8192
    image, expr = torch.randn(4, k, d, generator=gen), torch.randn(4, k, d, generator=gen)
    assert float(info_nce(image, expr, 0.1)) == pytest.approx(math.log(k), abs=0.05)


def test_info_nce_vanishes_for_aligned_embeddings():
    emb = torch.eye(6, 16) * 3.0
    assert float(info_nce(emb, emb * 0.5, 0.01)) < 1e-6
    # and is large when the pairing is shuffled
    assert float(info_nce(emb, emb.roll(1, dims=0), 0.01)) > 50


def test_info_nce_only_uses_negatives_from_the_same_clip():
    gen = torch.Generator().manual_seed(2)
    image, expr = torch.randn(3, 5, 7, generator=gen), torch.randn(3, 5, 7, generator=gen)
    per_clip = torch.stack([info_nce(image[i], expr[i], 0.2) for i in range(3)])
    torch.testing.assert_close(info_nce(image, expr, 0.2), per_clip.mean())
    with pytest.raises(ValueError):
        info_nce(image, expr[:, :4], 0.2)


def test_learnable_temperature_is_clamped():
    t = LearnableTemperature(0.07)
    assert float(t().detach()) == pytest.approx(0.07, rel=1e-5)
    with torch.no_grad():
        t.log_inv_tau.fill_(10.0)
    assert float(t().detach()) == pytest.approx(0.01, rel=1e-5)
    with torch.no_grad():
        t.log_inv_tau.fill_(-3.0)
    assert float(t().detach()) == pytest.approx(1.0, rel=1e-5)
    assert "log_inv_tau" in dict(LearnableTemperature(0.1, learnable=False).named_buffers())


# --------------------------------------------------------- source cache / beta
def test_cached_source_gives_the_full_forward_planes_and_beta_matters(small_cfg, small_model, inputs_factory):
    source, beta, camera = inputs_factory(small_cfg, 2)
    with torch.no_grad():
        full = small_model(source, beta, camera)
        src = small_model.encode_source(source)
        kept = (src.tokens.clone(), src.highres.clone())
        planes = small_model.planes(src, beta)
        other = small_model.planes(src, torch.rand(2, 52))
        image = small_model.animate_frame(src, beta, camera)
    assert torch.equal(planes, full.planes)
    assert torch.equal(image, full.image)
    with torch.no_grad():
        same = small_model.planes(src, beta)
    assert torch.equal(same, planes)  # so any difference below is caused by beta alone
    # a different expression, a different tri-plane: by a visible amount relative to the planes' spread
    assert (other - planes).abs().mean() > 1e-3 * planes.std()  # measured ~3e-3 (untrained CLeBS codes are small)
    # the cache is not modified by the expression-dependent part
    assert torch.equal(src.tokens, kept[0]) and torch.equal(src.highres, kept[1])
    with torch.no_grad():
        again = small_model.encode_source(source)
    assert torch.equal(again.tokens, src.tokens) and torch.equal(again.highres, src.highres)


def test_fresh_model_ignores_beta_because_eadaln_is_zero_initialised(small_cfg, model_factory, inputs_factory):
    model = model_factory(small_cfg, modulated=False)
    source, beta, _ = inputs_factory(small_cfg, 2)
    with torch.no_grad():
        src = model.encode_source(source)
        torch.testing.assert_close(model.planes(src, beta), model.planes(src, torch.rand(2, 52)), atol=0, rtol=0)


def test_batch_one_source_broadcasts_against_a_beta_batch(small_cfg, small_model, inputs_factory):
    source, _, _ = inputs_factory(small_cfg, 1)
    beta = torch.rand(3, 52)
    with torch.no_grad():
        src = small_model.encode_source(source)
        batched = small_model.planes(src, beta)
        rows = torch.cat([small_model.planes(src, beta[i:i + 1]) for i in range(3)])
    assert batched.shape == (3, 3, 32, 64, 64)
    # rounding differences between batched and per-row kernels are ~1e-6 on planes of std ~1,
    # while different betas move the planes by far more.
    torch.testing.assert_close(batched, rows, atol=2e-5, rtol=0)
    assert (batched[0] - batched[1]).abs().max() > 1e-3 and (batched[1] - batched[2]).abs().max() > 1e-3
    two = SourceFeatures(src.tokens.repeat(2, 1, 1), src.grid, src.highres.repeat(2, 1, 1, 1))
    with pytest.raises(ValueError):
        two.expand(3)


# ----------------------------------------------------------------- determinism
def test_same_seed_builds_identical_models(small_cfg, model_factory, inputs_factory):
    a, b = model_factory(small_cfg, seed=3), model_factory(small_cfg, seed=3)
    c = model_factory(small_cfg, seed=4)
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], c.state_dict()[k]) for k in sa)
    inputs = inputs_factory(small_cfg, 1)
    with torch.no_grad():
        assert torch.equal(a(*inputs).image, b(*inputs).image)


def test_perturbed_model_renders_follow_the_generator(small_cfg, small_model, inputs_factory):
    inputs = inputs_factory(small_cfg, 1)
    with torch.no_grad():
        planes = small_model(*inputs).planes
        outs = [small_model.render(planes, inputs[2], perturb=True, generator=torch.Generator().manual_seed(s))[0]
                for s in (0, 0, 1)]
    assert torch.equal(outs[0], outs[1])
    assert not torch.equal(outs[0], outs[2])


# ------------------------------------------------------------- EMA tri-plane
def test_online_ema_updates_in_train_mode_only(small_cfg, model_factory, inputs_factory):
    model = model_factory(small_cfg)
    m = small_cfg.generator.ema_momentum
    with torch.no_grad():
        model.generator.ema_planes.copy_(torch.randn_like(model.generator.ema_planes))
    old = model.generator.ema_planes.clone()
    source, beta, _ = inputs_factory(small_cfg, 2)
    with torch.no_grad():
        src = model.encode_source(source)
        model.eval()
        eval_planes = model.planes(src, beta)
        assert torch.equal(model.generator.ema_planes, old)
        model.train()
        train_planes = model.planes(src, beta)
    new = model.generator.ema_planes
    assert not torch.equal(new, old)
    # train output = generated + updated EMA, with EMA <- m * EMA + (1 - m) * batch mean of the generated planes
    generated = train_planes.reshape(2, *new.shape) - new
    torch.testing.assert_close(new, m * old + (1 - m) * generated.mean(0), atol=1e-5, rtol=1e-5)
    # eval output = the same generated planes + the (old) EMA
    torch.testing.assert_close(eval_planes.reshape(2, *old.shape), generated + old, atol=1e-5, rtol=1e-5)


def test_ema_can_be_disabled(small_cfg, model_factory, inputs_factory):
    cfg = dataclasses.replace(small_cfg, generator=dataclasses.replace(small_cfg.generator, ema_triplane=False))
    model = model_factory(cfg).train()
    source, beta, _ = inputs_factory(cfg, 1)
    with torch.no_grad():
        src = model.encode_source(source)
        a = model.planes(src, beta)
        model.generator.ema_planes.fill_(5.0)
        b = model.planes(src, beta)
    assert torch.equal(a, b)
    assert (model.generator.ema_planes == 5.0).all()


# ---------------------------------------------------------------------- layers
def test_gaussian_blur_kernel_and_constant_images():
    blur = GaussianBlur(1.0)
    k = blur.kernel
    assert k.numel() == 5  # radius ceil(2 sigma) = 2
    assert float(k.sum()) == pytest.approx(1.0, abs=1e-6)
    torch.testing.assert_close(k, k.flip(0))
    assert float(k[2] / k[3]) == pytest.approx(math.exp(0.5), rel=1e-5)
    const = torch.full((2, 3, 9, 7), 0.37)
    torch.testing.assert_close(blur(const), const, atol=1e-6, rtol=0)
    # the impulse response of the separable filter is the outer product of the 1D kernel
    impulse = torch.zeros(1, 1, 11, 11)
    impulse[0, 0, 5, 5] = 1.0
    torch.testing.assert_close(blur(impulse)[0, 0, 3:8, 3:8], torch.outer(k, k), atol=1e-7, rtol=0)
    assert float(blur(impulse).sum()) == pytest.approx(1.0, abs=1e-6)
    wide = GaussianBlur(2.0)
    assert wide.kernel.numel() == 9 and float(wide.kernel.sum()) == pytest.approx(1.0, abs=1e-6)


def test_coordinate_grid_is_pixel_centres_in_minus_one_one():
    g = coordinate_grid(2, 4, 8, torch.zeros(1))
    assert g.shape == (2, 2, 4, 8)
    torch.testing.assert_close(g[0, 0, 0], (torch.arange(8) + 0.5) / 8 * 2 - 1)  # x varies along columns
    torch.testing.assert_close(g[0, 1, :, 0], (torch.arange(4) + 0.5) / 4 * 2 - 1)  # y along rows (down)


def test_superres_skip_is_the_bilinear_upsampled_raw_image():
    sr = SuperResolution(8, (8, 4))
    with torch.no_grad():
        sr.to_rgb.weight.zero_()
        sr.to_rgb.bias.zero_()
    feats, rgb = torch.randn(1, 8, 6, 6), torch.rand(1, 3, 6, 6) * 2 - 1
    out = sr(feats, rgb)
    assert out.shape == (1, 3, 24, 24)
    torch.testing.assert_close(out, F.interpolate(rgb, size=(24, 24), mode="bilinear", align_corners=False))


def test_decoder_ranges():
    dec = TriplaneDecoder(4, 8, 5)
    sigma, feats = dec(torch.randn(2, 100, 4) * 50)
    assert sigma.shape == (2, 100) and feats.shape == (2, 100, 5)
    assert sigma.min() >= 0
    assert feats.min() >= -0.001 - 1e-6 and feats.max() <= 1.001 + 1e-6


# ------------------------------------------------------------ runtime switches
def test_bf16_channels_last_is_close_to_fp32(small_cfg, small_model, inputs_factory):
    inputs = inputs_factory(small_cfg, 2)
    with torch.no_grad():
        ref = small_model(*inputs)
        fast_model = copy.deepcopy(small_model).configure_runtime(bf16_cnn=True, channels_last=True)
        conv = fast_model.superres.conv_in[0]
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)
        assert not conv.weight.is_contiguous()
        fast = fast_model(*inputs)
        back = fast_model.configure_runtime()(*inputs)
    assert fast.image.dtype == torch.float32 and fast.planes.dtype == torch.float32
    diff = (fast.image - ref.image).abs().mean()
    assert diff < 0.05
    assert (fast.raw.rgb - ref.raw.rgb).abs().mean() < 0.05
    assert diff > 0  # bf16 really was used
    torch.testing.assert_close(back.image, ref.image, atol=1e-4, rtol=1e-4)


def test_initialisation_keeps_the_expression_path_alive(small_cfg, model_factory, inputs_factory):
    """Variance-preserving init: planes have unit-order spread and the token path is not drowned out."""
    model = model_factory(small_cfg, seed=0).eval()
    source, beta, _ = inputs_factory(small_cfg, 2)
    g = model.generator
    with torch.no_grad():
        src = model.encode_source(source)
        planes = model.planes(src, beta)
        b, n, d = src.tokens.shape
        up = g.up(g.norm(src.tokens).transpose(1, 2).reshape(b, d, *src.grid))
    assert 0.2 < float(planes.std()) < 5.0
    # the upsampled token path reaches the fusion at a scale comparable to the high-res branch
    assert 0.2 < float(up.std() / src.highres.std()) < 5.0
