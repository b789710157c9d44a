"""The gaze remap (``rendering/gaze.py``) against its definition on a hand-made eye, and on a real portrait judged
by MediaPipe's iris landmarks."""

import numpy as np
import pytest
import torch
from conftest import have_face_models

from export3d.blendshapes import blendshape_index
from export3d.face.part_contours import iris_centres
from export3d.rendering.gaze import GAZE_SHIFT, MAX_CENTRE, gaze_shift, move_irises

HALF = 0.1  #: half the eye's width, grid units
CENTRE = torch.tensor([0.2, -0.1])
OPEN = 0.5  #: the opening's half height at the eye's middle, half eye-widths


def to_grid(x, y) -> torch.Tensor:
    x, y = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
    return torch.stack([x, y], -1) * HALF + CENTRE


def lids() -> torch.Tensor:
    """``(1, 2, 2, 9, 2)``: the same lens-shaped eye twice, upper lid ``-OPEN (1 - x^2)``, lower ``+OPEN (1 - x^2)``."""
    x = torch.linspace(-1.0, 1.0, 9)
    eye = torch.stack([to_grid(x, -OPEN * (1 - x**2)), to_grid(x, OPEN * (1 - x**2))])
    return torch.stack([eye, eye])[None]


def remap(points, iris_x: float, shift: float) -> torch.Tensor:
    """Frame coordinates ``(N, 2)`` fetched by output points ``(N, 2)`` (frame units) when the first eye's iris at
    ``iris_x`` moves by ``shift``."""
    p = torch.as_tensor(points, dtype=torch.float32)
    grid = to_grid(p[:, 0], p[:, 1])[None, None]
    irises = to_grid(torch.tensor([iris_x, iris_x]), torch.zeros(2))[None]
    out = move_irises(grid, lids(), irises, torch.tensor([[shift, 0.0]]))[0, 0]
    return (out - CENTRE) / HALF


def test_zero_shift_is_the_identity():
    g = torch.rand(1, 16, 16, 2) * 2 - 1
    assert torch.equal(move_irises(g, lids(), torch.zeros(1, 2, 2), torch.zeros(1, 2)), g)


def test_the_iris_moves_and_the_rows_follow_piecewise_linearly():
    c, d = -0.5, 0.5  # both on knots of the piecewise-linear lid contours, where the opening differs
    t = c + d
    x = -0.5  # left of the moved centre: -1 + (x + 1) (c + 1) / (t + 1)
    want_x = -1 + (x + 1) * (c + 1) / (t + 1)
    got = remap([[t, 0.0], [t, 0.2], [x, 0.0], [0.6, 0.0]], c, d)
    assert torch.allclose(got[0], torch.tensor([c, 0.0]), atol=1e-5)  # the iris centre comes from where it was
    v = (0.2 + OPEN * (1 - t**2)) / (2 * OPEN * (1 - t**2))  # the same relative height, at the fetched x
    assert torch.allclose(got[1], torch.tensor([c, -OPEN * (1 - c**2) + v * 2 * OPEN * (1 - c**2)]), atol=1e-5)
    assert torch.allclose(got[2, 0], torch.tensor(want_x), atol=1e-5)
    assert torch.allclose(got[3, 0], torch.tensor(1 - (1 - 0.6) * (1 - c) / (1 - t)), atol=1e-5)


def test_outside_the_opening_and_the_corners_stay():
    outside = [[0.0, -0.6], [0.0, 0.55], [0.5, -0.5], [-1.2, 0.0], [1.05, 0.0], [0.9, 0.2]]
    assert torch.allclose(remap(outside, 0.0, 0.3), torch.tensor(outside), atol=1e-6)


def test_rows_stay_one_to_one_and_the_iris_stays_inside():
    xs = torch.linspace(-0.99, 0.99, 200)
    for c, d in ((0.0, 1.0), (0.2, -2.0), (-0.3, 0.45)):
        got = remap(torch.stack([xs, torch.zeros_like(xs)], -1), c, d)
        assert (got[:, 0].diff() > 0).all(), (c, d)
    far = remap([[MAX_CENTRE, 0.0]], 0.0, 5.0)  # asked to move far: stops at MAX_CENTRE
    assert torch.allclose(far, torch.tensor([[0.0, 0.0]]), atol=1e-5)


def test_gaze_shift_from_scores():
    assert torch.allclose(gaze_shift(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 0.5]])),
                          torch.tensor([[GAZE_SHIFT, -0.5 * GAZE_SHIFT]]))


def test_iris_centres_pick_mediapipe_iris_landmarks():
    lm = np.stack([np.arange(478.0), np.zeros(478)], -1)
    assert iris_centres(lm)[:, 0].tolist() == [468.0, 473.0]


@pytest.mark.skipif(not have_face_models(), reason="MediaPipe and its model files are needed to find the irises")
def test_bundled_model_turns_a_real_portraits_eyes():
    """MediaPipe's iris landmarks, not the model, judge: asked to look to her left (eyeLookOutLeft and
    eyeLookInRight at 1), the astronaut's irises move towards the image's right, in eye widths."""
    from skimage.data import astronaut

    from export3d.pipeline import Animator

    animator = Animator.from_pretrained()
    assert animator.model.cfg.appearance.gaze
    src = animator.prepare_source(astronaut())
    beta = np.repeat(src.signals.beta[None], 2, 0)
    beta[1, [blendshape_index("eyeLookOutLeft"), blendshape_index("eyeLookInRight")]] = 1.0
    beta[1, [blendshape_index("eyeLookInLeft"), blendshape_index("eyeLookOutRight")]] = 0.0
    where = []
    for image in animator.render(src, beta, src.signals.camera):
        lm = animator.extractor.extract(image).landmarks[:, :2]
        corners = (lm[[33, 263]] + lm[[133, 362]]) / 2
        width = np.linalg.norm(lm[[33, 263]] - lm[[133, 362]], axis=-1)
        where.append(((iris_centres(lm)[:, 0] - corners[:, 0]) / width).mean())
    assert where[1] - where[0] > 0.05, where  # asked: 0.19 eye widths; MediaPipe reads 0.09 (and 0 without gaze)
