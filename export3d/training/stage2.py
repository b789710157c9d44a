"""Stage 2: the generator G(S, CLeBS(beta_D)) rendered at p_D, with CLeBS frozen.

Losses: L1 on the SR output and on the raw render (against the area-downsampled target),
ST-LPIPS when its weights are installed, a non-saturating adversarial loss with the dual
discriminator after a warm-up, lazy R1. An EMA copy of the model is what gets saved
(``save_pretrained``: ``model/config.json`` + ``model/model.safetensors``).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import torch
from safetensors.torch import load_file
from tqdm import tqdm

from ..checkpoint import save_pretrained
from ..config import ModelConfig
from ..models.discriminator import DualDiscriminator
from ..models.export3d import Export3D
from .config import Stage2Config
from .data import TrainingData
from .distributed import Dist, wrap
from .grids import save_grid
from .loop import CsvLog, apply_hyperparameters, update_ema
from .losses import discriminator_step, generator_losses, perceptual_loss
from .stage1 import EXPRESSION_WEIGHTS
from .state import has_state, load_state, save_state


def train_stage2(cfg: ModelConfig, s2: Stage2Config, data: TrainingData, out: Path, stage1_dir: Path | None,
                 steps: int, minutes: float, d: Dist | None = None, checkpoint_minutes: float = 10.0,
                 bf16: bool = False) -> dict:
    """Train for ``steps`` or ``minutes``, resuming from ``out``; ``bf16`` = bf16 autocast for the CNNs."""
    d = d or Dist()
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(s2.seed)
    model, disc = Export3D(cfg).train(), DualDiscriminator(cfg.discriminator)
    if stage1_dir is not None:
        model.expression.load_state_dict(load_file(str(stage1_dir / EXPRESSION_WEIGHTS)))
    model.configure_runtime(bf16_cnn=bf16, channels_last=bf16)  # autocast covers CNNs; renderer stays fp32
    model.to(d.device), disc.to(d.device)
    if cfg.expression.kind == "clebs":
        model.expression.requires_grad_(False)  # CLeBS is frozen after pre-training; a direct MLP trains with G
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt_g = torch.optim.Adam(params, lr=s2.lr_g, betas=s2.betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=s2.lr_d, betas=s2.betas)
    g = torch.Generator().manual_seed(s2.seed + 1000 * d.rank)
    lpips = perceptual_loss() if s2.lpips > 0 else None  # built before the RNG state is restored
    lpips = lpips.to(d.device) if lpips is not None else None
    step = 0
    if has_state(out):
        step, _ = load_state(out, {"model": model, "ema": ema, "disc": disc}, {"g": opt_g, "d": opt_d}, {"data": g})
        apply_hyperparameters(opt_g, s2.lr_g, s2.betas)  # the config wins over the saved ones (schedule changes)
        apply_hyperparameters(opt_d, s2.lr_d, s2.betas)
    net, dnet = wrap(model, d), wrap(disc, d)
    log = CsvLog(out / "stage2_log.csv", d.main, ["step", "loss", "l1", "l1_raw", "lpips", "adv", "d_loss", "seconds"])
    t0, last = time.time(), time.time()
    bar = tqdm(total=steps, initial=step, desc="stage2", disable=not d.main)
    while step < steps and time.time() - t0 < minutes * 60:
        batch = data.pairs(s2.batch, g).to(d.device)
        use_adv = step >= s2.adv_start and s2.adversarial > 0
        total, terms, fake = generator_losses(net, batch, s2, lpips, dnet, use_adv)
        opt_g.zero_grad(set_to_none=True)
        total.backward()
        opt_g.step()
        d_loss = discriminator_step(dnet, opt_d, batch, fake.image, fake.raw.rgb, s2, step) if use_adv else 0.0
        update_ema(ema, model, min(s2.ema_decay, (1 + step) / (10 + step)))  # warm-up: early EMA follows
        step += 1
        bar.update(1)
        if step % s2.log_every == 0:
            vals = [float(terms.get(k, torch.tensor(0.0)).detach()) for k in ("l1", "l1_raw", "lpips", "adv")]
            log.row(step, float(total.detach()), *vals, d_loss, time.time() - t0)
            bar.set_postfix(loss=f"{float(total.detach()):.3f}")
        if d.main and s2.image_every and step % s2.image_every == 0:
            save_grid(out / "images" / f"step{step:07d}.png", batch.source, batch.driver, fake.raw.rgb, fake.image)
        if time.time() - last > checkpoint_minutes * 60:
            _checkpoint(out, step, model, ema, disc, opt_g, opt_d, g, d)
            last = time.time()
    bar.close()
    _checkpoint(out, step, model, ema, disc, opt_g, opt_d, g, d)
    return {"step": step, "lpips_available": lpips is not None}


def _checkpoint(out, step, model, ema, disc, opt_g, opt_d, g, d: Dist) -> None:
    if not d.main:
        return
    save_state(out, step, {"model": model, "ema": ema, "disc": disc}, {"g": opt_g, "d": opt_d}, {"data": g})
    save_pretrained(ema, out / "model", extra={"step": step})
