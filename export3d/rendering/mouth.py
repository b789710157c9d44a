"""Opening the portrait's mouth: a backward remap of portrait coordinates built from its lip contours.

Parameter-free geometry, the mouth's counterpart of ``eyelids.py``. A portrait with a closed mouth has no mouth
interior to warp, and the learned field only stretches the lips (docs/model.md), so a warped model with
``appearance.mouth`` remaps the sampling field inside the portrait: the lower lip and the chin move down by the
opening ``g``, and so does the lower half of the portrait's own mouth interior (its lower teeth, if it shows
them), while the upper half stays with the upper lip; the gap between the halves is the cavity.

In the mouth's frame (``part_frame.py``; corners: the inner lip corners) the inner lip contours are ``y_u(x)``
(upper) and ``y_l(x)`` (lower), the portrait's interior ``h = y_l - y_u`` and the chin is at ``y_c``. The opening
is lens-shaped, ``g(x) = g0 (1 - x^2)`` for ``|x| < 1`` (0 at the corners), where ``g0 = C tanh(o / C)`` for the
asked opening ``o`` (``mouth_opening``) and the cap ``C = MAX_OPEN D`` (``soft_cap``: speech-sized openings keep
their size, wide ones approach the cap without a kink), and never closes more than ``MAX_CLOSE`` of an open
portrait's interior. Output ``y`` fetches the portrait at

    [y_u, s]:                     y                                  (upper half of the interior, still)
    [s, s + g]:                   y_u + h / 2                        (the cavity; g > 0 only)
    [s + g+, y_c + g]:            y - g                              (lower half, lower lip and chin, moved down)
    [y_c + g, y_c + D]:           y_c + D - (y_c + D - y) D / (D - g)   (the skin under the chin, compressed)

with ``s = y_u + (h + min(g, 0)) / 2``, ``g+ = max(g, 0)`` (a closing removes the interior's middle ``-g``) and
``D = NECK_BAND y_c``, and is the identity elsewhere. The cavity weight is 1 in ``[s, s + g]``, faded in over
``FEATHER`` from both edges, and 0 elsewhere. (Before 2026-12-03, fifth session, the interior was stretched over the
gap: a portrait showing its teeth had them drawn out into vertical streaks.)

``upper_teeth`` (computed with the remap by ``open_mouth_with_teeth``) draws what an opened mouth shows first, the
upper teeth: a band hanging from the top of the cavity over ``TEETH_SHARE`` of it (at most ``TEETH_MAX``), shortest
towards the corners, darkening towards its soft lower edge, only where the portrait's lips were closed (fading out
as they were apart by up to ``TEETH_OWN``: a portrait showing its own interior keeps it); its colour
(``teeth_colour``) is the portrait's lightest skin, so it carries the portrait's light and colour cast. There are
no lower teeth or tongue: below the band the cavity stays dark.

``pull_corners`` does the smile: the corners move out and up with a Gaussian falloff around them (in and down
for a negative smile: a driver who smiles less than the portrait takes some of its smile away).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .part_frame import PartFrame, PartPoints, local_contours, shaded_colour

JAW_GAIN = 2.0  #: opening at the mouth's centre per unit of jawOpen above the portrait's own, half mouth widths
NECK_BAND = 1.2  #: skin under the chin that absorbs the chin's motion, as a fraction of the mouth-chin distance
MAX_OPEN = 0.8  #: largest opening, as a fraction of that band (the remap stays one-to-one)
MAX_CLOSE = 0.9  #: largest share of an open portrait's interior that a closing jaw removes
SMILE_OUT, SMILE_UP = 0.25, 0.3  #: a full smile moves a mouth corner this far out and up, half mouth widths
SMILE_REACH = 0.7  #: how far around a corner the smile pulls the skin (Gaussian sigma), half mouth widths
CUTOFF = 3.0  #: the smile's falloff is cut at this many sigmas from the corners (weight < 0.011 there)
CAVITY_SHADE = 0.25  #: the cavity's colour: the lips' mean colour times this
FEATHER = 0.06  #: the cavity fades in over this distance from the lips, half mouth widths
TEETH_SHARE = 0.45  #: the upper teeth show over this share of the gap between the lips ...
TEETH_MAX = 0.32  #: ... but no taller than this, half mouth widths
TEETH_REACH = 0.8  #: the teeth end this far from the mouth's centre, half mouth widths
TEETH_EDGE = 0.04  #: the teeth's lower edge fades out over this distance, half mouth widths
TEETH_FALL = 0.25  #: the teeth darken by this share from their top to their lower edge (the mouth's shadow)
TEETH_OWN = 0.1  #: no teeth are drawn where the portrait's own lips are this far apart (half mouth widths)
TEETH_SHADE = 0.95  #: the teeth's colour: the face's lightest skin, a quarter desaturated, times this


def mouth_opening(jaw: torch.Tensor, source_jaw: torch.Tensor) -> torch.Tensor:
    """Opening ``g0 (B,)`` at the mouth's centre, half mouth widths, from the driven and the portrait's own
    jawOpen scores ``(B,)`` (negative: the driver's mouth is more closed than the portrait's)."""
    return JAW_GAIN * (jaw - source_jaw)


def soft_cap(opening: torch.Tensor, cap: torch.Tensor) -> torch.Tensor:
    """``cap tanh(opening / cap)`` for an opening (``opening > 0``; a closing is returned as it is): the slope at
    0 is 1 (small openings, i.e. speech, keep ``JAW_GAIN``) and large ones approach ``cap`` without a kink."""
    cap = cap.clamp_min(1e-6)
    return torch.where(opening > 0, cap * torch.tanh(opening / cap), opening)


def open_mouth(grid: torch.Tensor, lips: torch.Tensor, chin: torch.Tensor,
               opening: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Remap portrait coordinates ``grid (B, H, W, 2)`` so that sampling the portrait at the result shows its
    mouth opened by ``opening (B,)`` (``mouth_opening``); also returns the cavity weight ``(B, H, W)`` in [0, 1].

    ``lips (B, 2, K, 2)``: the inner upper (index 0) and inner lower (1) lip contours from one inner corner to the
    other, ``chin (B, 2)``: the chin's lowest point, both in the units of ``grid``.
    """
    out, cavity, _ = open_mouth_with_teeth(grid, lips, chin, opening, teeth=False)
    return out, cavity


def upper_teeth(grid: torch.Tensor, lips: torch.Tensor, chin: torch.Tensor, opening: torch.Tensor) -> torch.Tensor:
    """Weight ``(B, H, W)`` in [0, 1] of the upper teeth (colour ``teeth_colour``) at the output points whose
    portrait coordinates are ``grid`` before ``open_mouth`` (same arguments): from the top of the cavity down
    ``t = min(TEETH_SHARE g, TEETH_MAX)``, darkening by ``TEETH_FALL`` towards a soft lower edge (``TEETH_EDGE``),
    narrowing towards the corners (0 beyond ``TEETH_REACH``), times ``1 - h / TEETH_OWN`` (0 where the portrait's
    own lips are ``TEETH_OWN`` apart: its own interior, teeth or not, is kept)."""
    return open_mouth_with_teeth(grid, lips, chin, opening)[2]


def open_mouth_with_teeth(grid: torch.Tensor, lips: torch.Tensor, chin: torch.Tensor, opening: torch.Tensor,
                          teeth: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``open_mouth``'s remap and cavity and ``upper_teeth``'s weight (zeros unless ``teeth``) in one pass over
    the mouth's points."""
    zeros = torch.zeros(grid.shape[:3], dtype=grid.dtype, device=grid.device)
    if not bool((opening != 0).any()):
        return grid, zeros, zeros
    m = _MouthPoints.of(grid, lips, chin, opening)
    near, x, y, y_u, interior, g = m.near, m.near.x, m.near.y, m.y_u, m.interior, m.gap
    y_c, band = m.y_c, m.band
    split = y_u + 0.5 * (interior + g.clamp_max(0))  # the portrait's interior parts here (output)
    gap = g.clamp_min(0)  # the new gap between its two halves (output)
    lower = (y > split + gap) & (y <= y_c + g)  # lower half of the interior, lower lip and chin, moved down
    neck = (y > y_c + g) & (y <= y_c + band)
    y_src = torch.where((y > split) & (y <= split + gap), y_u + 0.5 * interior, y)
    y_src = torch.where(lower, y - g, y_src)
    y_src = torch.where(neck, y_c + band - (y_c + band - y) * band / (band - g).clamp_min(1e-6), y_src)
    edge = ((y - split) / FEATHER).clamp(0, 1) * ((split + gap - y) / FEATHER).clamp(0, 1)
    cavity = torch.where((y >= split) & (y <= split + gap), edge, torch.zeros_like(x))
    weight = _teeth_weight(m, split) if teeth else None
    return (near.moved(None, y_src - y, grid.shape), near.scatter(cavity, grid.shape[:3]),
            zeros if weight is None else near.scatter(weight, grid.shape[:3]))


def _teeth_weight(m: _MouthPoints, split: torch.Tensor) -> torch.Tensor:
    """``upper_teeth``'s weight at the mouth's points ``(M,)``; ``split``: where the opened gap begins there."""
    x, g = m.near.x, m.gap.clamp_min(0.0)
    depth = m.near.y - split  # below the top of the gap
    side = (1 - (x / TEETH_REACH) ** 4).clamp_min(0.0)
    tall = (TEETH_SHARE * g).clamp(max=TEETH_MAX) * side
    top = (depth / FEATHER).clamp(0, 1)
    bottom = ((tall - depth) / TEETH_EDGE).clamp(0, 1)
    shade = (1 - TEETH_FALL * (depth / tall.clamp_min(1e-6)).clamp(0, 1)) * (1 - 0.5 * x**2)
    closed = (1 - m.interior / TEETH_OWN).clamp(0, 1)  # a portrait that shows its own interior keeps it
    return torch.where((depth >= 0) & (tall > 0), closed * top * bottom * shade, torch.zeros_like(x))


@dataclass
class _MouthPoints:
    """The points of a grid near the mouth and what ``open_mouth`` computes at them (frame units, ``(M,)``)."""

    near: PartPoints
    y_u: torch.Tensor  #: the inner upper lip
    y_l: torch.Tensor  #: the inner lower lip
    interior: torch.Tensor  #: the portrait's own gap between them
    gap: torch.Tensor  #: the opening ``g`` added there
    y_c: torch.Tensor  #: the chin
    band: torch.Tensor  #: the skin band under the chin

    @classmethod
    def of(cls, grid: torch.Tensor, lips: torch.Tensor, chin: torch.Tensor, opening: torch.Tensor) -> _MouthPoints:
        frame = PartFrame.from_corners(lips[:, 0, 0], lips[:, 0, -1])
        chin_y = frame.to_local(chin[:, None])[1][:, 0].clamp_min(1e-3)  # (B,)
        band_b = NECK_BAND * chin_y
        near = PartPoints.near(grid, frame, 1.0, local_contours(frame, lips)[:, 0].amin(-1), chin_y + band_b)
        y_u, y_l = near.contour(lips[:, 0]), near.contour(lips[:, 1])
        interior = (y_l - y_u).clamp_min(0.0)
        band = near.take(band_b)
        g0 = soft_cap(near.take(opening), MAX_OPEN * band)
        gap = (g0 * (1 - near.x**2)).maximum(-MAX_CLOSE * interior)
        return cls(near, y_u, y_l, interior, gap, near.take(chin_y), band)


def teeth_colour(image: torch.Tensor, skin: torch.Tensor) -> torch.Tensor:
    """``(B, 3, 1, 1)``: the teeth's colour, from the portrait's own light and colour cast: the mean of the three
    lightest colours of ``image`` at the skin points ``(B, N, 2)`` (``grid_sample`` units), a quarter desaturated,
    times ``TEETH_SHADE``, in [-1, 1]."""
    grid = skin.reshape(skin.shape[0], 1, -1, 2).to(image.dtype)
    colours = (F.grid_sample(image, grid, align_corners=False)[:, :, 0] + 1) / 2  # (B, 3, N) in [0, 1]
    light = colours.mean(1)  # (B, N)
    top = light.topk(min(3, light.shape[1]), dim=1).indices  # (B, k)
    picked = colours.gather(2, top[:, None].expand(-1, 3, -1)).mean(2)  # (B, 3)
    grey = picked.mean(1, keepdim=True)
    return (TEETH_SHADE * (0.75 * picked + 0.25 * grey) * 2 - 1)[..., None, None]


def cavity_colour(image: torch.Tensor, lips: torch.Tensor) -> torch.Tensor:
    """``(B, 3, 1, 1)``: the mean colour of ``image (B, 3, H, W)`` (in [-1, 1]) at the lip contour points
    ``(B, 2, K, 2)`` (``grid_sample`` units), scaled by ``CAVITY_SHADE`` in [0, 1] intensity."""
    return shaded_colour(image, lips, CAVITY_SHADE)


def pull_corners(grid: torch.Tensor, lips: torch.Tensor, smile: torch.Tensor) -> torch.Tensor:
    """Remap portrait coordinates ``grid (B, H, W, 2)`` so that the mouth's corners (the ends of ``lips
    (B, 2, K, 2)``) are pulled out and up by ``smile (B, 2)`` (per corner, the order of the contours' ends: the
    subject's right, then left; the driven mouthSmile minus the portrait's own, in [-1, 1]; negative values
    move the corners in and down, undoing a smile the portrait has).

    Each corner moves by ``smile (±SMILE_OUT, -SMILE_UP)`` in the mouth's frame, the skin around it with a
    Gaussian falloff of width ``SMILE_REACH``; the backward map subtracts the displacement at the output point
    (exact at the corners' new positions up to the falloff's slope, a good inverse for moves of a fraction of the
    falloff width).
    """
    if not bool((smile != 0).any()):
        return grid
    frame = PartFrame.from_corners(lips[:, 0, 0], lips[:, 0, -1])
    reach_y = torch.full_like(frame.half, SMILE_UP + CUTOFF * SMILE_REACH)
    near = PartPoints.near(grid, frame, 1 + SMILE_OUT + CUTOFF * SMILE_REACH, -reach_y, reach_y)
    x, y = near.x, near.y
    dx, dy = torch.zeros_like(x), torch.zeros_like(y)
    for side, corner_x in ((0, -1.0), (1, 1.0)):
        s = near.take(smile[:, side])
        new_x, new_y = corner_x * (1 + SMILE_OUT * s), -SMILE_UP * s
        weight = torch.exp(-((x - new_x) ** 2 + (y - new_y) ** 2) / (2 * SMILE_REACH**2))
        dx, dy = dx + weight * corner_x * SMILE_OUT * s, dy - weight * SMILE_UP * s
    return near.moved(-dx, -dy, grid.shape)
