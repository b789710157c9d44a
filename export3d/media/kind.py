"""Telling images from videos: the one rule used by the CLI, the pipeline, the app and training.

``kind(x)`` is ``"image"``, ``"video"`` or ``"unknown"``:

* arrays, PIL images and bytes are images;
* an existing file is judged by its content: a file PIL opens is an image, unless it has several frames (an
  animated GIF or WebP is a video); a file PIL cannot open is a video when ffmpeg finds more than one frame or
  0.2 s of video in it, an image when its suffix says so (a format PIL lacks, e.g. HEIC: the image loader then
  says what is wrong), else unknown;
* a missing path is judged by its suffix (unknown when the suffix is neither), so the reader can report it.

``IMAGE_SUFFIXES`` names image files, readable or not; :func:`readable_image_suffixes` are those the installed
Pillow decodes, the list the loaders' "not a supported image type" message gives (:func:`unsupported_image_type`).
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Literal

Kind = Literal["image", "video", "unknown"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".avif"})
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
    frames = _pil_frames(path)
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


@functools.cache
def readable_image_suffixes() -> tuple[str, ...]:
    """The ``IMAGE_SUFFIXES`` whose format the installed Pillow can open, sorted (HEIC, for one, needs a plugin)."""
    from PIL import Image

    extensions = Image.registered_extensions()  # suffix -> format, every plugin loaded
    return tuple(sorted(s for s in IMAGE_SUFFIXES if extensions.get(s) in Image.OPEN))


_SVG = re.compile(rb"<svg[\s>/]", re.IGNORECASE)


def unsupported_image_type(head: bytes, suffix: str = "") -> str | None:
    """For data Pillow cannot identify: the name of the image type we do not read, else None (just unreadable).

    ``head``: the first bytes of the file (4 KB are plenty); ``suffix``: its file name suffix, if any. SVG is
    recognised by content (whatever the suffix); otherwise a suffix outside :func:`readable_image_suffixes` names
    the type (``.heic`` -> ``HEIC``, ``.pdf`` -> ``PDF``). A readable suffix or none gives None: the data is
    corrupt, or of no type we can name.
    """
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<") and _SVG.search(text[:4096]):
        return "SVG"
    suffix = suffix.lower()
    if len(suffix) > 1 and suffix not in readable_image_suffixes():
        return suffix[1:].upper()
    return None


def unsupported_image_message(image_type: str | None, name: str | None = None) -> str:
    """The user's sentence for an image of a type we cannot read, listing :func:`readable_image_suffixes`."""
    kind_text = f"not a supported image type ({image_type})" if image_type else "an image type we cannot read"
    what = f"This file is {kind_text}: {name}" if name is not None else f"The uploaded data is {kind_text}"
    return f"{what}. Supported image files: {', '.join(readable_image_suffixes())}."


def read_head(path: str | os.PathLike, size: int = 4096) -> bytes:
    """The first ``size`` bytes of a file (empty when it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError:
        return b""


def is_video(source) -> bool:
    """Whether ``kind(source)`` is not an image: unknown files go to the video reader, which reports them."""
    return kind(source) != "image"


def _pil_frames(path: Path) -> int | None:
    """Number of frames PIL finds in the file, or None when PIL cannot open it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return int(getattr(im, "n_frames", 1))
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def _ffmpeg_sees_video(path: Path) -> bool:
    from ..errors import FaceInputError
    from .video import probe_video

    try:
        info = probe_video(path)
    except (FaceInputError, RuntimeError, OSError):
        return False
    return (info.frame_count or 0) > 1 or (info.duration or 0) > MIN_VIDEO_SECONDS
