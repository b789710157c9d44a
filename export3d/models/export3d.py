"""The Export3D model: expression encoder + tri-plane generator + decoder + renderer + SR (+ warp).

``appearance.kind == "generated"`` is the paper's model: the output is the super-resolved render.
``"warped"``: the decoder also renders a backward deformation and a visibility logit, and the output is the
portrait warped by that field, blended with the super-resolved render (``warped.py``). Image value range
everywhere: RGB in [-1, 1], ``(B, 3, H, W)``.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import torch
import torch.nn as nn

from ..checkpoint import load_config, load_weights, resolve_checkpoint, save_pretrained
from ..config import ModelConfig
from ..rendering.renderer import RenderOutput, RenderSettings, render_triplane
from ..rendering.warp import surface_distance
from .decoder import TriplaneDecoder, WarpDecoder
from .expression import CLeBS, DirectExpression
from .generator import SourceFeatures, TriplaneGenerator
from .superres import SuperResolution
from .warped import WarpedAppearance, WarpOutput, WarpSource


@dataclass
class Export3DOutput:
    image: torch.Tensor  #: (B, 3, H_out, W_out) super-resolved image in [-1, 1].
    raw: RenderOutput  #: raw render at ``render_size`` (rgb, features, depth, opacity).
    planes: torch.Tensor  #: (B, 3, C, P, P) tri-planes.
    warp: WarpOutput | None = None  #: warped models: the warp's parts (field, visibility, warped portrait).
    rendered: torch.Tensor | None = None  #: warped models: the rendered branch (B, 3, S, S).


class Export3D(nn.Module):
    """``forward(source (B,3,H,W), beta (B,beta_dim), camera (B,25)) -> Export3DOutput``."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        e = cfg.expression
        self.expression = CLeBS(e) if e.kind == "clebs" else DirectExpression(e)
        self.generator = TriplaneGenerator(cfg.generator, e.code_dim)
        r, a = cfg.render, cfg.appearance
        self.warped = a.kind == "warped"
        if self.warped:
            self.decoder = WarpDecoder(cfg.generator.plane_channels, r.decoder_hidden, r.decoder_out,
                                       a.deform_scale, a.visibility_bias, e.code_dim if a.deform_from_code else 0)
            self.appearance = WarpedAppearance(cfg)
            if a.field_code == "clebs":
                self.appearance.use_field_code(self.expression.coefficients_of)
        else:
            self.decoder = TriplaneDecoder(cfg.generator.plane_channels, r.decoder_hidden, r.decoder_out)
        self.superres = SuperResolution(r.decoder_out, cfg.superres.channels)
        self.bf16_cnn = False  #: run the CNNs/transformer under bf16 autocast (set by ``configure_runtime``).
        self.channels_last = False

    # ------------------------------------------------------------ checkpoints
    @classmethod
    def from_pretrained(cls, path_or_repo, device: str | torch.device = "cpu",
                        revision: str | None = None) -> "Export3D":
        """Load a model in eval mode from a checkpoint folder or a Hub repo id (strict on keys).

        Raises ``CheckpointError`` (a user-facing ``Export3DError``) when the folder is missing, incomplete or
        does not match the code.
        """
        folder = resolve_checkpoint(path_or_repo, revision)
        model = load_weights(cls(load_config(folder)), folder)
        return model.to(device).eval()

    def save_pretrained(self, folder, extra: dict | None = None):
        """Write ``config.json`` and ``model.safetensors`` into ``folder`` (created if needed); returns it."""
        return save_pretrained(self, folder, extra)

    # ---------------------------------------------------------------- runtime
    def configure_runtime(self, bf16_cnn: bool = False, channels_last: bool = False) -> "Export3D":
        """Speed switches (CNNs: generator, super-resolution and a warped model's refiner). The renderer, the
        sampling field and the warp always stay in fp32."""
        self.bf16_cnn = bf16_cnn
        if self.warped:
            self.appearance.refiner.bf16 = bf16_cnn
        self.channels_last = channels_last
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and m.groups == 1:
                m.weight.data = m.weight.data.contiguous(memory_format=fmt)
        return self

    def _cnn_context(self, device: torch.device):
        if not self.bf16_cnn:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    # ------------------------------------------------------------------ parts
    def encode_expression(self, beta: torch.Tensor) -> torch.Tensor:
        """``beta (B, beta_dim)`` -> ``beta' (B, code_dim)``."""
        return self.expression(beta)

    def encode_source(self, source: torch.Tensor, mesh: torch.Tensor | None = None) -> SourceFeatures:
        """Source-only encoding ``(B, 3, H, W)`` -> cacheable ``SourceFeatures``; ``mesh (B, 3, H, W)`` in [0, 1]:
        the source's face mesh map, for a generator with ``mesh_cue`` only."""
        with self._cnn_context(source.device):
            return self.generator.encode_source(self._layout(source), mesh)

    def planes(self, src: SourceFeatures, beta: torch.Tensor) -> torch.Tensor:
        """Tri-planes ``(B, 3, C, P, P)`` (fp32) for a cached source and expressions ``beta``."""
        code = self.encode_expression(beta)
        with self._cnn_context(beta.device):
            return self.generator.planes_from_source(src, code).float()

    def deform_code(self, beta: torch.Tensor) -> torch.Tensor | None:
        """beta' for a deformation head that takes it (``appearance.deform_from_code``), else None."""
        return self.encode_expression(beta) if self.warped and self.cfg.appearance.deform_from_code else None

    def render_settings(self, perturb: bool = False, resolution: int | None = None) -> RenderSettings:
        r = self.cfg.render
        return RenderSettings(resolution or r.render_size, r.num_coarse, r.num_fine, r.near, r.far,
                              r.box_size, perturb)

    def render(self, planes: torch.Tensor, camera: torch.Tensor, perturb: bool = False,
               generator: torch.Generator | None = None, code: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, RenderOutput]:
        """Volume render + SR: returns the output image ``(B, 3, H_out, W_out)`` and the raw render."""
        decoder = self.decoder if code is None else functools.partial(self.decoder, code=code)
        raw = render_triplane(planes, decoder, camera, self.render_settings(perturb), generator)
        features = raw.features[:, :self.cfg.render.decoder_out]
        with self._cnn_context(planes.device):
            image = self.superres(self._layout(features), self._layout(raw.rgb))
        return image.float(), raw

    def own_distance(self, src: SourceFeatures, beta: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
        """The portrait's visible-surface distance ``(B, 1, R, R)`` in its own camera at its own expression (for
        ``WarpSource.distance``, the depth test of ``appearance.depth_test``)."""
        _, raw = self.render(self.planes(src, beta), camera, code=self.deform_code(beta))
        return surface_distance(raw.depth, raw.opacity, self.cfg.render.far)

    def render_warped(self, planes: torch.Tensor, camera: torch.Tensor, source: WarpSource, beta: torch.Tensor,
                      perturb: bool = False, generator: torch.Generator | None = None
                      ) -> tuple[WarpOutput, RenderOutput, torch.Tensor]:
        """Warped models: ``(warp output at O, raw render, rendered branch (B, 3, S, S))`` for the planes of
        expressions ``beta (B, 52)`` seen by cameras ``(B, 25)``."""
        if not self.warped:
            raise ValueError("render_warped needs a model with appearance.kind = 'warped'")
        rendered, raw = self.render(planes, camera, perturb, generator, self.deform_code(beta))
        return self.appearance(raw, rendered, camera, source, beta), raw, rendered

    def forward(self, source: torch.Tensor, beta: torch.Tensor, camera: torch.Tensor,
                perturb: bool = False, generator: torch.Generator | None = None,
                warp_source: WarpSource | None = None, mesh: torch.Tensor | None = None) -> Export3DOutput:
        """Warped models need ``warp_source`` (the portrait at the output size and its camera); a generator with
        ``mesh_cue`` needs ``mesh``, the source's face mesh map (``encode_source``)."""
        planes = self.planes(self.encode_source(source, mesh), beta)
        if not self.warped:
            image, raw = self.render(planes, camera, perturb, generator)
            return Export3DOutput(image=image, raw=raw, planes=planes)
        if warp_source is None:
            raise ValueError("a warped model needs warp_source: the portrait at the output size and its camera")
        warp, raw, rendered = self.render_warped(planes, camera, warp_source, beta, perturb, generator)
        return Export3DOutput(image=warp.image, raw=raw, planes=planes, warp=warp, rendered=rendered)

    def animate_frame(self, src: SourceFeatures, beta: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
        """One output image per (beta, camera) row for a cached source (inference helper)."""
        image, _ = self.render(self.planes(src, beta), camera)
        return image
