"""Inference: animate one portrait from a driving image or video, or orbit the camera around it.

```python
from export3d.pipeline import Animator, ViewSettings

anim = Animator.from_pretrained()                       # checkpoints/export3d-small, or EXPORT3D_CHECKPOINT
src = anim.prepare_source("portrait.jpg")               # face crop + cached source encoding
frame = anim.animate_image(src, "driver.jpg")           # (256, 256, 3) uint8
anim.animate_video(src, "driver.mp4", "out.mp4", ViewSettings(yaw=15))
```

Images at the edges are ``uint8`` RGB ``(H, W, 3)``; the model renders at its source size ``S``
(128 for ``small``) and frames are upscaled to ``output_size`` with Lanczos. Cameras and their
supported range: ``export3d.views``. User-fixable problems raise ``FaceInputError`` (bad or faceless
images/videos) or ``CheckpointError`` (no model), whose messages are meant for the user.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .checkpoint import CheckpointError, from_pretrained
from .face.crop import CropTransform
from .face.extractor import FaceExtractor, FaceSignals
from .face.image_io import ImageSource, load_image
from .face.video import open_video, write_video
from .models.export3d import Export3D
from .models.generator import SourceFeatures
from .views import (
    ViewSettings,
    angles_camera,
    contact_sheet,
    grid_cameras,
    orbit_cameras,
    resize_square,
    side_by_side,
    to_uint8,
    view_angles,
)

DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "export3d-small"
CHECKPOINT_HELP = ("Pass a checkpoint folder (config.json + model.safetensors, written by training: docs/training.md) "
                   "or a Hugging Face repo id with --checkpoint, or set EXPORT3D_CHECKPOINT.")
CHUNK = 8  #: frames rendered per model call

__all__ = ["DEFAULT_CHECKPOINT", "AnimationResult", "Animator", "PreparedSource", "ViewSettings",
           "default_checkpoint", "side_by_side"]


def default_checkpoint() -> Path:
    """``EXPORT3D_CHECKPOINT`` if set, else ``DEFAULT_CHECKPOINT``."""
    env = os.environ.get("EXPORT3D_CHECKPOINT")
    return Path(env) if env else DEFAULT_CHECKPOINT


@dataclass
class PreparedSource:
    """A portrait ready to animate (prepare once, animate many times)."""

    image: np.ndarray  #: (H, W, 3) uint8, the original photo
    crop: np.ndarray  #: (S, S, 3) uint8, the model's input crop
    transform: CropTransform  #: image <-> crop map (its ``paste_back`` puts S-sized frames back into ``image``)
    signals: FaceSignals  #: the portrait's own expression and pose
    features: SourceFeatures  #: cached ``encode_source`` output, batch 1


@dataclass
class AnimationResult:
    path: Path | None  #: the written file
    frames: int  #: frames written
    fps: float  #: frame rate of the output (the driver's)
    seconds: float  #: wall time
    lost_frames: int  #: driver frames where the face was lost (filled by interpolation)
    warnings: list[str] = field(default_factory=list)  #: sentences for the user


class Animator:
    """Ties the face extractor and an ``Export3D`` model together (see the module docstring)."""

    def __init__(self, model: Export3D, extractor: FaceExtractor | None = None, device=None,
                 output_size: int | None = 256, fast: bool = True, chunk: int = CHUNK):
        """``fast``: bf16 CNNs (+ channels-last on CPU), see ``Export3D.configure_runtime``."""
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.model = model.to(self.device).eval()
        if fast:
            cpu = self.device.type == "cpu"
            self.model.configure_runtime(bf16_cnn=cpu or torch.cuda.is_bf16_supported(), channels_last=cpu)
        self._extractor = extractor
        self.output_size = output_size
        self.chunk = chunk

    @classmethod
    def from_pretrained(cls, path_or_repo: str | os.PathLike | None = None, device=None, **kw) -> Animator:
        """Load a checkpoint (default: ``default_checkpoint()``); raises ``CheckpointError`` saying how to get one."""
        path = default_checkpoint() if path_or_repo is None else path_or_repo
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            model = from_pretrained(path, device)
        except CheckpointError as e:
            raise CheckpointError(f"No usable model checkpoint ({e}). {CHECKPOINT_HELP}") from e
        except Exception as e:  # corrupt weights file (safetensors), unreadable folder
            raise CheckpointError(f"The checkpoint {path} could not be read ({e}). {CHECKPOINT_HELP}") from e
        return cls(model, device=device, **kw)

    @property
    def extractor(self) -> FaceExtractor:
        if self._extractor is None:
            self._extractor = FaceExtractor()
        return self._extractor

    @property
    def source_size(self) -> int:
        return self.model.cfg.generator.source_size

    # ------------------------------------------------------------------ source
    def prepare_source(self, image: ImageSource, face_index: int | None = None) -> PreparedSource:
        """Find the face (``face_index``: 0 = largest), crop it like the training data and encode it."""
        rgb = load_image(image)
        signals = self.extractor.extract(rgb, face_index)
        transform = CropTransform(signals.box, self.source_size)
        crop = transform.warp(rgb)
        x = torch.from_numpy(crop).to(self.device).permute(2, 0, 1)[None].float() / 127.5 - 1
        with torch.inference_mode():
            features = self.model.encode_source(x)
        return PreparedSource(rgb, crop, transform, signals, features)

    def _prepared(self, src: PreparedSource | ImageSource) -> PreparedSource:
        return src if isinstance(src, PreparedSource) else self.prepare_source(src)

    # ------------------------------------------------------------------ render
    def render(self, src: PreparedSource | SourceFeatures, beta, camera) -> np.ndarray:
        """``beta (52,) | (N, 52)`` and ``camera (25,) | (N, 25)`` -> ``(N, out, out, 3)`` uint8.

        A single row is broadcast against the other's ``N``. Rendered in chunks of ``self.chunk``;
        ``out = output_size`` (Lanczos upscaling) or the model's size ``S`` when ``output_size`` is None.
        """
        features = src.features if isinstance(src, PreparedSource) else src
        beta = torch.as_tensor(np.asarray(beta, np.float32)).reshape(-1, self.model.cfg.expression.beta_dim)
        camera = torch.as_tensor(np.asarray(camera, np.float32)).reshape(-1, 25)
        n = max(len(beta), len(camera))
        if len(beta) not in (1, n) or len(camera) not in (1, n):
            raise ValueError(f"{len(beta)} expressions and {len(camera)} cameras do not match")
        beta, camera = beta.expand(n, -1).to(self.device), camera.expand(n, -1).to(self.device)
        out = []
        with torch.inference_mode():
            for i in range(0, n, self.chunk):
                images = self.model.animate_frame(features, beta[i:i + self.chunk], camera[i:i + self.chunk])
                out.extend(self._resize(to_uint8(images)))
        return np.stack(out)

    def _resize(self, frames: np.ndarray) -> list[np.ndarray]:
        size = self.output_size
        if size is None or frames.shape[1] == size:
            return list(frames)
        return [resize_square(f, size) for f in frames]

    def camera_for(self, driver: FaceSignals | None, view: ViewSettings) -> np.ndarray:
        """The ``(25,)`` float32 camera for a driver's pose and ``view`` (clamped, see ``ViewSettings``)."""
        return angles_camera(*view_angles(None if driver is None else driver.angles, view))

    # ----------------------------------------------------------------- animate
    def animate_image(self, src: PreparedSource | ImageSource, driver_image: ImageSource,
                      view: ViewSettings | None = None, driver_face_index: int | None = None) -> np.ndarray:
        """The portrait with the driver's expression (and pose): ``(out, out, 3)`` uint8."""
        src = self._prepared(src)
        driver = self.extractor.extract(load_image(driver_image), driver_face_index)
        return self.render(src, driver.beta, self.camera_for(driver, view or ViewSettings()))[0]

    def animate_video(self, src: PreparedSource | ImageSource, driver_video: str | os.PathLike,
                      out_path: str | os.PathLike, view: ViewSettings | None = None, max_seconds: float | None = 10.0,
                      smoothing: float = 0.5, progress: Callable[[int, int | None], None] | None = None,
                      audio: bool = True, side_by_side: bool = False) -> AnimationResult:
        """Animate along a driving video into an H.264 MP4 at ``out_path`` (streaming, chunk by chunk).

        Only the first ``max_seconds`` of the driver are used (None: all). ``progress(done, total)`` is called
        after each chunk (``total`` is an estimate, None if unknown). The driver's audio is muxed in when
        ``audio`` and it has some. ``side_by_side``: each frame is ``driver | output``. Frames where the face
        was lost keep interpolated signals and are counted in ``lost_frames``. A driver without any face
        raises ``NoFaceError``; on any error no file is left at ``out_path``.
        """
        out_path = Path(out_path)
        if out_path.suffix.lower() != ".mp4":
            raise ValueError(f"the output video must be an .mp4 file, got {out_path.name}")
        t0 = time.perf_counter()
        src = self._prepared(src)
        view = view or ViewSettings()
        stats = _Stats()
        with open_video(driver_video, max_seconds=max_seconds) as reader:
            info = reader.info
            total = _expected_frames(info.frame_count, info.fps, max_seconds)
            shown = deque() if side_by_side else None
            signals = self.extractor.track(_tee(reader, shown), info.fps, smoothing)
            frames = self._stream(src, signals, view, stats, shown, progress, total)
            write_video(out_path, frames, info.fps, audio_from=driver_video if audio and info.has_audio else None)
        warnings = stats.warnings(view)
        if src.signals.num_faces > 1:
            warnings.insert(0, f"{src.signals.num_faces} faces were found in the portrait; "
                               f"face {src.signals.face_index + 1} (largest first) was animated.")
        if max_seconds is not None and info.duration is not None and info.duration > max_seconds + 0.5 / info.fps:
            warnings.append(f"Only the first {max_seconds:g} s of the {info.duration:.1f} s driving video were used.")
        return AnimationResult(out_path, stats.frames, info.fps, time.perf_counter() - t0, stats.lost, warnings)

    def _stream(self, src: PreparedSource, signals: Iterable[FaceSignals], view: ViewSettings, stats: _Stats,
                shown: deque | None, progress: Callable | None, total: int | None) -> Iterator[np.ndarray]:
        for chunk in _chunks(signals, self.chunk):
            images = self.render(src, np.stack([s.beta for s in chunk]),
                                 np.stack([self.camera_for(s, view) for s in chunk]))
            for s, image in zip(chunk, images, strict=True):
                stats.add(s, view)
                yield side_by_side(shown.popleft(), image) if shown is not None else image
            if progress is not None:
                progress(stats.frames, total)

    # ------------------------------------------------------------------- views
    def orbit(self, src: PreparedSource | ImageSource, beta=None, frames: int = 48, yaw_range: float = 30.0,
              pitch_range: float = 10.0) -> np.ndarray:
        """A looping camera orbit ``(F, out, out, 3)`` uint8 (``views.orbit_angles``); ``beta`` None = the
        portrait's own expression."""
        src = self._prepared(src)
        return self.render(src, src.signals.beta if beta is None else beta,
                           orbit_cameras(frames, yaw_range, pitch_range))

    def grid(self, src: PreparedSource | ImageSource, beta=None, yaws=(-30, -15, 0, 15, 30),
             pitches=(-15, 0, 15)) -> np.ndarray:
        """Contact sheet ``(len(pitches) * out, len(yaws) * out, 3)`` uint8: one row per pitch, one column per yaw."""
        src, yaws = self._prepared(src), list(yaws)
        images = self.render(src, src.signals.beta if beta is None else beta, grid_cameras(yaws, pitches))
        return contact_sheet(images, len(yaws))


# --------------------------------------------------------------------- helpers
@dataclass
class _Stats:
    frames: int = 0
    lost: int = 0
    clamped: int = 0

    def add(self, s: FaceSignals, view: ViewSettings) -> None:
        self.frames += 1
        self.lost += bool(s.interpolated)
        if view.follow_head:
            wanted = (s.angles[0] + view.yaw, s.angles[1] + view.pitch, s.angles[2])
            self.clamped += any(abs(a - b) > 1e-6 for a, b in zip(wanted, view_angles(s.angles, view), strict=True))

    def warnings(self, view: ViewSettings) -> list[str]:
        out = []
        if self.lost:
            out.append(f"The face was lost in {self.lost} of {self.frames} driving frames; "
                       "those frames were filled in from their neighbours.")
        if self.clamped:
            out.append(f"In {self.clamped} frame(s) the head pose was beyond the supported range "
                       "(yaw 45, pitch 30, roll 30 degrees) and was limited to it.")
        return out


def _expected_frames(frame_count: int | None, fps: float, max_seconds: float | None) -> int | None:
    if max_seconds is None:
        return frame_count
    cap = math.ceil(max_seconds * fps - 1e-6)
    return cap if frame_count is None else min(frame_count, cap)


def _tee(frames: Iterable[np.ndarray], keep: deque | None) -> Iterator[np.ndarray]:
    """Pass frames through, remembering them in ``keep`` (when given) until the consumer pops them."""
    for frame in frames:
        if keep is not None:
            keep.append(frame)
        yield frame


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
