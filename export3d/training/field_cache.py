"""Fast training of the expression field alone, from cached renders (``python -m export3d.training field``).

With everything but the expression field frozen, the tri-plane render of a training pair never changes: only
``SurfaceParts`` (distance, decoder displacement, opacity, visibility logit per ray, ``models/warped.py``) enter
the field. So they are rendered once per pair (the expensive part, ~0.1 s a pair on 2 cores) and the field is
then trained for thousands of steps on the cache, each a few milliseconds, instead of one full forward and
backward pass per step. Supervision, at the field's side ``Q``:

* synthetic pairs: the exact correspondences and visibility (``warp_losses.field_targets``);
* real pairs (GRID): photometric L1 of the portrait warped by the field against the driver frame.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..blendshapes import blendshape_index
from ..models.export3d import Export3D
from ..models.warped import SurfaceParts, WarpSource
from ..rendering.warp import upsample_field, warp_image
from .data import ClipData
from .warp_data import WarpBatch, WarpClips, photometric_pairs
from .warp_losses import block_mean, field_error, field_targets


@dataclass
class FieldCache:
    """Cached pairs (``N`` rows). Synthetic rows carry ``true``/``weight``/``visible``; real rows the frames."""

    camera: torch.Tensor  #: (N, 25)
    distance: torch.Tensor  #: (N, 1, Q, Q)
    displacement: torch.Tensor  #: (N, 3, Q, Q)
    opacity: torch.Tensor  #: (N, 1, Q, Q)
    logit: torch.Tensor  #: (N, 1, Q, Q)
    beta: torch.Tensor  #: (N, 52)
    source_beta: torch.Tensor  #: (N, 52)
    source_camera: torch.Tensor  #: (N, 25)
    true: torch.Tensor | None = None  #: (N, Q, Q, 2) source positions in image widths
    weight: torch.Tensor | None = None  #: (N, Q, Q)
    visible: torch.Tensor | None = None  #: (N, 1, Q, Q) share of source-visible pixels per block
    source: torch.Tensor | None = None  #: (N, 3, S, S) uint8 (real rows)
    driver: torch.Tensor | None = None  #: (N, 3, S, S) uint8 (real rows)

    def rows(self, idx: torch.Tensor) -> FieldCache:
        return FieldCache(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name)[idx]
                             for f in fields(self)})

    def parts(self) -> SurfaceParts:
        return SurfaceParts(self.camera, self.distance, self.displacement, self.opacity, self.logit)

    def __len__(self) -> int:
        return len(self.camera)


@torch.no_grad()
def build_cache(model: Export3D, draw, pairs: int, batch: int = 16, desc: str = "cache") -> FieldCache:
    """Render ``pairs`` training pairs ``draw(batch) -> WarpBatch`` with the frozen model and keep their parts."""
    model.eval()
    chunks = []
    for _ in tqdm(range(0, pairs, batch), desc=desc, unit="batch"):
        b: WarpBatch = draw(batch)
        mesh = b.mesh if model.cfg.generator.mesh_cue else None  # a dataset's maps, used by a model with the cue
        planes = model.planes(model.encode_source(b.source, mesh), b.beta)
        _, raw = model.render(planes, b.camera, code=model.deform_code(b.beta))
        p = model.appearance.surface(raw, b.camera)
        row = dict(camera=b.camera, distance=p.distance, displacement=p.displacement, opacity=p.opacity,
                   logit=p.logit, beta=b.beta, source_beta=b.source_beta, source_camera=b.source_camera)
        r = p.distance.shape[-1]
        if b.coords is not None:
            row["true"], row["weight"] = field_targets(b.coords, b.visible & b.foreground, b.weight, r)
            row["visible"] = block_mean(b.visible[..., None], r).permute(0, 3, 1, 2)
        else:
            row["source"], row["driver"] = (((x + 1) * 127.5).round().to(torch.uint8) for x in (b.source, b.driver))
        chunks.append(row)
    return FieldCache(**{k: torch.cat([c[k] for c in chunks])[:pairs] for k in chunks[0]})


def cache_losses(model: Export3D, c: FieldCache, size: int) -> dict[str, torch.Tensor]:
    """Loss terms of a minibatch of cached rows (``size``: the training frames' side)."""
    image = c.source.float() / 127.5 - 1 if c.source is not None else torch.zeros(1, 3, size, size)
    source = WarpSource(image.expand(len(c), -1, -1, -1), c.source_camera, c.source_beta)
    grid, logit = model.appearance.field_from_surface(c.parts(), source, c.beta)
    if c.true is not None:
        return {"field": field_error(grid, c.true, c.weight),
                "visibility": F.binary_cross_entropy_with_logits(logit, c.visible)}
    warped = warp_image(image, upsample_field(grid, size))
    return {"photometric": (warped - (c.driver.float() / 127.5 - 1)).abs().mean()}


@dataclass
class FieldTraining:
    steps: int = 3000
    batch: int = 32
    lr: float = 2e-3
    field: float = 20.0  #: as ``WarpConfig.field``
    visibility: float = 0.2
    photometric: float = 1.0
    real_ratio: float = 0.25  #: share of steps on cached real pairs (when there are any)
    seed: int = 0


def train_field(model: Export3D, synthetic: FieldCache, real: FieldCache | None, t: FieldTraining,
                size: int, log=None) -> dict[str, float]:
    """Train ``model.appearance.expression_field`` on the caches; returns the last logged means."""
    field = model.appearance.expression_field
    if field is None:
        raise ValueError("the model has no expression field (appearance.expression_field)")
    model.requires_grad_(False)
    field.requires_grad_(True).train()
    opt = torch.optim.Adam(field.parameters(), lr=t.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, t.steps)
    g = torch.Generator().manual_seed(t.seed)
    weights = {"field": t.field, "visibility": t.visibility, "photometric": t.photometric}
    sums: dict[str, float] = {}
    for step in tqdm(range(t.steps), desc="field", unit="step"):
        use_real = real is not None and float(torch.rand(1, generator=g)) < t.real_ratio
        cache = real if use_real else synthetic
        terms = cache_losses(model, cache.rows(torch.randint(len(cache), (t.batch,), generator=g)), size)
        loss = sum(weights[k] * v for k, v in terms.items())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        for k, v in terms.items():
            sums[k] = 0.98 * sums.get(k, float(v)) + 0.02 * float(v)
        if log is not None and (step + 1) % 100 == 0:
            log(step + 1, sums)
    field.eval()
    return sums


EMPHASIS = {"eyeBlinkLeft": 6.0, "eyeBlinkRight": 6.0, "jawOpen": 3.0, "mouthSmileLeft": 2.0,
            "mouthSmileRight": 2.0}  #: extra drawing weight per unit of expression change (rare, visible motions)


def pair_weights(beta: torch.Tensor, source_beta: torch.Tensor, emphasis: dict[str, float] | None = None
                 ) -> torch.Tensor:
    """``(B,)`` drawing weights ``1 + sum_k e_k |beta_k - beta_s,k|`` of pairs ``(B, 52)`` x 2, ``e = emphasis``
    (default ``EMPHASIS``)."""
    emphasis = EMPHASIS if emphasis is None else emphasis
    idx = torch.tensor([blendshape_index(n) for n in emphasis])
    w = torch.tensor(list(emphasis.values()))
    return 1.0 + ((beta[:, idx] - source_beta[:, idx]).abs().nan_to_num() * w).sum(-1)


def draw_synthetic(clips: WarpClips, g: torch.Generator, oversample: int = 4, emphasis: dict[str, float] | None = None):
    """``n -> WarpBatch``: ``oversample * n`` candidate pairs, ``n`` of them kept with probability ``pair_weights``
    (blinks are rare in the synthetic clips; without this the field hardly sees one)."""
    def draw(n: int) -> WarpBatch:
        b = clips.warp_pairs(oversample * n, g)
        keep = torch.multinomial(pair_weights(b.beta, b.source_beta, emphasis), n, replacement=False, generator=g)
        return b.rows(keep)

    return draw


def draw_real(clips: ClipData, g: torch.Generator):
    return lambda n: photometric_pairs(clips, n, g)
