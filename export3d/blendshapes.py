"""The expression vector beta: MediaPipe's 52 blendshape scores, in MediaPipe's order (docs/conventions.md).

The one definition of the names and of the size of beta (``BETA_DIM``); the face stage, the model config, the
synthetic world and training read them from here.
"""

from __future__ import annotations

#: MediaPipe's blendshape order: "_neutral" then 51 ARKit names. This is the order of beta.
BLENDSHAPE_NAMES = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft",
    "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft",
    "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft",
    "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
)
BETA_DIM = len(BLENDSHAPE_NAMES)  #: 52, the size of beta


def blendshape_index(name: str) -> int:
    """Position of ``name`` in beta (``ValueError`` naming the unknown blendshape)."""
    try:
        return BLENDSHAPE_NAMES.index(name)
    except ValueError:
        raise ValueError(f"unknown blendshape {name!r}; known: {', '.join(BLENDSHAPE_NAMES)}") from None
