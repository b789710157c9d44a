"""Exact-resume training state without pickles: safetensors for tensors, JSON for the rest.

``save_state`` writes ``resume.safetensors`` (module weights, optimizer moments, RNG states)
and ``resume.json`` (step, optimizer hyper-parameters, anything in ``extra``) atomically.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

TENSORS, META = "resume.safetensors", "resume.json"


def _flatten_optimizer(name: str, opt: torch.optim.Optimizer, tensors: dict, meta: dict) -> None:
    sd = opt.state_dict()
    meta[f"{name}.param_groups"] = sd["param_groups"]
    scalars = {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{name}.state.{idx}.{k}"] = v.detach().contiguous().clone()
            else:
                scalars[f"{idx}.{k}"] = v
    meta[f"{name}.scalars"] = scalars


def _unflatten_optimizer(name: str, opt: torch.optim.Optimizer, tensors: dict, meta: dict) -> None:
    state: dict[int, dict] = {}
    prefix = f"{name}.state."
    for key, v in tensors.items():
        if key.startswith(prefix):
            idx, k = key[len(prefix):].split(".", 1)
            state.setdefault(int(idx), {})[k] = v
    for key, v in meta.get(f"{name}.scalars", {}).items():
        idx, k = key.split(".", 1)
        state.setdefault(int(idx), {})[k] = v
    opt.load_state_dict({"state": state, "param_groups": meta[f"{name}.param_groups"]})


def save_state(folder: str | Path, step: int, modules: dict[str, torch.nn.Module],
               optimizers: dict[str, torch.optim.Optimizer], generators: dict[str, torch.Generator],
               extra: dict | None = None) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    meta: dict = {"step": step, "extra": extra or {}}
    for name, m in modules.items():
        for k, v in m.state_dict().items():
            tensors[f"module.{name}.{k}"] = v.detach().contiguous().clone()
    for name, opt in optimizers.items():
        _flatten_optimizer(f"opt.{name}", opt, tensors, meta)
    for name, g in generators.items():
        tensors[f"rng.{name}"] = g.get_state()
    tensors["rng.torch"] = torch.get_rng_state()
    tmp_t, tmp_m = folder / (TENSORS + ".tmp"), folder / (META + ".tmp")
    save_file(tensors, str(tmp_t))
    tmp_m.write_text(json.dumps(meta))
    os.replace(tmp_t, folder / TENSORS)
    os.replace(tmp_m, folder / META)


def has_state(folder: str | Path) -> bool:
    return (Path(folder) / TENSORS).is_file() and (Path(folder) / META).is_file()


def load_state(folder: str | Path, modules: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer],
               generators: dict[str, torch.Generator]) -> tuple[int, dict]:
    """Restore everything saved by ``save_state``; returns ``(step, extra)``."""
    folder = Path(folder)
    tensors = load_file(str(folder / TENSORS))
    meta = json.loads((folder / META).read_text())
    for name, m in modules.items():
        prefix = f"module.{name}."
        m.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, strict=True)
    for name, opt in optimizers.items():
        _unflatten_optimizer(f"opt.{name}", opt, tensors, meta)
    for name, g in generators.items():
        g.set_state(tensors[f"rng.{name}"])
    torch.set_rng_state(tensors["rng.torch"])
    return int(meta["step"]), meta.get("extra", {})
