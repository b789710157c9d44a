"""The animation jobs behind ``Animator.animate_video``, ``Animator.animate_still`` and ``Animator.export_mesh``.

Imports run one way: ``animator -> jobs -> frames``. A job receives what it uses (the ``FrameRenderer``, the
face extractor, a ``PreparedSource``), never the ``Animator``.

Video (``run_video``): streaming decode -> track -> render -> encode, chunk by chunk; decoding and tracking run
``TRACK_AHEAD`` chunks ahead on a thread (``prefetch.ahead``), overlapping the rendering. The optional depth video
is written beside the colour one: ``write_video`` pulls frames from an iterator, so the depth frames go through
a bounded queue to a second ``write_video`` on a thread (``media.side_video.SideVideo``). Image (``run_still``): one
frame.
Mesh (``run_mesh``): marching cubes of the tri-plane density (``rendering.mesh``).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..face.extractor import FaceExtractor, FaceSignals
from ..face.framing import FramingTrack, reframe
from ..media.encode import write_video
from ..media.files import atomic_write
from ..media.image import ImageSource, load_image, save_image
from ..media.kind import IMAGE_OUTPUTS
from ..media.side_video import SideVideo
from ..media.video import TRACKING_MAX_SIDE, open_video
from ..rendering.camera import camera_angles
from ..rendering.mesh import density_grid, extract_mesh, surface_threshold, vertex_colors, write_mesh
from .expression import RELATIVE_IMAGE_WARNING, ExpressionSettings, transfer_expression
from .frames import FrameRenderer
from .paste import Canvas, turn_warning
from .prefetch import ahead
from .types import AnimationResult, PreparedSource
from .views import ViewSettings, requested_angles, side_by_side, view_angles, view_camera

TRACK_AHEAD = 2  #: chunks of driver frames decoded and tracked ahead of the rendering


@dataclass
class VideoJob:
    """The arguments of one ``animate_video`` call (documented there)."""

    driver: str | Path
    out_path: Path
    view: ViewSettings
    expression: ExpressionSettings
    max_seconds: float | None = 10.0
    smoothing: float = 0.5
    progress: Callable[[int, int | None], None] | None = None
    audio: bool = True
    side_by_side: bool = False
    depth_path: Path | None = None
    crop: bool = False
    tracked: list[FaceSignals] | None = None  #: the driver's signals tracked at ``smoothing`` (``track_video``)


def make_canvas(frames: FrameRenderer, src: PreparedSource, crop: bool) -> Canvas | None:
    """What the frames are laid on (``pipeline/paste.py``), kept on ``src``: the whole photo, or (``crop``) the face
    crop at ``paste.CROP_SIZE``. None for a generated model's crop: its frames are its own render, resized."""
    if crop and not frames.model.warped:
        return None
    key = "crop" if crop else "photo"
    if key not in src.canvases:
        own = frames.own_opacity(src.features, src.signals.beta, src.signals.camera)
        make = Canvas.for_crop if crop else Canvas.for_photo
        src.canvases[key] = make(src.image, src.transform, own)
    return src.canvases[key]


def run_video(frames: FrameRenderer, extractor: FaceExtractor, src: PreparedSource, job: VideoJob,
              t0: float) -> AnimationResult:
    """Run ``job``; on any error neither ``job.out_path`` nor ``job.depth_path`` is left behind."""
    for path in (job.out_path, job.depth_path):
        if path is not None and path.suffix.lower() != ".mp4":
            raise ValueError(f"the output video must be an .mp4 file, got {path.name}")
    stats, depth, written = _Stats(), None, []
    canvas = make_canvas(frames, src, job.crop)
    try:
        with open_video(job.driver, max_seconds=job.max_seconds, max_side=TRACKING_MAX_SIDE) as reader:
            info = reader.info
            depth = SideVideo(job.depth_path, info.fps) if job.depth_path is not None else None
            shown = deque() if job.side_by_side else None
            frames_in = _tee(reader, shown)
            if job.tracked is None:
                signals = extractor.track(frames_in, info.fps, job.smoothing)
            else:  # decoded only for the side-by-side frames and the count: one signal per frame read
                signals = (s for _, s in zip(frames_in, job.tracked, strict=False))
            with closing(ahead(signals, TRACK_AHEAD * frames.chunk)) as signals:  # stopped before the reader closes
                images = _stream(frames, src, signals, job, stats, shown, depth,
                                 _expected_frames(info.frame_count, info.fps, job.max_seconds), canvas,
                                 framing_track(src, job.view, info.fps, job.smoothing))
                audio = job.driver if job.audio and info.has_audio else None
                written.append(write_video(job.out_path, images, info.fps, audio_from=audio))
        if depth is not None:
            written.append(depth.finish())
    except BaseException:
        if depth is not None:
            depth.abort()
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return AnimationResult(job.out_path, stats.frames, info.fps, time.perf_counter() - t0, stats.lost,
                           _warnings(src, stats, job, info), depth_path=job.depth_path)


def track_video(extractor: FaceExtractor, path, max_seconds: float | None, smoothing: float) -> list[FaceSignals]:
    """The signals of the first ``max_seconds`` of a driving video, as ``run_video`` tracks them (``VideoJob.tracked``
    takes them back, so that a clip tracked once, e.g. while the user looks at its preview, animates at once)."""
    with open_video(path, max_seconds=max_seconds, max_side=TRACKING_MAX_SIDE) as reader:
        return list(extractor.track(reader, reader.info.fps, smoothing))


def drive_still(extractor: FaceExtractor, src: PreparedSource, driver_image: ImageSource, view: ViewSettings | None,
                expression: ExpressionSettings | None, driver_face_index: int | None = None):
    """``(beta (1, 52), camera (25,), driver (H, W, 3) uint8)`` for a driving image."""
    rgb = load_image(driver_image)
    driver = extractor.extract(rgb, driver_face_index)
    beta = transfer_expression(driver.beta, src.signals.beta, (expression or ExpressionSettings()).resolved(False))
    return beta, view_camera(driver.angles, view or ViewSettings(), src.signals.angles), rgb


def run_still(frames: FrameRenderer, extractor: FaceExtractor, src: PreparedSource, driver, out_path=None,
              view: ViewSettings | None = None, expression: ExpressionSettings | None = None,
              side_by_side: bool = False, depth_path=None, driver_face_index: int | None = None, progress=None,
              max_seconds=None, smoothing=None, audio=None, crop: bool = False) -> AnimationResult:
    """``Animator.animate_still`` (documented there); the video-only options are ignored."""
    t0 = time.perf_counter()
    paths = [None if p is None else Path(p) for p in (out_path, depth_path)]
    for p in paths:
        if p is not None and p.suffix.lower() not in IMAGE_OUTPUTS:
            raise ValueError(f"the output image must end with {', '.join(IMAGE_OUTPUTS)}; got {p.name}")
    beta, camera, rgb = drive_still(extractor, src, driver, view, expression, driver_face_index)
    canvas = make_canvas(frames, src, crop)
    images, depths = frames.frames(src.features, beta, camera, depth=depth_path is not None, warp=src.warp,
                                   canvas=canvas)
    image = _side_by_side(rgb, images[0]) if side_by_side else images[0]
    for p, data in zip(paths, (image, None if depths is None else depths[0]), strict=True):
        if p is not None:
            save_image(p, data)
    if progress is not None:
        progress(1, 1)
    warnings = [several_faces_warning(src)] if src.signals.num_faces > 1 else []
    if expression is not None and expression.relative:
        warnings.append(RELATIVE_IMAGE_WARNING)
    if not crop and (turned := turn_warning(_turn(camera, src.signals.camera))):
        warnings.append(turned)
    return AnimationResult(paths[0], 1, 0.0, time.perf_counter() - t0, 0, warnings, image, paths[1])


def _turn(camera, own_camera) -> float:
    """The largest of |yaw| and |pitch| between two ``(25,)`` cameras, degrees."""
    yaw, pitch = camera_angles(torch.as_tensor(np.stack([camera, own_camera]), dtype=torch.float32).reshape(2, 25))
    return float(max(abs(yaw[0] - yaw[1]), abs(pitch[0] - pitch[1])))


_side_by_side = side_by_side  # ``run_still`` has a parameter of that name


def run_mesh(frames: FrameRenderer, src: PreparedSource, path: Path, beta, resolution: int,
             threshold: float | None) -> Path:
    """``Animator.export_mesh`` (documented there)."""
    if path.suffix.lower() not in (".obj", ".glb"):
        raise ValueError(f"the mesh file must end with .obj or .glb, got {path.name}")
    model = frames.model
    settings, decoder = model.render_settings(), model.decoder
    with torch.inference_mode():
        features, b, _ = frames.inputs(src.features, src.signals.beta if beta is None else beta, np.zeros(25))
        planes = model.planes(features, b[:1])
        grid = density_grid(planes, decoder, resolution, settings.box_size)
        level = surface_threshold(settings) if threshold is None else threshold
        verts, faces = extract_mesh(grid, level, settings.box_size)
        colors = vertex_colors(planes, decoder, verts, settings.box_size)
    return atomic_write(path, lambda tmp: write_mesh(tmp, verts, faces, colors))


def _warnings(src: PreparedSource, stats: _Stats, job: VideoJob, info) -> list[str]:
    out = stats.warnings(job.view)
    if not job.crop and (turned := turn_warning(stats.turned)):
        out.append(turned)
    if src.signals.num_faces > 1:
        out.insert(0, several_faces_warning(src))
    m = job.max_seconds
    if m is not None and info.duration is not None and info.duration > m + 0.5 / info.fps:
        out.append(f"Only the first {m:g} s of the {info.duration:.1f} s driving video were used.")
    return out


def several_faces_warning(src: PreparedSource) -> str:
    return (f"{src.signals.num_faces} faces were found in the portrait; "
            f"face {src.signals.face_index + 1} (largest first) was animated.")


def framing_track(src: PreparedSource, view: ViewSettings, fps: float, smoothing: float) -> FramingTrack | None:
    """The driver's framing applied around the portrait's face in its crop (``face/framing.py``), when ``view``
    follows the driver's head relative to the portrait (``ViewSettings.follow_position``); else None."""
    if not (view.relative and view.follow_head and view.follow_position):
        return None
    t = src.transform
    return FramingTrack(t.image_to_crop(src.signals.landmarks), t.out_size, fps, smoothing)


def _stream(frames: FrameRenderer, src: PreparedSource, signals: Iterable[FaceSignals], job: VideoJob,
            stats: _Stats, shown: deque | None, depth: SideVideo | None, total: int | None,
            canvas: Canvas | None = None, framing: FramingTrack | None = None) -> Iterator[np.ndarray]:
    reference = None  #: the driver's first frame (relative expression transfer and head motion)
    own = src.signals.angles
    for chunk in _chunks(signals, frames.chunk):
        driver_beta = np.stack([s.beta for s in chunk])
        reference = chunk[0] if reference is None else reference
        beta = transfer_expression(driver_beta, src.signals.beta, job.expression.resolved(True), reference.beta)
        cameras = np.stack([view_camera(s.angles, job.view, own, reference.angles) for s in chunk])
        if framing is not None:
            cameras = np.stack([reframe(c, framing(s.landmarks)) for c, s in zip(cameras, chunk, strict=True)])
        images, depths = frames.frames(src.features, beta, cameras, depth=depth is not None, warp=src.warp,
                                       canvas=canvas)
        for k, (s, image) in enumerate(zip(chunk, images, strict=True)):
            stats.add(s, job.view, own, reference.angles)
            if depth is not None:
                depth.put(depths[k])
            yield side_by_side(shown.popleft(), image) if shown is not None else image
        if job.progress is not None:
            job.progress(stats.frames, total)


@dataclass
class _Stats:
    frames: int = 0
    lost: int = 0
    clamped: int = 0
    turned: float = 0.0  #: largest |yaw| or |pitch| away from the portrait's own view (relative views)

    def add(self, s: FaceSignals, view: ViewSettings, own=None, reference=None) -> None:
        self.frames += 1
        self.lost += bool(s.interpolated)
        if own is not None and view.relative:
            got = view_angles(s.angles, view, own, reference)
            self.turned = max(self.turned, abs(got[0] - own[0]), abs(got[1] - own[1]))
        if view.follow_head:
            wanted = requested_angles(s.angles, view, own, reference)
            got = view_angles(s.angles, view, own, reference)
            self.clamped += any(abs(a - b) > 1e-6 for a, b in zip(wanted, got, strict=True))

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
