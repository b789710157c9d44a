"""The ranges of the demo's controls, and the checks every endpoint applies to its arguments.

The page's sliders and radios are built from these ranges, and the handlers check their arguments against the
same ranges, so that a client of the API (``gradio_client``, curl) gets the page's limits and one plain sentence
(a ``DemoMessage``) instead of a server error.
"""

from __future__ import annotations

import math

from .inputs import DemoMessage

CROP_SCALE = (0.8, 1.3)  #: "Crop scale" slider
CROP_OFFSET = (-0.2, 0.2)  #: "Crop offset x / y" sliders, fractions of the crop side
STRENGTH = (0.0, 2.0)  #: "Expression strength"
SMOOTHING = (0.0, 1.0)  #: "Smoothing"
EXPRESSION_MODES = ("Auto", "Absolute", "Relative")  #: "Expression transfer" radio


def number(value, bounds: tuple[float, float], what: str) -> float:
    """``value`` as a float within ``bounds`` (inclusive), else a ``DemoMessage`` naming ``what`` and the range."""
    lo, hi = bounds
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = math.nan
    if isinstance(value, bool) or not (math.isfinite(x) and lo <= x <= hi):
        raise DemoMessage(f"{what} must be a number from {lo:g} to {hi:g}; got {value!r}.")
    return x


def flag(value, what: str) -> bool:
    """A checkbox value: ``True``/``False`` (also 0/1, as JSON clients send them), else a ``DemoMessage``."""
    if value in (True, False, 0, 1):
        return bool(value)
    raise DemoMessage(f"{what} must be true or false; got {value!r}.")


def choice(value, options: tuple[str, ...], what: str) -> str:
    """One of ``options`` (case-insensitive), returned as spelt there, else a ``DemoMessage`` listing them."""
    for option in options:
        if isinstance(value, str) and value.strip().lower() == option.lower():
            return option
    raise DemoMessage(f"{what} must be one of {', '.join(options)}; got {value!r}.")
