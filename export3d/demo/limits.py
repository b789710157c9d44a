"""The web demo's limits: one dataclass, every field overridable by an environment variable.

``DemoLimits.from_env()`` reads ``EXPORT3D_DEMO_*`` (see :data:`ENV`); docs/app.md lists them and the app shows
the values in its "Limits" accordion (:meth:`DemoLimits.describe`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

#: field -> environment variable
ENV = {
    "max_upload_mb": "EXPORT3D_DEMO_MAX_UPLOAD_MB",
    "max_image_side": "EXPORT3D_DEMO_MAX_IMAGE_SIDE",
    "max_image_megapixels": "EXPORT3D_DEMO_MAX_IMAGE_MP",
    "max_clip_seconds": "EXPORT3D_DEMO_MAX_SECONDS",
    "max_clip_frames": "EXPORT3D_DEMO_MAX_FRAMES",
    "queue_size": "EXPORT3D_DEMO_QUEUE_SIZE",
    "gpu_base_seconds": "EXPORT3D_DEMO_GPU_BASE_SECONDS",
    "gpu_seconds_per_clip_second": "EXPORT3D_DEMO_GPU_SECONDS_PER_CLIP_SECOND",
    "max_uploads_mb": "EXPORT3D_DEMO_MAX_UPLOADS_MB",
    "idle_seconds": "EXPORT3D_DEMO_IDLE_SECONDS",
    "release_after_seconds": "EXPORT3D_DEMO_RELEASE_AFTER_SECONDS",
}


@dataclass(frozen=True)
class DemoLimits:
    max_upload_mb: float = 50.0  #: uploads above this are refused by Gradio (``launch(max_file_size=...)``)
    max_image_side: int = 2048  #: images whose longer side is larger are downscaled to it (with a notice)
    max_image_megapixels: float = 100.0  #: larger images are refused before decoding (with the limit in the message)
    max_clip_seconds: float = 20.0  #: longer driving videos are trimmed to their first ``max_clip_seconds`` (notice)
    max_clip_frames: int = 600  #: frames one animation renders at most (20 s at 30 fps): a 240-fps clip is cut shorter
    queue_size: int = 16  #: requests waiting in Gradio's queue; more are turned away ("queue is full")
    gpu_base_seconds: float = 30.0  #: ZeroGPU: fixed part of every ``spaces.GPU(duration=...)``
    gpu_seconds_per_clip_second: float = 5.0  #: ZeroGPU: added per second of driving clip (tracking + render)
    max_uploads_mb: float = 512.0  #: uploads kept in Gradio's cache at most; the oldest go first (``UploadSweep``)
    idle_seconds: float = 10.0  #: after this long without a job the server gives memory back (``IdleSweep``)
    release_after_seconds: float = 300.0  #: ... releasing portraits and drivers unused for this long

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"DemoLimits.{f.name} ({ENV[f.name]}) must be a positive number, got {value!r}")
        if self.max_uploads_mb < 2 * self.max_upload_mb:  # an upload being written must never be the one swept
            raise ValueError(f"{ENV['max_uploads_mb']} ({self.max_uploads_mb:g}) must be at least twice "
                             f"{ENV['max_upload_mb']} ({self.max_upload_mb:g})")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> DemoLimits:
        """Defaults, then ``EXPORT3D_DEMO_*`` variables, then ``overrides``; a bad value names its variable."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            text = environ.get(ENV[f.name], "").strip()
            if not text:
                continue
            kind = int if f.type in ("int", int) else float
            try:
                values[f.name] = kind(float(text)) if kind is int else kind(text)
            except ValueError:
                raise ValueError(f"{ENV[f.name]}={text!r} is not a number") from None
        return replace(cls(), **{**values, **overrides})

    # ------------------------------------------------------------------ derived
    @property
    def max_file_size(self) -> int:
        """Bytes, for ``gr.Blocks.launch(max_file_size=...)``."""
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_uploads_bytes(self) -> int:
        """Bytes, for ``UploadSweep``."""
        return int(self.max_uploads_mb * 2**20)

    @property
    def max_pixels(self) -> int:
        """For ``load_image(max_pixels=...)``."""
        return int(self.max_image_megapixels * 1_000_000)

    @property
    def default_clip_seconds(self) -> float:
        return min(10.0, self.max_clip_seconds)

    def clip_seconds(self, requested: float, fps: float | None) -> tuple[float, str | None]:
        """Seconds of a driving video one animation uses: ``requested`` (capped at ``max_clip_seconds``), cut so that
        at most ``max_clip_frames`` frames are rendered at ``fps``; and the user's sentence when that cut applies."""
        seconds = min(float(requested), self.max_clip_seconds)
        if not fps or fps * seconds <= self.max_clip_frames:
            return seconds, None
        cut = self.max_clip_frames / fps
        return cut, (f"The driving video has {fps:g} frames per second; one animation renders at most "
                     f"{self.max_clip_frames} frames, so its first {cut:.1f} s were used (`{ENV['max_clip_frames']}`).")

    def gpu_duration(self, clip_seconds: float = 0.0) -> int:
        """``spaces.GPU(duration=...)`` in seconds: ``ceil(gpu_base_seconds + gpu_seconds_per_clip_second *
        clip_seconds)``; the animation uses ``clip_seconds = max_clip_seconds``, the orbit 2 (48 frames at 24 fps),
        the image driver's clip 2, everything else 0."""
        return math.ceil(self.gpu_base_seconds + self.gpu_seconds_per_clip_second * clip_seconds)

    def describe(self) -> str:
        """Markdown bullet lines for the app's "Limits" accordion."""
        return "\n".join([
            f"- **Uploads** up to {self.max_upload_mb:g} MB (`{ENV['max_upload_mb']}`).",
            f"- **Images** larger than {self.max_image_side} pixels on the longer side are downscaled to it, with a "
            f"notice (`{ENV['max_image_side']}`); above {self.max_image_megapixels:g} megapixels they are refused "
            f"(`{ENV['max_image_megapixels']}`).",
            f"- **Driving videos**: at most the first {self.max_clip_seconds:g} s are used; longer videos are trimmed, "
            f"with a notice (`{ENV['max_clip_seconds']}`), and at most {self.max_clip_frames} frames are rendered "
            f"(`{ENV['max_clip_frames']}`).",
            f"- **Queue**: one model call at a time, at most {self.queue_size} requests waiting "
            f"(`{ENV['queue_size']}`).",
            f"- **Memory**: a portrait or driver unused for {self.release_after_seconds / 60:g} min is released once "
            f"the server has been idle for {self.idle_seconds:g} s; you are then asked to choose it again "
            f"(`{ENV['release_after_seconds']}`, `{ENV['idle_seconds']}`).",
            f"- **Disk**: uploads are kept at most an hour and {self.max_uploads_mb:g} MB in all, the oldest deleted "
            f"first (`{ENV['max_uploads_mb']}`).",
        ])
