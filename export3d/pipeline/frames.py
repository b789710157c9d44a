"""Rendering frames from a cached portrait encoding: the model half of the pipeline, below the jobs.

``FrameRenderer`` turns ``(features, beta, camera)`` into uint8 frames at the output size, in chunks, and
the same pass's depth maps; it knows nothing of files, drivers or faces. A warped model (``appearance.kind
= "warped"``) also needs the portrait at its output size and the portrait's camera (``WarpSource``); its
frames are then the warped portrait, refined. Symbols: docs/conventions.md.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..models.export3d import Export3D
from ..models.generator import SourceFeatures
from ..models.warped import WarpOutput, WarpSource
from ..rendering.renderer import RenderOutput, render_triplane
from ..rendering.warp import identity_grid, warp_image
from .paste import Canvas, CropLayers
from .views import depth_to_uint8, resize_gray, resize_square, to_uint8

CHUNK = 8  #: frames rendered per model call


class FrameRenderer:
    """An ``Export3D`` model on ``device`` rendering ``output_size``² frames ``chunk`` at a time."""

    def __init__(self, model: Export3D, device: torch.device, output_size: int | None, chunk: int = CHUNK):
        self.model, self.device, self.output_size, self.chunk = model, device, output_size, chunk
        self.governor = None  #: optional ``runtime.ThreadGovernor``, asked before each chunk (CPU only)

    @property
    def model_size(self) -> int:
        """Side of the model's own output: the warp's output size for warped models, else the SR output size."""
        cfg = self.model.cfg
        return cfg.appearance.output_size if self.model.warped else cfg.superres.output_size

    @property
    def out_size(self) -> int:
        """Side of the frames returned: ``output_size``, or the model's own output size when that is None."""
        return self.output_size or self.model_size

    def inputs(self, features: SourceFeatures, beta, camera) -> tuple[SourceFeatures, torch.Tensor, torch.Tensor]:
        """``beta (52,) | (N, 52)`` and ``camera (25,) | (N, 25)`` as ``(N, 52)``, ``(N, 25)`` tensors on the device.

        A single row is broadcast against the other's ``N``; any other mismatch raises ``ValueError``.
        """
        beta = torch.as_tensor(np.asarray(beta, np.float32)).reshape(-1, self.model.cfg.expression.beta_dim)
        camera = torch.as_tensor(np.asarray(camera, np.float32)).reshape(-1, 25)
        n = max(len(beta), len(camera))
        if len(beta) not in (1, n) or len(camera) not in (1, n):
            raise ValueError(f"{len(beta)} expressions and {len(camera)} cameras do not match")
        return features, beta.expand(n, -1).to(self.device), camera.expand(n, -1).to(self.device)

    def frames(self, features: SourceFeatures, beta, camera, depth: bool = False,
               warp: WarpSource | None = None, canvas: Canvas | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """``(N, out, out, 3)`` uint8 frames and, if ``depth``, the same pass's depth maps ``(N, out, out)`` uint8.

        ``warp`` (batch 1): the portrait at the model's output size and its camera; required by warped models.
        ``canvas``: the frames are laid on its target instead (``(N, H, W, 3)``, ``pipeline/paste.py``).
        """
        features, beta, camera = self.inputs(features, beta, camera)
        if self.model.warped and warp is None:
            raise ValueError("a warped model renders from the portrait: pass warp (PreparedSource.warp)")
        images, depths = [], []
        with torch.inference_mode():
            for i in range(0, len(beta), self.chunk):
                if self.governor is not None and self.device.type == "cpu":
                    self.governor.adapt()
                planes = self.model.planes(features, beta[i:i + self.chunk])
                out, raw, layers = self._render(planes, camera[i:i + self.chunk], warp, beta[i:i + self.chunk])
                if canvas is None:
                    images.extend(self._resize(to_uint8(out)))
                else:
                    images.extend(canvas.compose(k) for k in crop_layers(out, raw, layers, warp))
                if depth:
                    depths.extend(self._depth_frames(raw))
        return np.stack(images), np.stack(depths) if depth else None

    def depth(self, features: SourceFeatures, beta, camera) -> np.ndarray:
        """Depth maps ``(N, out, out)`` uint8 from the raw render only (no super-resolution pass)."""
        features, beta, camera = self.inputs(features, beta, camera)
        out = []
        with torch.inference_mode():
            for i in range(0, len(beta), self.chunk):
                planes = self.model.planes(features, beta[i:i + self.chunk])
                cams = camera[i:i + self.chunk]
                raw = render_triplane(planes, self.model.decoder, cams, self.model.render_settings())
                out.extend(self._depth_frames(raw))
        return np.stack(out)

    def own_opacity(self, features: SourceFeatures, beta, camera) -> np.ndarray:
        """``(M, M)`` float32: the head's opacity for one ``beta``, ``camera`` at the model's own output size ``M``
        (bilinear from the raw render); a ``Canvas`` needs the portrait's own."""
        features, beta, camera = self.inputs(features, beta, camera)
        with torch.inference_mode():
            raw = render_triplane(self.model.planes(features, beta[:1]), self.model.decoder, camera[:1],
                                  self.model.render_settings())
            m = self.model_size
            return F.interpolate(raw.opacity.float(), size=(m, m), mode="bilinear", align_corners=False)[0, 0].numpy()

    def _render(self, planes: torch.Tensor, camera: torch.Tensor, warp: WarpSource | None, beta: torch.Tensor):
        """``(image (B, 3, M, M) in [-1, 1], raw render, warp output or None)``."""
        if warp is None:
            return *self.model.render(planes, camera), None
        source = warp.expand(len(camera), self.device)
        out, raw, _ = self.model.render_warped(planes, camera, source, beta)
        return out.image, raw, out

    def _resize(self, frames: np.ndarray) -> list[np.ndarray]:
        size = self.output_size
        if size is None or frames.shape[1] == size:
            return list(frames)
        return [resize_square(f, size) for f in frames]

    def _depth_frames(self, raw) -> list[np.ndarray]:
        r = self.model.cfg.render
        return [resize_gray(d, self.out_size) for d in depth_to_uint8(raw.depth, raw.opacity, r.near, r.far)]


def crop_layers(image: torch.Tensor, raw: RenderOutput, out: WarpOutput | None,
                warp: WarpSource | None) -> list[CropLayers]:
    """One ``CropLayers`` per row of a rendered chunk (``image (B, 3, M, M)`` in [-1, 1])."""
    m = image.shape[-1]
    to_pixels = lambda x: ((x.float() + 1) * 127.5).permute(0, 2, 3, 1).cpu().numpy()  # noqa: E731
    opacity = F.interpolate(raw.opacity.float(), size=(m, m), mode="bilinear", align_corners=False)[:, 0].cpu().numpy()
    pictures = to_pixels(image)
    if out is None or out.fine is None:
        return [CropLayers(p, a) for p, a in zip(pictures, opacity, strict=True)]
    fine = out.fine.float()
    shift = ((fine - identity_grid(m, fine)) * (m / 2)).cpu().numpy()
    plain = to_pixels(warp_image(warp.image.expand(len(fine), -1, -1, -1).to(fine), fine))
    return [CropLayers(*row) for row in zip(pictures, opacity, shift, plain, strict=True)]
