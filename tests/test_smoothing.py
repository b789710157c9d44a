"""One Euro filter, the strength mapping, sequence smoothing and gap filling."""

from __future__ import annotations

import math

import numpy as np
import pytest

from export3d.face.smoothing import OneEuroFilter, interpolate_missing, smooth_sequence, smoothing_params

FPS = 30.0


def jitter(x: np.ndarray) -> float:
    """Mean absolute second difference along time."""
    return float(np.abs(np.diff(x, n=2, axis=0)).mean())


def noisy_sine(T: int = 300, noise: float = 0.05, seed: int = 0):
    t = np.arange(T) / FPS
    clean = np.sin(2 * np.pi * 0.5 * t)
    return clean, clean + np.random.default_rng(seed).normal(0.0, noise, T)


def best_lag_rmse(y: np.ndarray, clean: np.ndarray, skip: int = 30, max_lag: int = 15) -> tuple[int, float]:
    errs = [float(np.sqrt(np.mean((y[skip + k :] - clean[skip : len(clean) - k]) ** 2))) for k in range(max_lag)]
    k = int(np.argmin(errs))
    return k, errs[k]


def first_index_within(y: np.ndarray, target: float, tol: float) -> int:
    """First frame from which y stays within tol of target."""
    outside = np.flatnonzero(np.abs(y - target) > tol)
    return 0 if outside.size == 0 else int(outside[-1]) + 1


def test_first_sample_passes_through_and_constant_stays_constant():
    filt = OneEuroFilter(FPS, min_cutoff=0.5, beta=0.1)
    x = np.linspace(-1, 1, 52)
    for _ in range(50):
        np.testing.assert_allclose(filt(x), x, atol=1e-12)
    const = np.full((40, 478, 3), 0.3)
    np.testing.assert_allclose(smooth_sequence(const, FPS, 1.0), const, atol=1e-12)


def test_strength_zero_is_identity():
    assert smoothing_params(0.0) == (math.inf, 0.0)
    _, noisy = noisy_sine()
    out = smooth_sequence(noisy, FPS, 0.0)
    np.testing.assert_array_equal(out, noisy)
    assert out is not noisy
    f32 = noisy.astype(np.float32).reshape(-1, 1)
    assert smooth_sequence(f32, FPS, 0.0).dtype == np.float32
    # An infinite min_cutoff makes the filter itself the identity too.
    filt = OneEuroFilter(FPS, min_cutoff=math.inf)
    np.testing.assert_array_equal([filt(v) for v in noisy], noisy)


def test_strength_mapping_is_monotonic():
    params = [smoothing_params(s) for s in (0.01, 0.25, 0.5, 0.75, 1.0)]
    cutoffs = [p[0] for p in params]
    betas = [p[1] for p in params]
    assert cutoffs == sorted(cutoffs, reverse=True) and betas == sorted(betas, reverse=True)
    assert smoothing_params(1.0) == pytest.approx((0.3, 0.03))
    assert smoothing_params(5.0) == smoothing_params(1.0)
    with pytest.raises(ValueError):
        smoothing_params(float("nan"))


def test_noisy_sine_jitter_drops_and_signal_is_kept():
    clean, noisy = noisy_sine()
    out = smooth_sequence(noisy, FPS, 0.5)
    assert jitter(noisy) / jitter(out) > 3.0
    lag, rmse = best_lag_rmse(out, clean)
    assert lag <= 3  # at most 0.1 s behind
    assert rmse < 0.04  # closer to the clean sine than the noisy input (sigma 0.05)
    _, raw_rmse = best_lag_rmse(noisy, clean)
    assert rmse < raw_rmse


def test_vectorised_over_shapes_matches_scalar_filters():
    rng = np.random.default_rng(1)
    seq = np.cumsum(rng.normal(0, 0.05, (60, 4, 3)), axis=0)
    out = smooth_sequence(seq, FPS, 0.6)
    assert out.shape == seq.shape
    mc, beta = smoothing_params(0.6)
    for idx in [(0, 0), (2, 1), (3, 2)]:
        f = OneEuroFilter(FPS, mc, beta)
        single = np.array([f(v) for v in seq[:, idx[0], idx[1]]])
        np.testing.assert_allclose(out[:, idx[0], idx[1]], single, atol=1e-12)


def test_step_converges_to_the_new_value():
    x = np.r_[np.zeros(10), np.ones(140)]
    out = smooth_sequence(x, FPS, 1.0)
    assert np.all(np.diff(out) >= -1e-12) and out.max() <= 1.0 + 1e-12  # no overshoot
    assert out[10] < 0.5  # strongly smoothed at the step...
    assert abs(out[-1] - 1.0) < 1e-3  # ...but it gets there


def test_beta_makes_fast_motion_lag_less():
    t = np.arange(120) / FPS
    fast = np.clip((t - 1.0) * 5.0, 0, 1)  # 0 -> 1 in 0.2 s
    no_beta = OneEuroFilter(FPS, min_cutoff=0.5, beta=0.0)
    with_beta = OneEuroFilter(FPS, min_cutoff=0.5, beta=1.0)
    y0 = np.array([no_beta(v) for v in fast])
    y1 = np.array([with_beta(v) for v in fast])
    arrive0 = first_index_within(y0, 1.0, 0.05)
    arrive1 = first_index_within(y1, 1.0, 0.05)
    assert arrive1 < arrive0 - 10
    # Speed opens the filter: with beta the fast ramp is tracked more closely (relative to its
    # size) than a slow one.
    slow = np.clip((t - 1.0) * 0.5, 0, 1) * 0.1  # 20x slower
    f = OneEuroFilter(FPS, min_cutoff=0.5, beta=1.0)
    ys = np.array([f(v) for v in slow])
    ramp = slice(31, 36)  # during the fast ramp, both signals are moving
    lag_fast = np.mean((fast[ramp] - y1[ramp]) / 5.0)  # lag in seconds = error / speed
    lag_slow = np.mean((slow[ramp] - ys[ramp]) / 0.05)
    assert lag_fast < 0.6 * lag_slow


def test_timestamps_and_reset():
    f = OneEuroFilter(FPS, min_cutoff=1.0)
    f(np.zeros(3), t=0.0)
    a = f(np.ones(3), t=1 / FPS)
    g = OneEuroFilter(FPS, min_cutoff=1.0)
    g(np.zeros(3), t=0.0)
    b = g(np.ones(3), t=10 / FPS)  # a longer gap lets the filter move further
    assert np.all(b > a)
    with pytest.raises(ValueError, match="shape"):
        f(np.ones(4))
    f.reset()
    np.testing.assert_array_equal(f(np.ones(4)), np.ones(4))
    ts = np.arange(20) / FPS
    seq = np.linspace(0, 1, 20)
    np.testing.assert_allclose(smooth_sequence(seq, FPS, 0.5, timestamps=ts), smooth_sequence(seq, FPS, 0.5))


def test_interpolate_missing_exact_values():
    vals = [None, np.array([1.0, 2.0]), None, None, np.array([4.0, 8.0]), None, None]
    arr, filled = interpolate_missing(vals)
    np.testing.assert_allclose(
        arr, [[1, 2], [1, 2], [2, 4], [3, 6], [4, 8], [4, 8], [4, 8]], atol=1e-12
    )
    np.testing.assert_array_equal(filled, [True, False, True, True, False, True, True])
    arr, filled = interpolate_missing([np.zeros((2, 3)), None, np.ones((2, 3)) * 4])
    np.testing.assert_allclose(arr[1], np.full((2, 3), 2.0))
    assert not interpolate_missing([np.ones(2)])[1].any()


def test_interpolate_missing_errors():
    with pytest.raises(ValueError, match="No valid"):
        interpolate_missing([None, None])
    with pytest.raises(ValueError, match="No valid"):
        interpolate_missing([])
    with pytest.raises(ValueError, match="shape"):
        interpolate_missing([np.zeros(2), None, np.zeros(3)])
