"""User-facing errors of the face stage. Messages are plain sentences for end users."""

from __future__ import annotations


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
