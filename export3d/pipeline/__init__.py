"""Inference: animate one portrait from a driving image or video (see ``animator.py`` for the walk-through)."""

from ..media.kind import IMAGE_OUTPUTS, is_video
from .animator import DEFAULT_CHECKPOINT, Animator, default_checkpoint
from .expression import ExpressionSettings, transfer_expression
from .types import AnimationResult, PreparedSource
from .views import ViewSettings, side_by_side

__all__ = ["DEFAULT_CHECKPOINT", "IMAGE_OUTPUTS", "AnimationResult", "Animator", "ExpressionSettings",
           "PreparedSource", "ViewSettings", "default_checkpoint", "is_video", "side_by_side", "transfer_expression"]
