"""Model configuration: presets, validation, strict (de)serialisation and rescaling."""

from __future__ import annotations

import dataclasses
import json

import pytest

from export3d.config import ModelConfig
from export3d.models.export3d import Export3D


@pytest.mark.parametrize("name", ["paper", "small"])
def test_presets_validate(name):
    cfg = ModelConfig.preset(name)
    assert cfg.validate() is cfg
    assert cfg.name == name
    assert cfg == getattr(ModelConfig, name)()


def test_unknown_preset_is_rejected():
    with pytest.raises(ValueError):
        ModelConfig.preset("huge")


def test_paper_preset_values():
    cfg = ModelConfig.paper()
    g, r, s, e = cfg.generator, cfg.render, cfg.superres, cfg.expression
    assert (g.source_size, g.plane_size, r.render_size, s.output_size) == (512, 256, 128, 512)
    assert (r.num_coarse, r.num_fine) == (48, 48)
    assert g.plane_channels == 32
    assert e.kind == "clebs" and e.num_basis >= 10 and e.beta_dim == 52
    assert (r.near, r.far, r.box_size) == (2.25, 3.3, 1.0)


def test_small_preset_values():
    cfg = ModelConfig.small()
    g, r, s = cfg.generator, cfg.render, cfg.superres
    assert (g.source_size, g.plane_size, r.render_size, s.output_size) == (128, 64, 32, 128)
    assert (r.num_coarse, r.num_fine) == (24, 24)
    assert g.plane_channels == 32


@pytest.mark.parametrize("name", ["paper", "small"])
def test_dict_round_trip_including_json(name):
    cfg = ModelConfig.preset(name)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    through_json = ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert through_json == cfg
    assert isinstance(through_json.generator.stem_channels, tuple)
    assert isinstance(through_json.superres.channels, tuple)


def test_round_trip_keeps_non_default_values():
    cfg = ModelConfig.small()
    cfg = dataclasses.replace(cfg, name="custom", render=dataclasses.replace(cfg.render, num_fine=7, far=3.5))
    back = ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back.name == "custom" and back.render.num_fine == 7 and back.render.far == 3.5
    assert back == cfg


@pytest.mark.parametrize("where", [None, "generator", "render", "expression"])
def test_unknown_keys_raise(where):
    data = ModelConfig.small().to_dict()
    (data if where is None else data[where])["typo_field"] = 1
    with pytest.raises(ValueError, match="typo_field"):
        ModelConfig.from_dict(data)


def test_non_object_section_raises():
    data = ModelConfig.small().to_dict()
    data["render"] = [1, 2, 3]
    with pytest.raises(ValueError):
        ModelConfig.from_dict(data)


def _modified(section: str, **changes) -> ModelConfig:
    cfg = ModelConfig.small()
    return dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section), **changes)})


@pytest.mark.parametrize("cfg", [
    _modified("generator", plane_size=32),
    _modified("generator", source_size=120, plane_size=60),
    _modified("generator", up_channels=(64, 48)),
    _modified("generator", stem_channels=(32, 64)),
    _modified("generator", token_dim=129),  # not divisible by 2 heads
    _modified("superres", output_size=256),
    _modified("render", render_size=16),
    _modified("render", decoder_out=2),
    _modified("render", near=3.5),
    _modified("render", near=0.0),
    _modified("expression", kind="pca"),
    _modified("expression", num_basis=200),
], ids=["plane", "source16", "up", "stem", "heads", "output", "render", "decoder_out", "near_far", "near0",
        "kind", "basis"])
def test_inconsistent_configs_raise(cfg):
    with pytest.raises(ValueError):
        cfg.validate()
    with pytest.raises(ValueError):
        Export3D(cfg)


@pytest.mark.parametrize("name,size", [("paper", 64), ("paper", 128), ("small", 64), ("small", 256)])
def test_scaled_to_source_keeps_ratios(name, size):
    cfg = ModelConfig.preset(name)
    scaled = cfg.scaled_to_source(size)
    g0, g1 = cfg.generator, scaled.generator
    assert g1.source_size == size
    k = size / g0.source_size
    assert g1.plane_size == g0.plane_size * k
    assert scaled.render.render_size == cfg.render.render_size * k
    assert scaled.superres.output_size == cfg.superres.output_size * k
    assert scaled.validate() is scaled
    # everything else (architecture widths, sampling) is unchanged, and the original is untouched
    assert dataclasses.replace(g1, source_size=g0.source_size, plane_size=g0.plane_size) == g0
    assert dataclasses.replace(scaled.render, render_size=cfg.render.render_size) == cfg.render
    assert scaled.expression == cfg.expression and scaled.discriminator == cfg.discriminator
    assert cfg == ModelConfig.preset(name)


def test_paper_scaled_to_64_sizes():
    cfg = ModelConfig.paper().scaled_to_source(64)
    assert (cfg.generator.source_size, cfg.generator.plane_size, cfg.render.render_size,
            cfg.superres.output_size) == (64, 32, 16, 64)
