"""The expression field (``models/expression_field.py``): a deformation linear in the expression difference.

Truths used: ``sin``/``cos`` of known angles; with the basis set by hand (its last layer's bias) the field is
``sum_k (beta_s,k - beta_k) B_k`` exactly, so it is zero at the portrait's own expression whatever the
weights, flips sign when the two expressions swap, and a constant world shift ``d`` along the camera's
x axis seen from the front at distance ``D`` moves the sampled pixel by ``f d / D`` image widths
(f: focal length in image widths).
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from export3d.blendshapes import blendshape_index
from export3d.config import AppearanceConfig, ModelConfig
from export3d.models.export3d import Export3D
from export3d.models.expression_field import ExpressionField, fourier_encoding
from export3d.models.warped import WarpedAppearance, WarpSource
from export3d.rendering.camera import orbit_camera
from export3d.rendering.renderer import RenderOutput

OUT = 64
JAW = blendshape_index("jawOpen")


def test_fourier_encoding_values():
    p = torch.tensor([[0.25, -0.5, 1.0]])
    e = fourier_encoding(p, 2)
    assert e.shape == (1, 3 + 12)
    assert torch.allclose(e[0, :3], p[0])
    # sin of pi*2^j*x, ordered (x: j=0, j=1), (y: ...), (z: ...)
    expect_sin = [math.sin(math.pi * 0.25), math.sin(2 * math.pi * 0.25), math.sin(-math.pi * 0.5),
                  math.sin(-2 * math.pi * 0.5), math.sin(math.pi), math.sin(2 * math.pi)]
    assert torch.allclose(e[0, 3:9], torch.tensor(expect_sin), atol=1e-6)
    assert torch.allclose(e[0, 9:], torch.cos(torch.asin(torch.tensor(expect_sin))).abs()
                          * torch.tensor([1, 1, 1, -1, -1, 1.0]), atol=1e-6)


def hand_set(field: ExpressionField, k: int, shift: tuple[float, float, float]) -> ExpressionField:
    """Blendshape ``k``'s displacement is the constant ``shift``; every other one is zero."""
    last = field.basis[-1]
    with torch.no_grad():
        last.weight.zero_(), last.bias.zero_()
        last.bias[3 * k:3 * k + 3] = torch.tensor(shift)
    return field


def test_field_is_linear_in_the_expression_difference_and_zero_at_the_own_expression():
    torch.manual_seed(0)
    f = ExpressionField(52, hidden=16, frequencies=2)
    pts = torch.randn(2, 3, 4, 4) * 0.3
    beta = torch.rand(2, 52)
    delta, logit = f(pts, beta, beta)
    assert torch.equal(delta, torch.zeros_like(delta)) and torch.equal(logit, torch.zeros_like(logit))  # neutral start
    torch.nn.init.normal_(f.basis[-1].weight, std=0.3)
    assert torch.equal(f(pts, beta, beta)[0], torch.zeros_like(delta))  # own expression: no motion, any weights
    hand_set(f, JAW, (0.0, 0.04, 0.0))
    source = beta.clone()
    source[:, JAW] = beta[:, JAW] + torch.tensor([0.5, -0.25])
    delta, _ = f(pts, beta, source)
    assert torch.allclose(delta[0, 1], torch.full((4, 4), 0.02))
    assert torch.allclose(delta[1, 1], torch.full((4, 4), -0.01))
    assert torch.allclose(delta[:, [0, 2]], torch.zeros(2, 2, 4, 4))
    assert torch.allclose(f(pts, source, beta)[0], -delta)  # swapping the expressions reverses the motion


def config(**appearance) -> ModelConfig:
    cfg = ModelConfig.small().scaled_to_source(64)
    return dataclasses.replace(cfg, appearance=AppearanceConfig(kind="warped", output_size=OUT, **appearance))


def flat_wall(cfg: ModelConfig, distance: float = 2.7) -> RenderOutput:
    """A raw render of an opaque wall at ``distance`` on every ray, with no decoder deformation."""
    r = cfg.render.render_size
    opacity = torch.ones(1, 1, r, r)
    depth = torch.full((1, 1, r, r), distance)
    features = torch.zeros(1, cfg.render.decoder_out + 4, r, r)
    return RenderOutput(rgb=torch.zeros(1, 3, r, r), features=features, depth=depth, opacity=opacity)


def test_a_constant_shift_moves_the_sampled_pixel_by_the_projected_amount():
    cfg = config(expression_field=True)
    head = WarpedAppearance(cfg)
    hand_set(head.expression_field, JAW, (0.027, 0.0, 0.0))
    cam = orbit_camera(0.0, 0.0)
    beta, own = torch.zeros(1, 52), torch.zeros(1, 52)
    own[0, JAW] = 1.0  # the portrait's mouth is open, the driver's closed: fetch from 0.027 further along x
    raw = flat_wall(cfg)
    with torch.no_grad():
        base, _ = head.field(raw, cam, WarpSource(torch.zeros(1, 3, OUT, OUT), cam, beta), beta)
        moved, _ = head.field(raw, cam, WarpSource(torch.zeros(1, 3, OUT, OUT), cam, own), beta)
    focal = cfg_focal(cam)
    # the wall is at the rays' distance 2.7, i.e. depth ~2.7 along the optical axis near the centre
    c = cfg.render.render_size // 2
    shift_widths = (moved - base)[0, c - 1:c + 1, c - 1:c + 1, 0].mean() / 2.0  # grid units span 2 per width
    assert abs(abs(float(shift_widths)) - focal * 0.027 / 2.7) < 0.1 * focal * 0.027 / 2.7
    assert (moved - base)[..., 1].abs().amax() < 1e-4  # nothing moves vertically


def cfg_focal(camera: torch.Tensor) -> float:
    """Focal length in image widths from the camera's normalised intrinsics (row 0 of K)."""
    return float(camera[0, 16])


def test_a_model_with_an_expression_field_gives_back_the_portrait_at_its_own_expression_and_camera():
    torch.manual_seed(0)
    model = Export3D(config(expression_field=True)).eval()
    torch.nn.init.normal_(model.appearance.expression_field.basis[-1].weight, std=0.5)
    g = torch.Generator().manual_seed(1)
    hi = torch.rand(1, 3, OUT, OUT, generator=g) * 2 - 1
    lo = torch.nn.functional.interpolate(hi, size=(64, 64), mode="area")
    cam, beta = orbit_camera(0.0, 0.0), torch.rand(1, 52)
    with torch.no_grad():
        same = model(lo, beta, cam, warp_source=WarpSource(hi, cam, beta))
        other = model(lo, torch.rand(1, 52), cam, warp_source=WarpSource(hi, cam, beta))
    assert torch.allclose(same.warp.warped, hi, atol=1e-4)
    assert (other.warp.warped - hi).abs().amax() > 0.05  # another expression fetches other pixels
    with pytest.raises(ValueError, match="WarpSource.beta"):
        model(lo, beta, cam, warp_source=WarpSource(hi, cam))


def test_training_named_parts_changes_only_them(tmp_path):
    from export3d.training.config import WarpConfig
    from export3d.training.stage_warp import train_warp
    from export3d.training.warp_data import WarpBatch

    torch.manual_seed(0)
    model = Export3D(config(expression_field=True))
    before = {k: v.clone() for k, v in model.state_dict().items()}

    class Pairs:  # two fixed synthetic-like pairs without correspondences
        def warp_pairs(self, batch, g):
            img = torch.rand(batch, 3, 64, 64) * 2 - 1
            cam = orbit_camera([0.0] * batch, [0.0] * batch)
            return WarpBatch(img, img.flip(-1), torch.rand(batch, 52), cam, cam, torch.rand(batch, 52))

    w = dataclasses.replace(WarpConfig(), batch=2, lpips=0.0, trainable=("appearance.expression_field",), lr=1e-2,
                            image_every=0)
    train_warp(model, w, Pairs(), None, tmp_path, steps=2, minutes=5)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    others = sorted(k for k in changed if not k.startswith("appearance.expression_field."))
    assert changed and not others, others


def test_a_finer_field_keeps_the_identity_at_the_own_view():
    """The field evaluated on more rays than the render (``field_size``) resamples distances, not points, so each
    ray keeps its direction and the portrait's own camera still samples every pixel from itself."""
    from export3d.rendering.warp import identity_grid

    torch.manual_seed(0)
    cfg0 = config(expression_field=True)
    fine = 2 * cfg0.render.render_size
    model = Export3D(config(expression_field=True, field_size=fine)).eval()
    g = torch.Generator().manual_seed(1)
    hi = torch.rand(1, 3, OUT, OUT, generator=g) * 2 - 1
    lo = torch.nn.functional.interpolate(hi, size=(64, 64), mode="area")
    cam, beta = orbit_camera(15.0, -5.0), torch.rand(1, 52)
    with torch.no_grad():
        out = model(lo, beta, cam, warp_source=WarpSource(hi, cam, beta))
    assert out.warp.grid.shape == (1, fine, fine, 2)
    assert torch.allclose(out.warp.grid, identity_grid(fine, hi), atol=1e-4)
    with pytest.raises(ValueError, match="field_size"):
        config(field_size=cfg0.render.render_size - 1).validate()


def test_cached_field_losses_are_zero_for_an_exact_identity_and_positive_otherwise():
    """Pairs whose driver is the source itself (same camera, same expression): the true correspondence is the
    identity and the driver is the portrait, so a neutral field has zero field and photometric error."""
    from export3d.synthetic.correspondence import pixel_centres
    from export3d.training.field_cache import build_cache, cache_losses
    from export3d.training.warp_data import WarpBatch

    torch.manual_seed(0)
    model = Export3D(config(expression_field=True)).eval()
    size = 64

    def draw(n, with_truth=True):
        img = torch.rand(n, 3, size, size) * 2 - 1
        cam, beta = orbit_camera([0.0] * n, [0.0] * n), torch.rand(n, 52)
        coords = torch.from_numpy(pixel_centres(size, size)).float().expand(n, -1, -1, -1) if with_truth else None
        ones = torch.ones(n, size, size, dtype=torch.bool) if with_truth else None
        return WarpBatch(img, img, beta, cam, cam, beta, coords, ones, ones, None)

    model.requires_grad_(False)
    synthetic = build_cache(model, draw, 3, batch=2)
    real = build_cache(model, lambda n: draw(n, False), 2, batch=2)
    assert len(synthetic) == 3 and synthetic.true is not None and real.source is not None
    assert float(cache_losses(model, synthetic, size)["field"]) < 1e-4
    assert float(cache_losses(model, real, size)["photometric"]) < 2 / 127.5  # uint8 rounding only
    moved = synthetic.rows(torch.arange(3))
    moved.true = moved.true + 0.05  # the truth 0.05 image widths away in x and y: L1 of 0.1
    assert abs(float(cache_losses(model, moved, size)["field"]) - 0.1) < 1e-3


def test_pair_weights_favour_rare_visible_motions():
    from export3d.training.field_cache import EMPHASIS, pair_weights

    source = torch.zeros(3, 52)
    beta = torch.zeros(3, 52)
    beta[1, blendshape_index("eyeBlinkLeft")] = 0.5
    beta[2, blendshape_index("browInnerUp")] = 0.5  # not emphasised
    w = pair_weights(beta, source)
    assert torch.allclose(w, torch.tensor([1.0, 1.0 + 0.5 * EMPHASIS["eyeBlinkLeft"], 1.0]))


def test_emphasis_arguments_are_parsed_and_bad_ones_refused():
    from export3d.training.field_cli import parse_emphasis

    assert parse_emphasis(["eyeBlinkLeft=30", "jawOpen=2.5"]) == {"eyeBlinkLeft": 30.0, "jawOpen": 2.5}
    for bad in (["eyeBlink=3"], ["jawOpen"], ["jawOpen=much"]):
        with pytest.raises(ValueError):
            parse_emphasis(bad)


def test_field_command_reports_a_missing_checkpoint_without_a_traceback(tmp_path, capsys):
    from export3d.training.cli import main

    code = main(["field", "--init", str(tmp_path / "none"), "--data", str(tmp_path), "--out", str(tmp_path / "o")])
    assert code == 2 and "checkpoint folder not found" in capsys.readouterr().err


def test_folded_forward_equals_the_per_point_sums_of_the_definition():
    """``forward`` folds the expression difference into the last basis layer and splits the visibility MLP's first
    layer; both must equal the unfolded definition: every point's 52 displacements weighted by ``beta_s - beta``,
    and ``V`` of the point's encoding concatenated with both expressions."""
    torch.manual_seed(3)
    f = ExpressionField(52, hidden=16, frequencies=2)
    for p in f.parameters():
        torch.nn.init.normal_(p, std=0.3)
    pts, beta, own = torch.randn(2, 3, 5, 5) * 0.3, torch.rand(2, 52), torch.rand(2, 52)
    delta, logit = f(pts, beta, own)
    x = fourier_encoding(pts.flatten(2).transpose(1, 2), 2)  # (2, 25, E)
    basis = f.basis(x).reshape(2, 25, 52, 3)
    expect = (basis * (own - beta)[:, None, :, None]).sum(2).transpose(1, 2).reshape(2, 3, 5, 5)
    codes = torch.cat([beta, own], -1)[:, None].expand(-1, 25, -1)
    expect_logit = f.visibility(torch.cat([x, codes], -1)).reshape(2, 1, 5, 5)
    assert delta.abs().max() > 0.1 and logit.abs().max() > 0.1  # not trivially zero
    assert torch.allclose(delta, expect, atol=1e-5) and torch.allclose(logit, expect_logit, atol=1e-5)
