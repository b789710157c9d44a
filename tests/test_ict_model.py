"""ICT-FaceKit face model: linearity, localised expressions, the world transform."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import needs_ict

from export3d.synthetic.ict_model import ICT_TO_WORLD_SCALE, ICTFaceModel, ict_to_world, world_to_ict

pytestmark = needs_ict


@pytest.fixture(scope="module")
def model() -> ICTFaceModel:
    return ICTFaceModel()


def test_missing_file_gives_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="EXPORT3D_ICT_FACEKIT"):
        ICTFaceModel(tmp_path / "nope.npz")


def test_identity_and_expression_are_linear(model):
    g = torch.Generator().manual_seed(0)
    c1, c2 = torch.randn(1, 100, generator=g), torch.randn(1, 100, generator=g)
    w1, w2 = torch.rand(1, 57, generator=g), torch.rand(1, 57, generator=g)
    n = model.vertices()
    both = model.vertices(c1 + c2, w1 + w2) - n
    parts = (model.vertices(c1) - n) + (model.vertices(c2) - n) + (model.vertices(None, w1) - n) + \
        (model.vertices(None, w2) - n)
    torch.testing.assert_close(both, parts, atol=1e-4, rtol=0)
    torch.testing.assert_close(model.vertices(2 * c1) - n, 2 * (model.vertices(c1) - n), atol=1e-4, rtol=0)


def test_jaw_open_moves_the_lower_face_and_not_the_skull(model):
    open_ = model.vertices(None, model.expression_vector(jawOpen=1.0)[None])[0]
    neutral = model.vertices()[0]
    moved = (open_ - neutral).norm(dim=-1)
    chin = model.landmark_indices[8]
    assert float(open_[chin, 1] - neutral[chin, 1]) < -1.0  # the chin drops by more than 1 cm
    skull = model.vertex_mask("head_neck") & (neutral[:, 1] > 8.0)
    assert int(skull.sum()) > 100 and float(moved[skull].max()) < 1e-3


def test_left_means_the_subjects_left_which_is_plus_x(model):
    blink = model.vertices(None, model.expression_vector(eyeBlink_L=1.0)[None])[0] - model.vertices()[0]
    moved = blink.norm(dim=-1) > 0.3
    assert float(model.neutral[moved, 0].mean()) > 2.0  # the subject's left eye is at +x
    lm = model.landmarks(model.vertices())[0]
    assert float(lm[42:48, 0].mean()) > 0 > float(lm[36:42, 0].mean())  # Multi-PIE 42-47 = subject's left eye


def test_world_transform_frames_the_head_like_an_ffhq_crop(model):
    lm = ict_to_world(model.landmarks(model.vertices())[0])
    eye_l, eye_r = lm[42:48].mean(0), lm[36:42].mean(0)
    assert float((eye_l - eye_r).norm()) == pytest.approx(6.51 * ICT_TO_WORLD_SCALE, rel=0.01)
    # FFHQ crop centre (eye midpoint + 0.1 eye-to-mouth) on the frontal optical axis (x = y = 0)
    mouth = lm[48:60].mean(0)
    centre = (eye_l + eye_r) / 2 + 0.1 * (mouth - (eye_l + eye_r) / 2)
    assert abs(float(centre[0])) < 1e-3 and abs(float(centre[1])) < 0.01
    verts = ict_to_world(model.vertices()[0])
    face = verts[model.vertex_mask("face")]
    assert float(face.abs().max()) < 0.5  # the face lies inside the tri-plane box
    torch.testing.assert_close(world_to_ict(verts), model.vertices()[0], atol=1e-4, rtol=0)
    assert np.allclose(world_to_ict(ict_to_world(np.ones((2, 3), np.float32))), 1.0, atol=1e-5)
