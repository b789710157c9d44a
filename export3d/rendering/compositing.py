"""Volume compositing (emission-absorption quadrature), parameter-free.

Sample ``i`` at depth ``t_i`` stands for the interval ``[t_i, t_{i+1})``; the last
one for ``[t_last, far)``. With densities ``sigma_i >= 0``:

    alpha_i = 1 - exp(-sigma_i * delta_i),   T_i = exp(-sum_{j<i} sigma_j * delta_j),
    w_i = T_i * alpha_i,                      sum_i w_i = 1 - exp(-sum_i sigma_i delta_i) <= 1.
"""

from __future__ import annotations

import torch


def sorted_weights(depths: torch.Tensor, sigmas: torch.Tensor, far: float) -> torch.Tensor:
    """Weights ``(..., S)`` for depth-sorted samples ``depths, sigmas (..., S)``."""
    deltas = torch.cat([depths[..., 1:] - depths[..., :-1], (far - depths[..., -1:]).clamp_min(0)], dim=-1)
    tau = sigmas * deltas
    acc = torch.cumsum(tau, dim=-1)
    transmittance = torch.exp(tau - acc)  # exp(-sum_{j<i} tau_j)
    return transmittance * (1.0 - torch.exp(-tau))


def unsorted_weights(depths: torch.Tensor, sigmas: torch.Tensor, far: float) -> torch.Tensor:
    """Weights aligned with the input order for samples in any depth order.

    Only the 1-channel depths and densities are sorted; the weights are scattered
    back, so feature vectors never need to be sorted or gathered.
    """
    order = torch.argsort(depths, dim=-1)
    w_sorted = sorted_weights(depths.gather(-1, order), sigmas.gather(-1, order), far)
    return torch.empty_like(w_sorted).scatter_(-1, order, w_sorted)


def composite(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``sum_s w_s * values_s`` as one batched matmul.

    Args:
        weights: ``(B, R, S)``.
        values: ``(B, R, S, C)``.
    Returns:
        ``(B, R, C)``.
    """
    b, r, s = weights.shape
    out = torch.bmm(weights.reshape(b * r, 1, s), values.reshape(b * r, s, values.shape[-1]))
    return out.view(b, r, -1)
