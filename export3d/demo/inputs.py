"""The demo's inputs: the lazy model, uploaded files (portrait, driver) and the user-facing error messages."""

from __future__ import annotations

import base64
import binascii
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import Export3DError, FaceInputError, UnreadableImageError, UnreadableVideoError
from .limits import DemoLimits

log = logging.getLogger("export3d.demo")

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_DIR = REPO_ROOT / "examples"
DRIVER_SCAN_SECONDS = 2.0  #: a video driver's preview uses the first frame with a face within this time


# ----------------------------------------------------------------------------- model
class LazyAnimator:
    """Builds the animator on first use (thread-safe) and keeps it; a failed load is retried next time."""

    def __init__(self, factory: Callable[[], object] | None = None):
        self._factory = factory or _default_factory
        self._animator = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._animator is not None

    def get(self):
        if self._animator is None:
            with self._lock:
                if self._animator is None:
                    t0 = time.perf_counter()
                    self._animator = self._factory()
                    log.info("model loaded in %.1f s", time.perf_counter() - t0)
        return self._animator

    __call__ = get

    def clear_cache(self) -> None:
        """The model's cache of prepared portraits emptied (``Animator.clear_cache``); nothing is loaded for it."""
        animator = self._animator
        if animator is not None and hasattr(animator, "clear_cache"):
            animator.clear_cache()


def _default_factory():
    from ..pipeline import Animator
    from ..runtime import thread_governor

    return Animator.from_pretrained(governor=thread_governor())


def checkpoint_description() -> str:
    """Where the default model comes from, for the page (no network, no loading).

    A local folder is shown relative to the repository; a Hub repo id is marked as such; a missing local folder
    says so (every action then answers with the "No usable model checkpoint ..." sentence).
    """
    from ..pipeline import default_checkpoint

    path = default_checkpoint()
    try:
        shown = str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        shown = str(path)
    if path.is_dir():
        return f"`{shown}`"
    text = str(path)
    if text.count("/") == 1 and not text.startswith((".", "/")):
        return f"`{text}` (Hugging Face Hub, downloaded on the first request)"
    return f"`{shown}` (**not found**: every action will report it; set `EXPORT3D_CHECKPOINT`)"


# ------------------------------------------------------------------------- messages
class DemoMessage(Export3DError):
    """A problem the demo explains to the user itself (shown as is, like every ``Export3DError``)."""


def user_message(exc: BaseException) -> str:
    """One plain sentence for the UI: the message of user-fixable errors, a short generic text otherwise.

    Every ``Export3DError`` (bad or faceless image or video, no model, ``DemoMessage``, ...) carries a message
    written for users; anything else is a bug or an environment problem whose details go to the server log only.
    """
    if isinstance(exc, Export3DError):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = "The server ran out of memory. Try a shorter clip or a smaller image."
    else:
        text = f"Something went wrong ({type(exc).__name__}). Please try again or use another file."
    return " ".join(text.split()) or type(exc).__name__  # one line, never a traceback


def with_note(exc: FaceInputError, notes: list[str]) -> FaceInputError:
    """``exc`` with ``notes`` appended to its message (same class, chained)."""
    if not notes:
        return exc
    new = type(exc)(f"{exc} ({' '.join(notes)})")
    new.__cause__ = exc
    return new


# ---------------------------------------------------------------------------- uploads
def upload_path(value, what: str = "image") -> Path | bytes:
    """The file behind a Gradio value: a path, a ``FileData``-like dict / object, or a ``data:`` URL (-> bytes).

    Events reading uploads run with ``preprocess=False`` so that a broken file reaches our loaders (and their
    messages) instead of failing inside Gradio; this turns the raw value into something ``load_image`` reads.
    """
    if isinstance(value, dict):
        path, url = value.get("path"), value.get("url")
    elif isinstance(value, str | os.PathLike):
        path, url = value, None
    else:
        path, url = getattr(value, "path", None), getattr(value, "url", None)
    if path:
        return Path(path)
    if url and str(url).startswith("data:") and "," in url:
        try:
            return base64.b64decode(url.split(",", 1)[1], validate=False)
        except (binascii.Error, ValueError):
            pass
    error = UnreadableImageError if what == "image" else UnreadableVideoError
    raise error(f"No {what} was received; upload the file again.")


def load_picture(value, limits: DemoLimits, what: str = "portrait") -> tuple[np.ndarray, list[str]]:
    """An uploaded image as uint8 RGB, downscaled to ``limits.max_image_side``; returns ``(image, notes)``.

    Above ``limits.max_image_megapixels`` the image is refused (``UnreadableImageError`` giving the limit).
    """
    from ..media.image import load_image, resize_max

    rgb = load_image(upload_path(value), max_pixels=limits.max_pixels)
    h, w = rgb.shape[:2]
    small, scale = resize_max(rgb, limits.max_image_side)
    if scale == 1.0:
        return rgb, []
    note = (f"The {what} ({w}x{h} pixels) was downscaled to {small.shape[1]}x{small.shape[0]}, the limit being "
            f"{limits.max_image_side} pixels on the longer side.")
    return np.ascontiguousarray(small), [note]


def prepare_portrait(animator, value, limits: DemoLimits, crop_scale: float = 1.0,
                     crop_offset: tuple[float, float] = (0.0, 0.0)):
    """``(PreparedSource, notes)``: the uploaded portrait loaded with the limits, its face cropped and encoded.

    Raises ``FaceInputError`` subclasses with user sentences (a downscaling notice is appended to them).
    """
    rgb, notes = load_picture(value, limits, "portrait")
    try:
        src = animator.prepare_source(rgb, crop_scale=float(crop_scale),
                                      crop_offset=(float(crop_offset[0]), float(crop_offset[1])))
    except FaceInputError as e:
        raise with_note(e, notes) from e
    from ..pipeline.views import portrait_pose_warning

    turned = portrait_pose_warning(src.signals.angles)
    return src, notes + ([turned] if turned else [])


# --------------------------------------------------------------------------- drivers
@dataclass
class Driver:
    """The driving image or video chosen in the app, with the signals used by the preview."""

    kind: str  #: "image" or "video"
    path: Path
    signals: object | None  #: FaceSignals of the image / of the first video frame with a face (None: none found)
    frame_index: int = 0  #: video: which frame ``signals`` came from
    fps: float | None = None
    duration: float | None = None
    has_audio: bool = False
    notes: list[str] = field(default_factory=list)  #: downscaling / trimming notices for the user
    name: str = ""  #: the file name shown to the user
    tracks: dict = field(default_factory=dict, repr=False)  #: video: ``(smoothing, seconds) ->`` tracked signals

    @property
    def beta(self) -> np.ndarray | None:
        return None if self.signals is None else self.signals.beta

    def describe(self) -> str:
        name = self.name or self.path.name
        if self.kind == "image":
            yaw, pitch, _ = self.signals.angles
            text = f"Driver: image {name} (head yaw {yaw:+.0f}°, pitch {pitch:+.0f}°)."
        else:
            parts = [f"Driver: video {name}"]
            if self.duration is not None:
                parts.append(f"{self.duration:.1f} s")
            if self.fps:
                parts.append(f"{self.fps:g} fps")
            parts.append("with audio" if self.has_audio else "no audio")
            text = ", ".join(parts) + "."
            if self.signals is None:
                text += (f" No face in its first {DRIVER_SCAN_SECONDS:g} s, so the preview shows the portrait's own "
                         "expression.")
            elif self.frame_index:
                text += f" Preview from frame {self.frame_index + 1} (the first with a face)."
        faces = 1 if self.signals is None else self.signals.num_faces
        if faces > 1:
            text += f" {faces} faces were found; the largest drives the portrait."
        return " ".join([text, *self.notes])


def driver_kind(path: str | os.PathLike) -> str:
    """"image" or "video" by content, the rule of the CLI and ``Animator.animate`` (``media.kind``; unknown: image)."""
    from ..media.kind import kind

    return "video" if kind(path) == "video" else "image"


def _display_name(value, path: Path) -> str:
    orig = value.get("orig_name") if isinstance(value, dict) else getattr(value, "orig_name", None)
    return Path(orig).name if orig else path.name


def load_driver(animator, value, kind: str | None = None, limits: DemoLimits | None = None) -> Driver:
    """Read a driving image (its face is required) or video (probed; first face within a few seconds)."""
    limits = limits or DemoLimits()
    path = upload_path(value, "video" if kind == "video" else "image")
    if isinstance(path, bytes):  # a pasted image (data URL)
        kind, name = "image", "pasted image"
    else:
        kind, name = kind or driver_kind(path), _display_name(value, path)
    if kind == "image":
        rgb, notes = load_picture(value, limits, "driving image")
        try:
            signals = animator.extractor.extract(rgb)
        except FaceInputError as e:
            raise with_note(e, notes) from e
        return Driver("image", Path(name) if isinstance(path, bytes) else path, signals, notes=notes, name=name)
    if kind != "video":
        raise ValueError(f"kind must be 'image' or 'video', got {kind!r}")
    from ..media.video import TRACKING_MAX_SIDE, open_video

    with open_video(path, max_seconds=DRIVER_SCAN_SECONDS, max_side=TRACKING_MAX_SIDE) as reader:
        info = reader.info
        signals, index, decoded = None, 0, 0
        for i, frame in enumerate(reader):
            decoded += 1
            if i % 5:  # every 5th frame: 0.2 s steps at 25 fps
                continue
            try:
                signals, index = animator.extractor.extract(frame), i
                break
            except FaceInputError:
                continue
    if not decoded:
        raise UnreadableVideoError(f"The video {name} has no frames that can be decoded.")
    notes = []
    if info.duration is not None and info.duration > limits.max_clip_seconds:
        notes.append(f"It is longer than the demo's limit of {limits.max_clip_seconds:g} s, so only its first "
                     f"{limits.max_clip_seconds:g} s will be used (trimmed).")
    return Driver("video", path, signals, index, info.fps, info.duration, bool(info.has_audio), notes, name)
