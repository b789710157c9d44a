"""Where the licensed shared data lives (never inside the repository).

``EXPORT3D_DATA`` points at the shared data folder; by default ``../shared/data``
next to the repository root is used when it exists.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """The shared data folder (may not exist: callers check)."""
    env = os.environ.get("EXPORT3D_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def ict_facekit_path() -> Path:
    """The ICT-FaceKit npz: ``EXPORT3D_ICT_FACEKIT`` or ``<shared>/ict_facekit/ict_facekit.npz``."""
    env = os.environ.get("EXPORT3D_ICT_FACEKIT")
    return Path(env) if env else shared_data_dir() / "ict_facekit" / "ict_facekit.npz"


def grid_clips_dir() -> Path:
    return shared_data_dir() / "grid"


def portraits_dir() -> Path:
    return shared_data_dir() / "portraits"
