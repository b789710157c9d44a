"""The demo's renders and files: preview, the image driver's clip, grid, orbit, depth, mesh, status texts."""

from __future__ import annotations

import math
import os
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import NoSurfaceError
from .files import prune_files
from .inputs import DemoMessage, Driver

IMAGE_CLIP_SECONDS = 2.0  #: an image driver animates into a clip of this length (own expression -> driver's)
IMAGE_CLIP_FPS = 25.0
ORBIT_FRAMES, ORBIT_FPS = 48, 24.0
OUTPUT_MAX_AGE = 3600.0  #: seconds; older demo outputs are deleted when new ones are written
OUTPUT_MAX_MB = 1024.0  #: the outputs' total size cap (``EXPORT3D_DEMO_MAX_OUTPUT_MB``): the oldest go first
MESH_RESOLUTION = 64  #: marching-cubes grid of the "3D mesh" button
PREVIEW_SIDE = 640  #: the preview's longest side (the whole photo is scaled down to it for the page)


# --------------------------------------------------------------------------- settings
def view_settings(yaw: float, pitch: float, follow_head: bool):
    """``ViewSettings`` from the sliders (no roll offset: the pipeline's camera has none; a driver's roll is kept)."""
    from ..pipeline import ViewSettings

    return ViewSettings(yaw=float(yaw or 0.0), pitch=float(pitch or 0.0), follow_head=bool(follow_head))


def expression_settings(strength: float | None, mode: str | bool | None):
    """``ExpressionSettings`` from the slider (0..2, clipped) and the radio ("Auto"/"Absolute"/"Relative"; auto:
    relative for driving videos, absolute for images)."""
    from ..pipeline import ExpressionSettings

    strength = 1.0 if strength is None else float(np.clip(float(strength), 0.0, 2.0))
    word = str(mode or "").strip().lower()
    relative = mode if isinstance(mode, bool) else (None if word.startswith("auto") or not word
                                                    else word.startswith("relative"))
    return ExpressionSettings(strength=strength, relative=relative)


def expression_beta(src, driver: Driver | None, expression=None) -> np.ndarray:
    """The ``(52,)`` expression the preview, grid, orbit and mesh use: the driver's (first face) with the
    expression settings applied, or the portrait's own without a driver."""
    if driver is None or driver.signals is None:
        return np.asarray(src.signals.beta, np.float32)
    from ..pipeline import ExpressionSettings, transfer_expression

    expression = (expression or ExpressionSettings()).resolved(driver.kind == "video")
    # relative: the reference is the driver's first face, i.e. the preview frame itself
    return transfer_expression(driver.beta, src.signals.beta, expression, reference_beta=driver.beta)[0]


# --------------------------------------------------------------------------- render
def on_device(src, device):
    """``src`` (PreparedSource) with its cached features on ``device`` (no copy when already there).

    The app keeps sources on the CPU between calls (a GPU may only be attached during a call, as on
    Hugging Face ZeroGPU) and moves them in for rendering.
    """
    return src.to(device)


def preview(animator, src, driver: Driver | None, view, expression=None, crop: bool = False) -> np.ndarray:
    """One frame: the driver's expression (or the portrait's own), camera from ``view``: the whole photo (or the
    face crop, ``crop``) with the head animated, its long side at most ``PREVIEW_SIDE``."""
    signals = None if driver is None else driver.signals
    camera = animator.camera_for(signals, view, src)
    src = on_device(src, animator.device)
    frame = animator.render_frames(src, expression_beta(src, driver, expression), camera,
                                   canvas=animator.canvas(src, crop))[0][0]
    return shrink(frame, PREVIEW_SIDE)


def shrink(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` scaled down (area) so that its long side is at most ``side``; unchanged when it already is."""
    import cv2

    h, w = image.shape[:2]
    if max(h, w) <= side:
        return image
    k = side / max(h, w)
    return cv2.resize(image, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)


def crop_preview(src, size: int = 256) -> np.ndarray:
    """The model's input crop (``S x S``), upscaled to ``size`` for display (nearest: the pixels stay visible)."""
    from PIL import Image

    return np.asarray(Image.fromarray(src.crop).resize((size, size), Image.Resampling.NEAREST))


def compare_image(animator, src, result: np.ndarray, crop: bool = False) -> np.ndarray:
    """``portrait | result`` at the result's height: the picture the result was laid on (the whole photo or the
    face crop; the model's input crop for a generated model's crop), then the result."""
    from ..pipeline.views import side_by_side

    canvas = animator.canvas(src, crop)
    return side_by_side(src.crop if canvas is None else canvas.target, result)


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


def image_clip_inputs(src, driver: Driver, view, expression=None, seconds: float = IMAGE_CLIP_SECONDS,
                      fps: float = IMAGE_CLIP_FPS) -> tuple[np.ndarray, np.ndarray]:
    """``(betas (F, 52), cameras (F, 25))`` of an image driver's clip: from the portrait's own expression (and the
    view without the driver's pose) to the driver's expression (settings applied) and pose (a relative view: the
    portrait's own pose plus the offsets, both ends)."""
    from ..pipeline.views import view_angles
    from ..rendering.camera import camera_from_angles

    frames = max(2, round(seconds * fps))
    betas = expression_ramp(src.signals.beta, expression_beta(src, driver, expression), frames)
    own = src.signals.angles
    start = np.array(view_angles(None, replace(view, follow_head=False), own))
    end = np.array(view_angles(driver.signals.angles, view, own))
    cameras = np.stack([camera_from_angles(*(start + (end - start) * k)) for k in ease_weights(frames)])
    return betas, cameras


def animate_image_clip(animator, src, driver: Driver, view, out_path: Path, expression=None,
                       depth_path: Path | None = None, fps: float = IMAGE_CLIP_FPS,
                       crop: bool = False) -> tuple[Path, np.ndarray]:
    """Image driver: the clip of :func:`image_clip_inputs` as an mp4 (and its depth video when ``depth_path``):
    the whole photo, or the face crop (``crop``). Returns the mp4 path and the last frame."""
    from ..media.encode import write_video

    betas, cameras = image_clip_inputs(src, driver, view, expression, fps=fps)
    src = on_device(src, animator.device)
    images = animator.render_frames(src, betas, cameras, canvas=animator.canvas(src, crop))[0]
    write_video(out_path, images, fps)
    if depth_path is not None:
        write_video(depth_path, animator.render_depth(src, betas, cameras), fps)
    return out_path, images[-1]


def orbit_video(animator, src, driver: Driver | None, out_path: Path, expression=None) -> Path:
    from ..media.encode import write_video

    images = animator.orbit(on_device(src, animator.device), beta=expression_beta(src, driver, expression),
                            frames=ORBIT_FRAMES)
    return write_video(out_path, images, ORBIT_FPS)


def grid_image(animator, src, driver: Driver | None, expression=None) -> np.ndarray:
    return animator.grid(on_device(src, animator.device), beta=expression_beta(src, driver, expression))


def export_meshes(animator, src, driver: Driver | None, stem: str, expression=None) -> tuple[Path, Path]:
    """The current expression's surface as ``(GLB for gr.Model3D, OBJ for download)``."""
    beta = expression_beta(src, driver, expression)
    src = on_device(src, animator.device)
    try:
        glb = animator.export_mesh(src, new_output(stem, ".glb"), beta=beta, resolution=MESH_RESOLUTION)
    except NoSurfaceError as e:
        raise DemoMessage("The model produced no solid surface for this portrait and expression, so there is no "
                          "mesh to export. Try another portrait or expression.") from e
    obj = animator.export_mesh(src, new_output(stem, ".obj"), beta=beta, resolution=MESH_RESOLUTION)
    return Path(glb), Path(obj)


# --------------------------------------------------------------------------- outputs
def gradio_cache() -> Path:
    """Gradio's own cache folder, where it stores uploads and the files it serves: ``$GRADIO_TEMP_DIR`` or
    ``<tmp>/gradio`` (Gradio's rule)."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or str(Path(tempfile.gettempdir()) / "gradio"))


def output_dir() -> Path:
    """``$EXPORT3D_DEMO_OUTPUTS``, else a folder inside Gradio's own cache (:func:`gradio_cache`): Gradio serves
    files from there without copying them, so each result is stored once."""
    env = os.environ.get("EXPORT3D_DEMO_OUTPUTS")
    path = Path(env) if env else gradio_cache() / "export3d-outputs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_output(stem: str, suffix: str = ".mp4", max_age: float = OUTPUT_MAX_AGE, max_mb: float | None = None) -> Path:
    """A fresh file name in :func:`output_dir`; first deletes outputs older than ``max_age`` seconds, then the
    oldest until they total at most ``max_mb`` (None: ``EXPORT3D_DEMO_MAX_OUTPUT_MB`` or ``OUTPUT_MAX_MB``)."""
    folder = output_dir()
    cap = float(os.environ.get("EXPORT3D_DEMO_MAX_OUTPUT_MB") or OUTPUT_MAX_MB) if max_mb is None else max_mb
    prune(folder, max_age, int(cap * 2**20))
    return folder / f"{stem}-{uuid.uuid4().hex[:10]}{suffix}"


def prune(folder: Path, max_age: float, max_bytes: int) -> None:
    """Delete the files of ``folder`` older than ``max_age`` seconds, then the oldest until the rest total at most
    ``max_bytes`` (files vanishing meanwhile, or undeletable, are skipped)."""
    prune_files(folder.glob("*"), max_age, max_bytes)


# ---------------------------------------------------------------------------- status
def source_status(src, seconds: float | None = None, notes: list[str] | None = None) -> str:
    s = src.signals
    yaw, pitch, roll = s.angles
    text = (f"Portrait ready: face found (head yaw {yaw:+.0f}°, pitch {pitch:+.0f}°, roll {roll:+.0f}°), "
            f"{src.image.shape[1]}x{src.image.shape[0]} px")
    if seconds is not None:
        text += f", prepared in {seconds:.1f} s"
    text += "."
    if s.num_faces > 1:
        text += f" {s.num_faces} faces were found; the largest is used."
    return "\n".join([text, *(notes or [])])


def animation_status(result, max_seconds: float | None = None, driver: Driver | None = None,
                     limit: float | None = None) -> str:
    """Wall time, fps, lost frames, trimming and the pipeline's warnings, one item per line."""
    clip = result.frames / result.fps if result.fps else 0.0
    speed = result.frames / result.seconds if result.seconds > 0 else float("inf")
    frames = f"{result.frames} frame{'' if result.frames == 1 else 's'}"
    lines = [f"Animated {frames} ({clip:.1f} s at {result.fps:g} fps) in {result.seconds:.1f} s "
             f"({speed:.1f} frames/s).",
             f"Lost frames (face not found, filled in): {result.lost_frames}."]
    lines += [f"Note: {w}" for w in result.warnings]
    duration = None if driver is None else driver.duration
    if duration and limit is not None and max_seconds is not None and duration > limit + 1e-6 \
            and max_seconds >= limit - 1e-6:
        lines.append(f"Trimmed: the driving video is {duration:.1f} s long and the demo uses at most "
                     f"{limit:g} s of it.")
    if duration and result.fps and max_seconds is not None:
        expected = math.floor(min(duration, max_seconds) * result.fps + 1e-6)
        if result.frames < 0.9 * expected - 1:
            lines.append(f"Note: the driving video ended after {result.frames} of the {expected} frames its header "
                         "announces; the file may be incomplete (truncated), so the animation is shorter.")
    return "\n".join(lines)
