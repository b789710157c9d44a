"""Checkpoint folders: config.json + model.safetensors, strict loading, Hub resolution (mocked, no network)."""

from __future__ import annotations

import json
import struct
import sys
import types

import pytest
import torch
import torch.nn as nn
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from export3d.checkpoint import CONFIG_NAME, WEIGHTS_NAME, clean_state_dict, save_pretrained
from export3d.errors import CheckpointError
from export3d.models.export3d import Export3D


@pytest.fixture
def model(small_model):
    """The small model with a non-trivial EMA tri-plane buffer (it must be saved too)."""
    with torch.no_grad():
        small_model.generator.ema_planes.copy_(torch.randn_like(small_model.generator.ema_planes) * 0.1)
    return small_model


@pytest.fixture
def saved(model, tmp_path):
    return save_pretrained(model, tmp_path / "ckpt", extra={"step": 7})


@pytest.fixture
def fake_hub(monkeypatch):
    """Replace ``huggingface_hub`` by a module whose ``snapshot_download`` records its calls."""
    calls: list[dict] = []
    module = types.ModuleType("huggingface_hub")
    module.result = None

    def snapshot_download(**kwargs):
        calls.append(kwargs)
        if module.result is None:
            raise OSError("offline")
        return str(module.result)

    module.snapshot_download = snapshot_download
    monkeypatch.setitem(sys.modules, "huggingface_hub", module)
    return module, calls


def rewrite_config(folder, edit):
    path = folder / CONFIG_NAME
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))


def rewrite_weights(folder, edit):
    path = folder / WEIGHTS_NAME
    state = load_file(str(path))
    edit(state)
    save_file(state, str(path))


def test_round_trip_gives_identical_weights_and_outputs(model, saved, small_cfg, inputs_factory):
    assert sorted(p.name for p in saved.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]
    loaded = Export3D.from_pretrained(saved)
    assert not loaded.training
    assert loaded.cfg == model.cfg
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert "generator.ema_planes" in b
    inputs = inputs_factory(small_cfg, 2)
    with torch.no_grad():
        out_a, out_b = model(*inputs), loaded(*inputs)
    assert torch.equal(out_a.image, out_b.image)
    assert torch.equal(out_a.raw.depth, out_b.raw.depth)
    assert torch.equal(out_a.planes, out_b.planes)
    # also from a string path
    assert torch.equal(Export3D.from_pretrained(str(saved)).generator.ema_planes, model.generator.ema_planes)


def test_config_json_content(saved, model):
    meta = json.loads((saved / CONFIG_NAME).read_text())
    assert set(meta) == {"format_version", "model", "extra"}
    assert meta["format_version"] == 1 and meta["extra"] == {"step": 7}
    assert meta["model"]["name"] == "small"
    assert meta["model"]["generator"]["source_size"] == 128


def test_weights_file_is_safetensors_not_a_pickle(saved, model):
    raw = (saved / WEIGHTS_NAME).read_bytes()
    assert not raw.startswith(b"\x80") and not raw.startswith(b"PK")  # pickle protocol / torch zip
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + header_len])
    assert header["__metadata__"]["format"] == "pt"
    with safe_open(str(saved / WEIGHTS_NAME), framework="pt") as f:
        keys = set(f.keys())
        assert torch.equal(f.get_tensor("generator.ema_planes"), model.generator.ema_planes)
    assert keys == set(model.state_dict())
    assert not any(k.startswith(("module.", "_orig_mod.")) for k in keys)


class Wrapper(nn.Module):
    """Stands in for DDP (``.module``) or ``torch.compile`` (``._orig_mod``)."""

    def __init__(self, inner: nn.Module, attr: str):
        super().__init__()
        setattr(self, attr, inner)


@pytest.mark.parametrize("attrs", [["module"], ["_orig_mod"], ["module", "_orig_mod"]])
def test_wrapped_models_save_unprefixed_keys(model, tmp_path, attrs):
    wrapped = model
    for attr in reversed(attrs):
        wrapped = Wrapper(wrapped, attr)
    assert next(iter(wrapped.state_dict())).startswith(attrs[0] + ".")
    folder = save_pretrained(wrapped, tmp_path / "w")
    with safe_open(str(folder / WEIGHTS_NAME), framework="pt") as f:
        assert set(f.keys()) == set(model.state_dict())
    loaded = Export3D.from_pretrained(folder)
    assert torch.equal(loaded.generator.ema_planes, model.generator.ema_planes)


def test_clean_state_dict_strips_prefixes_and_copies():
    base = torch.arange(12.0).reshape(3, 4)
    state = {
        "module._orig_mod.a.weight": base.t(),  # non-contiguous view
        "_orig_mod.module.b": base,
        "c": base[0],  # shares storage with the others
        "mymodule.d": torch.ones(2),
    }
    out = clean_state_dict(state)
    assert list(out) == ["a.weight", "b", "c", "mymodule.d"]
    assert all(t.is_contiguous() for t in out.values())
    assert torch.equal(out["a.weight"], base.t()) and torch.equal(out["c"], base[0])
    base.zero_()
    assert out["b"].sum() == 66 and out["c"].sum() == 6  # independent copies


def test_prefixed_weights_files_still_load(saved, model):
    rewrite_weights(saved, lambda s: s.update({"module." + k: s.pop(k) for k in list(s)}))
    with safe_open(str(saved / WEIGHTS_NAME), framework="pt") as f:
        assert all(k.startswith("module.") for k in f.keys())
    loaded = Export3D.from_pretrained(saved)
    assert torch.equal(loaded.generator.ema_planes, model.generator.ema_planes)


# ------------------------------------------------------------------- failures
def test_unknown_config_keys_are_rejected(saved):
    rewrite_config(saved, lambda m: m["model"]["generator"].update({"new_knob": 3}))
    with pytest.raises(CheckpointError, match="new_knob"):
        Export3D.from_pretrained(saved)


def test_unknown_top_level_key_is_rejected(saved):
    rewrite_config(saved, lambda m: m.update({"optimizer": {}}))
    with pytest.raises(CheckpointError):
        Export3D.from_pretrained(saved)


def test_wrong_format_version_or_bad_json_is_rejected(saved):
    rewrite_config(saved, lambda m: m.update({"format_version": 2}))
    with pytest.raises(CheckpointError):
        Export3D.from_pretrained(saved)
    (saved / CONFIG_NAME).write_text("{not json")
    with pytest.raises(CheckpointError):
        Export3D.from_pretrained(saved)


def test_inconsistent_config_is_rejected(saved):
    rewrite_config(saved, lambda m: m["model"]["generator"].update({"plane_size": 32}))
    with pytest.raises(CheckpointError):
        Export3D.from_pretrained(saved)


@pytest.mark.parametrize("path", ["does/not/exist/here", "./missing", "missing_dir"])
def test_missing_local_folder_raises_without_trying_the_hub(path, fake_hub, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, calls = fake_hub
    with pytest.raises(CheckpointError, match="not found"):
        Export3D.from_pretrained(path)
    assert calls == []


def test_missing_absolute_folder_raises_without_trying_the_hub(fake_hub, tmp_path):
    _, calls = fake_hub
    with pytest.raises(CheckpointError):
        Export3D.from_pretrained(tmp_path / "nope")
    with pytest.raises(CheckpointError):
        Export3D.from_pretrained(str(tmp_path / "a" / "b"))
    assert calls == []


def test_incomplete_folders_are_rejected(saved, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError):
        Export3D.from_pretrained(empty)
    (saved / WEIGHTS_NAME).unlink()
    with pytest.raises(CheckpointError):
        Export3D.from_pretrained(saved)


def test_a_file_instead_of_a_folder_is_rejected(saved):
    with pytest.raises(CheckpointError):
        Export3D.from_pretrained(saved / CONFIG_NAME)


def test_hub_repo_id_is_downloaded_then_loaded(saved, model, fake_hub, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no local folder called owner/repo
    module, calls = fake_hub
    module.result = saved
    loaded = Export3D.from_pretrained("owner/repo", revision="v1")
    assert len(calls) == 1
    assert calls[0]["repo_id"] == "owner/repo" and calls[0]["revision"] == "v1"
    assert set(calls[0]["allow_patterns"]) == {CONFIG_NAME, WEIGHTS_NAME}
    assert torch.equal(loaded.generator.ema_planes, model.generator.ema_planes)


def test_hub_download_failure_becomes_a_checkpoint_error(fake_hub, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, calls = fake_hub
    with pytest.raises(CheckpointError, match="owner/repo"):
        Export3D.from_pretrained("owner/repo")
    assert len(calls) == 1


def test_local_folder_shaped_like_a_repo_id_is_used_locally(saved, fake_hub, tmp_path, monkeypatch):
    local = tmp_path / "owner" / "repo"
    local.parent.mkdir()
    saved.rename(local)
    monkeypatch.chdir(tmp_path)
    _, calls = fake_hub
    Export3D.from_pretrained("owner/repo")
    assert calls == []


def test_missing_weight_key_is_rejected(saved):
    rewrite_weights(saved, lambda s: s.pop("decoder.trunk.weight"))
    with pytest.raises(CheckpointError, match="decoder.trunk.weight"):
        Export3D.from_pretrained(saved)


def test_unexpected_or_misshaped_weights_are_rejected(saved):
    rewrite_weights(saved, lambda s: s.update({"extra.weight": torch.zeros(2)}))
    with pytest.raises(CheckpointError):
        Export3D.from_pretrained(saved)
    rewrite_weights(saved, lambda s: (s.pop("extra.weight"), s.update({"decoder.trunk.bias": torch.zeros(3)})))
    with pytest.raises(CheckpointError):
        Export3D.from_pretrained(saved)


def test_class_method_instance_method_and_package_function_are_one_path(model, tmp_path):
    import export3d

    folder = model.save_pretrained(tmp_path / "m", extra={"note": "x"})
    a, b = Export3D.from_pretrained(folder), export3d.from_pretrained(folder)
    for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(va, vb) and torch.equal(va, model.state_dict()[k]), k
    assert not a.training and json.loads((folder / CONFIG_NAME).read_text())["extra"] == {"note": "x"}
