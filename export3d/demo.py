"""UI-independent logic of the web demo (``app.py``): lazy model, drivers, previews, outputs, messages.

Nothing here imports Gradio, so it is unit-tested directly and reusable from another front end.
The app keeps a :class:`~export3d.pipeline.PreparedSource` and a :class:`Driver` per browser
session; a preview only renders (one frame, no face detection), which keeps slider feedback fast.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .face.errors import FaceInputError, UnreadableVideoError

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = REPO_ROOT / "examples"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".avif"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".mpg", ".mpeg", ".ogv", ".3gp", ".wmv"}
DRIVER_SCAN_SECONDS = 2.0  #: a video driver's preview uses the first frame with a face within this time
IMAGE_CLIP_SECONDS = 2.0  #: an image driver animates into a clip of this length (own expression -> driver's)
IMAGE_CLIP_FPS = 25.0
OUTPUT_MAX_AGE = 3600.0  #: seconds; older demo outputs are deleted when new ones are written


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


def _default_factory():
    from .pipeline import Animator

    return Animator.from_pretrained()


def checkpoint_description() -> str:
    """Where the default model comes from (for the app's text)."""
    from .pipeline import default_checkpoint

    path = default_checkpoint()
    try:
        shown = path.resolve().relative_to(REPO_ROOT)
    except ValueError:
        shown = path
    return str(shown)


# ------------------------------------------------------------------------- messages
def user_message(exc: BaseException) -> str:
    """One plain sentence for the UI: the message of user-fixable errors, a short generic text otherwise.

    ``FaceInputError`` (bad/faceless image or video) and ``CheckpointError`` (no model) carry messages written
    for users; anything else is a bug or an environment problem whose details go to the server log only.
    """
    from .checkpoint import CheckpointError

    if isinstance(exc, FaceInputError | CheckpointError):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = "The server ran out of memory. Try a shorter clip or a smaller image."
    else:
        text = f"Something went wrong ({type(exc).__name__}). Please try again or use another file."
    return " ".join(text.split()) or type(exc).__name__  # one line, never a traceback


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

    @property
    def beta(self) -> np.ndarray | None:
        return None if self.signals is None else self.signals.beta

    def describe(self) -> str:
        name = self.path.name
        if self.kind == "image":
            yaw, pitch, _ = self.signals.angles
            return f"Driver: image {name} (head yaw {yaw:+.0f}°, pitch {pitch:+.0f}°)."
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
        return text


def driver_kind(path: str | os.PathLike) -> str:
    """"image" or "video" from the file name (unknown suffixes: "video" if ffmpeg can read it, else "image")."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    from .face.video import probe_video

    try:
        info = probe_video(path)
    except (FaceInputError, RuntimeError, OSError):
        return "image"
    return "video" if (info.frame_count or 0) > 1 or (info.duration or 0) > 0.2 else "image"


def load_driver(animator, path: str | os.PathLike, kind: str | None = None) -> Driver:
    """Read a driving image (its face is required) or video (probed; first face within a few seconds)."""
    from .face.image_io import load_image

    path = Path(path)
    kind = kind or driver_kind(path)
    if kind == "image":
        return Driver("image", path, animator.extractor.extract(load_image(path)))
    if kind != "video":
        raise ValueError(f"kind must be 'image' or 'video', got {kind!r}")
    from .face.video import open_video

    with open_video(path, max_seconds=DRIVER_SCAN_SECONDS) as reader:
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
        raise UnreadableVideoError(f"The video {path.name} has no frames that can be decoded.")
    return Driver("video", path, signals, index, info.fps, info.duration, bool(info.has_audio))


# --------------------------------------------------------------------------- render
def on_device(src, device):
    """``src`` (PreparedSource) with its cached features on ``device`` (no copy when already there).

    The app keeps sources on the CPU between calls (a GPU may only be attached during a call, as on
    Hugging Face ZeroGPU) and moves them in for rendering.
    """
    f = src.features
    if f.tokens.device == device:
        return src
    return replace(src, features=replace(f, tokens=f.tokens.to(device), highres=f.highres.to(device)))


def view_settings(yaw: float, pitch: float, follow_head: bool):
    from .pipeline import ViewSettings

    return ViewSettings(yaw=float(yaw or 0.0), pitch=float(pitch or 0.0), follow_head=bool(follow_head))


def preview(animator, src, driver: Driver | None, view) -> np.ndarray:
    """One frame: the driver's expression (or the portrait's own), camera from ``view``. Render only."""
    signals = None if driver is None else driver.signals
    beta = src.signals.beta if signals is None else signals.beta
    camera = animator.camera_for(signals, view)
    return animator.render(on_device(src, animator.device), beta, camera)[0]


def ease_weights(frames: int, hold: float = 0.3) -> np.ndarray:
    """``(frames,)`` weights rising from 0 to 1 (cosine ease), then 1 for the last ``hold`` fraction.

    One frame gives ``[1.0]`` (the target).
    """
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    if frames == 1:
        return np.ones(1)
    moving = max(2, math.ceil(frames * (1 - hold)))
    t = np.clip(np.arange(frames) / (moving - 1), 0, 1)
    return 0.5 - 0.5 * np.cos(np.pi * t)


def expression_ramp(start: np.ndarray, end: np.ndarray, frames: int, hold: float = 0.3) -> np.ndarray:
    """``(frames, 52)`` float32 betas easing from ``start`` to ``end`` (:func:`ease_weights`)."""
    w = ease_weights(frames, hold)[:, None]
    return ((1 - w) * np.asarray(start, np.float32)[None] + w * np.asarray(end, np.float32)[None]).astype(np.float32)


def animate_image_clip(animator, src, driver: Driver, view, out_path: Path,
                       seconds: float = IMAGE_CLIP_SECONDS, fps: float = IMAGE_CLIP_FPS) -> tuple[Path, np.ndarray]:
    """Image driver: a short clip from the portrait's own expression (and the view without the driver's pose) to
    the driver's expression and pose. Returns the mp4 path and the last frame."""
    from .face.video import write_video
    from .views import angles_camera, view_angles

    frames = max(2, round(seconds * fps))
    betas = expression_ramp(src.signals.beta, driver.signals.beta, frames)
    start = np.array(view_angles(None, replace(view, follow_head=False)))
    end = np.array(view_angles(driver.signals.angles, view))
    cameras = np.stack([angles_camera(*(start + (end - start) * k)) for k in ease_weights(frames)])
    images = animator.render(on_device(src, animator.device), betas, cameras)
    write_video(out_path, images, fps)
    return out_path, images[-1]


def orbit_video(animator, src, driver: Driver | None, out_path: Path, frames: int = 48, fps: float = 24.0) -> Path:
    from .face.video import write_video

    beta = None if driver is None else driver.beta
    images = animator.orbit(on_device(src, animator.device), beta=beta, frames=frames)
    return write_video(out_path, images, fps)


def grid_image(animator, src, driver: Driver | None) -> np.ndarray:
    beta = None if driver is None else driver.beta
    return animator.grid(on_device(src, animator.device), beta=beta)


# --------------------------------------------------------------------------- outputs
def output_dir() -> Path:
    """``$EXPORT3D_DEMO_OUTPUTS`` or ``<tmp>/export3d-demo`` (inside the temp dir, which Gradio may serve)."""
    env = os.environ.get("EXPORT3D_DEMO_OUTPUTS")
    path = Path(env) if env else Path(tempfile.gettempdir()) / "export3d-demo"
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_output(stem: str, suffix: str = ".mp4", max_age: float = OUTPUT_MAX_AGE) -> Path:
    """A fresh file name in :func:`output_dir`; deletes demo outputs older than ``max_age`` seconds."""
    folder = output_dir()
    now = time.time()
    for old in folder.glob("*"):
        try:
            if old.is_file() and now - old.stat().st_mtime > max_age:
                old.unlink()
        except OSError:
            pass
    return folder / f"{stem}-{uuid.uuid4().hex[:10]}{suffix}"


# ---------------------------------------------------------------------------- status
def source_status(src, seconds: float | None = None) -> str:
    s = src.signals
    yaw, pitch, roll = s.angles
    text = (f"Portrait ready: face found (head yaw {yaw:+.0f}°, pitch {pitch:+.0f}°, roll {roll:+.0f}°), "
            f"{src.image.shape[1]}x{src.image.shape[0]} px")
    if seconds is not None:
        text += f", prepared in {seconds:.1f} s"
    text += "."
    if s.num_faces > 1:
        text += f" {s.num_faces} faces were found; the largest is used."
    return text


def animation_status(result, max_seconds: float | None = None) -> str:
    """Wall time, fps, lost frames and the pipeline's warnings, one item per line."""
    clip = result.frames / result.fps if result.fps else 0.0
    speed = result.frames / result.seconds if result.seconds > 0 else float("inf")
    lines = [f"Animated {result.frames} frames ({clip:.1f} s at {result.fps:g} fps) in {result.seconds:.1f} s "
             f"({speed:.1f} frames/s).",
             f"Lost frames (face not found, filled in): {result.lost_frames}."]
    lines += [f"Note: {w}" for w in result.warnings]
    return "\n".join(lines)

