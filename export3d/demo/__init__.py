"""UI-independent logic of the web demo (``app.py``): limits, lazy model, uploads, drivers, renders, messages.

Nothing here imports Gradio, so it is unit-tested directly and reusable from another front end.
The app keeps a :class:`~export3d.pipeline.PreparedSource` and a :class:`Driver` per browser
session; a preview only renders (one frame, no face detection), which keeps slider feedback fast.

- ``limits``: :class:`DemoLimits` (upload size, image size, clip length, queue, ZeroGPU durations; env variables)
- ``inputs``: :class:`LazyAnimator`, uploads (:func:`prepare_portrait`, :func:`load_driver`), :func:`user_message`
- ``outputs``: preview, the image driver's clip, grid, orbit, depth, mesh, output files, status texts
- ``store``: :class:`SessionStore` (the portraits and drivers of all sessions, one memory budget)
- ``activity``, ``sweep``, ``uploads``, ``files``: housekeeping of a long-running server (memory given back when
  idle, uploads bounded on disk)
"""

from .activity import Activity
from .driver_view import preview_video, signal_table, track_key
from .inputs import (
    DRIVER_SCAN_SECONDS,
    EXAMPLES_DIR,
    REPO_ROOT,
    DemoMessage,
    Driver,
    LazyAnimator,
    checkpoint_description,
    driver_kind,
    load_driver,
    load_picture,
    prepare_portrait,
    upload_path,
    user_message,
    with_note,
)
from .limits import ENV, DemoLimits
from .outputs import (
    IMAGE_CLIP_FPS,
    IMAGE_CLIP_SECONDS,
    MESH_RESOLUTION,
    ORBIT_FPS,
    ORBIT_FRAMES,
    OUTPUT_MAX_AGE,
    PREVIEW_SIDE,
    animate_image_clip,
    animation_status,
    compare_image,
    crop_preview,
    ease_weights,
    export_meshes,
    expression_beta,
    expression_ramp,
    expression_settings,
    gradio_cache,
    grid_image,
    image_clip_inputs,
    new_output,
    on_device,
    orbit_video,
    output_dir,
    preview,
    shrink,
    source_status,
    view_settings,
)
from .store import Handle, ReleasedError, SessionStore
from .sweep import SWEEP_PERIOD, IdleSweep, SweepReport, run_every
from .uploads import UploadSweep

__all__ = [
    "SWEEP_PERIOD", "Activity", "IdleSweep", "SweepReport", "UploadSweep", "gradio_cache", "run_every",
    "DRIVER_SCAN_SECONDS", "ENV", "EXAMPLES_DIR", "IMAGE_CLIP_FPS", "IMAGE_CLIP_SECONDS",
    "MESH_RESOLUTION", "ORBIT_FPS", "ORBIT_FRAMES", "OUTPUT_MAX_AGE", "PREVIEW_SIDE", "REPO_ROOT", "DemoLimits",
    "DemoMessage", "Driver", "Handle", "LazyAnimator", "ReleasedError", "SessionStore", "animate_image_clip",
    "animation_status", "checkpoint_description",
    "compare_image", "crop_preview", "driver_kind", "ease_weights", "export_meshes", "expression_beta",
    "expression_ramp", "expression_settings", "grid_image", "image_clip_inputs", "load_driver", "load_picture",
    "new_output", "on_device", "orbit_video", "output_dir", "prepare_portrait", "preview", "preview_video", "shrink",
    "signal_table", "source_status", "track_key", "upload_path", "user_message", "view_settings", "with_note",
]
