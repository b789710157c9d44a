"""Per-image evaluation metrics as pure tensor maths (no model files).

Images follow docs/conventions.md: ``(B, 3, H, W)`` float RGB in ``[-1, 1]``, so the
default ``data_range`` is 2. Every metric returns one value per batch element, shape ``(B,)``,
in the input's floating dtype; :func:`summarize` averages them over a batch (or a whole run).

A metric that cannot be computed for an element (e.g. no valid landmark, a NaN input row)
returns NaN for that element, and :func:`summarize` skips NaNs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F

PSNR_MIN_MSE = 1e-10
"""MSE floor of :func:`psnr`: identical images give ``10 log10(data_range^2 / 1e-10)``
(106.02 dB for ``data_range = 2``) instead of ``+inf``, so means over a set stay finite."""

SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _check_images(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape or pred.dim() != 4:
        raise ValueError(f"expected two (B, C, H, W) images of the same shape, got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)}")


def _float(x: torch.Tensor) -> torch.Tensor:
    return x if x.is_floating_point() else x.float()


def psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, ``(B,)``.

    ``10 log10(data_range^2 / MSE)`` with the MSE averaged over all channels and pixels of each
    image. The MSE is clamped at :data:`PSNR_MIN_MSE` (1e-10), so identical images give a large
    finite value (106.02 dB at ``data_range = 2``) rather than ``+inf``.
    """
    _check_images(pred, target)
    pred, target = _float(pred), _float(target)
    mse = (pred - target).square().flatten(1).mean(1)
    return 10.0 * torch.log10(data_range ** 2 / mse.clamp_min(PSNR_MIN_MSE))


def gaussian_window(window: int = 11, sigma: float = 1.5, dtype=torch.float32, device=None) -> torch.Tensor:
    """Normalised 1-D Gaussian ``(window,)`` centred on the middle tap."""
    x = torch.arange(window, dtype=torch.float64, device=device) - (window - 1) / 2
    g = torch.exp(-x.square() / (2 * sigma ** 2))
    return (g / g.sum()).to(dtype)


def ssim(pred: torch.Tensor, target: torch.Tensor, data_range: float = 2.0, window: int = 11,
         sigma: float = 1.5) -> torch.Tensor:
    """Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004), ``(B,)``.

    Local statistics use a ``window x window`` Gaussian (std ``sigma``) per channel, evaluated only
    where the window fits inside the image ("valid" region, no padding), with population
    (biased) variances. ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2`` with ``L = data_range``:

        SSIM = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))

    The map is averaged over the valid region of each channel, then over channels. This equals
    ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=L, channel_axis=-1)``.
    """
    _check_images(pred, target)
    pred, target = _float(pred), _float(target)
    b, c, h, w = pred.shape
    if h < window or w < window:
        raise ValueError(f"SSIM needs images of at least {window}x{window} pixels, got {h}x{w}")
    g = gaussian_window(window, sigma, pred.dtype, pred.device)
    kernel_h = g.view(1, 1, 1, window).expand(c, 1, 1, window)
    kernel_v = g.view(1, 1, window, 1).expand(c, 1, window, 1)

    def blur(x: torch.Tensor) -> torch.Tensor:  # separable Gaussian, valid region, per channel
        return F.conv2d(F.conv2d(x, kernel_h, groups=c), kernel_v, groups=c)

    # One pass over the five moment images stacked along the batch.
    moments = blur(torch.cat([pred, target, pred * pred, target * target, pred * target]))
    mu_x, mu_y, xx, yy, xy = moments.chunk(5)
    var_x = xx - mu_x.square()
    var_y = yy - mu_y.square()
    cov = xy - mu_x * mu_y
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x.square() + mu_y.square() + c1) * (var_x + var_y + c2)
    return (num / den).flatten(1).mean(1)


def keypoint_distance(pred_pts: torch.Tensor, true_pts: torch.Tensor) -> torch.Tensor:
    """AKD: mean Euclidean distance between corresponding 2-D points ``(B, N, 2)``, in their units (pixels).

    Points that are NaN (in either coordinate, in either set) are ignored; an element without
    any valid point gives NaN.
    """
    pred_pts, true_pts = _float(torch.as_tensor(pred_pts)), _float(torch.as_tensor(true_pts))
    if pred_pts.shape != true_pts.shape or pred_pts.dim() != 3 or pred_pts.shape[-1] != 2:
        raise ValueError(f"expected two (B, N, 2) point sets of the same shape, got {tuple(pred_pts.shape)} "
                         f"and {tuple(true_pts.shape)}")
    valid = ~(pred_pts.isnan().any(-1) | true_pts.isnan().any(-1))  # (B, N)
    diff = torch.where(valid[..., None], pred_pts - true_pts, torch.zeros_like(pred_pts))
    dist = torch.linalg.vector_norm(diff, dim=-1)  # zero (with zero gradient) at invalid points
    count = valid.sum(1)
    return dist.sum(1) / count.to(dist.dtype)  # 0 / 0 = NaN when no point is valid


def expression_distance(beta_pred: torch.Tensor, beta_true: torch.Tensor) -> torch.Tensor:
    """AED: mean absolute difference of expression vectors ``(B, D)`` (e.g. the 52 ARKit scores)."""
    beta_pred, beta_true = _float(torch.as_tensor(beta_pred)), _float(torch.as_tensor(beta_true))
    if beta_pred.shape != beta_true.shape or beta_pred.dim() != 2:
        raise ValueError(f"expected two (B, D) expression vectors of the same shape, got "
                         f"{tuple(beta_pred.shape)} and {tuple(beta_true.shape)}")
    return (beta_pred - beta_true).abs().mean(1)


def wrap_degrees(delta: torch.Tensor) -> torch.Tensor:
    """Angle differences wrapped into ``(-180, 180]`` degrees."""
    return 180.0 - torch.remainder(180.0 - delta, 360.0)


def pose_distance(angles_pred: torch.Tensor, angles_true: torch.Tensor) -> torch.Tensor:
    """APD: mean absolute (yaw, pitch, roll) difference in degrees, ``(B, 3) -> (B,)``.

    Differences are wrapped into ``(-180, 180]`` first, so 179 vs -179 is 2 degrees apart.
    """
    angles_pred, angles_true = _float(torch.as_tensor(angles_pred)), _float(torch.as_tensor(angles_true))
    if angles_pred.shape != angles_true.shape or angles_pred.dim() != 2 or angles_pred.shape[-1] != 3:
        raise ValueError(f"expected two (B, 3) angle sets in degrees, got {tuple(angles_pred.shape)} "
                         f"and {tuple(angles_true.shape)}")
    return wrap_degrees(angles_pred - angles_true).abs().mean(1)


def summarize(values: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Mean of each metric over its batch (any shape, flattened), ignoring NaN; all-NaN or empty -> NaN."""
    out = {}
    for name, v in values.items():
        t = torch.as_tensor(v).detach().to("cpu", torch.float64).flatten()
        t = t[~t.isnan()]
        out[name] = float(t.mean()) if t.numel() else math.nan
    return out
