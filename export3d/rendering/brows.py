"""Raising and lowering the portrait's brows: a backward remap of portrait coordinates built from its brow and
upper-lid contours.

Parameter-free geometry, like ``eyelids.py`` and ``mouth.py``; the learned field does not move the brows
(docs/model.md). Per eye, in its local frame (``part_frame.py``: origin between the eye's corners, x from the outer
corner to the inner one, y down the image, unit half the eye's width), the brow's upper and lower contours are
``y_t(x)`` and ``y_b(x)`` (held constant past the brow's ends) and the upper lid is ``y_e(x)`` (0 outside the eye's
corners). The brow rises by ``L(x)`` (``L < 0``: it is lowered): ``L`` runs linearly from the inner lift at the
brow's inner end to the outer lift at its outer end, fades to 0 over ``TAPER`` past both ends (smoothstep), and is
limited to ``MAX_SQUEEZE`` of the bands below. Output ``y`` fetches the portrait at

    [y_t - F, y_t - L]:      y_t - F + (y - y_t + F) F / (F - L)      (the forehead, squeezed or stretched)
    [y_t - L, y_b - L]:      y + L                                   (the brow, moved rigidly)
    [y_b - L, y_e]:          y_e - (y_e - y) g / (g + L)              (the lid skin, stretched or squeezed)

with ``F = FOREHEAD_BAND`` and ``g = y_e - y_b``, and is the identity elsewhere: continuous, one-to-one, the
identity at ``L = 0``, and the eye itself (below ``y_e``) never moves.
"""

from __future__ import annotations

import torch

from .part_frame import PartFrame, PartPoints, curve

BROW_LIFT = 0.5  #: a brow's rise at score 1 (browInnerUp, browOuterUp; browDown lowers it), half eye-widths
FOREHEAD_BAND = 1.5  #: skin above the brow that absorbs its motion, half eye-widths
TAPER = 0.6  #: the lift fades to 0 over this distance past the brow's ends, half eye-widths
MAX_SQUEEZE = 0.6  #: largest share of the forehead band (rising) or the lid skin (falling) a brow's move takes


def brow_lift(inner_up: torch.Tensor, outer_up: torch.Tensor, down: torch.Tensor) -> torch.Tensor:
    """Lifts ``(B, 2, 2)`` (per brow, subject's right then left; inner end, outer end), half eye-widths, from the
    driven minus the portrait's own scores: ``inner_up (B,)`` browInnerUp, ``outer_up (B, 2)`` browOuterUp and
    ``down (B, 2)`` browDown per side."""
    inner = inner_up[:, None] - down
    return BROW_LIFT * torch.stack([inner, outer_up - down], dim=-1)


def move_brows(grid: torch.Tensor, brows: torch.Tensor, lids: torch.Tensor, lift: torch.Tensor) -> torch.Tensor:
    """Remap portrait coordinates ``grid (B, H, W, 2)`` so that sampling the portrait at the result shows its brows
    moved by ``lift (B, 2, 2)`` (``brow_lift``).

    ``brows (B, 2, 2, K, 2)``: per brow the upper (index 0) and lower (1) contour, outer end first; ``lids
    (B, 2, 2, J, 2)``: per eye the upper (0) and lower (1) lid from the outer corner to the inner one; both in the
    units of ``grid``.
    """
    if not bool((lift != 0).any()):
        return grid
    for side in range(brows.shape[1]):
        grid = _move_one(grid, brows[:, side], lids[:, side, 0], lift[:, side])
    return grid


def _clamped_curve(x: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """``curve`` through ``(xs, ys) (M, K)`` at ``x (M,)``, held at its end values past the ends."""
    lo, hi = xs.min(-1).values, xs.max(-1).values
    return curve(torch.minimum(torch.maximum(x, lo), hi)[:, None], xs, ys)[:, 0]


def _smoothstep(t: torch.Tensor) -> torch.Tensor:
    t = t.clamp(0.0, 1.0)
    return t * t * (3 - 2 * t)


def _move_one(grid: torch.Tensor, brow: torch.Tensor, lid: torch.Tensor, lift: torch.Tensor) -> torch.Tensor:
    frame = PartFrame.from_corners(lid[:, 0], lid[:, -1])
    b, k = brow.shape[0], brow.shape[2]
    bx, by = frame.to_local(brow.reshape(b, 2 * k, 2))
    bx, by = bx.reshape(b, 2, k), by.reshape(b, 2, k)
    lo, hi = bx.amin(dim=(1, 2)), bx.amax(dim=(1, 2))  # the brow's outer and inner ends (x grows inwards)
    reach = float((torch.maximum(lo.abs(), hi.abs()) + TAPER).max())
    y_low = by[:, 0].amin(-1) - FOREHEAD_BAND
    near = PartPoints.near(grid, frame, reach, y_low, torch.zeros_like(y_low))
    x, y = near.x, near.y
    top, bottom = (_clamped_curve(x, near.take(bx[:, i]), near.take(by[:, i])) for i in (0, 1))
    bottom = torch.maximum(bottom, top)
    eye = torch.minimum(near.contour(lid), torch.zeros_like(x))
    lo, hi = near.take(lo), near.take(hi)
    t = ((hi - x) / (hi - lo).clamp_min(1e-6)).clamp(0.0, 1.0)  # 0 at the inner end, 1 at the outer one
    inner, outer = near.take(lift[:, 0]), near.take(lift[:, 1])
    beyond = torch.maximum(torch.maximum(lo - x, x - hi), torch.zeros_like(x))
    gap = eye - bottom
    lift_x = ((1 - t) * inner + t * outer) * _smoothstep(1 - beyond / TAPER)
    lift_x = torch.where(gap > 0, lift_x, torch.zeros_like(x))
    lift_x = torch.minimum(torch.maximum(lift_x, -MAX_SQUEEZE * gap), torch.full_like(x, MAX_SQUEEZE * FOREHEAD_BAND))
    return near.moved(None, _fetch(y, top, bottom, eye, lift_x) - y, grid.shape)


def _fetch(y: torch.Tensor, top: torch.Tensor, bottom: torch.Tensor, eye: torch.Tensor,
           lift: torch.Tensor) -> torch.Tensor:
    """The portrait ``y`` each output ``y`` fetches (the module docstring's three bands), all ``(M,)``."""
    f = FOREHEAD_BAND
    gap = (eye - bottom).clamp_min(1e-6)
    forehead = top - f + (y - top + f) * f / (f - lift)
    lid_skin = eye - (eye - y) * gap / (gap + lift)
    out = torch.where(y < top - lift, forehead, y + lift)
    out = torch.where(y >= bottom - lift, lid_skin, out)
    inside = (y >= top - f) & (y <= eye)
    return torch.where(inside, out, y)
