"""Opening the portrait's mouth (``rendering/mouth.py``, ``appearance.mouth``).

Truths used, on a closed mouth whose lips lie on the frame's x axis (the frame of ``part_frame.py``): the remap
is the identity at opening 0; the lower lip's top is fetched ``g`` lower than it is shown, the chin moves down
rigidly by ``g``, the skin under the chin is compressed back to the identity at ``y_c + D``; the gap between the
lips is the cavity; an open portrait's interior parts (upper half still, lower half moved down by ``g``) and
a closing removes its middle; the upper teeth hang from the top of the gap over ``TEETH_SHARE`` of it, only on a
closed mouth, in the lightest skin colour; columns beyond the mouth's corners never move. End to end,
MediaPipe's own jawOpen reading
of the bundled model's output rises with the driven jawOpen on a real photo.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from conftest import have_face_models

from export3d.blendshapes import blendshape_index
from export3d.config import AppearanceConfig, ModelConfig
from export3d.face.part_contours import LIP_INDEX, SKIN_INDEX, chin_point, lip_contours, skin_points
from export3d.models.warped import WarpedAppearance
from export3d.rendering.mouth import (
    CAVITY_SHADE,
    FEATHER,
    MAX_OPEN,
    NECK_BAND,
    SMILE_OUT,
    SMILE_UP,
    TEETH_FALL,
    TEETH_MAX,
    TEETH_OWN,
    TEETH_REACH,
    TEETH_SHADE,
    TEETH_SHARE,
    cavity_colour,
    mouth_opening,
    open_mouth,
    open_mouth_with_teeth,
    pull_corners,
    soft_cap,
    teeth_colour,
    upper_teeth,
)

HALF = 0.2  #: half the mouth's inner width, grid units
CENTRE = torch.tensor([0.05, 0.3])
CHIN = 0.8  #: chin below the mouth, half widths


def closed_mouth(gap: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Lips ``(1, 2, K, 2)`` (upper at ``-gap/2``, lower at ``+gap/2`` half widths, lens-shaped) and chin ``(1, 2)``."""
    x = torch.linspace(-1.0, 1.0, LIP_INDEX.shape[-1])
    lips = torch.stack([torch.stack([x, -gap / 2 * (1 - x**2)], -1), torch.stack([x, gap / 2 * (1 - x**2)], -1)])
    return (lips * HALF + CENTRE)[None], (torch.tensor([0.0, CHIN]) * HALF + CENTRE)[None]


def at(*xy) -> torch.Tensor:
    """``(1, 1, n, 2)``: points given in the mouth's frame (half widths), in grid units."""
    return (torch.tensor(xy, dtype=torch.float32) * HALF + CENTRE)[None, None]


def test_opening_zero_is_the_identity():
    g = torch.rand(1, 16, 16, 2) * 2 - 1
    out, cavity = open_mouth(g, *closed_mouth(), torch.zeros(1))
    assert torch.allclose(out, g, atol=1e-6) and not cavity.any()


def test_lower_lip_and_chin_move_down_and_the_gap_is_the_cavity():
    asked = 0.3
    cap = MAX_OPEN * NECK_BAND * CHIN
    g0 = cap * math.tanh(asked / cap)  # the opening after the soft cap
    pts = at((0.0, -0.2), (0.0, g0 + 1e-3), (0.0, CHIN + g0), (0.0, CHIN * (1 + NECK_BAND)), (0.0, g0 / 2),
             (1.2, 0.1), (-1.5, CHIN + g0))
    out, cavity = open_mouth(pts, *closed_mouth(), torch.tensor([asked]))
    want = at((0.0, -0.2), (0.0, 1e-3), (0.0, CHIN), (0.0, CHIN * (1 + NECK_BAND)), (0.0, 0.0),
              (1.2, 0.1), (-1.5, CHIN + g0))
    assert torch.allclose(out, want, atol=1e-5)
    assert cavity[0, 0].tolist() == pytest.approx([0, 0, 0, 0, 1, 0, 0], abs=1e-6)
    near_lip = open_mouth(at((0.0, FEATHER / 2)), *closed_mouth(), torch.tensor([asked]))[1]
    assert near_lip.item() == pytest.approx(0.5, abs=1e-4)  # faded in from the lips


def test_opening_is_capped_so_columns_stay_monotone():
    ys = torch.linspace(-0.5, 2.0, 200)
    column = at(*[(0.0, float(y)) for y in ys])
    out, _ = open_mouth(column, *closed_mouth(), torch.tensor([10.0]))  # far too wide: capped at MAX_OPEN
    src_y = (out[0, 0, :, 1] - CENTRE[1]) / HALF
    assert (src_y[1:] >= src_y[:-1] - 1e-6).all()
    g = MAX_OPEN * NECK_BAND * CHIN
    chin = open_mouth(at((0.0, CHIN + g)), *closed_mouth(), torch.tensor([10.0]))[0]
    assert torch.allclose(chin, at((0.0, CHIN)), atol=1e-5)


def test_the_soft_cap_keeps_small_openings_and_approaches_the_cap_smoothly():
    cap = torch.tensor([0.8])
    small, large = soft_cap(torch.tensor([1e-3]), cap), soft_cap(torch.tensor([0.8, 1.6, 8.0]), cap.expand(3))
    assert small.item() == pytest.approx(1e-3, rel=1e-5)  # slope 1 at 0: speech keeps the jaw gain
    assert large.tolist() == pytest.approx([0.8 * math.tanh(1.0), 0.8 * math.tanh(2.0), 0.8 * math.tanh(10.0)])
    assert soft_cap(torch.tensor([-0.3]), cap).item() == pytest.approx(-0.3)  # a closing is not capped here


def test_closing_an_open_mouth_removes_the_middle_of_its_interior():
    lips, chin = closed_mouth(gap=0.4)  # upper lip at -0.2, lower lip at 0.2
    out, cavity = open_mouth(at((0.0, 0.1), (0.0, 0.5), (0.0, -0.1), (0.0, -0.04)), lips, chin, torch.tensor([-0.1]))
    # the upper half of the interior stays with the upper lip (down to -0.05); below it everything is fetched 0.1
    # lower: the lower lip (0.2) now shows at 0.1, and the interior's middle 0.1 is gone
    assert torch.allclose(out, at((0.0, 0.2), (0.0, 0.6), (0.0, -0.1), (0.0, 0.06)), atol=1e-5)
    assert not cavity.any()


def test_opening_an_open_mouth_parts_its_interior_and_draws_no_teeth_over_it():
    lips, chin = closed_mouth(gap=0.2)  # upper lip at -0.1, lower lip at 0.1: the portrait shows its interior
    asked = 0.3
    cap = MAX_OPEN * NECK_BAND * CHIN
    g0 = cap * math.tanh(asked / cap)
    pts = at((0.0, -0.05), (0.0, g0 / 2), (0.0, g0 + 0.05), (0.0, g0 + 0.3))
    out, cavity, teeth = open_mouth_with_teeth(pts, lips, chin, torch.tensor([asked]))
    # the upper half stays with the upper lip, the lower half moves down with the lower lip, the gap between is
    # the cavity (fetched at the interior's middle)
    assert torch.allclose(out, at((0.0, -0.05), (0.0, 0.0), (0.0, 0.05), (0.0, 0.3)), atol=1e-5)
    assert cavity[0, 0].tolist() == pytest.approx([0, 1, 0, 0], abs=1e-6)
    assert TEETH_OWN <= 0.2 and not teeth.any()  # its own teeth (or dark interior) are kept, none drawn


def test_cavity_colour_is_the_lips_darkened():
    image = torch.full((1, 3, 32, 32), 0.5)  # 0.75 in [0, 1]
    lips, _ = closed_mouth()
    assert torch.allclose(cavity_colour(image, lips), torch.full((1, 3, 1, 1), CAVITY_SHADE * 0.75 * 2 - 1))


def test_upper_teeth_hang_from_the_upper_lip_over_part_of_the_gap():
    asked = 0.3
    cap = MAX_OPEN * NECK_BAND * CHIN
    g0 = cap * math.tanh(asked / cap)  # the gap at the centre
    tall = min(TEETH_SHARE * g0, TEETH_MAX)  # the teeth's height there
    assert tall / 2 > max(FEATHER, 0.04)  # half way down they are clear of both soft edges
    pts = at((0.0, -0.05), (0.0, tall / 2), (0.0, tall + 0.01), (TEETH_REACH + 0.05, 0.02), (0.5, 0.1), (0.0, 0.1))
    w = upper_teeth(pts, *closed_mouth(), torch.tensor([asked]))[0, 0]
    assert w[0].item() == 0.0  # above the upper lip: the lip
    assert w[1].item() == pytest.approx(1 - TEETH_FALL / 2, abs=1e-4)  # half way down: half of the darkening
    assert w[2].item() == 0.0 and w[3].item() == 0.0  # below the teeth, and beside them near the corners
    assert w[4].item() == 0.0 < w[5].item()  # the teeth are shorter away from the centre
    assert not upper_teeth(pts, *closed_mouth(), torch.tensor([0.0])).any()
    assert not upper_teeth(pts, *closed_mouth(), torch.tensor([-0.2])).any()


def test_teeth_colour_is_the_lightest_skin_slightly_desaturated():
    image = torch.zeros(1, 3, 40, 40)
    image[0, :, :, :20] = torch.tensor([-0.6, -0.8, -0.8])[:, None, None]  # dark red on the left
    image[0, :, :, 20:] = torch.tensor([0.6, 0.2, -0.2])[:, None, None]  # light orange on the right
    skin = torch.tensor([[-0.5, 0.0], [-0.5, 0.5], [-0.6, -0.5], [0.5, 0.0], [0.5, 0.5], [0.6, -0.5], [-0.4, 0.1]])
    got = teeth_colour(image, skin[None])  # the three lightest points are the orange ones
    orange = torch.tensor([0.8, 0.6, 0.4])  # in [0, 1]
    want = TEETH_SHADE * (0.75 * orange + 0.25 * orange.mean()) * 2 - 1
    assert torch.allclose(got[0, :, 0, 0], want, atol=1e-5)
    lm = np.zeros((478, 2))
    lm[SKIN_INDEX] = np.arange(len(SKIN_INDEX))[:, None]
    assert (skin_points(lm)[:, 0] == np.arange(len(SKIN_INDEX))).all()


def test_mouth_opening_follows_the_jaw_difference():
    assert mouth_opening(torch.tensor([0.5]), torch.tensor([0.5])).item() == 0.0
    assert mouth_opening(torch.tensor([0.6]), torch.tensor([0.1])).item() > 0
    assert mouth_opening(torch.tensor([0.0]), torch.tensor([0.3])).item() < 0


def test_lip_contours_pick_mediapipe_inner_lips_and_chin():
    lm = np.stack([np.arange(478.0), np.zeros(478)], -1)
    lips = lip_contours(lm)[..., 0].astype(int)
    assert (lips[:, 0] == 78).all() and (lips[:, -1] == 308).all()
    assert 13 in lips[0] and 14 in lips[1] and chin_point(lm)[0] == 152


def test_expression_field_leaves_the_jaw_to_the_mouth_remap():
    cfg = ModelConfig.small().scaled_to_source(64)
    cfg = dataclasses.replace(cfg, appearance=AppearanceConfig(kind="warped", output_size=128, expression_field=True,
                                                               mouth=True))
    own, driven = torch.rand(1, 52), torch.rand(1, 52)
    seen = WarpedAppearance(cfg)._field_beta(driven, own)
    jaw = blendshape_index("jawOpen")
    assert seen[0, jaw] == own[0, jaw]
    others = [i for i in range(52) if i != jaw]
    assert torch.equal(seen[:, others], driven[:, others])


@pytest.mark.skipif(not have_face_models(), reason="MediaPipe and its model files are needed to read jawOpen")
def test_bundled_model_opens_a_real_portraits_mouth():
    """MediaPipe, not the model, judges: the astronaut's output at jawOpen 0.8 reads as an open mouth."""
    from skimage.data import astronaut

    from export3d.evaluation.analysis import FaceAnalyzer
    from export3d.pipeline import Animator

    animator = Animator.from_pretrained()
    assert animator.model.cfg.appearance.mouth
    src = animator.prepare_source(astronaut())
    jaw = blendshape_index("jawOpen")
    beta = np.repeat(src.signals.beta[None], 2, 0)
    beta[1, jaw] = 0.8
    read = FaceAnalyzer(identity=False).read(animator.render(src, beta, src.signals.camera)).beta[:, jaw]
    assert read[1] - read[0] > 0.3, read


def test_smile_pulls_each_corner_out_and_up():
    lips, _ = closed_mouth()
    g = torch.rand(1, 8, 8, 2) * 2 - 1
    assert torch.allclose(pull_corners(g, lips, torch.zeros(1, 2)), g)
    new_right = (-1 - SMILE_OUT, -SMILE_UP)  # the subject's right corner (image left) after a full smile
    out = pull_corners(at(new_right, (0.0, 6.0)), lips, torch.tensor([[1.0, 0.0]]))
    assert torch.allclose(out, at((-1.0, 0.0), (0.0, 6.0)), atol=2e-3)  # fetched from the old corner; far skin still
    both = pull_corners(at(new_right, (1 + SMILE_OUT, -SMILE_UP)), lips, torch.ones(1, 2))
    assert torch.allclose(both, at((-1.0, 0.0), (1.0, 0.0)), atol=2e-3)


def test_negative_smile_moves_the_corners_in_and_down():
    lips, _ = closed_mouth()
    new_right, new_left = (-1 + SMILE_OUT, SMILE_UP), (1 - SMILE_OUT, SMILE_UP)  # a full smile taken away
    out = pull_corners(at(new_right, new_left), lips, -torch.ones(1, 2))
    # the corners end 1.5 half widths apart, so each also feels the other's falloff (weight 0.1: 0.03 half widths)
    assert torch.allclose(out, at((-1.0, 0.0), (1.0, 0.0)), atol=0.035 * HALF)
    assert not torch.allclose(out, at(new_right, new_left), atol=0.2 * HALF)  # the corners did move
    half = pull_corners(at((-1 + SMILE_OUT / 2, SMILE_UP / 2), (0.0, 6.0)), lips, torch.tensor([[-0.5, 0.0]]))
    assert torch.allclose(half, at((-1.0, 0.0), (0.0, 6.0)), atol=2e-3)


@pytest.mark.skipif(not have_face_models(), reason="MediaPipe and its model files are needed to read mouthSmile")
def test_bundled_model_takes_a_smile_away():
    """The astronaut smiles (mouthSmile ~0.75); driven at mouthSmile 0, MediaPipe reads a much smaller smile."""
    from skimage.data import astronaut

    from export3d.evaluation.analysis import FaceAnalyzer
    from export3d.pipeline import Animator

    animator = Animator.from_pretrained()
    src = animator.prepare_source(astronaut())
    smile = [blendshape_index("mouthSmileLeft"), blendshape_index("mouthSmileRight")]
    assert src.signals.beta[smile].mean() > 0.5  # the premise: the portrait smiles
    beta = np.repeat(src.signals.beta[None], 2, 0)
    beta[1, smile] = 0.0
    read = FaceAnalyzer(identity=False).read(animator.render(src, beta, src.signals.camera)).beta[:, smile].mean(1)
    assert read[0] - read[1] > 0.3, read
