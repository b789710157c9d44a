"""export3d.pipeline.expression: absolute and relative transfer, strength and clipping, by hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from export3d.pipeline.expression import ExpressionSettings, transfer_expression


def beta(**values) -> np.ndarray:
    """A (52,) vector that is 0 except ``i<index>=value``."""
    out = np.zeros(52, np.float32)
    for key, value in values.items():
        out[int(key[1:])] = value
    return out


DRIVER = np.stack([beta(i1=0.2, i5=0.6), beta(i1=0.5, i5=0.9), beta(i1=0.1, i5=0.0, i9=0.4)])  # (3, 52)
SOURCE = beta(i1=0.3, i5=0.7, i9=0.1)


def test_absolute_is_strength_times_driver_clipped():
    out = transfer_expression(DRIVER, SOURCE, ExpressionSettings(strength=1.5))
    assert out.shape == (3, 52) and out.dtype == np.float32
    assert out[:, 1] == pytest.approx([0.3, 0.75, 0.15])
    assert out[:, 5] == pytest.approx([0.9, 1.0, 0.0])  # 1.35 clipped to 1
    assert out[:, 9] == pytest.approx([0.0, 0.0, 0.6])
    assert np.array_equal(transfer_expression(DRIVER, SOURCE), DRIVER)  # default: absolute, strength 1
    assert np.array_equal(transfer_expression(DRIVER[0], SOURCE), DRIVER[:1])  # (52,) -> (1, 52)


def test_relative_adds_the_change_from_the_first_frame():
    out = transfer_expression(DRIVER, SOURCE, ExpressionSettings(strength=2.0, relative=True))
    # source + 2 * (driver - driver[0])
    assert out[:, 1] == pytest.approx([0.3, 0.9, 0.1])
    assert out[:, 5] == pytest.approx([0.7, 1.0, 0.0])  # 1.3 -> 1, -0.5 -> 0
    assert out[:, 9] == pytest.approx([0.1, 0.1, 0.9])
    assert out[:, 20] == pytest.approx([0.0, 0.0, 0.0])
    ref = beta(i1=0.5, i5=0.5)
    out = transfer_expression(DRIVER, SOURCE, ExpressionSettings(strength=1.0, relative=True), reference_beta=ref)
    assert out[:, 1] == pytest.approx([0.0, 0.3, 0.0])  # 0.3 + (0.2 - 0.5), 0.3 + 0, 0.3 - 0.4 -> 0
    assert out[:, 5] == pytest.approx([0.8, 1.0, 0.2])


def test_strength_zero():
    assert not transfer_expression(DRIVER, SOURCE, ExpressionSettings(strength=0.0)).any()
    out = transfer_expression(DRIVER, SOURCE, ExpressionSettings(strength=0.0, relative=True))
    assert np.array_equal(out, np.tile(SOURCE, (3, 1)))


def test_relative_with_one_image_gives_the_source_expression():
    out = transfer_expression(DRIVER[1], SOURCE, ExpressionSettings(strength=1.7, relative=True))
    assert np.allclose(out, SOURCE[None])


def test_results_stay_in_unit_range_and_bad_strength_is_refused():
    rng = np.random.default_rng(0)
    drv, src = rng.random((20, 52)), rng.random(52)
    for settings in (ExpressionSettings(2.0), ExpressionSettings(2.0, relative=True)):
        out = transfer_expression(drv, src, settings)
        assert out.min() >= 0 and out.max() <= 1 and (out == 1).any()
    with pytest.raises(ValueError, match="strength"):
        ExpressionSettings(strength=-0.5)


def test_auto_is_relative_for_videos_and_absolute_for_images():
    from export3d.demo import expression_settings

    auto = ExpressionSettings(strength=0.5)
    assert auto.relative is None and auto.resolved(video=True) == ExpressionSettings(0.5, True, ("jawOpen",))
    assert auto.resolved(video=False) == ExpressionSettings(0.5, False)
    assert ExpressionSettings(1.0, False).resolved(video=True).relative is False  # an explicit choice stays
    assert [expression_settings(1, m).relative for m in ("Auto", "Absolute", "Relative", None)] == [None, False,
                                                                                                   True, None]
    own, drv = np.full(52, 0.3, np.float32), np.linspace(0, 1, 104, dtype=np.float32).reshape(2, 52)
    video = transfer_expression(drv, own, auto.resolved(video=True))
    want = np.clip(own + 0.5 * (drv - drv[0]), 0, 1)  # starts at the portrait's own expression ...
    want[:, 25] = 0.5 * drv[:, 25]  # ... but copies the jaw (jawOpen is index 25 of MediaPipe's 52)
    np.testing.assert_allclose(video, want, atol=1e-6)
