"""Turning the portrait's eyes sideways: a backward remap of portrait coordinates inside each eye's opening.

Parameter-free geometry, like ``eyelids.py``; the learned field does not move the irises (the paper's model has no
gaze either). Per eye, in its local frame (``part_frame.py``: x from the outer corner (-1) to the inner one (+1),
y down the image, unit half the eye's width), the opening lies between the upper and lower lid contours ``y_u(x)``
and ``y_l(x)``; a point in it has the relative height ``v = (y - y_u) / (y_l - y_u)``. The iris centre ``c`` (from
the tracker's iris landmarks) moves to ``t = c + d`` along x (limited to ``|t| <= MAX_CENTRE`` so the iris stays in
the opening), and every row of the opening follows piecewise linearly, the corners fixed. Output ``(x, v)``
fetches the portrait at ``(x', v)``:

    x < t:   x' = -1 + (x + 1) (c + 1) / (t + 1)        x >= t:   x' = 1 - (1 - x) (1 - c) / (1 - t)

and ``y' = y_u(x') + v (y_l(x') - y_u(x'))``. The lid contours map onto themselves, so the lids and lashes stay
where they are (their pixels slide along them) and everything outside the openings is the identity. Vertical gaze
is left to the lids, which follow it in real eyes.
"""

from __future__ import annotations

import torch

from .part_frame import PartFrame, PartPoints, curve

GAZE_SHIFT = 0.4  #: the iris's move at eyeLookIn - eyeLookOut = 1, half eye-widths (towards the inner corner)
MAX_CENTRE = 0.5  #: the iris centre is kept within this distance of the eye's middle, half eye-widths


def gaze_shift(look_in: torch.Tensor, look_out: torch.Tensor) -> torch.Tensor:
    """Iris moves ``(B, 2)`` per eye, half eye-widths, from the driven minus the portrait's own eyeLookIn and
    eyeLookOut scores ``(B, 2)`` (+ = towards the inner corner)."""
    return GAZE_SHIFT * (look_in - look_out)


def move_irises(grid: torch.Tensor, lids: torch.Tensor, irises: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Remap portrait coordinates ``grid (B, H, W, 2)`` so that sampling the portrait at the result shows its irises
    moved by ``shift (B, E)`` (``gaze_shift``). ``lids (B, E, 2, K, 2)``: per eye the upper (0) and lower (1) lid
    from the outer corner to the inner one; ``irises (B, E, 2)``: the iris centres; in the units of ``grid``."""
    if not bool((shift != 0).any()):
        return grid
    for eye in range(lids.shape[1]):
        grid = _move_one(grid, lids[:, eye], irises[:, eye], shift[:, eye])
    return grid


def _move_one(grid: torch.Tensor, lids: torch.Tensor, iris: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    frame = PartFrame.from_corners(lids[:, 0, 0], lids[:, 0, -1])
    b, k = lids.shape[0], lids.shape[2]
    lx, ly = frame.to_local(lids.reshape(b, 2 * k, 2))
    lx, ly = lx.reshape(b, 2, k), ly.reshape(b, 2, k)
    centre = frame.to_local(iris[:, None])[0][:, 0]
    low, high = torch.minimum(centre, torch.full_like(centre, -MAX_CENTRE)), torch.maximum(centre, torch.full_like(
        centre, MAX_CENTRE))
    target = torch.minimum(torch.maximum(centre + shift, low), high)
    near = PartPoints.near(grid, frame, 1.0, ly[:, 0].amin(-1), ly[:, 1].amax(-1))
    x, y = near.x, near.y
    upper_at = lambda u: curve(u[:, None], near.take(lx[:, 0]), near.take(ly[:, 0]))[:, 0]  # noqa: E731
    lower_at = lambda u: curve(u[:, None], near.take(lx[:, 1]), near.take(ly[:, 1]))[:, 0]  # noqa: E731
    top, bottom = upper_at(x), lower_at(x)
    inside = (y > top) & (y < bottom)
    v = (y - top) / (bottom - top).clamp_min(1e-6)
    c, t = near.take(centre), near.take(target)
    fetched_x = torch.where(x < t, -1 + (x + 1) * (c + 1) / (t + 1), 1 - (1 - x) * (1 - c) / (1 - t))
    fetched_y = upper_at(fetched_x) + v * (lower_at(fetched_x) - upper_at(fetched_x))
    zero = torch.zeros_like(x)
    return near.moved(torch.where(inside, fetched_x - x, zero), torch.where(inside, fetched_y - y, zero), grid.shape)
