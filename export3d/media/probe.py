"""What a video file holds, read without decoding it, through the ffmpeg binary bundled with ``imageio-ffmpeg``.

:func:`probe_video` parses the stream summary that ``ffmpeg -i FILE`` prints (no ffprobe is bundled) into a
:class:`VideoInfo`; ``media/video.py`` decodes the frames, ``media/encode.py`` writes videos.

- **Rotation.** Phones store portrait videos as landscape frames plus a rotation (an MP4
  display matrix; older files a ``rotate`` tag). ffmpeg prints the display matrix as
  ``Display Matrix: rotation of R degrees`` with R **counter-clockwise** (older builds:
  ``displaymatrix: ...`` plus a ``rotate`` tag, also parsed here). The bundled ffmpeg (9.0)
  no longer shows a ``rotate`` tag and silently ignores ``-metadata:s:v rotate=90`` when
  writing; ``-display_rotation`` (an input option) is the way to set a rotation.
  ``VideoInfo.rotation`` is the **clockwise** angle (0/90/180/270) that makes the stored
  frames upright - the legacy ``rotate`` tag's convention, which is what phones mean by
  "rotate 90". ``VideoInfo.width/height`` are the upright size. Mirroring flags of a display
  matrix (not written by cameras) are ignored, and so is a non-square sample aspect ratio.
- **Frame rate.** ``VideoInfo.fps`` is the container's average rate as ffmpeg reports it
  (the ``fps`` figure, else ``tbr``; 25 when neither is known).
- **Frame count** is an estimate, ``round(duration * fps)``; only decoding gives the truth.
- **Stills are refused.** ffmpeg would happily decode a PNG/JPEG as a one-frame "video";
  :func:`probe_video` recognises image formats and raises ``UnreadableVideoError`` with a
  sentence that tells the user to use it as the portrait instead, or, for an image type the
  image loader cannot read either (SVG...), that it is not a supported image type. (Animated
  GIFs are accepted as videos.)

Missing, empty, truncated or corrupt files, files that are not videos and videos without a video track raise
:class:`~export3d.errors.UnreadableVideoError` with a one-sentence message; ffmpeg's own log is chained as the
cause (a ``RuntimeError``, :class:`FfmpegLog`) for developers.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg

from ..errors import UnreadableVideoError, check_input_file
from .formats import pil_frames, read_head, unsupported_image_message, unsupported_image_type

#: fps reported when the container states none.
DEFAULT_FPS = 25.0
#: Seconds allowed for ``ffmpeg -i`` to print the stream summary.
PROBE_TIMEOUT = 60.0

#: ffmpeg demuxers of still images, plus every "*_pipe" one (png_pipe, jpeg_pipe, webp_pipe...).
_IMAGE_FORMATS = {"image2", "image2pipe"}


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary bundled with imageio-ffmpeg."""
    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` learns from the container (see the module docstring).

    ``width``/``height`` are the size of the frames :func:`iter_frames` yields (after
    rotation); ``rotation`` is the clockwise angle applied to the stored frames.
    ``frame_count`` is an estimate (``None`` if the duration is unknown); ``has_audio`` is
    ``None`` when unknown (never, with the ffmpeg summary parser).
    """

    fps: float
    frame_count: int | None
    width: int
    height: int
    rotation: int = 0
    duration: float | None = None
    has_audio: bool | None = None
    codec: str | None = None
    container: str | None = None
    stream_index: int = 0

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the yielded frames."""
        return self.width, self.height


class FfmpegLog(RuntimeError):
    """ffmpeg's own output, chained under the user-facing error (the reader's and writer's too)."""


def _check_file(path: Path) -> None:
    check_input_file(path, "video", UnreadableVideoError)


def ffmpeg_input(path: Path) -> str:
    """``path`` as an ffmpeg input or output argument."""
    # An absolute path never starts with "-" and is never mistaken for a protocol ("x:...").
    return str(path.absolute())


def _summary(path: Path) -> str:
    """stderr of ``ffmpeg -i path`` (ffmpeg exits with an error since no output is given)."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", ffmpeg_input(path)]
    try:
        res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=PROBE_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        raise UnreadableVideoError(f"Reading this video took too long; the file may be damaged: {path.name}") from e
    return res.stderr.decode("utf-8", errors="replace")


def _stream_blocks(text: str) -> list[tuple[int, str, str]]:
    """``[(index, kind, text)]`` for the first input's streams (``kind``: Video, Audio...).

    ``text`` is the stream line followed by its indented metadata / side data lines.
    """
    head = re.compile(r"^\s*Stream #0:(\d+)[^:]*: (\w+): ")
    blocks: list[tuple[int, str, list[str]]] = []
    inside = False
    for line in text.splitlines():
        m = head.match(line)
        if m:
            blocks.append((int(m.group(1)), m.group(2), [line]))
            inside = True
        elif inside and line[:1].isspace() and not re.match(r"^\s*(Input|Output) #", line):
            blocks[-1][2].append(line)
        else:
            inside = False
    return [(i, kind, "\n".join(lines)) for i, kind, lines in blocks]


def _rate(text: str, unit: str) -> float | None:
    m = re.search(r"(?<![\w.])(\d+(?:\.\d+)?)(k?) " + unit + r"\b", text)
    if not m:
        return None
    value = float(m.group(1)) * (1000.0 if m.group(2) else 1.0)
    return value if value > 0 else None


def _rotation(block: str) -> int:
    """Clockwise degrees (0/90/180/270) that make the stored frames upright."""
    m = re.search(r"display ?matrix: rotation of (-?\d+(?:\.\d+)?) degrees", block, re.IGNORECASE)
    if m:
        cw = -float(m.group(1))  # ffmpeg prints the counter-clockwise angle
    else:
        m = re.search(r"^\s*rotate\s*:\s*(-?\d+(?:\.\d+)?)\s*$", block, re.MULTILINE)
        cw = float(m.group(1)) if m else 0.0
    return int(round(cw / 90.0)) % 4 * 90


def _has_audio(text: str) -> bool:
    return any(kind == "Audio" for _, kind, _ in _stream_blocks(text))


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Read a video's size, rotation, frame rate, duration and audio presence (no decoding).

    Raises ``UnreadableVideoError`` if the file is missing, empty, not a video (or a still
    image), or has no video track.
    """
    path = Path(path)
    _check_file(path)
    text = _summary(path)
    return _parse_summary(text, path)


def _parse_summary(text: str, path: Path) -> VideoInfo:
    m = re.search(r"^Input #0, (.+?), from ", text, re.MULTILINE)
    if not m:
        raise UnreadableVideoError(
            f"This file is not a video we can read (it may be corrupt, incomplete or not a video): {path.name}"
        ) from FfmpegLog(log_tail(text))
    container = m.group(1)
    if container in _IMAGE_FORMATS or container.endswith("_pipe"):
        if pil_frames(path) is None:  # a picture ffmpeg decodes but the image loader (Pillow) cannot: SVG...
            image_type = unsupported_image_type(read_head(path), path.suffix)
            if image_type is None and container.endswith("_pipe"):
                image_type = container.removesuffix("_pipe").upper()
            raise UnreadableVideoError(unsupported_image_message(image_type, path.name))
        raise UnreadableVideoError(
            f"This file is a still image, not a video: {path.name}. Use it as the portrait, or choose a video file."
        )
    blocks = _stream_blocks(text)
    video = [(i, b) for i, kind, b in blocks if kind == "Video" and "(attached pic)" not in b.splitlines()[0]]
    if not video:
        raise UnreadableVideoError(f"This file has no video track (it may be an audio file): {path.name}")
    index, block = video[0]
    first = block.splitlines()[0]
    params = first.split(": Video: ", 1)[-1]
    size = re.search(r"(?<![\w.])(\d{1,5})x(\d{1,5})(?=[\s,]|$)", params)
    if not size or int(size.group(1)) == 0 or int(size.group(2)) == 0:
        raise UnreadableVideoError(
            f"This video's picture size cannot be read (the file may be damaged): {path.name}"
        ) from FfmpegLog(log_tail(text))
    w, h = int(size.group(1)), int(size.group(2))
    rotation = _rotation(block)
    if rotation in (90, 270):
        w, h = h, w
    fps = _rate(first, "fps") or _rate(first, "tbr") or DEFAULT_FPS
    dm = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", text)
    duration = int(dm.group(1)) * 3600 + int(dm.group(2)) * 60 + float(dm.group(3)) if dm else None
    if duration is not None and duration <= 0:
        duration = None
    frame_count = max(1, int(duration * fps + 0.5)) if duration is not None else None
    codec = re.search(r": Video: (\w+)", first)
    return VideoInfo(
        fps=fps,
        frame_count=frame_count,
        width=w,
        height=h,
        rotation=rotation,
        duration=duration,
        has_audio=_has_audio(text),
        codec=codec.group(1) if codec else None,
        container=container,
        stream_index=index,
    )


def has_audio(path: str | os.PathLike) -> bool:
    """Whether ``path`` (a video or an audio file) has an audio track; False if unreadable."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return False
    return _has_audio(_summary(path))


def log_tail(text: str, n: int = 25) -> str:
    """The last ``n`` lines of an ffmpeg log (what an error chains as its cause)."""
    return "\n".join(text.strip().splitlines()[-n:])
