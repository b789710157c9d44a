"""Training settings (typed dataclasses; defaults documented per field)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Stage1Config:
    """CLeBS contrastive pre-training."""

    clips_per_batch: int = 8  #: N clips per step; negatives come only from the same clip
    frames_per_clip: int = 16  #: K frames per clip (chance retrieval accuracy = 1/K)
    lr: float = 3e-4
    temperature: float = 0.07  #: initial tau
    learn_temperature: bool = True
    image_size: int = 64  #: frames are resized for f_I (expression is visible at 64^2; 4x cheaper)
    eval_every: int = 200
    seed: int = 0


@dataclass
class Stage2Config:
    """Generator training with CLeBS frozen."""

    batch: int = 4
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.0, 0.99)
    l1: float = 1.0  #: L1 on the super-resolved output
    l1_raw: float = 1.0  #: L1 on the raw render against the area-downsampled target
    lpips: float = 0.5  #: ST-LPIPS (alex) when its weights are installed; 0 otherwise
    adversarial: float = 0.05  #: non-saturating GAN loss weight (after ``adv_start`` steps)
    adv_start: int = 2000  #: generator-only warm-up steps
    r1_gamma: float = 1.0  #: R1 penalty weight (gamma), applied lazily
    r1_interval: int = 16  #: lazy R1: every this many discriminator steps, scaled by the interval
    ema_decay: float = 0.999  #: EMA of generator weights (the EMA model is what gets saved)
    seed: int = 0
    log_every: int = 50
    image_every: int = 1000


@dataclass
class WarpConfig:
    """Training of a warped-appearance model (``appearance.kind = "warped"``) with CLeBS frozen."""

    batch: int = 4
    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.99)
    l1: float = 1.0  #: L1 of the output against the driver frame
    lpips: float = 0.2  #: ST-LPIPS of the output when its weights are installed; 0 otherwise
    rendered: float = 0.5  #: L1 of the rendered branch (SR output and raw render) against the driver frame
    field: float = 20.0  #: L1 of the sampling field against the true correspondences, in image widths
    visibility: float = 0.2  #: binary cross-entropy of the visibility against the true visibility
    real_ratio: float = 0.0  #: share of steps drawn from real clips (photometric losses only)
    trainable: tuple[str, ...] = ()  #: train only parameters whose names start with one of these (frozen parts
    #: run in eval mode); () trains everything but CLeBS
    ema_decay: float = 0.999
    seed: int = 0
    log_every: int = 25
    image_every: int = 500
