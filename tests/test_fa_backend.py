"""The optional face-alignment backend: what can be checked offline."""

from __future__ import annotations

import urllib.error

import numpy as np
import pytest

from export3d.errors import ModelFileError
from export3d.face.crop import crop_box_from_points
from export3d.face.points5 import points5_from_68

fa = pytest.importorskip("face_alignment", reason="face-alignment not installed (requirements-models.txt)")


def test_missing_weights_offline_give_a_clear_error(tmp_path, monkeypatch):
    import torch.hub

    from export3d.face.fa_backend import FaceAlignmentLandmarks

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no cached weights

    def offline(*args, **kwargs):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(ModelFileError, match="TORCH_HOME"):
        FaceAlignmentLandmarks()


def test_crop_from_68_points_follows_the_project_convention():
    from export3d.face.fa_backend import FaceAlignmentLandmarks

    lm = np.zeros((68, 2), np.float32)
    lm[36:42], lm[42:48] = (40.0, 50.0), (60.0, 50.0)  # subject's right eye on the image left
    lm[48], lm[54], lm[30] = (42.0, 70.0), (58.0, 70.0), (50.0, 60.0)
    box = FaceAlignmentLandmarks.crop_box(lm)
    assert box == crop_box_from_points(points5_from_68(lm))
    # FFHQ rule: centre = eye middle + 0.1 * eye-to-mouth = (50, 52); side = 2 * max(2 * 20, 1.8 * 20) = 80
    assert (box.cx, box.cy, box.size) == pytest.approx((50.0, 52.0, 80.0))
