"""Stage-2 losses: reconstruction (L1 on the output and the raw render), ST-LPIPS, non-saturating GAN with lazy R1.

Images are ``(B, 3, S, S)`` in [-1, 1] (docs/conventions.md); the raw render ``(B, 3, R, R)`` is compared with
the target area-downsampled to ``R``.
"""

from __future__ import annotations

import torch.nn.functional as F

from ..models.discriminator import r1_penalty
from ..models.export3d import Export3D
from .config import Stage2Config
from .data import Batch


def perceptual_loss():
    """ST-LPIPS (alex) if its package and weights are available, else None."""
    try:
        from ..models.perceptual import STLPIPS

        return STLPIPS().eval()
    except Exception:  # noqa: BLE001 - optional: missing package or weights
        return None


def generator_losses(model: Export3D, batch: Batch, s2: Stage2Config, lpips, disc, use_adv: bool):
    out = model(batch.source, batch.beta, batch.camera, perturb=True)
    r = out.raw.rgb.shape[-1]
    target_raw = F.interpolate(batch.driver, size=(r, r), mode="area")
    terms = {"l1": (out.image - batch.driver).abs().mean(), "l1_raw": (out.raw.rgb - target_raw).abs().mean()}
    if lpips is not None and s2.lpips > 0:
        terms["lpips"] = lpips(out.image, batch.driver).mean()
    if use_adv:
        terms["adv"] = F.softplus(-disc(out.image, out.raw.rgb, batch.camera)).mean()
    weights = {"l1": s2.l1, "l1_raw": s2.l1_raw, "lpips": s2.lpips, "adv": s2.adversarial}
    total = sum(weights[k] * v for k, v in terms.items())
    return total, terms, out


def discriminator_step(disc, opt_d, batch: Batch, fake_img, fake_raw, s2: Stage2Config, d_step: int):
    r = fake_raw.shape[-1]
    real_raw = F.interpolate(batch.driver, size=(r, r), mode="area")
    loss = F.softplus(disc(fake_img.detach(), fake_raw.detach(), batch.camera)).mean()
    real_img = batch.driver.requires_grad_(d_step % s2.r1_interval == 0)
    real_raw = real_raw.detach().requires_grad_(real_img.requires_grad)
    logits = disc(real_img, real_raw, batch.camera)
    loss = loss + F.softplus(-logits).mean()
    if real_img.requires_grad:
        loss = loss + 0.5 * s2.r1_gamma * s2.r1_interval * r1_penalty(logits, [real_img, real_raw])
    opt_d.zero_grad(set_to_none=True)
    loss.backward()
    opt_d.step()
    return float(loss.detach())
