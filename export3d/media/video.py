"""Decoding a video's frames through the ffmpeg binary bundled with ``imageio-ffmpeg``.

:func:`iter_frames` / :func:`open_video` probe the file (``media/probe.py``) and stream the frames of its first
video track as ``uint8`` RGB ``(H, W, 3)`` arrays through a pipe, one frame at a time, so memory does not depend on
the video's length.

- **Rotation.** Frames are decoded with ffmpeg's automatic rotation switched off (``-noautorotate``) and turned
  upright by an explicit ``transpose``/``flip`` filter from ``VideoInfo.rotation``, so the output size is known
  exactly in advance.
- **Frame rate.** Frames are yielded exactly as decoded (``-fps_mode passthrough``: no frames duplicated or
  dropped to force a constant rate), so for variable-frame-rate phone videos ``frame / fps`` is only an
  approximate time.
- **Trimming.** ``max_seconds`` limits the decoded time (ffmpeg ``-t`` on the input),
  ``max_frames`` the number of frames; either stops the decoder early.
- **Resolution cap.** ``max_side`` downscales the upright frames inside ffmpeg (area averaging,
  ``scale=...:flags=area``) so that their longer side is at most ``max_side`` pixels, keeping the
  aspect ratio (each side rounded to whole pixels, as :func:`~export3d.media.image.resize_max`
  does; sizes need not be even); smaller videos are never upscaled. The reader's ``info`` then
  gives the reduced size (``source_info`` the stored one). Face tracking needs no more than
  :data:`TRACKING_MAX_SIDE` (720p): an 8K driver decoded at full size is several times slower.

Videos with no decodable frame raise :class:`~export3d.errors.UnreadableVideoError` with a one-sentence message,
ffmpeg's log chained as the cause. A video cut off in the middle (an interrupted upload whose index is at the
front) yields the frames before the cut, as players do; one whose index is missing cannot be opened at all.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import UnreadableVideoError
from .probe import FfmpegLog, VideoInfo, ffmpeg_exe, ffmpeg_input, probe_video

#: Recommended ``max_side`` for decoding a driving video for face tracking: 720p (1280x720) at most. The tracker
#: gains little from more pixels (its face detector works at 960 at most), while decoding, piping and handling
#: larger frames cost time.
TRACKING_MAX_SIDE = 1280


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
        cmd += ["-i", ffmpeg_input(self.path), "-map", f"0:{info.stream_index}", "-an", "-sn", "-dn"]
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
                    ) from FfmpegLog(drain.text())
                count += 1
                yield np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3)
            if finished:
                rc = proc.wait()
                drain.join(timeout=2.0)
                if count == 0:
                    raise UnreadableVideoError(
                        f"This video has no picture we could decode (it may be corrupt or incomplete): {name}"
                    ) from FfmpegLog(drain.text())
                if rc != 0:
                    raise UnreadableVideoError(
                        f"This video could only be read partly (it may be damaged): {name}"
                    ) from FfmpegLog(drain.text())
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
