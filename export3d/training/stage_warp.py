"""Training of the warped model (``appearance.kind = "warped"``), CLeBS frozen, resumable.

Warm start: ``init`` (a checkpoint folder of the *generated* design, e.g. the shipped one) gives every weight
the two designs share (CLeBS, generator, decoder trunk and heads, super-resolution); the warp's own parts (the
deformation and visibility heads, the refiner) start at their neutral initialisation, where the output at the
portrait's own view is the portrait. Saves like stage 2: ``resume.*`` for exact resume and the EMA model in
``model/`` (``save_pretrained``), plus ``warp_log.csv``.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from pathlib import Path

import torch
from safetensors.torch import load_file
from tqdm import tqdm

from ..checkpoint import load_config, resolve_checkpoint, save_pretrained
from ..config import AppearanceConfig
from ..models.export3d import Export3D
from .config import WarpConfig
from .data import ClipData
from .grids import save_grid
from .loop import CsvLog, apply_hyperparameters, update_ema
from .losses import perceptual_loss
from .state import has_state, load_state, save_state
from .warp_data import WarpClips, photometric_pairs
from .warp_losses import warp_losses

TERMS = ("l1", "rendered", "lpips", "field", "visibility")


def warm_start(init: str | Path, appearance: AppearanceConfig, mesh_cue: bool | None = None,
               fresh: tuple[str, ...] = ()) -> Export3D:
    """A warped model with every weight it shares with the generated checkpoint ``init`` copied over.

    ``mesh_cue`` (None: as ``init``): a generator that reads the face mesh map; started from a checkpoint
    without it, the source CNNs' new input channels get zero weights, so the model starts as ``init``.
    ``fresh``: prefixes of ``appearance.`` weights that start new even when ``init`` has them."""
    folder = resolve_checkpoint(init)
    cfg = dataclasses.replace(load_config(folder), appearance=appearance)
    if mesh_cue is not None:
        cfg = dataclasses.replace(cfg, generator=dataclasses.replace(cfg.generator, mesh_cue=mesh_cue))
    model = Export3D(cfg.validate())
    state = widen_inputs(load_file(str(folder / "model.safetensors")), model.state_dict())
    if any(not p.startswith("appearance.") for p in fresh):
        raise ValueError(f"only appearance weights can start fresh, got {list(fresh)}")
    state = {k: v for k, v in state.items() if not k.startswith(fresh)} if fresh else state
    missing, unexpected = model.load_state_dict(state, strict=False)
    new = {k for k in missing if k.startswith(("decoder.deform", "decoder.visibility", "appearance."))}
    if set(missing) - new or unexpected:
        raise ValueError(f"{init} does not fit the warped model: missing {sorted(set(missing) - new)}, "
                         f"unexpected {sorted(unexpected)}")
    return model


def widen_inputs(state: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with every convolution weight that has fewer input channels than ``target``'s padded with zero
    weights for the extra channels (new inputs that start ignored); other entries as they are."""
    out = dict(state)
    for key, w in state.items():
        t = target.get(key)
        if t is not None and w.dim() == 4 and t.shape[0] == w.shape[0] and t.shape[2:] == w.shape[2:] \
                and t.shape[1] > w.shape[1]:
            out[key] = torch.cat([w, w.new_zeros(w.shape[0], t.shape[1] - w.shape[1], *w.shape[2:])], dim=1)
    return out


def freeze_all_but(model: Export3D, prefixes: tuple[str, ...]) -> None:
    """Only parameters named ``prefix...`` train; every module without one runs in eval mode (its buffers, such
    as the generator's plane statistics, stay as they are)."""
    names = [n for n, _ in model.named_parameters() if n.startswith(tuple(prefixes))]
    if not names:
        raise ValueError(f"no parameter starts with {list(prefixes)}")
    model.eval().requires_grad_(False)
    for name, module in model.named_modules():
        if name and name.startswith(tuple(prefixes)):
            module.train().requires_grad_(True)


def train_warp(model: Export3D, w: WarpConfig, synthetic: WarpClips | None, real: ClipData | None, out: Path,
               steps: int, minutes: float, checkpoint_minutes: float = 10.0) -> dict:
    """Train ``model`` (warped) for ``steps`` or ``minutes``, resuming from ``out`` when it holds a state."""
    if not model.warped:
        raise ValueError("train_warp needs a model with appearance.kind = 'warped'")
    if synthetic is None and real is None:
        raise ValueError("no training data: give --data (synthetic with correspondences) and/or --real")
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(w.seed)
    model.train().expression.requires_grad_(False)  # CLeBS stays as pre-trained
    if w.trainable:
        freeze_all_but(model, w.trainable)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=w.lr, betas=w.betas)
    g = torch.Generator().manual_seed(w.seed)
    lpips = perceptual_loss() if w.lpips > 0 else None
    step = 0
    if has_state(out):
        step, _ = load_state(out, {"model": model, "ema": ema}, {"adam": opt}, {"data": g})
        apply_hyperparameters(opt, w.lr, w.betas)
    log = CsvLog(out / "warp_log.csv", True, ["step", "loss", *TERMS, "seconds"])
    t0 = last = time.time()
    bar = tqdm(total=steps, initial=step, desc="warp")
    while step < steps and time.time() - t0 < minutes * 60:
        batch = _batch(w, synthetic, real, g)
        total, terms, res = warp_losses(model, batch, w, lpips)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        update_ema(ema, model, min(w.ema_decay, (1 + step) / (10 + step)))
        step += 1
        bar.update(1)
        if step % w.log_every == 0:
            log.row(step, float(total.detach()), *[float(terms[k].detach()) if k in terms else 0.0 for k in TERMS],
                    time.time() - t0)
            bar.set_postfix(loss=f"{float(total.detach()):.3f}")
        if w.image_every and step % w.image_every == 0:
            save_grid(out / "images" / f"step{step:07d}.png", batch.source, batch.driver, res.rendered, res.image)
        if time.time() - last > checkpoint_minutes * 60:
            _checkpoint(out, step, model, ema, opt, g)
            last = time.time()
    bar.close()
    _checkpoint(out, step, model, ema, opt, g)
    return {"step": step, "lpips_available": lpips is not None}


def _batch(w: WarpConfig, synthetic: WarpClips | None, real: ClipData | None, g: torch.Generator):
    use_real = real is not None and (synthetic is None or float(torch.rand(1, generator=g)) < w.real_ratio)
    return photometric_pairs(real, w.batch, g) if use_real else synthetic.warp_pairs(w.batch, g)


def _checkpoint(out: Path, step: int, model, ema, opt, g) -> None:
    save_state(out, step, {"model": model, "ema": ema}, {"adam": opt}, {"data": g})
    save_pretrained(ema, out / "model", extra={"step": step})
