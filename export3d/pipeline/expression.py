"""Expression transfer: which expression ``beta`` the portrait gets from a driver's expression.

``beta`` is the 52 ARKit-like blendshape scores in [0, 1] (``export3d.face.landmarker.BLENDSHAPE_NAMES``;
index 0 is ``_neutral``). All 52 scores are treated alike and every result is clipped to [0, 1].

* **auto** (default, ``relative=None``; ``ExpressionSettings.resolved``): for a driving **video**, relative
  except ``jawOpen`` (``AUTO_ABSOLUTE``), which is copied; for a driving **image**, absolute. Copying all of a
  video's scores also copies the speaker's resting mouth (on a portrait with pressed lips, a driver's "unrolled"
  lips stretch them into a blob), while the jaw is best copied: how open the mouth is does not depend on the
  driver's first frame (measured on the shared portraits: jaw_r 0.73 with the jaw copied, 0.55 relative).
* **absolute**: ``beta = strength * driver_beta``; the portrait copies the driver's expression.
* **relative**: ``beta = source_beta + strength * (driver_beta - reference_beta)`` (the blendshapes named in
  ``absolute`` excepted: ``strength * driver_beta``); the portrait keeps its own
  expression and adds the driver's *change* from a reference, by default the driver's first frame. A driver
  that keeps a constant expression therefore leaves the portrait as it is; for a single driving **image**
  the image is its own reference, so relative transfer gives exactly the portrait's own expression (the
  pipeline adds a warning saying so).

``strength`` is documented for [0, 2]: 0 = no expression (absolute: all zeros; relative: the portrait's
own), 1 = as driven, 2 = exaggerated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..blendshapes import blendshape_index

BETA_DIM = 52
AUTO_ABSOLUTE = ("jawOpen",)  #: auto mode's blendshapes copied from a video (the rest is relative)
RELATIVE_IMAGE_WARNING = ("Relative expression transfer with a driving image uses the image itself as the "
                          "reference, so the portrait keeps its own expression; use absolute mode to copy "
                          "the driver's expression.")


@dataclass
class ExpressionSettings:
    """How a driver's expression is applied (see the module docstring)."""

    strength: float = 1.0  #: multiplier of the driver's expression (absolute) or of its change (relative), [0, 2]
    relative: bool | None = None  #: relative to the driver's first frame, added to the portrait's own expression;
    #: None: auto (``resolved``)
    absolute: tuple[str, ...] = ()  #: relative mode: these blendshapes are copied (``strength * driver``) instead

    def __post_init__(self):
        if not np.isfinite(self.strength) or self.strength < 0:
            raise ValueError(f"expression strength must be a number >= 0 (documented range 0..2), got {self.strength}")

    def resolved(self, video: bool) -> ExpressionSettings:
        """The settings with auto (``relative=None``) decided: relative for a driving video, absolute for an image."""
        if self.relative is not None:
            return self
        return ExpressionSettings(self.strength, True, AUTO_ABSOLUTE) if video else ExpressionSettings(self.strength,
                                                                                                        False)


def transfer_expression(driver_beta, source_beta, settings: ExpressionSettings | None = None,
                        reference_beta=None) -> np.ndarray:
    """The portrait's expressions ``(N, 52)`` float32 for a driver's ``(N, 52)`` (or ``(52,)``) expressions.

    Args:
        driver_beta: ``(N, 52)`` or ``(52,)`` driver scores.
        source_beta: ``(52,)`` the portrait's own scores (used by relative transfer only).
        settings: ``ExpressionSettings`` (None = strength 1; auto, undecided, counts as absolute: callers resolve
            it with ``ExpressionSettings.resolved``).
        reference_beta: ``(52,)`` relative transfer's reference; None = the driver's first row.
    Returns:
        ``(N, 52)`` float32 clipped to [0, 1].
    """
    s = settings or ExpressionSettings()
    drv = np.asarray(driver_beta, np.float32).reshape(-1, BETA_DIM)
    if not s.relative:
        return np.clip(s.strength * drv, 0.0, 1.0).astype(np.float32)
    src = np.asarray(source_beta, np.float32).reshape(BETA_DIM)
    ref = drv[0] if reference_beta is None else np.asarray(reference_beta, np.float32).reshape(BETA_DIM)
    out = src + s.strength * (drv - ref)
    if s.absolute:
        copied = [blendshape_index(name) for name in s.absolute]
        out[:, copied] = s.strength * drv[:, copied]
    return np.clip(out, 0.0, 1.0).astype(np.float32)
