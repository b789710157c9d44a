"""What the expression field is linear in (``appearance.field_code``, the CLeBS-vs-direct ablation).

Truths used: with the field's basis set by hand (its last layer's bias: a constant world shift per input) the
field is ``sum_k (c_s,k - c_k) B_k``, where ``c`` is the raw beta for "beta" and the CLeBS coefficients
``lambda = MLP(beta)`` for "clebs" — so with a "clebs" field a driver whose beta differs from the portrait's only
in a direction the CLeBS MLP cannot see does not move anything, and its motion is proportional to
``lambda_s,k - lambda_k``, computed here from the encoder's own layers.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from export3d.config import AppearanceConfig, ModelConfig
from export3d.models.export3d import Export3D
from export3d.models.warped import WarpSource
from export3d.rendering.camera import orbit_camera
from export3d.rendering.renderer import RenderOutput
from export3d.training.stage_warp import warm_start

OUT = 64


def config(code: str, kind: str = "clebs") -> ModelConfig:
    cfg = ModelConfig.small().scaled_to_source(64)
    return dataclasses.replace(cfg, expression=dataclasses.replace(cfg.expression, kind=kind),
                               appearance=AppearanceConfig(kind="warped", output_size=OUT, expression_field=True,
                                                           field_code=code))


def wall(cfg: ModelConfig) -> RenderOutput:
    r = cfg.render.render_size
    return RenderOutput(rgb=torch.zeros(1, 3, r, r), features=torch.zeros(1, cfg.render.decoder_out + 4, r, r),
                        depth=torch.full((1, 1, r, r), 2.7), opacity=torch.ones(1, 1, r, r))


def x_shift(model: Export3D, beta: torch.Tensor, own: torch.Tensor) -> float:
    """Mean horizontal grid motion (grid units) of a front wall when the driver is ``beta``, the portrait ``own``."""
    head, cam = model.appearance, orbit_camera(0.0, 0.0)
    raw = wall(model.cfg)
    with torch.no_grad():
        moved, _ = head.field(raw, cam, WarpSource(torch.zeros(1, 3, OUT, OUT), cam, own), beta)
        still, _ = head.field(raw, cam, WarpSource(torch.zeros(1, 3, OUT, OUT), cam, beta), beta)
    return float((moved - still)[..., 0].mean())


def hand_set_x(model: Export3D, k: int) -> None:
    """Input ``k`` of the field moves every point by 0.02 world units along x; the others by nothing."""
    last = model.appearance.expression_field.basis[-1]
    with torch.no_grad():
        last.weight.zero_(), last.bias.zero_()
        last.bias[3 * k] = 0.02


def test_a_clebs_field_has_one_input_per_basis_vector_and_moves_by_the_coefficient_difference():
    torch.manual_seed(0)
    model = Export3D(config("clebs")).eval()
    n = model.cfg.expression.num_basis
    assert model.appearance.expression_field.beta_dim == n
    beta, own = torch.rand(1, 52), torch.rand(1, 52)
    lam = model.expression.coefficients  # the CLeBS MLP, run by hand below
    with torch.no_grad():
        diff = (lam(own) - lam(beta))[0]
    unit = None
    for k in (0, n - 1):
        hand_set_x(model, k)
        shift = x_shift(model, beta, own)
        unit = shift / float(diff[k]) if unit is None else unit
        assert shift == pytest.approx(unit * float(diff[k]), rel=1e-3)  # the same world shift per unit of lambda_k
    assert abs(unit) > 1e-3
    assert x_shift(model, own, own) == 0.0


def test_a_clebs_field_ignores_what_the_clebs_mlp_ignores_and_a_beta_field_does_not():
    torch.manual_seed(0)
    clebs, raw = Export3D(config("clebs")).eval(), Export3D(config("beta")).eval()
    with torch.no_grad():  # CLeBS blind to blendshape 7 (its first layer's weights from it are zero)
        clebs.expression.coefficients[0].weight[:, 7] = 0.0
    beta = torch.rand(1, 52)
    other = beta.clone()
    other[0, 7] += 0.8
    for k in range(clebs.cfg.expression.num_basis):
        hand_set_x(clebs, k)
        assert x_shift(clebs, other, beta) == 0.0
    hand_set_x(raw, 7)
    assert abs(x_shift(raw, other, beta)) > 1e-3


def test_the_field_code_is_not_a_second_copy_of_the_encoder_and_survives_save_and_load(tmp_path):
    torch.manual_seed(0)
    model = Export3D(config("clebs")).eval()
    assert not any(k.startswith("appearance.") and "coefficients" in k for k in model.state_dict())
    torch.nn.init.normal_(model.appearance.expression_field.basis[-1].weight, std=0.3)
    model.save_pretrained(tmp_path / "m")
    back = Export3D.from_pretrained(tmp_path / "m").eval()
    beta, own = torch.rand(1, 52), torch.rand(1, 52)
    assert back.cfg.appearance.field_code == "clebs"
    assert x_shift(back, beta, own) == pytest.approx(x_shift(model, beta, own), abs=1e-6)
    assert abs(x_shift(model, beta, own)) > 1e-4


def test_field_code_is_validated():
    with pytest.raises(ValueError, match="field_code"):
        config("lambda").validate()
    with pytest.raises(ValueError, match="expression.kind 'clebs'"):
        config("clebs", kind="direct").validate()
    assert config("beta", kind="direct").validate()


def test_warm_start_can_start_the_field_fresh_and_only_appearance_weights(tmp_path):
    torch.manual_seed(0)
    model = Export3D(config("beta"))
    torch.nn.init.normal_(model.appearance.expression_field.basis[-1].weight, std=0.3)
    torch.nn.init.normal_(model.appearance.refiner.to_rgb.weight, std=0.3)  # not its zero start: copied, not new
    init = model.save_pretrained(tmp_path / "init")
    a = config("clebs").appearance
    fresh = warm_start(init, a, fresh=("appearance.expression_field.",))
    assert torch.equal(fresh.appearance.expression_field.basis[-1].weight,
                       torch.zeros_like(fresh.appearance.expression_field.basis[-1].weight))
    assert torch.equal(fresh.appearance.refiner.to_rgb.weight, model.appearance.refiner.to_rgb.weight)
    kept = warm_start(init, config("beta").appearance)
    assert torch.equal(kept.appearance.expression_field.basis[-1].weight,
                       model.appearance.expression_field.basis[-1].weight)
    with pytest.raises(ValueError, match="only appearance weights"):
        warm_start(init, a, fresh=("generator.",))
