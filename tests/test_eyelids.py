"""Closing the portrait's eyelids (``rendering/eyelids.py``, ``appearance.eyelids``).

Truths used: the remap is the identity at closure 0 and outside the lid bands; at closure 1 the lash line (the
portrait's upper lid) is fetched where the lids meet, ``MEET`` of the opening above the lower lid; the skin band
is stretched linearly; rotating the eye and the grid together rotates the result (the frame follows the corners).
End to end, MediaPipe's own reading of the bundled model's output blinks when the driven eyeBlink is 1.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import have_face_models

from export3d.face.part_contours import EYELID_INDEX, eye_opening, eyelid_contours
from export3d.rendering.eyelids import (
    CLOSED_SCORE,
    LASH_FROM,
    LASH_SHADE,
    LASH_WIDTH,
    MEET,
    UPPER_BAND,
    close_eyelids,
    lash_colour,
    lash_line,
    lid_closure,
)

LID_POINTS = EYELID_INDEX.shape[-1]
HALF = 0.2  #: half eye width of the test eye, grid units
OPEN = 0.1  #: the test eye's opening at its centre (upper lid at -OPEN/2, lower at +OPEN/2)


def make_eye(angle: float = 0.0, centre=(0.1, -0.2)) -> torch.Tensor:
    """``(1, 1, 2, K, 2)``: an eye whose lids are parabolas ``y = -/+ OPEN/2 (1 - x^2)`` (x in half widths),
    rotated by ``angle`` radians about its centre."""
    x = torch.linspace(-1.0, 1.0, LID_POINTS)
    up = torch.stack([x, -OPEN / 2 / HALF * (1 - x**2)], -1)
    lo = torch.stack([x, OPEN / 2 / HALF * (1 - x**2)], -1)
    lids = torch.stack([up, lo]) * HALF
    return (_rotate(lids, angle) + torch.tensor(centre))[None, None]


def _rotate(p: torch.Tensor, angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return p @ torch.tensor([[c, s], [-s, c]])


def points(*xy) -> torch.Tensor:
    """``(1, 1, n, 2)`` grid of the given points relative to the test eye's centre."""
    return torch.tensor(xy, dtype=torch.float32)[None, None] + torch.tensor([0.1, -0.2])


def test_closure_zero_is_the_identity_and_far_points_never_move():
    g = torch.rand(1, 16, 16, 2) * 2 - 1
    assert torch.equal(close_eyelids(g, make_eye(), torch.zeros(1, 1)), g)
    far = points((0.0, -0.2 - UPPER_BAND * HALF), (0.0, 0.3), (0.5, 0.0), (-0.3, 0.0))  # above, below, beside
    assert torch.allclose(close_eyelids(far, make_eye(), torch.ones(1, 1)), far, atol=1e-6)


def test_closed_eye_shows_the_lash_line_where_the_lids_meet():
    meet = OPEN / 2 - MEET * OPEN  # y of the meeting line at the eye's centre
    got = close_eyelids(points((0.0, meet - 1e-4)), make_eye(), torch.ones(1, 1))
    assert torch.allclose(got, points((0.0, -OPEN / 2)), atol=1e-3)  # fetched from the open upper lid


def test_the_lash_line_is_drawn_where_the_closing_upper_lid_is():
    """Weight ``s(c) (1 - x^2) exp(-d^2 / 2 w^2)`` at distance ``d`` from the moved upper lid ``y_u'``, with
    ``s(c)`` rising from 0 at ``LASH_FROM`` to 1 at closure 1."""
    meet = OPEN / 2 - MEET * OPEN  # at closure 1 the upper lid is on the meeting line
    w = LASH_WIDTH * HALF  # grid units
    pts = points((0.0, meet), (0.0, meet + w), (0.0, meet - 3 * w), (0.5 * HALF, 0.0), (0.0, 0.3))
    got = lash_line(pts, make_eye(), torch.ones(1, 1))[0, 0]
    x_half = 0.5  # the fourth point's x in half widths; its lid line is at (OPEN / 2 / HALF)(1 - x^2) (1 - 2 MEET)
    lid = (OPEN / 2) * (1 - x_half**2) * (1 - 2 * MEET) / HALF
    want = [1.0, math.exp(-0.5), math.exp(-4.5), (1 - x_half**2) * math.exp(-0.5 * (lid / LASH_WIDTH) ** 2), 0.0]
    assert got.tolist() == pytest.approx(want, abs=1e-3)
    half_way = (1 + LASH_FROM) / 2  # strength 0.5; the lid is half way to the meeting line
    y_half = -OPEN / 2 + half_way * (meet + OPEN / 2)
    assert lash_line(points((0.0, y_half)), make_eye(), torch.full((1, 1), half_way)).item() == pytest.approx(0.5)
    assert not lash_line(pts, make_eye(), torch.full((1, 1), LASH_FROM)).any()  # not yet: the lids are apart


def test_the_lash_colour_is_the_upper_lid_darkened():
    image = torch.full((1, 3, 32, 32), 0.5)  # 0.75 in [0, 1]
    assert torch.allclose(lash_colour(image, make_eye()), torch.full((1, 3, 1, 1), LASH_SHADE * 0.75 * 2 - 1))


def test_skin_band_is_stretched_linearly():
    c = 0.5
    top, lid = -OPEN / 2 - UPPER_BAND * HALF, -OPEN / 2
    new_lid = lid + c * ((OPEN / 2 - MEET * OPEN) - lid)
    y = (top + new_lid) / 2  # half way down the stretched band -> half way down the original band
    got = close_eyelids(points((0.0, y)), make_eye(), torch.full((1, 1), c))
    assert torch.allclose(got, points((0.0, (top + lid) / 2)), atol=1e-5)


@pytest.mark.parametrize("angle", [0.3, -0.5])
def test_rotating_eye_and_grid_rotates_the_result(angle):
    centre = torch.tensor([0.1, -0.2])
    g = (torch.rand(1, 12, 12, 2) - 0.5) * 0.5 + centre
    closure = torch.full((1, 1), 0.8)
    flat = close_eyelids(g, make_eye(), closure)
    turned = close_eyelids(_rotate(g - centre, angle) + centre, make_eye(angle), closure)
    assert torch.allclose(turned, _rotate(flat - centre, angle) + centre, atol=1e-5)


def test_lid_closure_from_scores():
    own = torch.tensor([[0.1, 0.2]])
    assert torch.allclose(lid_closure(own, own), torch.zeros(1, 2))
    assert torch.allclose(lid_closure(torch.full((1, 2), CLOSED_SCORE), own), torch.ones(1, 2))
    half = own + (CLOSED_SCORE - own) / 2
    assert torch.allclose(lid_closure(half, own), torch.full((1, 2), 0.5))
    assert torch.equal(lid_closure(torch.ones(1, 2), torch.full((1, 2), 0.9)), torch.zeros(1, 2))  # already shut
    assert torch.equal(lid_closure(torch.zeros(1, 2), own), torch.zeros(1, 2))  # never opened wider


def test_eyelid_contours_pick_mediapipe_lid_landmarks():
    lm = np.stack([np.arange(478.0), np.zeros(478)], -1)
    lids = eyelid_contours(lm)[..., 0].astype(int)
    assert lids.shape == (2, 2, LID_POINTS)
    assert (lids[0, :, 0] == 33).all() and (lids[0, :, -1] == 133).all()  # subject's right eye: its corners
    assert (lids[1, :, 0] == 263).all() and (lids[1, :, -1] == 362).all()
    assert 159 in lids[0, 0] and 145 in lids[0, 1] and 386 in lids[1, 0] and 374 in lids[1, 1]


def test_eye_opening_in_eye_widths():
    lm = np.zeros((478, 2))
    lm[EYELID_INDEX[:, :, 0], 0], lm[EYELID_INDEX[:, :, -1], 0] = 10.0, 50.0  # each eye 40 px wide
    lm[EYELID_INDEX[:, 0, 1:-1], 1] = 90.0  # upper lids (corners excluded) at y = 90
    lm[EYELID_INDEX[:, 1, 1:-1], 1] = 100.0  # lower lids 10 px below: a quarter of the width
    lm[EYELID_INDEX[:, :, [0, -1]], 1] = 500.0  # the corners' height is not part of the opening
    assert eye_opening(lm) == pytest.approx(0.25)
    lm[EYELID_INDEX[0, 0, 1:-1], 1] = 100.0  # one eye closed: the lids meet
    assert eye_opening(lm[None])[0] == pytest.approx(0.125)
    lm[EYELID_INDEX[1, 0, 1:-1], 1] = 104.0  # the other's upper lid below its lower lid
    assert eye_opening(lm) == pytest.approx(-0.05)
    lm[:] = np.nan
    assert np.isnan(eye_opening(lm))


@pytest.mark.skipif(not have_face_models(), reason="MediaPipe and its model files are needed to read blinks")
def test_bundled_model_closes_a_real_portraits_eyes():
    """MediaPipe, not the model, judges: the astronaut's output at eyeBlink 1 reads as a blink."""
    from skimage.data import astronaut

    from export3d.blendshapes import blendshape_index
    from export3d.evaluation.analysis import FaceAnalyzer
    from export3d.pipeline import Animator

    animator = Animator.from_pretrained()
    assert animator.model.cfg.appearance.eyelids
    src = animator.prepare_source(astronaut())
    blink = [blendshape_index("eyeBlinkLeft"), blendshape_index("eyeBlinkRight")]
    beta = np.repeat(src.signals.beta[None], 2, 0)
    beta[1, blink] = 1.0
    out = animator.render(src, beta, src.signals.camera)
    faces = FaceAnalyzer(identity=False).read(out)
    read = faces.beta[:, blink].mean(1)
    assert read[0] < 0.2 and read[1] - read[0] > 0.3, read
    opening = eye_opening(faces.landmarks)  # the tracker's own lid landmarks: open, then (nearly) shut
    assert opening[0] > 0.15 and opening[1] < 0.4 * opening[0], opening
