"""Telling images from videos: the one rule used by the CLI, the pipeline, the app and training.

``kind(x)`` is ``"image"``, ``"video"`` or ``"unknown"``:

* arrays, PIL images and bytes are images;
* an existing file is judged by its content: a file PIL opens is an image, unless it has several frames (an
  animated GIF or WebP is a video); a file PIL cannot open is a video when ffmpeg finds more than one frame or
  0.2 s of video in it, an image when its suffix says so (a format PIL lacks, e.g. HEIC: the image loader then
  says what is wrong), else unknown;
* a missing path is judged by its suffix (unknown when the suffix is neither), so the reader can report it.

``IMAGE_SUFFIXES`` (``media/formats.py``) names image files, readable or not; what the installed Pillow decodes
and the loaders' "not a supported image type" message are there too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from .formats import IMAGE_SUFFIXES, pil_frames

Kind = Literal["image", "video", "unknown"]

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".mpg", ".mpeg", ".ogv", ".3gp",
                            ".wmv"})
IMAGE_OUTPUTS = (".png", ".jpg", ".jpeg", ".webp")  #: still images the pipeline writes
VIDEO_OUTPUTS = (".mp4",)  #: videos the pipeline writes (H.264)
MESH_OUTPUTS = (".obj", ".glb")  #: meshes the pipeline writes
MIN_VIDEO_SECONDS = 0.2  #: a file ffmpeg reads as one frame shorter than this is a still


def kind(source) -> Kind:
    """``"image"``, ``"video"`` or ``"unknown"`` for a path, array, PIL image or bytes (module docstring)."""
    if not isinstance(source, str | os.PathLike):
        return "image"
    path = Path(source)
    if not path.is_file():
        return suffix_kind(path)
    frames = pil_frames(path)
    if frames is not None:
        return "video" if frames > 1 else "image"
    if _ffmpeg_sees_video(path):
        return "video"
    return "image" if path.suffix.lower() in IMAGE_SUFFIXES else "unknown"


def suffix_kind(path: str | os.PathLike) -> Kind:
    """What the file name alone says (no file access)."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    return "video" if suffix in VIDEO_SUFFIXES else "unknown"


def is_video(source) -> bool:
    """Whether ``kind(source)`` is not an image: unknown files go to the video reader, which reports them."""
    return kind(source) != "image"


def _ffmpeg_sees_video(path: Path) -> bool:
    from ..errors import FaceInputError
    from .probe import probe_video

    try:
        info = probe_video(path)
    except (FaceInputError, RuntimeError, OSError):
        return False
    return (info.frame_count or 0) > 1 or (info.duration or 0) > MIN_VIDEO_SECONDS
