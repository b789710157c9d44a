"""Typed model configuration with the ``paper`` and ``small`` presets.

Every field is documented where it is declared. Configs are plain dataclasses
passed explicitly; ``ModelConfig.from_dict`` is strict and rejects unknown keys
so that a checkpoint written by a different code version fails loudly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .blendshapes import BETA_DIM


@dataclass
class ExpressionConfig:
    """CLeBS expression encoder: beta -> lambda = MLP(beta) -> beta' = sum_i lambda_i v_i."""

    kind: str = "clebs"  #: "clebs" (contrastive learned basis) or "direct" (plain MLP; the paper's ablation).
    beta_dim: int = BETA_DIM  #: size of the raw expression vector beta (52 blendshapes, ``blendshapes.py``).
    hidden_dim: int = 256  #: width of the MLP hidden layers.
    num_layers: int = 3  #: number of linear layers in the MLP (>= 1).
    num_basis: int = 20  #: n, number of orthonormal basis vectors (paper: n >= 10).
    code_dim: int = 256  #: d, dimension of beta' (the basis vectors live in R^d).
    image_embed_channels: int = 32  #: base width of the image encoder f_I (pre-training only).


@dataclass
class GeneratorConfig:
    """Hybrid tri-plane generator G(S, beta')."""

    source_size: int = 512  #: H = W of the source image.
    plane_channels: int = 32  #: C, channels of each of the three planes.
    plane_size: int = 256  #: tri-plane resolution, H/2 in the paper.
    stem_channels: tuple[int, ...] = (64, 128, 256)  #: CNN stem widths, one stride-2 conv stage each (reaches 1/8).
    token_dim: int = 1024  #: transformer width at the 1/16 token grid.
    num_blocks: int = 5  #: number of SegFormer blocks with EAdaLN.
    num_heads: int = 4  #: attention heads per block.
    mlp_ratio: float = 2.0  #: Mix-FFN hidden width = mlp_ratio * token_dim.
    sr_ratio: int = 1  #: spatial reduction of keys/values in efficient self-attention.
    up_channels: tuple[int, ...] = (256, 128, 96)  #: widths after each x2 pixel-shuffle stage (1/16 -> 1/2).
    blur_sigma: float = 1.0  #: std (pixels) of the fixed Gaussian low-pass after each pixel shuffle.
    highres_channels: int = 96  #: width of the high-resolution CNN branch (at H/2).
    highres_layers: int = 4  #: 3x3 conv layers in the high-resolution branch after its stride-2 stem.
    fusion_channels: int = 128  #: width of the fusion convolutions.
    ema_triplane: bool = True  #: add the online-EMA tri-plane (running mean of generated planes).
    ema_momentum: float = 0.999  #: momentum of the online-EMA tri-plane update (training only).
    mesh_cue: bool = False  #: the source CNNs also see the portrait's face mesh map (``face/mesh_map.py``, 3
    #: channels): where the eyes, nose and mouth are, drawn from the tracked landmarks (issue 12, point 4).


@dataclass
class RenderConfig:
    """Volume rendering of the tri-plane (see docs/conventions.md for the camera)."""

    render_size: int = 128  #: raw render resolution (H/4 in the paper).
    num_coarse: int = 48  #: stratified samples per ray.
    num_fine: int = 48  #: importance samples per ray.
    near: float = 2.25  #: ray start distance from the camera centre.
    far: float = 3.3  #: ray end distance from the camera centre.
    box_size: float = 1.0  #: side of the cube (centred at the origin) spanned by the tri-plane.
    decoder_hidden: int = 64  #: hidden width of the decoder MLP.
    decoder_out: int = 32  #: feature channels out of the decoder; the first 3 are raw RGB.


@dataclass
class SuperResConfig:
    """Plain convolutional super-resolution from the raw render to the output."""

    output_size: int = 512  #: output resolution; must be render_size * 2**k.
    channels: tuple[int, ...] = (128, 64)  #: width of each x2 stage.


@dataclass
class AppearanceConfig:
    """Where the output's pixels come from (docs/model.md, "Appearance").

    ``generated``: the paper's design, super-resolution of the rendered features. ``warped``: the decoder also
    renders a backward deformation and a visibility logit per ray; the portrait crop (at ``output_size``) is
    warped by the resulting sampling field and a small refiner blends it with the rendered branch.
    """

    kind: str = "generated"  #: "generated" or "warped" (a config without this section loads as "generated").
    output_size: int = 256  #: warped: side of the output (the portrait crop is warped at this size).
    deform_scale: float = 0.15  #: warped: largest backward deformation per axis, world units (tanh-scaled).
    refiner_channels: int = 32  #: warped: width of the refiner convolutions.
    visibility_bias: float = 4.0  #: warped: initial visibility logit (the portrait's pixels are trusted first).
    deform_from_code: bool = False  #: warped: the deformation head also sees beta' itself, not only the planes.
    expression_field: bool = False  #: warped: add the expression field (``models/expression_field.py``), which
    #: moves the surface point by the difference between the driven expression and the portrait's own.
    field_code: str = "beta"  #: warped: what the expression field is linear in: "beta" (the 52 raw scores) or
    #: "clebs" (the frozen CLeBS coefficients lambda = MLP(beta); the CLeBS-vs-direct ablation, docs/model.md).
    depth_test: float = 0.0  #: warped: tolerance (world units) of a depth test against the portrait's own render:
    #: opaque rays whose point the portrait's own surface hides are shown from the rendered branch (0: off).
    field_size: int = 0  #: warped: rays a side of the sampling field (0: the raw render's; larger: upsampled
    #: surface, so that the expression field is evaluated finely enough for eyelids and lips).
    eyelids: bool = False  #: warped: close the portrait's eyelids by the driven eyeBlink scores with a landmark
    #: remap inside the portrait (``rendering/eyelids.py``; needs ``WarpSource.landmarks``, not learned).
    mouth: bool = False  #: warped: open the portrait's mouth by the driven jawOpen with a landmark remap inside
    #: the portrait and a cavity colour between the lips (``rendering/mouth.py``; not learned).
    brows: bool = False  #: warped: raise and lower the portrait's brows by the driven browInnerUp, browOuterUp and
    #: browDown scores with a landmark remap inside the portrait (``rendering/brows.py``; not learned).
    gaze: bool = False  #: warped: move the portrait's irises sideways by the driven eyeLookIn/eyeLookOut scores with a
    #: landmark remap inside the eye openings (``rendering/gaze.py``; not learned).


@dataclass
class DiscriminatorConfig:
    """EG3D-style dual discriminator (SR image ++ upsampled raw image, 6 channels)."""

    channels: tuple[int, ...] = (64, 128, 256, 512, 512, 512, 512)  #: widths of the stride-2 stages.
    camera_conditioning: bool = True  #: projection conditioning on the 25-number camera.


@dataclass
class ModelConfig:
    """The whole model. ``paper()`` and ``small()`` are the two presets."""

    name: str = "paper"  #: preset name, informational.
    expression: ExpressionConfig = field(default_factory=ExpressionConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    superres: SuperResConfig = field(default_factory=SuperResConfig)
    appearance: AppearanceConfig = field(default_factory=AppearanceConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)

    # ---------------------------------------------------------------- presets
    @classmethod
    def paper(cls) -> "ModelConfig":
        """Full size: source 512, tri-plane 3x32x256x256, raw 128, output 512, 48+48 samples."""
        return cls(name="paper")

    @classmethod
    def small(cls) -> "ModelConfig":
        """CPU-trainable: source 128, tri-plane 3x32x64x64, raw 32, 24+24 samples, output 128."""
        return cls(
            name="small",
            expression=ExpressionConfig(hidden_dim=128, num_basis=16, code_dim=128, image_embed_channels=16),
            generator=GeneratorConfig(
                source_size=128, plane_size=64, stem_channels=(32, 64, 96), token_dim=128,
                num_blocks=2, num_heads=2, mlp_ratio=2.0, sr_ratio=1, up_channels=(64, 48, 32),
                highres_channels=32, highres_layers=2, fusion_channels=48,
            ),
            render=RenderConfig(render_size=32, num_coarse=24, num_fine=24),
            superres=SuperResConfig(output_size=128, channels=(32, 16)),
            discriminator=DiscriminatorConfig(channels=(32, 64, 128, 128, 128)),
        )

    @classmethod
    def preset(cls, name: str) -> "ModelConfig":
        """Return a preset by name (``paper`` or ``small``)."""
        presets = {"paper": cls.paper, "small": cls.small}
        if name not in presets:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(presets)}")
        return presets[name]()

    def scaled_to_source(self, source_size: int) -> "ModelConfig":
        """Same architecture at another source size, keeping every resolution ratio.

        Used by tests to run the paper preset at a reduced input size.
        """
        g, r, s = self.generator, self.render, self.superres
        k = source_size / g.source_size
        return dataclasses.replace(
            self,
            generator=dataclasses.replace(g, source_size=source_size, plane_size=round(g.plane_size * k)),
            render=dataclasses.replace(r, render_size=round(r.render_size * k)),
            superres=dataclasses.replace(s, output_size=round(s.output_size * k)),
        )

    # ------------------------------------------------------------- validation
    def validate(self) -> "ModelConfig":
        """Raise ``ValueError`` when sizes are inconsistent; return ``self``."""
        g, r, s = self.generator, self.render, self.superres
        if g.source_size % 16:
            raise ValueError(f"source_size must be a multiple of 16, got {g.source_size}")
        if g.plane_size != g.source_size // 2:
            raise ValueError(f"plane_size must be source_size/2 ({g.source_size // 2}), got {g.plane_size}")
        if len(g.up_channels) != 3:
            raise ValueError("up_channels needs 3 entries (three x2 pixel-shuffle stages from 1/16 to 1/2)")
        if len(g.stem_channels) != 3:
            raise ValueError("stem_channels needs 3 entries (three stride-2 stages to 1/8)")
        if g.token_dim % g.num_heads:
            raise ValueError("token_dim must be divisible by num_heads")
        if s.output_size != r.render_size * 2 ** len(s.channels):
            raise ValueError(
                f"output_size ({s.output_size}) must be render_size ({r.render_size}) * 2**len(channels)"
            )
        if r.decoder_out < 3:
            raise ValueError("decoder_out must be >= 3 (the first 3 channels are RGB)")
        if not 0 < r.near < r.far:
            raise ValueError("need 0 < near < far")
        if self.expression.kind not in ("clebs", "direct"):
            raise ValueError(f"expression.kind must be 'clebs' or 'direct', got {self.expression.kind!r}")
        if self.expression.num_basis > self.expression.code_dim:
            raise ValueError("num_basis must be <= code_dim for an orthonormal basis")
        a = self.appearance
        if a.kind not in ("generated", "warped"):
            raise ValueError(f"appearance.kind must be 'generated' or 'warped', got {a.kind!r}")
        if a.kind == "warped" and (a.output_size % 16 or a.output_size < s.output_size):
            raise ValueError(f"appearance.output_size must be a multiple of 16 and >= {s.output_size}")
        if a.depth_test < 0:
            raise ValueError("appearance.depth_test must be >= 0 (0: off)")
        if a.field_size and a.field_size < r.render_size:
            raise ValueError(f"appearance.field_size must be 0 or >= the render size {r.render_size}")
        if a.field_code not in ("beta", "clebs"):
            raise ValueError(f"appearance.field_code must be 'beta' or 'clebs', got {a.field_code!r}")
        if a.field_code == "clebs" and self.expression.kind != "clebs":
            raise ValueError("appearance.field_code 'clebs' needs expression.kind 'clebs'")
        return self

    # ----------------------------------------------------------- (de)serialise
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        """Build from ``to_dict`` output; unknown or missing-type keys raise ``ValueError``."""
        return _from_dict(cls, data, "config")


def _from_dict(klass: type, data: dict[str, Any], where: str) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(klass)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}")
    kwargs = {}
    for name, value in data.items():
        default = getattr(klass(), name)
        if dataclasses.is_dataclass(default):
            kwargs[name] = _from_dict(type(default), value, f"{where}.{name}")
        elif isinstance(default, tuple):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return klass(**kwargs)
