"""Image file formats: the image suffixes, what the installed Pillow reads, and naming what it does not.

``IMAGE_SUFFIXES`` names image files, readable or not; :func:`readable_image_suffixes` are those the installed
Pillow decodes, the list the loaders' "not a supported image type" message gives (:func:`unsupported_image_type`).
Imported by ``kind``, ``image`` and ``video``; it imports none of them.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".avif"})


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


def pil_frames(path: Path) -> int | None:
    """Number of frames PIL finds in the file, or None when PIL cannot open it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return int(getattr(im, "n_frames", 1))
    except (UnidentifiedImageError, OSError, ValueError):
        return None
