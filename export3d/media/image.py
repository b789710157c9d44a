"""Reading user images into one canonical form: ``uint8`` RGB ``(H, W, 3)``, C-contiguous.

``load_image`` accepts a path, the raw bytes of a file, a PIL image or a numpy array and
normalises every variant users actually upload:

- **Orientation**: the EXIF orientation tag is applied (``ImageOps.exif_transpose``), so
  phone photos come out upright. A broken EXIF block is ignored rather than fatal.
- **Transparency** (RGBA, LA, PA, palette or RGB/L images with a transparent colour, and
  4-channel / 2-channel arrays) is **composited over neutral mid-grey** ``(128, 128, 128)``.
  Grey keeps a transparent background from turning the portrait into a bright (white) or
  dark (black) silhouette, which would bias face detection and the model's colour statistics.
- **Grey levels** (``1``, ``L``, ``(H, W)``, ``(H, W, 1)``) are repeated into three channels.
- **Palette** (``P``) images are expanded; **CMYK** is converted with the embedded ICC
  profile when there is one (``ImageCms``), else with Pillow's standard conversion.
- **16 bits** (``I;16``, ``I;16B``, ``I;16L``, ``I`` from 16-bit PNG/TIFF, ``uint16`` arrays)
  are scaled, not clipped: ``v8 = round(v16 * 255 / 65535)``, so 65535 -> 255 and 257 -> 1.
  Other integer arrays are read as 8-bit when their maximum is <= 255 and as 16-bit when it
  is <= 65535.
- **Floats** (arrays, PIL ``F``) are taken to be in ``[0, 1]``: clipped, scaled by 255 and
  rounded; NaN becomes 0. Boolean arrays map to 0/255.

Bad input raises :class:`~export3d.errors.UnreadableImageError` whose message is one
sentence meant for the end user; the technical cause is chained (``raise ... from``). A file of
an image type Pillow does not read (SVG, HEIC without a plugin...) is called that, with the
supported suffixes (``media.formats.readable_image_suffixes``), not "corrupt".
Images above ``max_pixels`` (100 megapixels by default) are refused before decoding.
Pillow's warnings (decompression bomb, corrupt EXIF...) are silenced while decoding: our limit
replaces the bomb check. Pillow still refuses outright anything above
``2 * Image.MAX_IMAGE_PIXELS`` (~179 MP), which is reported with the same "too large" sentence.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from ..errors import UnreadableImageError, check_input_file
from .files import atomic_write
from .formats import read_head, unsupported_image_message, unsupported_image_type

ImageSource = str | os.PathLike | bytes | bytearray | memoryview | Image.Image | np.ndarray

#: Default upper bound on ``width * height`` accepted by :func:`load_image`.
DEFAULT_MAX_PIXELS = 100_000_000

#: Colour that transparent pixels are composited over (neutral mid-grey).
BACKGROUND_RGB = (128, 128, 128)

_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


def load_image(source: ImageSource, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Load ``source`` as ``uint8`` RGB ``(H, W, 3)``, C-contiguous (see the module docstring).

    ``source``: a path (``str`` / ``os.PathLike``), the bytes of an image file, a PIL image or a
    numpy array of shape ``(H, W)``, ``(H, W, 1)``, ``(H, W, 2)`` (grey + alpha), ``(H, W, 3)``
    or ``(H, W, 4)`` (RGBA). ``max_pixels``: refuse larger images (``None``: no limit of ours).

    An array that already is C-contiguous uint8 RGB is returned as is (not copied).

    Raises ``UnreadableImageError`` for missing files, corrupt / empty / non-image data,
    unsupported array shapes and images above ``max_pixels``.
    """
    if isinstance(source, np.ndarray):
        _check_pixels(source.shape[1] * source.shape[0] if source.ndim >= 2 else 0, max_pixels, "This image")
        return as_rgb_uint8(source)
    if isinstance(source, Image.Image):
        _check_pixels(source.width * source.height, max_pixels, "This image")
        return _pil_to_rgb(source, "This image")
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise UnreadableImageError("The uploaded image is empty (0 bytes).")
        return _decode(io.BytesIO(data), "This image", max_pixels)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        check_input_file(path, "image", UnreadableImageError)
        return _decode(path, f"This file ({path.name})", max_pixels, name=path.name)
    raise TypeError(f"load_image expects a path, bytes, a PIL image or a numpy array, not {type(source).__name__}")


def _decode(fp, what: str, max_pixels: int | None, name: str | None = None) -> np.ndarray:
    """Open with Pillow, check the size before decoding pixels, then convert."""
    unreadable = (
        f"This file is not an image we can read (it may be corrupt or empty): {name}"
        if name is not None
        else "The uploaded data is not an image we can read (it may be corrupt or empty)."
    )
    try:
        with warnings.catch_warnings():
            # Our own max_pixels check replaces Pillow's decompression-bomb warning; its other
            # warnings (corrupt EXIF, odd palettes...) mean nothing to a user either.
            warnings.simplefilter("ignore")
            with Image.open(fp) as img:
                _check_pixels(img.width * img.height, max_pixels, what)
                img.load()
                return _pil_to_rgb(img, what)
    except UnreadableImageError:
        raise
    except Image.DecompressionBombError as e:
        raise UnreadableImageError(
            f"{what} is too large to process safely; please use an image under "
            f"{_megapixels(max_pixels or DEFAULT_MAX_PIXELS)} megapixels."
        ) from e
    except UnidentifiedImageError as e:  # no Pillow plugin knows the data: an unsupported type (SVG...) or junk
        image_type = unsupported_image_type(_head(fp), Path(name).suffix if name is not None else "")
        raise UnreadableImageError(unsupported_image_message(image_type, name) if image_type else unreadable) from e
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as e:
        # struct.error / SyntaxError: raised by some Pillow plugins on garbage headers.
        raise UnreadableImageError(unreadable) from e


def _head(fp) -> bytes:
    """The first bytes of what :func:`_decode` was given (a path or a ``BytesIO``)."""
    return fp.getvalue()[:4096] if isinstance(fp, io.BytesIO) else read_head(fp)


def _megapixels(n: int) -> str:
    return f"{n / 1e6:g}"


def _check_pixels(n: int, max_pixels: int | None, what: str) -> None:
    if max_pixels is not None and n > max_pixels:
        raise UnreadableImageError(
            f"{what} is too large ({n / 1e6:.1f} megapixels); please use an image under "
            f"{_megapixels(max_pixels)} megapixels."
        )


def _exif_upright(img: Image.Image) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about corrupt EXIF data
            out = ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block must not make a viewable image unreadable
        return img
    return img if out is None else out


def _pil_to_rgb(img: Image.Image, what: str) -> np.ndarray:
    img = _exif_upright(img)
    mode = img.mode
    if mode == "RGB" and "transparency" not in img.info:
        return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))
    if mode in _SIXTEEN_BIT_MODES:
        return as_rgb_uint8(_sixteen_bit(np.asarray(img)))
    if mode == "F":
        return as_rgb_uint8(np.asarray(img, dtype=np.float32))
    if mode == "CMYK":
        return np.ascontiguousarray(np.asarray(_cmyk_to_rgb(img), dtype=np.uint8))
    if mode in _ALPHA_MODES or "transparency" in img.info:
        return as_rgb_uint8(np.asarray(img.convert("RGBA"), dtype=np.uint8))
    try:
        rgb = img.convert("RGB")
    except (ValueError, OSError) as e:
        raise UnreadableImageError(f"{what} uses a colour format we cannot convert ({mode}).") from e
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def _sixteen_bit(a: np.ndarray) -> np.ndarray:
    """Pillow's 16-bit / 32-bit integer grey modes hold 16-bit samples: return them as uint16."""
    return np.clip(a.astype(np.int64), 0, 65535).astype(np.uint16)


def _cmyk_to_rgb(img: Image.Image) -> Image.Image:
    icc = img.info.get("icc_profile")
    if icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out = ImageCms.profileToProfile(img, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
            if out is not None:
                return out
        except Exception:  # an unusable profile: fall back to the plain conversion
            pass
    return img.convert("RGB")


def _to_uint8_channels(a: np.ndarray) -> np.ndarray:
    """Any numeric array -> uint8 with the same shape (scaling rules in the module docstring)."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if a.dtype == np.uint16:
        return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if np.issubdtype(a.dtype, np.integer):
        lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 0)
        if lo >= 0 and hi <= 255:
            return a.astype(np.uint8)
        if lo >= 0 and hi <= 65535:
            return _to_uint8_channels(a.astype(np.uint16))
        raise UnreadableImageError(
            f"This image has pixel values outside the 8- or 16-bit range ({lo} to {hi}); we cannot display it."
        )
    if np.issubdtype(a.dtype, np.floating):
        f = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=1.0, neginf=0.0)
        return np.rint(np.clip(f, 0.0, 1.0) * 255.0).astype(np.uint8)
    raise UnreadableImageError(f"This image has an unsupported pixel type ({a.dtype}).")


def as_rgb_uint8(array: np.ndarray) -> np.ndarray:
    """A numpy image of any supported shape / dtype -> ``uint8`` RGB ``(H, W, 3)``, C-contiguous.

    Shapes: ``(H, W)``, ``(H, W, 1)``, ``(H, W, 2)`` (grey + alpha), ``(H, W, 3)``, ``(H, W, 4)``
    (RGBA). Alpha is composited over :data:`BACKGROUND_RGB`. A new array is returned unless the
    input already is C-contiguous ``uint8`` RGB.
    """
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4):
        raise UnreadableImageError(
            f"This array is not an image: expected shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {a.shape}."
        )
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise UnreadableImageError(f"This image is empty (size {a.shape[1]}x{a.shape[0]}).")
    a = _to_uint8_channels(a)
    channels = a.shape[2]
    if channels in (2, 4):
        colour, alpha = a[:, :, : channels - 1], a[:, :, channels - 1 :]
        if channels == 2:
            colour = np.repeat(colour, 3, axis=2)
        if alpha.min() == 255:
            a = colour
        else:
            w = alpha.astype(np.float32) / 255.0
            bg = np.asarray(BACKGROUND_RGB, dtype=np.float32)
            a = np.rint(colour.astype(np.float32) * w + bg * (1.0 - w)).astype(np.uint8)
    elif channels == 1:
        a = np.repeat(a, 3, axis=2)
    return np.ascontiguousarray(a)


def resize_max(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Downscale ``image`` so that its longer side is at most ``max_side`` pixels.

    Uses area averaging (``cv2.INTER_AREA``: no aliasing when shrinking). Never upscales.
    Returns ``(image, scale)`` where ``scale = new_longer_side / old_longer_side``; the input
    itself and ``1.0`` when it already fits. Output coordinates map back with ``x / scale``
    (up to the rounding of the new size to whole pixels).
    """
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    h, w = image.shape[:2]
    longer = max(h, w)
    if longer <= max_side:
        return image, 1.0
    scale = max_side / longer
    new_w = max(1, min(max_side, int(round(w * scale))))
    new_h = max(1, min(max_side, int(round(h * scale))))
    out = cv2.resize(np.ascontiguousarray(image), (new_w, new_h), interpolation=cv2.INTER_AREA)
    if out.ndim == 2 and image.ndim == 3:  # cv2 drops a single channel axis
        out = out[:, :, None]
    return out, scale


def save_image(path: str | os.PathLike, image: np.ndarray | Image.Image, quality: int = 95) -> Path:
    """Write ``image`` (anything :func:`load_image` accepts except paths/bytes) to ``path``.

    The format follows the extension (``.png``, ``.jpg``, ``.webp``, ...); JPEG/WebP use
    ``quality``. Parent folders are created. The file is written completely or not at all
    (``files.atomic_write``). Returns the path.
    """
    path = Path(path)
    rgb = load_image(image, max_pixels=None)
    kwargs = {"quality": quality} if path.suffix.lower() in (".jpg", ".jpeg", ".webp") else {}
    return atomic_write(path, lambda tmp: Image.fromarray(rgb).save(tmp, **kwargs))
