"""Preparing a portrait: its face crop encoded by the model, and what a warped model warps it from.

``Animator.prepare_source`` finds the face (``face.extractor``) and caches the result; the encoding is here:
``encode_portrait`` crops the photo like the training data (``face.crop``), encodes the crop (with the face mesh map
for a generator with ``mesh_cue``) and, for a warped model, makes the ``WarpSource``: the same crop at the model's
output size, cut from the full photo, with the portrait's camera, expression and landmarks (and its own distance
map when ``appearance.depth_test`` is on).
"""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import torch

from ..face.crop import CropTransform
from ..face.extractor import FaceExtractor, FaceSignals
from ..face.mesh_map import mesh_map
from ..models.export3d import Export3D
from ..models.generator import SourceFeatures
from ..models.warped import WarpSource
from ..rendering.warp import pixels_to_grid
from .types import PreparedSource


def extractor_view(extractor: FaceExtractor, crop_scale: float, offset: tuple[float, float]) -> FaceExtractor:
    """``extractor`` with its crop scaled by ``crop_scale`` and its centre moved by ``offset`` (fractions of the side,
    x right, y down): a per-call copy, the shared one is untouched (itself when nothing changes)."""
    if not (np.isfinite(crop_scale) and crop_scale > 0):
        raise ValueError(f"crop_scale must be > 0, got {crop_scale}")
    if crop_scale == 1.0 and offset == (0.0, 0.0):
        return extractor
    s = extractor.settings
    view = copy.copy(extractor)
    view.settings = replace(s, crop_scale=s.crop_scale * crop_scale,
                            crop_offset=(s.crop_offset[0] + offset[0], s.crop_offset[1] + offset[1]))
    return view


def _to_model(image: np.ndarray, device) -> torch.Tensor:
    """uint8 ``(S, S, 3)`` -> ``(1, 3, S, S)`` in [-1, 1] on ``device``."""
    return torch.from_numpy(image).to(device).permute(2, 0, 1)[None].float() / 127.5 - 1


def encode_portrait(model: Export3D, rgb: np.ndarray, signals: FaceSignals, device,
                    output_size: int) -> PreparedSource:
    """The photo ``rgb (H, W, 3)`` uint8 with its face ``signals``, cropped and encoded; ``output_size``: the side of
    a warped model's output (its ``WarpSource``)."""
    size = model.cfg.generator.source_size
    transform = CropTransform(signals.box, size)
    crop = transform.warp(rgb)
    mesh = None
    if model.cfg.generator.mesh_cue:
        drawn = mesh_map(transform.image_to_crop(signals.landmarks), size)
        mesh = torch.from_numpy(drawn).to(device).permute(2, 0, 1)[None]
    with torch.inference_mode():
        features = model.encode_source(_to_model(crop, device), mesh)
    warp = warp_source(model, rgb, signals, features, output_size, device) if model.warped else None
    return PreparedSource(rgb, crop, transform, signals, features, warp)


def warp_source(model: Export3D, rgb: np.ndarray, signals: FaceSignals, features: SourceFeatures, size: int,
                device) -> WarpSource:
    """A warped model's ``WarpSource``: the crop at ``size`` (from the full photo) and the portrait's camera,
    expression and landmarks (``grid_sample`` units)."""
    transform = CropTransform(signals.box, size)
    as_row = lambda x: torch.from_numpy(np.asarray(x, np.float32))[None].to(device)  # noqa: E731
    camera, beta = as_row(signals.camera), as_row(signals.beta)
    marks = pixels_to_grid(as_row(transform.image_to_crop(signals.landmarks)), size)
    distance = None
    if model.cfg.appearance.depth_test:
        with torch.inference_mode():
            distance = model.own_distance(features, beta, camera)
    return WarpSource(_to_model(transform.warp(rgb), device), camera, beta, distance, marks)
