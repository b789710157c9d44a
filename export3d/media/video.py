"""Video input and output through the ffmpeg binary bundled with ``imageio-ffmpeg``.

Reading
-------
:func:`probe_video` parses the stream summary that ``ffmpeg -i FILE`` prints (no ffprobe is
bundled) into a :class:`VideoInfo`. :func:`iter_frames` / :func:`open_video` stream the frames
of the first video track as ``uint8`` RGB ``(H, W, 3)`` arrays through a pipe, one frame at a
time, so memory does not depend on the video's length.

- **Rotation.** Phones store portrait videos as landscape frames plus a rotation (an MP4
  display matrix; older files a ``rotate`` tag). ffmpeg prints the display matrix as
  ``Display Matrix: rotation of R degrees`` with R **counter-clockwise** (older builds:
  ``displaymatrix: ...`` plus a ``rotate`` tag, also parsed here). The bundled ffmpeg (9.0)
  no longer shows a ``rotate`` tag and silently ignores ``-metadata:s:v rotate=90`` when
  writing; ``-display_rotation`` (an input option) is the way to set a rotation.
  ``VideoInfo.rotation`` is the **clockwise** angle (0/90/180/270) that makes the stored
  frames upright - the legacy ``rotate`` tag's convention, which is what phones mean by
  "rotate 90". Frames are decoded with ffmpeg's automatic rotation switched off
  (``-noautorotate``) and turned upright by an explicit ``transpose``/``flip`` filter, so the
  output size is known exactly in advance (``VideoInfo.width/height`` are the upright size).
  Mirroring flags of a display matrix (not written by cameras) are ignored, and so is a
  non-square sample aspect ratio.
- **Frame rate.** ``VideoInfo.fps`` is the container's average rate as ffmpeg reports it
  (the ``fps`` figure, else ``tbr``; 25 when neither is known). Frames are yielded exactly as
  decoded (``-fps_mode passthrough``: no frames duplicated or dropped to force a constant
  rate), so for variable-frame-rate phone videos ``frame / fps`` is only an approximate time.
- **Frame count** is an estimate, ``round(duration * fps)``; only decoding gives the truth.
- **Trimming.** ``max_seconds`` limits the decoded time (ffmpeg ``-t`` on the input),
  ``max_frames`` the number of frames; either stops the decoder early.
- **Resolution cap.** ``max_side`` downscales the upright frames inside ffmpeg (area averaging,
  ``scale=...:flags=area``) so that their longer side is at most ``max_side`` pixels, keeping the
  aspect ratio (each side rounded to whole pixels, as :func:`~export3d.media.image.resize_max`
  does; sizes need not be even); smaller videos are never upscaled. The reader's ``info`` then
  gives the reduced size (``source_info`` the stored one). Face tracking needs no more than
  :data:`TRACKING_MAX_SIDE` (720p): an 8K driver decoded at full size is several times slower.
- **Stills are refused.** ffmpeg would happily decode a PNG/JPEG as a one-frame "video";
  :func:`probe_video` recognises image formats and raises ``UnreadableVideoError`` with a
  sentence that tells the user to use it as the portrait instead, or, for an image type the
  image loader cannot read either (SVG...), that it is not a supported image type. (Animated
  GIFs are accepted as videos.)

Missing, empty, truncated or corrupt files, files that are not videos, videos without a
video track and videos with no decodable frame raise
:class:`~export3d.errors.UnreadableVideoError` with a one-sentence message; ffmpeg's
own log is chained as the cause (a ``RuntimeError``) for developers. A video cut off in the
middle (an interrupted upload whose index is at the front) yields the frames before the cut,
as players do; one whose index is missing cannot be opened at all.

Writing
-------
:func:`write_video` streams frames into an H.264 MP4 (``yuv420p``, ``+faststart``: plays in
browsers), padding odd sizes to even by repeating the last row/column, and can copy the audio
track of another file (re-encoded to AAC) in a second ffmpeg pass.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import threading
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from ..errors import UnreadableVideoError, check_input_file
from .formats import pil_frames, read_head, unsupported_image_message, unsupported_image_type
from .image import as_rgb_uint8

log = logging.getLogger(__name__)

#: fps reported when the container states none.
DEFAULT_FPS = 25.0
#: Seconds allowed for ``ffmpeg -i`` to print the stream summary.
PROBE_TIMEOUT = 60.0

#: ffmpeg demuxers of still images, plus every "*_pipe" one (png_pipe, jpeg_pipe, webp_pipe...).
_IMAGE_FORMATS = {"image2", "image2pipe"}

#: Recommended ``max_side`` for decoding a driving video for face tracking: 720p (1280x720) at most. The tracker
#: gains little from more pixels (its face detector works at 960 at most), while decoding, piping and handling
#: larger frames cost time.
TRACKING_MAX_SIDE = 1280
X264_PRESET = "veryfast"  #: libx264 speed preset: 2.4x faster than the default "medium" on a 1080x1920 clip, files
#: no bigger at the same crf (measured: 0.39 s vs 0.95 s for 24 frames; 491 vs 598 KB)


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


class _FfmpegLog(RuntimeError):
    """ffmpeg's own output, chained under the user-facing error."""


# ----------------------------------------------------------------------------- probing


def _check_file(path: Path) -> None:
    check_input_file(path, "video", UnreadableVideoError)


def _ffmpeg_input(path: Path) -> str:
    # An absolute path never starts with "-" and is never mistaken for a protocol ("x:...").
    return str(path.absolute())


def _summary(path: Path) -> str:
    """stderr of ``ffmpeg -i path`` (ffmpeg exits with an error since no output is given)."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", _ffmpeg_input(path)]
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
        ) from _FfmpegLog(_tail(text))
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
        ) from _FfmpegLog(_tail(text))
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


def _tail(text: str, n: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


# ----------------------------------------------------------------------------- reading


_ROTATE_FILTERS = {90: "transpose=clock", 180: "hflip,vflip", 270: "transpose=cclock"}


class _StderrDrain(threading.Thread):
    """Keeps reading a pipe (so ffmpeg never blocks on it), remembering the last lines."""

    def __init__(self, pipe, keep: int = 40):
        super().__init__(daemon=True)
        self._pipe = pipe
        self.lines: deque[str] = deque(maxlen=keep)

    def run(self) -> None:
        try:
            for raw in iter(self._pipe.readline, b""):
                self.lines.append(raw.decode("utf-8", errors="replace").rstrip())
        except (OSError, ValueError):  # pipe closed under us
            pass
        finally:
            self._pipe.close()

    def text(self) -> str:
        return "\n".join(self.lines)


def _stop(proc: subprocess.Popen) -> None:
    """Stop an ffmpeg decoder (politely, then by force) and release its pipes."""
    if proc.poll() is None:
        try:
            proc.stdout.close()  # ffmpeg gets EPIPE and quits
        except OSError:
            pass
        try:
            proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    try:
        proc.stdout.close()  # stderr is closed by its drain thread when ffmpeg has exited
    except OSError:
        pass


class VideoReader:
    """A probed video whose frames can be iterated (each ``iter()`` decodes from the start).

    ``with open_video(path) as v: print(v.info); for frame in v: ...``. Leaving the ``with``
    block (or ``close()``) stops any decoder still running.
    """

    def __init__(self, path: str | os.PathLike, max_frames: int | None = None, max_seconds: float | None = None,
                 max_side: int | None = None):
        if max_frames is not None and (int(max_frames) != max_frames or max_frames < 1):
            raise ValueError(f"max_frames must be a positive integer or None, got {max_frames}")
        if max_seconds is not None and not max_seconds > 0:
            raise ValueError(f"max_seconds must be > 0 or None, got {max_seconds}")
        if max_side is not None and (isinstance(max_side, bool) or int(max_side) != max_side or max_side < 1):
            raise ValueError(f"max_side must be a positive integer or None, got {max_side}")
        self.path = Path(path)
        #: What the container holds (upright size before any ``max_side`` downscaling).
        self.source_info = probe_video(self.path)
        #: ``source_info`` with ``width``/``height`` set to the size of the yielded frames.
        self.info = _capped(self.source_info, max_side)
        self.max_side = None if max_side is None else int(max_side)
        self.max_frames = None if max_frames is None else int(max_frames)
        self.max_seconds = None if max_seconds is None else float(max_seconds)
        self._procs: list[subprocess.Popen] = []

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop every decoder this reader started that is still running."""
        while self._procs:
            _stop(self._procs.pop())

    def __iter__(self) -> Iterator[np.ndarray]:
        return self._frames()

    def _command(self) -> list[str]:
        info = self.info
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-noautorotate"]
        if self.max_seconds is not None:
            cmd += ["-t", f"{self.max_seconds:.6f}"]
        cmd += ["-i", _ffmpeg_input(self.path), "-map", f"0:{info.stream_index}", "-an", "-sn", "-dn"]
        filters = [_ROTATE_FILTERS[info.rotation]] if info.rotation in _ROTATE_FILTERS else []
        if info.size != self.source_info.size:
            filters.append(f"scale={info.width}:{info.height}:flags=area")
        if filters:
            cmd += ["-vf", ",".join(filters)]
        cmd += ["-fps_mode", "passthrough"]
        if self.max_frames is not None:
            cmd += ["-frames:v", str(self.max_frames)]
        cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
        return cmd

    def _frames(self) -> Iterator[np.ndarray]:
        w, h = self.info.width, self.info.height
        nbytes = w * h * 3
        name = self.path.name
        proc = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        self._procs.append(proc)
        drain = _StderrDrain(proc.stderr)
        drain.start()
        count = 0
        finished = False
        try:
            while self.max_frames is None or count < self.max_frames:
                buf = bytearray(nbytes)
                view = memoryview(buf)
                got = 0
                while got < nbytes:
                    try:
                        n = proc.stdout.readinto(view[got:])
                    except ValueError:  # the reader was closed while we were suspended
                        return
                    if not n:
                        break
                    got += n
                if got == 0:
                    finished = True
                    break
                if got < nbytes:
                    proc.wait()
                    drain.join(timeout=2.0)
                    raise UnreadableVideoError(
                        f"This video could only be read partly (it may be damaged): {name}"
                    ) from _FfmpegLog(drain.text())
                count += 1
                yield np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3)
            if finished:
                rc = proc.wait()
                drain.join(timeout=2.0)
                if count == 0:
                    raise UnreadableVideoError(
                        f"This video has no picture we could decode (it may be corrupt or incomplete): {name}"
                    ) from _FfmpegLog(drain.text())
                if rc != 0:
                    raise UnreadableVideoError(
                        f"This video could only be read partly (it may be damaged): {name}"
                    ) from _FfmpegLog(drain.text())
        finally:
            _stop(proc)
            if proc in self._procs:
                self._procs.remove(proc)


def capped_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """``(width, height)`` scaled down so that the longer side is at most ``max_side`` (never up; None: unchanged).

    Each side is rounded to whole pixels (at least 1), the rule of :func:`~export3d.media.image.resize_max`.
    """
    if max_side is None or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return (max(1, min(max_side, int(round(width * scale)))), max(1, min(max_side, int(round(height * scale)))))


def _capped(info: VideoInfo, max_side: int | None) -> VideoInfo:
    w, h = capped_size(info.width, info.height, max_side)
    return info if (w, h) == info.size else replace(info, width=w, height=h)


def open_video(path: str | os.PathLike, max_frames: int | None = None, max_seconds: float | None = None,
               max_side: int | None = None) -> VideoReader:
    """Probe ``path`` and return a :class:`VideoReader` (a context manager; iterate for frames).

    ``max_side``: downscale the frames so that their longer side is at most this many pixels (area averaging,
    aspect ratio kept; None: stored size). :data:`TRACKING_MAX_SIDE` is the cap recommended for face tracking.
    """
    return VideoReader(path, max_frames=max_frames, max_seconds=max_seconds, max_side=max_side)


def iter_frames(
    path: str | os.PathLike, max_frames: int | None = None, max_seconds: float | None = None,
    max_side: int | None = None,
) -> Iterator[np.ndarray]:
    """Stream upright ``uint8`` RGB frames ``(H, W, 3)`` of ``path`` (see the module docstring).

    The file is probed immediately, so a missing / unreadable file raises here rather than
    at the first ``next()``; decoding errors surface while iterating. Each frame is a new,
    writable array. Stops after ``max_frames`` frames or ``max_seconds`` seconds. Breaking out
    of the loop (or deleting the iterator) stops the decoder. ``max_side`` as in :func:`open_video`.
    """
    reader = VideoReader(path, max_frames=max_frames, max_seconds=max_seconds, max_side=max_side)
    return iter(reader)


# ----------------------------------------------------------------------------- writing


def _even(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    if h % 2 or w % 2:
        frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return np.ascontiguousarray(frame)


def write_video(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    fps: float,
    audio_from: str | os.PathLike | None = None,
    quality: float = 7,
) -> Path:
    """Write ``frames`` to an H.264 / yuv420p MP4 at ``path``, streaming; returns the path.

    ``frames``: ``uint8`` RGB ``(H, W, 3)`` arrays of one size (any array
    :func:`~export3d.media.image.as_rgb_uint8` accepts). Odd widths/heights are padded to
    even by repeating the last column/row. ``quality`` in [1, 10] (imageio-ffmpeg's scale:
    ``crf = int((1 - quality / 10) * 51)``, 7 -> crf 15, visually lossless for most content).
    ``audio_from``: a video or audio file whose first audio track is muxed in (AAC, cut at the
    video's length; a shorter track just ends early, the video is never cut). A source without
    audio - or a missing one, or one whose audio cannot be read, both logged as warnings -
    leaves the video silent. The file is written under a temporary name and renamed when
    complete, so ``path`` never holds a half-written video.
    """
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    if not 1 <= quality <= 10:
        raise ValueError(f"quality must be in [1, 10], got {quality}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.partial.mp4")
    try:
        n_frames = _encode(tmp, frames, fps, quality)
        if audio_from is not None and not Path(audio_from).is_file():
            log.warning("Audio source %s not found; the video stays silent", audio_from)
        elif audio_from is not None and has_audio(audio_from):
            muxed = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.audio.mp4")
            try:
                _mux_audio(tmp, Path(audio_from), muxed, duration=n_frames / float(fps))
                os.replace(muxed, tmp)
            except RuntimeError as e:
                log.warning("Could not copy the audio of %s; the video stays silent (%s)", audio_from, e)
            finally:
                muxed.unlink(missing_ok=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _encode(tmp: Path, frames: Iterable[np.ndarray], fps: float, quality: float) -> int:
    """Encode all frames to ``tmp``; returns how many were written."""
    it = iter(frames)
    try:
        first = as_rgb_uint8(next(it))
    except StopIteration:
        raise ValueError("write_video needs at least one frame") from None
    shape = first.shape
    first = _even(first)
    writer = imageio_ffmpeg.write_frames(
        str(tmp),
        (first.shape[1], first.shape[0]),
        fps=float(fps),
        codec="libx264",
        pix_fmt_in="rgb24",
        pix_fmt_out="yuv420p",
        quality=quality,
        macro_block_size=1,
        ffmpeg_log_level="error",
        output_params=["-movflags", "+faststart", "-preset", X264_PRESET],
    )
    writer.send(None)
    count = 0
    try:
        writer.send(first)
        count = 1
        for frame in it:
            frame = as_rgb_uint8(frame)
            if frame.shape != shape:
                raise ValueError(f"frame {count} has shape {frame.shape}, but the first frame had {shape}")
            writer.send(_even(frame))
            count += 1
    finally:
        writer.close()
    return count


def _mux_audio(video: Path, audio_src: Path, out: Path, duration: float) -> None:
    """Copy ``video``'s stream and ``audio_src``'s first audio track (as AAC) into ``out``.

    The output is cut at ``duration`` (the video's length): longer audio is trimmed, shorter
    audio simply ends early (the video is never shortened).
    """
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y",
        "-i", _ffmpeg_input(video), "-i", _ffmpeg_input(audio_src),
        "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-b:a", "160k",
        "-t", f"{duration:.6f}", "-movflags", "+faststart", _ffmpeg_input(out),
    ]  # fmt: skip
    res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True)
    if res.returncode != 0:
        raise RuntimeError(_tail(res.stderr.decode("utf-8", errors="replace"), 5))
