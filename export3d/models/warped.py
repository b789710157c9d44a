"""Warped appearance: the output's pixels are the portrait's, moved by a field rendered from the tri-plane.

``WarpedAppearance`` takes the raw render of a ``WarpDecoder`` (features, then the composited backward
deformation and visibility logit), builds the sampling field into the portrait (``rendering/warp.py``), warps
the portrait crop at the output size ``O`` and blends it with the rendered branch (the super-resolved
features, upsampled to ``O``):

    base = v * warped + (1 - v) * rendered,        output = base + refiner(warped, rendered, v, opacity)

with ``v = sigmoid(visibility logit)``. The refiner's last layer starts at zero, so an untrained refiner
passes ``base`` through. Symbols: docs/conventions.md; design: docs/model.md ("Appearance").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..blendshapes import blendshape_index
from ..config import ModelConfig
from ..face.part_contours import brow_contours, chin_point, eyelid_contours, iris_centres, lip_contours, skin_points
from ..rendering.brows import brow_lift, move_brows
from ..rendering.eyelids import close_eyelids, lash_colour, lash_line, lid_closure
from ..rendering.gaze import gaze_shift, move_irises
from ..rendering.mouth import cavity_colour, mouth_opening, open_mouth_with_teeth, pull_corners, teeth_colour
from ..rendering.renderer import RenderOutput
from ..rendering.warp import (
    deformed_points,
    hidden_by_depth,
    identity_grid,
    pixels_to_grid,
    source_pixels,
    surface_distance,
    surface_points,
    upsample_field,
    warp_image,
)
from .expression_field import ExpressionField
from .layers import conv_act

_BLINK = [blendshape_index("eyeBlinkRight"), blendshape_index("eyeBlinkLeft")]  #: the order of ``eyelid_contours``
_JAW = blendshape_index("jawOpen")
_SMILE = [blendshape_index("mouthSmileRight"), blendshape_index("mouthSmileLeft")]  #: the order of the lips' ends
_BROW_IN = blendshape_index("browInnerUp")
_BROW_OUT = [blendshape_index("browOuterUpRight"), blendshape_index("browOuterUpLeft")]  #: the order of the brows
_BROW_DOWN = [blendshape_index("browDownRight"), blendshape_index("browDownLeft")]
_LOOK_IN = [blendshape_index("eyeLookInRight"), blendshape_index("eyeLookInLeft")]  #: the order of the eyes
_LOOK_OUT = [blendshape_index("eyeLookOutRight"), blendshape_index("eyeLookOutLeft")]
HIDDEN_LOGIT = -6.0  #: visibility logit of a point the depth test finds hidden in the portrait (at most)


@dataclass
class WarpSource:
    """What the warp reads from the portrait."""

    image: torch.Tensor  #: (B, 3, O, O) the portrait crop at the output size, in [-1, 1]
    camera: torch.Tensor  #: (B, 25) the portrait's own camera
    beta: torch.Tensor | None = None  #: (B, 52) the portrait's own expression (models with an expression field)
    distance: torch.Tensor | None = None  #: (B, 1, R, R) visible-surface distance of the portrait's own render
    #: in its own camera (models with ``appearance.depth_test``; ``Export3D.own_distance``)
    landmarks: torch.Tensor | None = None  #: (B, 478, 2) the portrait's MediaPipe landmarks in ``grid_sample``
    #: units of ``image`` (models with ``appearance.eyelids`` or ``appearance.mouth``)

    def to(self, device) -> WarpSource:
        move = lambda x: None if x is None else x.to(device)  # noqa: E731
        return WarpSource(self.image.to(device), self.camera.to(device), move(self.beta), move(self.distance),
                          move(self.landmarks))

    def expand(self, n: int, device=None) -> WarpSource:
        """A batch-1 source broadcast to ``n`` rows (on ``device`` when given)."""
        s = self if device is None else self.to(device)
        rows = lambda x: None if x is None else x.expand(n, *x.shape[1:])  # noqa: E731
        return WarpSource(rows(s.image), rows(s.camera), rows(s.beta), rows(s.distance), rows(s.landmarks))


@dataclass
class WarpOutput:
    image: torch.Tensor  #: (B, 3, O, O) in [-1, 1]
    warped: torch.Tensor  #: (B, 3, O, O) the portrait warped by the field
    visibility: torch.Tensor  #: (B, 1, O, O) in [0, 1]
    grid: torch.Tensor  #: (B, Q, Q, 2) sampling field into the portrait, grid_sample units (align_corners=False)
    logit: torch.Tensor  #: (B, 1, Q, Q) per-ray visibility logit
    fine: torch.Tensor | None = None  #: (B, O, O, 2) the field at the output size, after ``move_parts``


@dataclass
class SurfaceParts:
    """Per ray of a raw render, what the sampling field is made of (``Q``: the field's side)."""

    camera: torch.Tensor  #: (B, 25) the rendering camera
    distance: torch.Tensor  #: (B, 1, Q, Q) visible-surface distance along each ray (``far`` where empty)
    displacement: torch.Tensor  #: (B, 3, Q, Q) the decoder's deformation of the surface point, ``sum w delta / a``
    opacity: torch.Tensor  #: (B, 1, Q, Q)
    logit: torch.Tensor  #: (B, 1, Q, Q) the decoder's visibility logit

    def resized(self, size: int) -> SurfaceParts:
        """Bilinearly resampled to ``size`` rays a side. The distance is resampled, not the points, so that each
        new ray keeps its own direction: at the portrait's own camera the field stays the identity."""
        if self.distance.shape[-1] == size:
            return self
        up = lambda x: F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)  # noqa: E731
        return SurfaceParts(self.camera, up(self.distance), up(self.displacement), up(self.opacity), up(self.logit))


def split_features(raw: RenderOutput, channels: int,
                   empty_logit: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A ``WarpDecoder`` render's features ``(B, C_out + 4, R, R)`` -> features, deformation ``(B, 3, R, R)``
    (composited, i.e. weighted by opacity) and the per-ray visibility logit ``(B, 1, R, R)``:
    ``sum_i w_i logit_i + (1 - opacity) * empty_logit`` (empty space counts as ``empty_logit``, as it counts
    at ``far`` in the depth)."""
    f = raw.features
    logit = f[:, channels + 3:channels + 4] + (1.0 - raw.opacity) * empty_logit
    return f[:, :channels], f[:, channels:channels + 3], logit


class Refiner(nn.Module):
    """``(warped, rendered, visibility, opacity)`` at ``O`` -> an RGB residual (last conv zero-initialised)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv_act(8, channels), conv_act(channels, channels))
        self.to_rgb = nn.Conv2d(channels, 3, 3, padding=1)
        nn.init.zeros_(self.to_rgb.weight), nn.init.zeros_(self.to_rgb.bias)
        self.bf16 = False  #: run under bf16 autocast (set by ``Export3D.configure_runtime``; the output is fp32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            return self.to_rgb(self.body(x)).float()


class WarpedAppearance(nn.Module):
    """The warp-and-refine head of a ``warped`` Export3D (module docstring)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.channels = cfg.render.decoder_out
        self.far = cfg.render.far
        self.empty_logit = cfg.appearance.visibility_bias
        self.refiner = Refiner(cfg.appearance.refiner_channels)
        clebs = cfg.appearance.field_code == "clebs"
        code_dim = cfg.expression.num_basis if clebs else cfg.expression.beta_dim
        self.expression_field = ExpressionField(code_dim) if cfg.appearance.expression_field else None
        #: ``beta (B, 52) -> (B, code_dim)``, what the field is linear in (``appearance.field_code``): None for "beta"
        #: (the raw scores), the model's frozen CLeBS coefficients for "clebs" (``use_field_code``; not a submodule)
        self.field_encoder: Callable[[torch.Tensor], torch.Tensor] | None = None
        self.field_size = cfg.appearance.field_size or cfg.render.render_size
        self.depth_test = cfg.appearance.depth_test
        a = cfg.appearance
        self.eyelids, self.mouth, self.brows, self.gaze = a.eyelids, a.mouth, a.brows, a.gaze

    def surface(self, raw: RenderOutput, camera: torch.Tensor) -> SurfaceParts:
        """The parts of a raw render the field is made of, at the field's resolution (``appearance.field_size``)."""
        _, deformation, logit = split_features(raw, self.channels, self.empty_logit)
        distance = surface_distance(raw.depth, raw.opacity, self.far)
        displacement = deformed_points(torch.zeros_like(deformation), deformation, raw.opacity)
        return SurfaceParts(camera, distance, displacement, raw.opacity, logit).resized(self.field_size)

    def field(self, raw: RenderOutput, camera: torch.Tensor, source: WarpSource,
              beta: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Sampling field ``(B, Q, Q, 2)`` into the portrait and the visibility logit ``(B, 1, Q, Q)``;
        ``beta (B, 52)``, the driven expression, is needed (with ``source.beta``) by an expression field."""
        return self.field_from_surface(self.surface(raw, camera), source, beta)

    def field_from_surface(self, parts: SurfaceParts, source: WarpSource,
                           beta: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``field`` from cached ``SurfaceParts`` (training of the expression field alone caches them).

        Empty space samples its own pixel (``a * projected + (1 - a) * identity``): the background stays still
        in the image whatever the head and camera do, as in the synthetic world and in real video.
        """
        surface = surface_points(parts.camera, parts.distance)
        points, logit = surface + parts.displacement, parts.logit
        if self.expression_field is not None:
            if beta is None or source.beta is None:
                raise ValueError("this model's expression field needs the driven beta and the portrait's own "
                                 "(WarpSource.beta)")
            driven, own = self._field_beta(beta, source.beta), source.beta
            if self.field_encoder is not None:
                driven, own = self.field_encoder(driven), self.field_encoder(own)
            delta, extra = self.expression_field(surface, driven, own)
            points, logit = points + delta, logit + extra
        if self.depth_test and source.distance is not None:
            hidden = hidden_by_depth(points, source.camera, source.distance, self.depth_test) & (parts.opacity > 0.5)
            logit = torch.where(hidden, logit.clamp(max=HIDDEN_LOGIT), logit)
        size = source.image.shape[-1]
        grid = pixels_to_grid(source_pixels(points, source.camera, size), size)
        a = parts.opacity.permute(0, 2, 3, 1)
        return a * grid + (1 - a) * identity_grid(grid.shape[1], grid), logit

    def use_field_code(self, code: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Make the expression field linear in ``code(beta)`` instead of ``beta`` (``appearance.field_code``)."""
        self.field_encoder = code

    def _field_beta(self, beta: torch.Tensor, source_beta: torch.Tensor) -> torch.Tensor:
        """What the expression field sees: with the mouth remap on, the jaw opens there alone (both together
        stretch the lips into a blob), so the field gets the portrait's own jawOpen."""
        if not self.mouth:
            return beta
        return torch.cat([beta[:, :_JAW], source_beta[:, _JAW:_JAW + 1], beta[:, _JAW + 1:]], dim=1)

    def move_parts(self, grid: torch.Tensor, source: WarpSource,
                   beta: torch.Tensor | None) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """``grid (B, O, O, 2)`` remapped inside the portrait so that its mouth opens and smiles, its brows move,
        its eyes close and turn as the driven scores ask (``appearance.mouth``, ``appearance.brows``,
        ``appearance.eyelids``, ``appearance.gaze``), and the shades to lay over the warped portrait, in order:
        ``(weight (B, 1, O, O), colour (B, 3, 1, 1))`` for the mouth's cavity and the closed eyes' lash line.
        Unchanged (and no shades) without landmarks or expressions."""
        if source.landmarks is None or beta is None or source.beta is None:
            return grid, []
        marks, shades = source.landmarks.to(grid.dtype), []
        d = (beta - source.beta).to(grid.dtype)  # the driven scores minus the portrait's own
        lids = eyelid_contours(marks)
        if self.mouth:
            lips = lip_contours(marks)
            smile = d[:, _SMILE].clamp(-1, 1)  # < 0: a smile taken away
            grid, chin = pull_corners(grid, lips, smile), chin_point(marks)
            opening = mouth_opening(beta[:, _JAW], source.beta[:, _JAW]).to(grid.dtype)
            grid, cavity, teeth = open_mouth_with_teeth(grid, lips, chin, opening)
            shades.append((cavity[:, None], cavity_colour(source.image, lips)))
            shades.append((teeth[:, None], teeth_colour(source.image, skin_points(marks))))
        if self.brows:
            grid = move_brows(grid, brow_contours(marks), lids, brow_lift(d[:, _BROW_IN], d[:, _BROW_OUT],
                                                                          d[:, _BROW_DOWN]))
        if self.eyelids:
            closure = lid_closure(beta[:, _BLINK], source.beta[:, _BLINK]).to(grid.dtype)
            lash = lash_line(grid, lids, closure)
            grid = close_eyelids(grid, lids, closure)
            shades.append((lash[:, None], lash_colour(source.image, lids)))
        if self.gaze:  # after the lids: the eye turns inside the opening the lids leave
            grid = move_irises(grid, lids, iris_centres(marks), gaze_shift(d[:, _LOOK_IN], d[:, _LOOK_OUT]))
        return grid, shades

    def forward(self, raw: RenderOutput, rendered: torch.Tensor, camera: torch.Tensor,
                source: WarpSource, beta: torch.Tensor | None = None) -> WarpOutput:
        """``rendered (B, 3, S, S)``: the rendered branch (super-resolved features) for the same rays. The output
        has the size of ``source.image`` (the pipeline prepares it at ``output_size``; training may use the
        data's size)."""
        o = source.image.shape[-1]
        grid, logit = self.field(raw, camera, source, beta)
        fine, shades = self.move_parts(upsample_field(grid, o), source, beta)
        warped = warp_image(source.image, fine)
        for weight, colour in shades:
            warped = torch.lerp(warped, colour.to(warped.dtype), weight.to(warped.dtype))
        up = lambda x: F.interpolate(x, size=(o, o), mode="bilinear", align_corners=False)  # noqa: E731
        v, rendered, opacity = torch.sigmoid(up(logit)), up(rendered), up(raw.opacity)
        base = v * warped + (1 - v) * rendered
        image = base + self.refiner(torch.cat([warped, rendered, v, opacity], dim=1))
        return WarpOutput(image=image, warped=warped, visibility=v, grid=grid, logit=logit, fine=fine)
