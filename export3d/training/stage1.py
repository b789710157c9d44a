"""Stage 1: contrastive pre-training of the expression encoder (CLeBS) against an image encoder f_I.

Positives: a frame and its own beta. Negatives: the other frames of the *same* clip, so
appearance cannot separate them. Reports within-clip retrieval accuracy on held-out clips
(chance = 1/K). Saves only the expression encoder (``expression.safetensors`` + config).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from tqdm import tqdm

from ..config import ModelConfig
from ..models.contrastive import LearnableTemperature, info_nce
from ..models.expression import CLeBS, DirectExpression
from ..models.image_encoder import ImageEncoder
from .config import Stage1Config
from .data import TrainingData
from .distributed import Dist, unwrap, wrap
from .loop import CsvLog
from .state import has_state, load_state, save_state

EXPRESSION_WEIGHTS = "expression.safetensors"


class Stage1(torch.nn.Module):
    def __init__(self, cfg: ModelConfig, s1: Stage1Config):
        super().__init__()
        e = cfg.expression
        self.expression = CLeBS(e) if e.kind == "clebs" else DirectExpression(e)
        self.image_encoder = ImageEncoder(e.code_dim, e.image_embed_channels)
        self.temperature = LearnableTemperature(s1.temperature, s1.learn_temperature)
        self.image_size = s1.image_size

    def embed(self, images: torch.Tensor, beta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``images (N, K, 3, S, S)``, ``beta (N, K, 52)`` -> embeddings ``(N, K, d)`` each."""
        n, k = beta.shape[:2]
        x = F.interpolate(images.flatten(0, 1), size=self.image_size, mode="area")
        return self.image_encoder(x).view(n, k, -1), self.expression(beta.flatten(0, 1)).view(n, k, -1)

    def forward(self, images: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        img, expr = self.embed(images, beta)
        return info_nce(img, expr, self.temperature())


@torch.no_grad()
def retrieval_accuracy(model: Stage1, data: TrainingData, s1: Stage1Config, clips: int = 16) -> float:
    """Fraction of frames whose beta retrieves its own image among the K frames of its clip."""
    model.eval()
    g = torch.Generator().manual_seed(1234)
    n = min(clips, len(data.heldout))
    images, beta = data.clip_batch(n, s1.frames_per_clip, g, heldout=True)
    dev = next(model.parameters()).device
    img, expr = model.embed(images.to(dev), beta.to(dev))
    sim = F.normalize(expr, dim=-1) @ F.normalize(img, dim=-1).transpose(1, 2)  # (N, K, K)
    acc = (sim.argmax(-1) == torch.arange(sim.shape[-1], device=dev)).float().mean()
    model.train()
    return float(acc)


def train_stage1(cfg: ModelConfig, s1: Stage1Config, data: TrainingData, out: Path, steps: int,
                 minutes: float, d: Dist | None = None, checkpoint_minutes: float = 10.0) -> dict:
    d = d or Dist()
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(s1.seed)
    model = Stage1(cfg, s1).to(d.device)
    opt = torch.optim.Adam(model.parameters(), lr=s1.lr)
    g = torch.Generator().manual_seed(s1.seed + 1000 * d.rank)
    step = 0
    if has_state(out):
        step, _ = load_state(out, {"stage1": model}, {"adam": opt}, {"data": g})
    net = wrap(model, d)
    log = CsvLog(out / "stage1_log.csv", d.main, ["step", "loss", "tau", "heldout_retrieval", "chance", "seconds"])
    t0, last_ckpt = time.time(), time.time()
    bar = tqdm(total=steps, initial=step, desc="stage1", disable=not d.main)
    while step < steps and time.time() - t0 < minutes * 60:
        images, beta = data.clip_batch(s1.clips_per_batch, s1.frames_per_clip, g)
        images, beta = images.to(d.device), beta.to(d.device)
        loss = net(images, beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        bar.update(1)
        if step % s1.eval_every == 0 or step == steps:
            acc = retrieval_accuracy(model, data, s1) if d.main else float("nan")
            value, tau = float(loss.detach()), float(model.temperature().detach())
            log.row(step, value, tau, acc, 1 / s1.frames_per_clip, time.time() - t0)
            bar.set_postfix(loss=f"{value:.3f}", retrieval=f"{acc:.2f}")
        if time.time() - last_ckpt > checkpoint_minutes * 60:
            _checkpoint(out, step, model, opt, g, cfg, d)
            last_ckpt = time.time()
    bar.close()
    _checkpoint(out, step, model, opt, g, cfg, d)
    acc = retrieval_accuracy(unwrap(net), data, s1) if d.main else float("nan")
    return {"step": step, "heldout_retrieval": acc, "chance": 1 / s1.frames_per_clip}


def _checkpoint(out: Path, step: int, model: Stage1, opt, g, cfg: ModelConfig, d: Dist) -> None:
    if not d.main:
        return
    save_state(out, step, {"stage1": model}, {"adam": opt}, {"data": g})
    weights = {k: v.contiguous() for k, v in model.expression.state_dict().items()}
    save_file(weights, str(out / EXPRESSION_WEIGHTS))
    (out / "expression_config.json").write_text(json.dumps(asdict(cfg.expression), indent=2) + "\n")


