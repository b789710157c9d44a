"""Temporal smoothing of per-frame face tracks (blendshapes, cameras, landmarks).

The **One Euro filter** (Casiez, Roussel and Vogel, "1 Euro Filter: A Simple Speed-based
Low-pass Filter for Noisy Input in Interactive Systems", CHI 2012) is a first-order
low-pass filter whose cutoff frequency rises with the signal's speed: slow movements
(where jitter is most visible) are smoothed strongly, fast movements follow with little lag.
For each new sample ``x`` at sampling period ``Te`` (seconds):

    alpha(fc)  = 1 / (1 + tau / Te),   tau = 1 / (2 pi fc)
    dx         = (x - x_hat_prev) / Te                       # speed estimate
    dx_hat     = alpha(d_cutoff) * dx + (1 - alpha(d_cutoff)) * dx_hat_prev
    fc         = min_cutoff + beta * |dx_hat|                # adaptive cutoff (Hz)
    x_hat      = alpha(fc) * x + (1 - alpha(fc)) * x_hat_prev

Everything is element-wise, so one filter smooths a whole array per frame (52 blendshapes,
a 25-number camera, 478x3 landmarks...) with an independent cutoff per element.

``min_cutoff`` (Hz) sets the smoothing at rest; ``beta`` (1 / signal unit) sets how much
speed opens the filter, so it depends on the signal's scale: the defaults of
:func:`smoothing_params` assume signals of roughly unit range (blendshape scores in [0, 1],
normalised coordinates, camera matrices).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: ``min_cutoff`` (Hz) at the weakest (strength -> 0) and strongest (strength = 1) smoothing.
MIN_CUTOFF_LIGHT = 8.0
MIN_CUTOFF_STRONG = 0.3
#: ``beta`` at the weakest and strongest smoothing.
BETA_LIGHT = 0.3
BETA_STRONG = 0.03


def _alpha(cutoff, te: float):
    """Smoothing factor of an exponential low-pass with ``cutoff`` (Hz, scalar or array)."""
    tau = 1.0 / (2.0 * np.pi * np.asarray(cutoff, dtype=np.float64))
    return 1.0 / (1.0 + tau / te)


class OneEuroFilter:
    """Streaming One Euro filter over arrays of any (fixed) shape.

    ``freq``: the sampling rate in Hz (frames per second), used when ``t`` is not given.
    ``min_cutoff``: cutoff (Hz) for a still signal; lower = smoother, more lag.
    ``beta``: speed coefficient; higher = less lag on fast motion (and less smoothing there).
    ``d_cutoff``: cutoff (Hz) of the speed estimate.

    ``filt(x, t=None)`` returns the smoothed value for sample ``x``. With timestamps ``t``
    (seconds) the sampling period is ``t - t_prev`` (variable frame rate); a non-increasing
    timestamp falls back to ``1 / freq``. The first sample is returned unchanged.
    ``min_cutoff = inf`` makes the filter the identity.
    """

    def __init__(self, freq: float, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0):
        if not freq > 0:
            raise ValueError(f"freq must be > 0, got {freq}")
        if not min_cutoff > 0 or not d_cutoff > 0:
            raise ValueError(f"cutoffs must be > 0, got min_cutoff={min_cutoff}, d_cutoff={d_cutoff}")
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self.freq = float(freq)
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self.reset()

    def reset(self) -> None:
        """Forget the history: the next sample starts a new track."""
        self._x_hat: np.ndarray | None = None
        self._dx_hat: np.ndarray | None = None
        self._t_prev: float | None = None

    def __call__(self, x, t: float | None = None) -> np.ndarray:
        x = np.array(x, dtype=np.float64)  # a copy: callers may reuse their buffer
        if self._x_hat is None:
            self._x_hat = x
            self._dx_hat = np.zeros_like(x)
            self._t_prev = t
            return x.copy()
        if x.shape != self._x_hat.shape:
            raise ValueError(f"sample shape changed from {self._x_hat.shape} to {x.shape}; call reset() first")
        te = 1.0 / self.freq
        if t is not None and self._t_prev is not None and t > self._t_prev:
            te = float(t - self._t_prev)
        self._t_prev = t
        dx = (x - self._x_hat) / te
        a_d = _alpha(self.d_cutoff, te)
        self._dx_hat = a_d * dx + (1.0 - a_d) * self._dx_hat
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx_hat)
        a = _alpha(cutoff, te)
        self._x_hat = a * x + (1.0 - a) * self._x_hat
        return self._x_hat.copy()


def smoothing_params(strength: float) -> tuple[float, float]:
    """User-facing smoothing ``strength`` in [0, 1] -> One Euro ``(min_cutoff, beta)``.

    - ``strength <= 0``: off, ``(inf, 0.0)`` (the filter is the identity).
    - ``0 < strength <= 1``: ``min_cutoff`` falls geometrically from 8 Hz (barely smoothed at
      25-30 fps) to 0.3 Hz (strong: about 0.5 s time constant at rest),
      ``min_cutoff = 8 * (0.3 / 8) ** strength``; ``beta`` falls linearly from 0.3 to 0.03,
      so light smoothing mostly removes jitter while staying responsive, and strong smoothing
      also calms down fast motion. ``strength = 0.5`` gives about ``(1.55 Hz, 0.165)``: on a
      unit sine at 0.5 Hz sampled at 30 fps with noise sigma 0.05 it cuts the frame-to-frame
      jitter about 4x with a lag of 2 frames.

    ``beta`` assumes signals of roughly unit range (see the module docstring).
    Values above 1 are clamped to 1.
    """
    s = float(strength)
    if math.isnan(s):
        raise ValueError("strength must be a number in [0, 1]")
    if s <= 0.0:
        return math.inf, 0.0
    s = min(s, 1.0)
    min_cutoff = MIN_CUTOFF_LIGHT * (MIN_CUTOFF_STRONG / MIN_CUTOFF_LIGHT) ** s
    beta = BETA_LIGHT + (BETA_STRONG - BETA_LIGHT) * s
    return min_cutoff, beta


def smooth_sequence(
    values,
    fps: float,
    strength: float,
    timestamps: Sequence[float] | np.ndarray | None = None,
    d_cutoff: float = 1.0,
) -> np.ndarray:
    """Smooth a whole sequence ``(T, ...)`` frame by frame with a One Euro filter.

    ``strength`` as in :func:`smoothing_params` (0 returns an unchanged copy). ``timestamps``
    (seconds, length T) are optional, for variable frame rates. The result has the input's
    shape and floating dtype (integers become float64).
    """
    arr = np.asarray(values)
    out_dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float64
    if arr.ndim == 0:
        raise ValueError("values must have a time axis: shape (T, ...)")
    if timestamps is not None and len(timestamps) != len(arr):
        raise ValueError(f"got {len(timestamps)} timestamps for {len(arr)} frames")
    min_cutoff, beta = smoothing_params(strength)
    if math.isinf(min_cutoff):
        return arr.astype(out_dtype, copy=True)
    filt = OneEuroFilter(fps, min_cutoff=min_cutoff, beta=beta, d_cutoff=d_cutoff)
    out = np.empty(arr.shape, dtype=np.float64)
    for i in range(len(arr)):
        out[i] = filt(arr[i], None if timestamps is None else float(timestamps[i]))
    return out.astype(out_dtype, copy=False)


def interpolate_missing(values: Sequence[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
    """Fill ``None`` entries (frames where the face was lost) of a per-frame list.

    Gaps between two valid frames are interpolated linearly (per element); leading and
    trailing gaps hold the first / last valid value. Returns ``(array (T, ...) float64,
    filled_mask (T,) bool)`` with ``filled_mask[i]`` True where frame ``i`` was filled in.
    Raises ``ValueError`` when every entry is None (nothing to interpolate from) or when the
    valid entries do not all have the same shape.
    """
    n = len(values)
    valid = np.array([v is not None for v in values], dtype=bool)
    if n == 0 or not valid.any():
        raise ValueError("No valid frames to interpolate from (the face was not found in any frame).")
    idx = np.flatnonzero(valid)
    shape = np.shape(values[idx[0]])
    for i in idx:
        if np.shape(values[i]) != shape:
            raise ValueError(f"frame {i} has shape {np.shape(values[i])}, expected {shape}")
    out = np.empty((n, *shape), dtype=np.float64)
    out[idx] = np.stack([np.asarray(values[i], dtype=np.float64) for i in idx])
    missing = np.flatnonzero(~valid)
    if missing.size:
        # Index of the next valid frame at or after each missing one, and the previous one.
        pos = np.searchsorted(idx, missing)
        nxt = idx[np.minimum(pos, idx.size - 1)]
        prv = idx[np.maximum(pos - 1, 0)]  # both clamp to the first / last valid frame at the ends
        span = np.maximum(nxt - prv, 1)
        w = np.where(nxt == prv, 0.0, (missing - prv) / span)
        w = w.reshape((-1,) + (1,) * len(shape))
        out[missing] = (1.0 - w) * out[prv] + w * out[nxt]
    return out, ~valid
