"""The demo's argument checks (``export3d/demo/checks.py``): the page's ranges, one sentence otherwise."""

from __future__ import annotations

import math

import pytest

from export3d.demo.checks import choice, flag, number
from export3d.demo.inputs import DemoMessage


def test_number_accepts_the_range_and_names_it_otherwise():
    assert number(0.8, (0.8, 1.3), "Crop scale") == 0.8 and number("1.3", (0.8, 1.3), "Crop scale") == 1.3
    for bad in (0.79, 1.31, -1, "x", None, math.nan, math.inf, True):
        with pytest.raises(DemoMessage, match=r"^Crop scale must be a number from 0.8 to 1.3; got "):
            number(bad, (0.8, 1.3), "Crop scale")


def test_flag_and_choice():
    assert flag(1, "Depth") is True and flag(False, "Depth") is False
    with pytest.raises(DemoMessage, match="Depth must be true or false; got 'yes'"):
        flag("yes", "Depth")
    assert choice(" relative ", ("Auto", "Absolute", "Relative"), "Mode") == "Relative"
    with pytest.raises(DemoMessage, match="Mode must be one of Auto, Absolute, Relative; got 3"):
        choice(3, ("Auto", "Absolute", "Relative"), "Mode")
