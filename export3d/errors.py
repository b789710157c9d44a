"""User-facing errors of the face stage. Messages are plain sentences for end users."""

from __future__ import annotations

from pathlib import Path


class FaceInputError(ValueError):
    """Base class: bad input that the user can fix (shown as is in the CLI and the app)."""


class UnreadableImageError(FaceInputError):
    """The file is not an image we can decode (corrupt, empty, unsupported)."""


class UnreadableVideoError(FaceInputError):
    """The file is not a video we can decode, or it has no decodable frames."""


class NoFaceError(FaceInputError):
    """No face was found."""


class FaceTooSmallError(FaceInputError):
    """The face is too small to animate well."""


class FaceCutOffError(FaceInputError):
    """The face is cut off by the image border."""


class ModelFileError(RuntimeError):
    """A detector/landmarker model file is missing and could not be fetched."""


def check_input_file(path: Path, kind: str, error: type[FaceInputError]) -> None:
    """Raise ``error`` with a plain sentence when ``path`` is missing, a folder or empty (``kind``: image/video)."""
    if not path.exists():
        raise error(f"{kind.capitalize()} file not found: {path.name} (looked in {path.absolute().parent}).")
    if path.is_dir():
        raise error(f"This is a folder, not {'an' if kind[0] in 'aeiou' else 'a'} {kind} file: {path.name}")
    if path.stat().st_size == 0:
        raise error(f"This {kind} file is empty (0 bytes): {path.name}")
