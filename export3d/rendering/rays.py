"""Rays through pixel centres, and the depth samples along them (stratified + importance)."""

from __future__ import annotations

import torch

from .camera import unpack_camera


def generate_rays(camera: torch.Tensor, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rays of a ``resolution x resolution`` image.

    Args:
        camera: ``(B, 25)`` EG3D cameras.
    Returns:
        origins ``(B, R, 3)`` and unit directions ``(B, R, 3)`` with ``R = resolution**2``,
        row-major (pixel ``(row, col)`` is ray ``row * resolution + col``).
    """
    cam2world, k = unpack_camera(camera)
    b = camera.shape[0]
    centres = (torch.arange(resolution, device=camera.device, dtype=camera.dtype) + 0.5) / resolution
    v, u = torch.meshgrid(centres, centres, indexing="ij")
    pix = torch.stack([u.reshape(-1), v.reshape(-1), torch.ones_like(u).reshape(-1)], dim=0)  # (3, R)
    cam_dirs = torch.linalg.inv(k) @ pix  # (B, 3, R), z = 1 (a 3x3 inverse: solving for R right-hand sides is slow)
    dirs = torch.bmm(cam2world[:, :3, :3], cam_dirs).transpose(1, 2)
    dirs = torch.nn.functional.normalize(dirs, dim=-1)
    origins = cam2world[:, None, :3, 3].expand(b, resolution * resolution, 3)
    return origins, dirs


def stratified_depths(shape: tuple[int, int], num: int, near: float, far: float, perturb: bool,
                      device=None, dtype=torch.float32, generator: torch.Generator | None = None):
    """Sorted depths ``(B, R, num)``: one sample in each of ``num`` equal bins of ``[near, far]``.

    With ``perturb`` the sample is uniform inside its bin, otherwise at the bin centre.
    """
    edges = torch.linspace(near, far, num + 1, device=device, dtype=dtype)
    lo, width = edges[:-1], edges[1:] - edges[:-1]
    if perturb:
        u = torch.rand(*shape, num, device=device, dtype=dtype, generator=generator)
    else:
        u = torch.full((*shape, num), 0.5, device=device, dtype=dtype)
    return lo + width * u


def importance_depths(weights: torch.Tensor, num: int, near: float, far: float, perturb: bool,
                      generator: torch.Generator | None = None, eps: float = 0.01) -> torch.Tensor:
    """Sorted depths ``(B, R, num)`` drawn from the piecewise-constant pdf of coarse ``weights``.

    ``weights (B, R, S)`` belong to the ``S`` equal bins of ``[near, far]`` used by
    ``stratified_depths``. A floor of ``eps`` (relative to each ray's max weight,
    after a 3-tap max filter as in EG3D) keeps every bin reachable. Samples come from
    inverse-CDF sampling with sorted uniforms, so they are sorted and in ``[near, far]``.
    """
    b, r, s = weights.shape
    w = weights.detach().reshape(b * r, 1, s)
    w = torch.nn.functional.max_pool1d(torch.nn.functional.pad(w, (1, 1), mode="replicate"), 3, 1)
    w = w.reshape(b * r, s)
    w = w + eps * w.amax(dim=-1, keepdim=True) + 1e-5
    pdf = w / w.sum(dim=-1, keepdim=True)
    cdf = torch.cumsum(pdf, dim=-1)
    cdf = torch.cat([torch.zeros_like(cdf[:, :1]), cdf], dim=-1).contiguous()  # (BR, S+1)
    if perturb:
        u = torch.rand(b * r, num, device=w.device, dtype=w.dtype, generator=generator)
        u = torch.sort(u, dim=-1).values
    else:
        u = ((torch.arange(num, device=w.device, dtype=w.dtype) + 0.5) / num).expand(b * r, num)
    u = u.contiguous()
    idx = torch.searchsorted(cdf, u, right=True).clamp(1, s)  # bin index + 1
    c_lo, c_hi = cdf.gather(1, idx - 1), cdf.gather(1, idx)
    frac = ((u - c_lo) / (c_hi - c_lo).clamp_min(1e-12)).clamp(0, 1)
    width = (far - near) / s
    t = near + width * ((idx - 1).to(w.dtype) + frac)
    return t.clamp(near, far).reshape(b, r, num)
