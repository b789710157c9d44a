"""ST-LPIPS (shift-tolerant LPIPS, Ghildyal & Liu, ECCV 2022) in plain PyTorch.

The published weights ship in the pip package ``stlpips-pytorch==0.0.2`` (BSD-2, import name
``stlpips_pytorch``) as ``weights/vST0.0/{alex,vgg}_shift_tolerant.pth``. Each file is a complete
state dict: the shift-tolerant trunk (its conv weights were trained for ST-LPIPS, so no ImageNet
backbone from torchvision is needed), the blur-pool filters, the input scaling layer and the five
linear heads. The package's own modules import ``torchvision``, ``torchsummary`` and ``IPython``,
so it is never imported here: the package folder is found with ``importlib.util.find_spec`` and
the ``.pth`` file is read with ``torch.load(weights_only=True)``. The network is rebuilt below and
every published key is mapped explicitly onto it; loading is strict in both directions.

Shift-tolerant AlexNet trunk (inputs scaled by ``(x - shift) / scale``); ``BlurPool`` = reflect
pad 2 on every side, then a depthwise ``[1 2 1]^T [1 2 1] / 16`` filter with stride 2:

    conv 11x11 (3->64, stride 1, pad 2), BlurPool, ReLU                       -> tap 1
    maxpool 3 (stride 1), BlurPool, conv 5x5 (64->192, pad 2), ReLU           -> tap 2
    maxpool 3 (stride 1), BlurPool, conv 3x3 (192->384, pad 1), ReLU          -> tap 3
    conv 3x3 (384->256, pad 1), ReLU                                          -> tap 4
    conv 3x3 (256->256, pad 1), ReLU                                          -> tap 5

The VGG16 variant replaces every 2x2/stride-2 max-pool by maxpool 2 (stride 1) + BlurPool.

Distance: each tap is unit-normalised over channels, the squared difference goes through a 1x1
conv head (no bias, dropout is a no-op in eval), is averaged over space and summed over taps.
Inputs smaller than about 32x32 are too small for the reflect padding of the deepest blur-pool.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

PACKAGE = "stlpips_pytorch"  #: import name of the pip package ``stlpips-pytorch`` (never imported)
WEIGHTS_SUBDIR = "weights/vST0.0"
ENV_WEIGHTS = "EXPORT3D_STLPIPS_WEIGHTS"  #: explicit path of a ``*_shift_tolerant.pth`` file
NORMALIZE_EPS = 1e-10


@dataclass(frozen=True)
class _Layer:
    kind: str  #: "conv", "blur", "relu", "maxpool" or "tap" (a feature output)
    src: str = ""  #: module prefix in the published state dict (for layers with weights/buffers)
    cin: int = 0
    cout: int = 0
    kernel: int = 0
    pad: int = 0


def _conv(src, cin, cout, kernel, pad):
    return _Layer("conv", src, cin, cout, kernel, pad)


def _blur(src, channels):
    return _Layer("blur", src, channels, channels)


RELU, TAP = _Layer("relu"), _Layer("tap")


def _maxpool(kernel):
    return _Layer("maxpool", kernel=kernel)


#: Layer tables; ``src`` is the published module that holds each layer's tensors.
_ARCHS: dict[str, list[_Layer]] = {
    "alex": [
        _conv("net.slice1.0", 3, 64, 11, 2), _blur("net.slice1.1", 64), RELU, TAP,
        _maxpool(3), _blur("net.slice2.4", 64), _conv("net.slice2.5", 64, 192, 5, 2), RELU, TAP,
        _maxpool(3), _blur("net.slice3.8", 192), _conv("net.slice3.9", 192, 384, 3, 1), RELU, TAP,
        _conv("net.slice4.11", 384, 256, 3, 1), RELU, TAP,
        _conv("net.slice5.13", 256, 256, 3, 1), RELU, TAP,
    ],
    "vgg": [
        _conv("net.slice1.0", 3, 64, 3, 1), RELU, _conv("net.slice1.2", 64, 64, 3, 1), RELU, TAP,
        _maxpool(2), _blur("net.slice2.5", 64),
        _conv("net.slice2.6", 64, 128, 3, 1), RELU, _conv("net.slice2.8", 128, 128, 3, 1), RELU, TAP,
        _maxpool(2), _blur("net.slice3.11", 128),
        _conv("net.slice3.12", 128, 256, 3, 1), RELU, _conv("net.slice3.14", 256, 256, 3, 1), RELU,
        _conv("net.slice3.16", 256, 256, 3, 1), RELU, TAP,
        _maxpool(2), _blur("net.slice4.19", 256),
        _conv("net.slice4.20", 256, 512, 3, 1), RELU, _conv("net.slice4.22", 512, 512, 3, 1), RELU,
        _conv("net.slice4.24", 512, 512, 3, 1), RELU, TAP,
        _maxpool(2), _blur("net.slice5.27", 512),
        _conv("net.slice5.28", 512, 512, 3, 1), RELU, _conv("net.slice5.30", 512, 512, 3, 1), RELU,
        _conv("net.slice5.32", 512, 512, 3, 1), RELU, TAP,
    ],
}


class BlurPool(nn.Module):
    """Anti-aliased stride-2 downsampling: reflect pad 2, depthwise 3x3 binomial filter ``filt``."""

    def __init__(self, channels: int):
        super().__init__()
        a = torch.tensor([1.0, 2.0, 1.0])
        filt = (a[:, None] * a[None, :]) / 16.0
        self.register_buffer("filt", filt.expand(channels, 1, 3, 3).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), self.filt, stride=2, groups=x.shape[1])


def _build(layers: list[_Layer]) -> tuple[nn.ModuleList, dict[int, int], dict[str, str]]:
    """Modules, ``{index of a tapped layer: its channels}`` and the published-key -> own-key mapping."""
    modules, taps, mapping, channels = nn.ModuleList(), {}, {}, 3
    for layer in layers:
        channels = layer.cout or channels
        if layer.kind == "tap":
            taps[len(modules) - 1] = channels
            continue
        i = len(modules)
        if layer.kind == "conv":
            modules.append(nn.Conv2d(layer.cin, layer.cout, layer.kernel, padding=layer.pad))
            mapping[f"{layer.src}.weight"] = f"trunk.{i}.weight"
            mapping[f"{layer.src}.bias"] = f"trunk.{i}.bias"
        elif layer.kind == "blur":
            modules.append(BlurPool(layer.cin))
            mapping[f"{layer.src}.filt"] = f"trunk.{i}.filt"
        elif layer.kind == "relu":
            modules.append(nn.ReLU())
        elif layer.kind == "maxpool":
            modules.append(nn.MaxPool2d(layer.kernel, stride=1))
        else:
            raise ValueError(layer.kind)
    return modules, taps, mapping


def find_weights(net: str = "alex") -> Path:
    """Path of the published ``{net}_shift_tolerant.pth``; ``RuntimeError`` if it is not available.

    Search order: ``$EXPORT3D_STLPIPS_WEIGHTS`` (a file), then the installed ``stlpips-pytorch``
    package (located without importing it).
    """
    name = f"{net}_shift_tolerant.pth"
    explicit = os.environ.get(ENV_WEIGHTS)
    if explicit:
        if not Path(explicit).is_file():
            raise RuntimeError(f"{ENV_WEIGHTS}={explicit} does not point to a file")
        return Path(explicit)
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / WEIGHTS_SUBDIR / name
        if path.is_file():
            return path
    raise RuntimeError(
        f"The ST-LPIPS weights {WEIGHTS_SUBDIR}/{name} were not found. Install them with "
        f"`pip install --no-deps stlpips-pytorch==0.0.2` (listed in requirements-models.txt) "
        f"or set {ENV_WEIGHTS} to the .pth file.")


class STLPIPS(nn.Module):
    """Shift-tolerant LPIPS distance, ``forward(pred, target) -> (B,)`` for ``(B, 3, H, W)`` images in [-1, 1].

    Lower is more similar (0 for identical images). The module is in eval mode and its own
    parameters are frozen, but it is differentiable with respect to its inputs, so it can serve
    as a training loss. ``net`` is ``"alex"`` (default, as in the paper's evaluation) or ``"vgg"``.
    ``weights`` overrides the weight file location (see :func:`find_weights`).
    """

    def __init__(self, net: str = "alex", weights: str | os.PathLike | None = None):
        super().__init__()
        if net not in _ARCHS:
            raise ValueError(f"net must be one of {sorted(_ARCHS)}, got {net!r}")
        self.net = net
        self.trunk, self.taps, mapping = _build(_ARCHS[net])
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in self.taps.values())
        for k in range(len(self.heads)):
            mapping[f"lin{k}.model.1.weight"] = f"heads.{k}.weight"
        self.register_buffer("shift", torch.zeros(1, 3, 1, 1))
        self.register_buffer("scale", torch.ones(1, 3, 1, 1))
        mapping["scaling_layer.shift"] = "shift"
        mapping["scaling_layer.scale"] = "scale"

        path = Path(weights) if weights is not None else find_weights(net)
        if not path.is_file():
            raise RuntimeError(f"ST-LPIPS weight file {path} does not exist")
        published = torch.load(path, map_location="cpu", weights_only=True)
        unknown = sorted(set(published) - set(mapping))
        if unknown:
            raise RuntimeError(f"{path} has keys this ST-LPIPS-{net} does not expect: {unknown[:5]}")
        self.load_state_dict({mapping[k]: v for k, v in published.items()}, strict=True)
        self.weights_path = path
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> STLPIPS:
        """Always stays in eval mode (a fixed metric)."""
        return super().train(False)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Channel-normalised tap features of ``x`` (already in [-1, 1])."""
        h = (x - self.shift) / self.scale
        out = []
        for i, layer in enumerate(self.trunk):
            h = layer(h)
            if i in self.taps:
                # ||f|| over channels; the clamp keeps gradients finite where a feature vector is all zero.
                norm = h.square().sum(1, keepdim=True).clamp_min(NORMALIZE_EPS ** 2).sqrt()
                out.append(h / (norm + NORMALIZE_EPS))
        return out

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape or pred.dim() != 4 or pred.shape[1] != 3:
            raise ValueError(f"expected two (B, 3, H, W) images of the same shape, got {tuple(pred.shape)} "
                             f"and {tuple(target.shape)}")
        b = pred.shape[0]
        dtype = self.shift.dtype
        feats = self.features(torch.cat([pred.to(dtype), target.to(dtype)]))  # one trunk pass for both
        dist = pred.new_zeros(b, dtype=dtype)
        for f, head in zip(feats, self.heads, strict=True):
            dist = dist + head((f[:b] - f[b:]).square()).mean((1, 2, 3))
        return dist
