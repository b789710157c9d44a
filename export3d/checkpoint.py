"""Checkpoint folders: ``config.json`` + ``model.safetensors`` (never pickles): the file format only.

``Export3D.from_pretrained`` / ``save_pretrained`` (``models/export3d.py``) use it; ``resolve_checkpoint``
takes a local folder, or a Hugging Face Hub repo id when a network is available (``huggingface_hub`` is
imported only then).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .config import ModelConfig
from .errors import CheckpointError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_VERSION = 1
_PREFIXES = ("module.", "_orig_mod.")


def clean_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip DDP/compile prefixes and make every tensor contiguous and unshared."""
    out = {}
    for key, value in state.items():
        changed = True
        while changed:
            changed = False
            for p in _PREFIXES:
                if key.startswith(p):
                    key, changed = key[len(p):], True
        out[key] = value.detach().contiguous().clone()
    return out


def save_pretrained(model: torch.nn.Module, folder: str | Path, extra: dict | None = None) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into ``folder`` (created if needed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = getattr(model, "module", model)
    model = getattr(model, "_orig_mod", model)
    meta = {"format_version": FORMAT_VERSION, "model": model.cfg.to_dict()}
    if extra:
        meta["extra"] = extra
    (folder / CONFIG_NAME).write_text(json.dumps(meta, indent=2) + "\n")
    save_file(clean_state_dict(model.state_dict()), str(folder / WEIGHTS_NAME),
              metadata={"format": "pt", "export3d_format_version": str(FORMAT_VERSION)})
    return folder


def load_config(folder: str | Path) -> ModelConfig:
    path = Path(folder) / CONFIG_NAME
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise CheckpointError(f"no {CONFIG_NAME} in {folder}") from e
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path} is not valid JSON: {e}") from e
    unknown = sorted(set(meta) - {"format_version", "model", "extra"})
    if unknown:
        raise CheckpointError(f"{path}: unknown top-level keys {unknown}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: format_version {meta.get('format_version')} != {FORMAT_VERSION}")
    try:
        return ModelConfig.from_dict(meta["model"]).validate()
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: {e}") from e


def resolve_checkpoint(path_or_repo: str | Path, revision: str | None = None) -> Path:
    """A local folder as is; otherwise download ``path_or_repo`` from the Hugging Face Hub."""
    p = Path(path_or_repo)
    if p.is_dir():
        return p
    text = str(path_or_repo)
    if p.exists() or text.count("/") != 1 or text.startswith((".", "/")):
        raise CheckpointError(f"checkpoint folder not found: {text}")
    try:
        from huggingface_hub import snapshot_download
        return Path(snapshot_download(repo_id=text, revision=revision, allow_patterns=[CONFIG_NAME, WEIGHTS_NAME]))
    except Exception as e:  # network errors, missing repo, offline mode
        raise CheckpointError(f"{text} is not a local folder and could not be downloaded from the Hub: {e}") from e


def load_weights(model: torch.nn.Module, folder: str | Path) -> torch.nn.Module:
    """Load ``folder/model.safetensors`` into ``model`` (strict on keys); ``CheckpointError`` when they differ."""
    weights = Path(folder) / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"no {WEIGHTS_NAME} in {folder}")
    state = clean_state_dict(load_file(str(weights)))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{weights} does not match its config: {e}") from e
    return model
