"""Inference: animate one portrait from a driving image or video, or orbit the camera around it.

```python
from export3d.pipeline import Animator, ExpressionSettings, ViewSettings

anim = Animator.from_pretrained()                       # checkpoints/export3d-small, or EXPORT3D_CHECKPOINT
src = anim.prepare_source("portrait.jpg")               # face crop + cached source encoding (LRU cache)
frame = anim.animate_image(src, "driver.jpg")           # the whole photo, (H, W, 3) uint8 (long side <= 1920)
face = anim.animate_image(src, "driver.jpg", crop=True) # the face crop, (512, 512, 3) uint8
anim.animate_video(src, "driver.mp4", "out.mp4", ViewSettings(yaw=15), ExpressionSettings(relative=True))
res = anim.animate(src, "driver.jpg" or "driver.mp4", "out.png" or "out.mp4")   # dispatch by content
anim.export_mesh(src, "face.glb")                       # marching cubes of the tri-plane density
```

Images at the edges are ``uint8`` RGB ``(H, W, 3)``. The animation jobs (``animate*``) return the whole photo
with the animated head put back (``pipeline/paste.py``: the model's field applied to the photo at its own
resolution, long side at most 1920, even sides), or with ``crop=True`` the face crop at 512² (warped models).
``render``, ``orbit`` and ``grid`` return the model's crop at ``output_size`` (Lanczos from the model's size).
Cameras and their supported range: ``pipeline/views.py``; expression transfer: ``pipeline/expression.py``; the
jobs (video streaming, still, mesh): ``pipeline/jobs.py``; rendering frames: ``pipeline/frames.py``.
User-fixable problems raise an ``Export3DError`` (``export3d/errors.py``: bad or faceless images/videos, no
model), whose messages are meant for the user.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError
from ..face.extractor import FaceExtractor, FaceSignals
from ..media.image import ImageSource, load_image
from ..media.kind import is_video
from ..models.export3d import Export3D
from ..models.generator import SourceFeatures
from ..models.warped import WarpSource
from .expression import ExpressionSettings
from .frames import CHUNK, FrameRenderer
from .jobs import VideoJob, drive_still, make_canvas, run_mesh, run_still, run_video, track_video
from .paste import Canvas
from .source import encode_portrait, extractor_view
from .types import AnimationResult, PreparedSource
from .views import ViewSettings, contact_sheet, grid_cameras, orbit_cameras, view_camera

DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[2] / "checkpoints" / "export3d-small"
CHECKPOINT_HELP = ("Pass a checkpoint folder (config.json + model.safetensors, written by training: docs/training.md) "
                   "or a Hugging Face repo id with --checkpoint, or set EXPORT3D_CHECKPOINT.")
CACHE_SIZE = 8  #: prepared portraits kept by ``prepare_source``

def default_checkpoint() -> Path:
    """``EXPORT3D_CHECKPOINT`` if set, else ``DEFAULT_CHECKPOINT``."""
    env = os.environ.get("EXPORT3D_CHECKPOINT")
    return Path(env) if env else DEFAULT_CHECKPOINT


class Animator:
    """Ties the face extractor and an ``Export3D`` model together (see the module docstring)."""

    def __init__(self, model: Export3D, extractor: FaceExtractor | None = None, device=None,
                 output_size: int | None = 256, fast: bool = True, chunk: int = CHUNK, cache_size: int = CACHE_SIZE,
                 governor=None):
        """``fast``: bf16 CNNs (+ channels-last on CPU), see ``Export3D.configure_runtime``. ``governor``: a
        ``runtime.ThreadGovernor`` that sets torch's thread count to the free cores before each rendered chunk
        (the app and the CLI pass one; it changes a process-wide setting, so it is never the default)."""
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.model = model.to(self.device).eval()
        if fast:
            cpu = self.device.type == "cpu"
            self.model.configure_runtime(bf16_cnn=cpu or torch.cuda.is_bf16_supported(), channels_last=cpu)
        self._extractor = extractor
        self.frames = FrameRenderer(self.model, self.device, output_size, chunk)
        self.frames.governor = governor
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple, PreparedSource] = OrderedDict()
        self._cache_lock = threading.Lock()

    @classmethod
    def from_pretrained(cls, path_or_repo: str | os.PathLike | None = None, device=None, **kw) -> Animator:
        """Load a checkpoint (default: ``default_checkpoint()``); raises ``CheckpointError`` saying how to get one."""
        path = default_checkpoint() if path_or_repo is None else path_or_repo
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            model = Export3D.from_pretrained(path, device)
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
    def output_size(self) -> int | None:
        """Side of the frames returned (None: the model's own output size)."""
        return self.frames.output_size

    @output_size.setter
    def output_size(self, size: int | None) -> None:
        self.frames.output_size = size

    @property
    def chunk(self) -> int:
        """Frames rendered per model call."""
        return self.frames.chunk

    @chunk.setter
    def chunk(self, n: int) -> None:
        self.frames.chunk = n

    @property
    def source_size(self) -> int:
        return self.model.cfg.generator.source_size

    # ------------------------------------------------------------------ source
    def prepare_source(self, image: ImageSource, face_index: int | None = None, crop_scale: float = 1.0,
                       crop_offset: tuple[float, float] = (0.0, 0.0)) -> PreparedSource:
        """Find the face (``face_index``: 0 = largest), crop it like the training data and encode it.

        ``crop_scale`` multiplies the crop's side and ``crop_offset = (dx, dy)`` moves its centre by that
        fraction of the side (x right, y down), on top of the extractor's own ``ExtractorSettings``. The last
        ``cache_size`` results are cached (keyed by the pixels' SHA-1, shape, face and crop options): preparing
        the same picture again returns the same object (treat it as read-only) without running the face models
        or the encoder.
        """
        rgb = np.ascontiguousarray(load_image(image))
        rgb = rgb.copy() if rgb is image else rgb  # the cache must not share the caller's array
        offset = (float(crop_offset[0]), float(crop_offset[1]))
        key = (hashlib.sha1(rgb.data).hexdigest(), rgb.shape, face_index or 0, float(crop_scale), offset)
        with self._cache_lock:
            if (hit := self._cache.get(key)) is not None:
                self._cache.move_to_end(key)
                return hit
        src = self._prepare(rgb, face_index, float(crop_scale), offset)
        with self._cache_lock:
            self._cache[key] = src
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return src

    def clear_cache(self) -> None:
        """Forget the prepared portraits ``prepare_source`` keeps (a long-running server calls it when idle)."""
        with self._cache_lock:
            self._cache.clear()

    def _prepare(self, rgb: np.ndarray, face_index, crop_scale: float, offset: tuple[float, float]) -> PreparedSource:
        signals = extractor_view(self.extractor, crop_scale, offset).extract(rgb, face_index)
        return encode_portrait(self.model, rgb, signals, self.device, self.frames.model_size)

    def as_prepared(self, src: PreparedSource | ImageSource) -> PreparedSource:
        """``src`` itself when already prepared, else ``prepare_source(src)``."""
        return src if isinstance(src, PreparedSource) else self.prepare_source(src)

    # ------------------------------------------------------------------ render
    def render(self, src: PreparedSource | SourceFeatures, beta, camera) -> np.ndarray:
        """``beta (52,) | (N, 52)`` and ``camera (25,) | (N, 25)`` -> ``(N, out, out, 3)`` uint8.

        A single row is broadcast against the other's ``N``. Rendered in chunks of ``self.chunk``;
        ``out = output_size`` (Lanczos upscaling) or the model's size ``S`` when ``output_size`` is None.
        """
        return self.render_frames(src, beta, camera)[0]

    def render_frames(self, src: PreparedSource | SourceFeatures, beta, camera, depth: bool = False,
                      canvas: Canvas | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """``render`` and, if ``depth``, the depth maps ``(N, out, out)`` uint8 of the same pass (``render_depth``).
        ``canvas`` (``self.canvas(src)``): the frames are laid on its picture instead."""
        return self.frames.frames(_features(src), beta, camera, depth, _warp(src), canvas)

    def canvas(self, src: PreparedSource, crop: bool = False) -> Canvas | None:
        """What ``animate*`` lay the frames on: the whole photo, or (``crop``) the face crop at 512² (None for a
        generated model's crop). Made once per portrait (one render of its own opacity, an inpainting)."""
        return make_canvas(self.frames, src, crop)

    def render_depth(self, src: PreparedSource | SourceFeatures, beta, camera) -> np.ndarray:
        """Depth maps ``(N, out, out)`` uint8 (near = bright, background black; ``views.depth_to_uint8``).

        Made from the raw render (``render_size``, e.g. 32² for ``small``), upscaled bilinearly to ``out``.
        """
        return self.frames.depth(_features(src), beta, camera)

    def camera_for(self, driver: FaceSignals | None, view: ViewSettings, portrait: PreparedSource | None = None,
                   reference: FaceSignals | None = None) -> np.ndarray:
        """The ``(25,)`` float32 camera for a driver's pose and ``view`` (clamped, see ``ViewSettings``).

        ``portrait``: its own pose is where a relative ``view`` starts (without it the view is absolute);
        ``reference``: the driver's first frame, whose pose a relative view's head motion is measured from (None:
        the driver itself, i.e. no motion: the portrait's own pose plus the offsets).
        """
        return view_camera(None if driver is None else driver.angles, view,
                           None if portrait is None else portrait.signals.angles,
                           None if reference is None else reference.angles)

    # ----------------------------------------------------------------- animate
    def animate_image(self, src: PreparedSource | ImageSource, driver_image: ImageSource,
                      view: ViewSettings | None = None, expression: ExpressionSettings | None = None,
                      driver_face_index: int | None = None, crop: bool = False) -> np.ndarray:
        """The portrait with the driver's expression (and pose): the whole photo ``(H, W, 3)`` uint8, or the face
        crop (``crop``; see ``canvas``).

        Relative ``expression`` transfer uses the driver image itself as the reference, so it gives the
        portrait's own expression (``export3d.pipeline.expression``).
        """
        src = self.as_prepared(src)
        beta, camera, _ = self.drive_still(src, driver_image, view, expression, driver_face_index)
        return self.render_frames(src, beta, camera, canvas=self.canvas(src, crop))[0][0]

    def drive_still(self, src: PreparedSource, driver_image: ImageSource, view: ViewSettings | None,
                    expression: ExpressionSettings | None, driver_face_index: int | None = None):
        """``(beta (1, 52), camera (25,), driver (H, W, 3) uint8)`` for a driving image."""
        return drive_still(self.extractor, src, driver_image, view, expression, driver_face_index)

    def animate_video(self, src: PreparedSource | ImageSource, driver_video: str | os.PathLike,
                      out_path: str | os.PathLike, view: ViewSettings | None = None,
                      expression: ExpressionSettings | None = None, max_seconds: float | None = 10.0,
                      smoothing: float = 0.5, progress: Callable[[int, int | None], None] | None = None,
                      audio: bool = True, side_by_side: bool = False,
                      depth_path: str | os.PathLike | None = None, crop: bool = False,
                      tracked: list[FaceSignals] | None = None) -> AnimationResult:
        """Animate along a driving video into an H.264 MP4 at ``out_path`` (streaming, chunk by chunk).

        Only the first ``max_seconds`` of the driver are used (None: all). ``expression``: strength and
        absolute/relative transfer (relative: against the driver's first frame). ``progress(done, total)`` is
        called after each chunk (``total`` is an estimate, None if unknown). The driver's audio is muxed in when
        ``audio`` and it has some. ``side_by_side``: each frame is ``driver | output``. ``depth_path``: also
        write the depth maps (``render_depth``, out x out, same frames and fps) to that ``.mp4``. The frames are
        the whole photo, or the face crop with ``crop`` (``canvas``). ``tracked``: the driver's signals from
        ``track_video`` with the same ``smoothing`` (and at least ``max_seconds``), so it is not tracked again.
        Frames where the face was lost keep interpolated signals and are counted in ``lost_frames``. A driver
        without any face raises ``NoFaceError``; on any error no file is left at ``out_path`` or ``depth_path``.
        """
        t0 = time.perf_counter()
        job = VideoJob(driver_video, Path(out_path), view or ViewSettings(), expression or ExpressionSettings(),
                       max_seconds, smoothing, progress, audio, side_by_side,
                       None if depth_path is None else Path(depth_path), crop, tracked)
        if job.out_path.suffix.lower() != ".mp4":  # checked before the portrait is prepared
            raise ValueError(f"the output video must be an .mp4 file, got {job.out_path.name}")
        return run_video(self.frames, self.extractor, self.as_prepared(src), job, t0)

    def track_video(self, driver_video: str | os.PathLike, max_seconds: float | None = 10.0,
                    smoothing: float = 0.5) -> list[FaceSignals]:
        """The driver's per-frame signals as ``animate_video`` tracks them; pass them back as its ``tracked``."""
        return track_video(self.extractor, driver_video, max_seconds, smoothing)

    def animate(self, src: PreparedSource | ImageSource, driver, out_path: str | os.PathLike | None = None,
                view: ViewSettings | None = None, expression: ExpressionSettings | None = None,
                **video_kw) -> AnimationResult:
        """A driving image or video, told apart by content (``media.kind``).

        Video: ``animate_video(src, driver, out_path, view, expression, **video_kw)`` (``out_path`` required).
        Image: the frame is in ``result.image`` (``frames=1``, ``fps=0``) and written to ``out_path`` (.png,
        .jpg, .jpeg, .webp) when given; of ``video_kw`` it uses ``side_by_side``, ``depth_path`` (an image file),
        ``crop``, ``driver_face_index`` and ``progress`` (called once with ``(1, 1)``), and ignores the video-only
        ``max_seconds``, ``smoothing`` and ``audio``.
        """
        if is_video(driver):
            if out_path is None:
                raise ValueError("a driving video needs an output path (.mp4)")
            return self.animate_video(src, driver, out_path, view, expression, **video_kw)
        return self.animate_still(src, driver, out_path, view, expression, **video_kw)

    def animate_still(self, src: PreparedSource | ImageSource, driver_image: ImageSource,
                      out_path: str | os.PathLike | None = None, view: ViewSettings | None = None,
                      expression: ExpressionSettings | None = None, **still_kw) -> AnimationResult:
        """``animate`` for a driving image (documented there), whatever its content: ``(1, 1)`` frames, fps 0."""
        return run_still(self.frames, self.extractor, self.as_prepared(src), driver_image, out_path, view,
                         expression, **still_kw)

    # ------------------------------------------------------------------- views
    def orbit(self, src: PreparedSource | ImageSource, beta=None, frames: int = 48, yaw_range: float = 30.0,
              pitch_range: float = 10.0) -> np.ndarray:
        """A looping camera orbit ``(F, out, out, 3)`` uint8 (``views.orbit_angles``); ``beta`` None = the
        portrait's own expression."""
        src = self.as_prepared(src)
        return self.render(src, src.signals.beta if beta is None else beta,
                           orbit_cameras(frames, yaw_range, pitch_range))

    def grid(self, src: PreparedSource | ImageSource, beta=None, yaws=(-30, -15, 0, 15, 30),
             pitches=(-15, 0, 15)) -> np.ndarray:
        """Contact sheet ``(len(pitches) * out, len(yaws) * out, 3)`` uint8: one row per pitch, one column per yaw."""
        src, yaws = self.as_prepared(src), list(yaws)
        images = self.render(src, src.signals.beta if beta is None else beta, grid_cameras(yaws, pitches))
        return contact_sheet(images, len(yaws))

    # -------------------------------------------------------------------- mesh
    def export_mesh(self, src: PreparedSource | ImageSource, path: str | os.PathLike, beta=None,
                    resolution: int = 64, threshold: float | None = None) -> Path:
        """Write the portrait's 3D surface as ``.obj`` or ``.glb`` (by suffix); returns the path.

        Marching cubes (``rendering.mesh``) over the decoder's density of the tri-plane for ``beta (52,)``
        (None = the portrait's own expression) on a ``resolution``³ grid spanning the tri-plane box, at
        ``threshold`` (None = ``surface_threshold``: the density at which one coarse render step is half opaque),
        with vertex colours from the decoder's RGB. World units and axes: docs/conventions.md. Raises
        ``ValueError`` for another suffix or when the density never reaches the threshold.
        """
        return run_mesh(self.frames, self.as_prepared(src), Path(path), beta, resolution, threshold)




def _features(src: PreparedSource | SourceFeatures) -> SourceFeatures:
    return src.features if isinstance(src, PreparedSource) else src


def _warp(src: PreparedSource | SourceFeatures) -> WarpSource | None:
    return src.warp if isinstance(src, PreparedSource) else None
