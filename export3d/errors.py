"""The one root of user-facing errors: ``Export3DError``. Its messages are plain sentences for end users.

The CLI prints ``error: <message>`` and exits with 2, the demo shows the message as is; any other exception is a
bug or an environment problem (a short generic text for the user, details in the log).

    Export3DError
    +-- FaceInputError (ValueError)    bad input the user can fix
    |   +-- UsageError                 command-line arguments
    |   +-- UnreadableImageError, UnreadableVideoError
    |   +-- NoFaceError, FaceTooSmallError, FaceCutOffError
    +-- CheckpointError (RuntimeError) no usable model checkpoint
    +-- ModelFileError (RuntimeError)  a face model file is missing and could not be fetched
    +-- NoSurfaceError (ValueError)    a mesh was asked for where the density has no surface
"""

from __future__ import annotations

from pathlib import Path


class Export3DError(Exception):
    """Root of every error whose message is written for the user (shown as is in the CLI and the app)."""


class FaceInputError(Export3DError, ValueError):
    """Bad input that the user can fix: an unreadable or faceless image or video, a wrong argument."""


class UsageError(FaceInputError):
    """A command-line argument the user can fix (a suffix, a range)."""


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


class ModelFileError(Export3DError, RuntimeError):
    """A detector/landmarker model file is missing and could not be fetched."""


class CheckpointError(Export3DError, RuntimeError):
    """A checkpoint folder is missing, incomplete or does not match the code."""


class NoSurfaceError(Export3DError, ValueError):
    """The density never reaches the surface threshold: there is no surface to mesh."""


def check_input_file(path: Path, kind: str, error: type[FaceInputError]) -> None:
    """Raise ``error`` with a plain sentence when ``path`` is missing, a folder or empty (``kind``: image/video)."""
    if not path.exists():
        raise error(f"{kind.capitalize()} file not found: {path.name} (looked in {path.absolute().parent}).")
    if path.is_dir():
        raise error(f"This is a folder, not {'an' if kind[0] in 'aeiou' else 'a'} {kind} file: {path.name}")
    if path.stat().st_size == 0:
        raise error(f"This {kind} file is empty (0 bytes): {path.name}")
