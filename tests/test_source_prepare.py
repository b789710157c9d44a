"""``pipeline/source.py``: the per-call extractor view behind ``prepare_source``'s crop controls.

Truths used: the view multiplies the crop's scale and adds the offsets to the extractor's own settings, leaves the
shared extractor untouched, is the extractor itself when nothing changes, and refuses a scale that is not > 0.
"""

from __future__ import annotations

import math

import pytest

from export3d.face.extractor import ExtractorSettings, FaceExtractor
from export3d.pipeline.source import extractor_view


def test_the_view_composes_with_the_extractors_own_crop_settings():
    base = FaceExtractor(ExtractorSettings(crop_scale=1.2, crop_offset=(0.05, -0.1)))
    view = extractor_view(base, 1.5, (0.1, 0.2))
    assert view is not base and view.settings.crop_scale == pytest.approx(1.8)
    assert view.settings.crop_offset == pytest.approx((0.15, 0.1))
    assert base.settings.crop_scale == 1.2 and base.settings.crop_offset == (0.05, -0.1)  # the shared one untouched
    assert extractor_view(base, 1.0, (0.0, 0.0)) is base


@pytest.mark.parametrize("scale", [0.0, -1.0, math.nan, math.inf])
def test_a_crop_scale_that_is_not_positive_and_finite_is_refused(scale):
    with pytest.raises(ValueError, match="crop_scale must be > 0"):
        extractor_view(FaceExtractor(), scale, (0.0, 0.0))
