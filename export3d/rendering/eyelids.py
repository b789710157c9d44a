"""Closing the portrait's eyelids: a backward remap of portrait coordinates built from its eyelid contours.

Parameter-free geometry. The learned field cannot close an eye that the portrait shows open (the closing lid is
folded away in the portrait, docs/training.md), so a warped model with ``appearance.eyelids`` first remaps the
sampling field inside the portrait: an output that should show a closed lid fetches the lid skin above the
portrait's upper lid, stretched down over the eye.

Per eye, in its local frame (``part_frame.py``: origin between the corners, x along them, y down the image,
unit half the corner distance), the upper and lower lid contours are piecewise-linear curves
``y_u(x)``, ``y_l(x)`` through the landmarks (corners included), zero outside the corners. With the opening
``h = y_l - y_u`` and the closure ``c`` in [0, 1], the lids meet at ``y_m = y_l - MEET h`` and move to

    y_u' = y_u + c (y_m - y_u),        y_l' = y_l + c (y_m - y_l).

The skin band ``[y_u - UPPER_BAND, y_u]`` is stretched linearly over ``[y_u - UPPER_BAND, y_u']`` (so the lash
line ends at ``y_u'``), the band ``[y_l, y_l + LOWER_BAND]`` over ``[y_l', y_l + LOWER_BAND]``; what is left of the
eye between ``y_u'`` and ``y_l'`` stays where it is (the lids cover it) and everything else is the identity.
The remap is continuous, the identity at ``c = 0`` and outside the bands, and leaves the corners fixed.

``lash_line`` draws what a closed eye shows where the lids meet, the lashes: a thin dark line along the moving
upper lid ``y_u'`` (Gaussian across it, ``LASH_WIDTH``; ``1 - x^2`` along it, so it fades at the corners) whose
weight grows from 0 at ``c = LASH_FROM`` to 1 at ``c = 1``, in the colour ``lash_colour``: the portrait's upper lid
contour, darkened. A stretched lid alone reads as smooth skin, blurred by the stretch.
"""

from __future__ import annotations

import torch

from .part_frame import PartFrame, PartPoints, local_contours, shaded_colour

MEET = 0.1  #: where the lids meet, as a fraction of the opening above the lower lid
UPPER_BAND = 1.0  #: lid skin stretched over a closing eye, half eye-widths above the upper lid
LOWER_BAND = 0.5  #: skin stretched up by the rising lower lid, half eye-widths below it
LASH_WIDTH = 0.08  #: the lash line's Gaussian sigma across the lid, half eye-widths
LASH_FROM = 0.5  #: closure at which the lash line starts to show (fully drawn at 1)
LASH_SHADE = 0.35  #: the lash line's colour: the upper lid contour's mean colour times this
CLOSED_SCORE = 0.4  #: a driver's calibrated eyeBlink score at which the lids are drawn fully closed: real,
#: fully closed blinks in the GRID clips peak at 0.35-0.55 after the app's tracker smoothing (0.5)


def lid_closure(blink: torch.Tensor, source_blink: torch.Tensor) -> torch.Tensor:
    """Closure ``(B, 2)`` in [0, 1] from the driven and the portrait's own eyeBlink scores ``(B, 2)``:
    ``(b - b_s) / (CLOSED_SCORE - b_s)``, 0 when the driver's eye is no more closed than the portrait's (an
    eye the portrait shows closed is never opened)."""
    room = (CLOSED_SCORE - source_blink).clamp_min(1e-3)
    c = ((blink - source_blink) / room).clamp(0.0, 1.0)
    return torch.where(source_blink < CLOSED_SCORE, c, torch.zeros_like(c))


def close_eyelids(grid: torch.Tensor, lids: torch.Tensor, closure: torch.Tensor) -> torch.Tensor:
    """Remap portrait coordinates ``grid (B, H, W, 2)`` (any consistent units, e.g. ``grid_sample``'s) so that
    sampling the portrait at the result shows its eyes closed by ``closure (B, E)``.

    ``lids (B, E, 2, K, 2)``: per eye the upper (index 0) and lower (1) lid contours, ``K`` points from one
    corner to the other (both corners included), in the same units as ``grid``.
    """
    out = grid
    if not bool((closure > 0).any()):
        return out
    for e in range(lids.shape[1]):
        out = _close_one(out, lids[:, e], closure[:, e])
    return out


def _close_one(grid: torch.Tensor, lids: torch.Tensor, closure: torch.Tensor) -> torch.Tensor:
    """``close_eyelids`` for one eye: ``lids (B, 2, K, 2)``, ``closure (B,)``."""
    frame = PartFrame.from_corners(lids[:, 0, 0], lids[:, 0, -1])
    ys = local_contours(frame, lids)  # (B, 2, K): only points between these bands can move
    near = PartPoints.near(grid, frame, 1.0, ys[:, 0].amin(-1) - UPPER_BAND, ys[:, 1].amax(-1) + LOWER_BAND)
    x, y = near.x, near.y
    y_u, y_l = near.contour(lids[:, 0]), near.contour(lids[:, 1])
    opening = (y_l - y_u).clamp_min(0.0)
    c = near.take(closure)
    y_m = y_l - MEET * opening
    y_u2, y_l2 = y_u + c * (y_m - y_u), y_l + c * (y_m - y_l)
    top, bottom = y_u - UPPER_BAND, y_l + LOWER_BAND
    upper = (y >= top) & (y <= y_u2) & (x.abs() < 1)
    lower = (y >= y_l2) & (y <= bottom) & (x.abs() < 1)
    y_src = torch.where(upper, top + (y - top) * UPPER_BAND / (y_u2 - top).clamp_min(1e-6), y)
    y_src = torch.where(lower, bottom - (bottom - y) * LOWER_BAND / (bottom - y_l2).clamp_min(1e-6), y_src)
    return near.moved(None, y_src - y, grid.shape)


def lash_line(grid: torch.Tensor, lids: torch.Tensor, closure: torch.Tensor) -> torch.Tensor:
    """Weight ``(B, H, W)`` in [0, 1] of the lash line (module docstring) at the output points whose portrait
    coordinates are ``grid (B, H, W, 2)`` before ``close_eyelids``; ``lids``, ``closure`` as there."""
    out = torch.zeros(grid.shape[:3], dtype=grid.dtype, device=grid.device)
    strength = ((closure - LASH_FROM) / (1 - LASH_FROM)).clamp(0, 1)
    if not bool((strength > 0).any()):
        return out
    for e in range(lids.shape[1]):
        out = torch.maximum(out, _lash_one(grid, lids[:, e], closure[:, e], strength[:, e]))
    return out


def _lash_one(grid: torch.Tensor, lids: torch.Tensor, closure: torch.Tensor, strength: torch.Tensor) -> torch.Tensor:
    frame = PartFrame.from_corners(lids[:, 0, 0], lids[:, 0, -1])
    ys = local_contours(frame, lids)
    reach = 4 * LASH_WIDTH
    near = PartPoints.near(grid, frame, 1.0, ys[:, 0].amin(-1) - reach, ys[:, 1].amax(-1) + reach)
    y_u, y_l = near.contour(lids[:, 0]), near.contour(lids[:, 1])
    y_m = y_l - MEET * (y_l - y_u).clamp_min(0.0)
    y_u2 = y_u + near.take(closure) * (y_m - y_u)
    weight = near.take(strength) * (1 - near.x**2) * torch.exp(-0.5 * ((near.y - y_u2) / LASH_WIDTH) ** 2)
    return near.scatter(weight, grid.shape[:3])


def lash_colour(image: torch.Tensor, lids: torch.Tensor) -> torch.Tensor:
    """``(B, 3, 1, 1)``: the mean colour of ``image (B, 3, H, W)`` (in [-1, 1]) along the upper lid contours of
    ``lids (B, E, 2, K, 2)`` (``grid_sample`` units), scaled by ``LASH_SHADE`` in [0, 1] intensity."""
    return shaded_colour(image, lids[:, :, 0], LASH_SHADE)
