"""An MP4 written from frames pushed one at a time, encoded on a thread.

``write_video`` (``encode.py``) pulls frames from an iterator; a job that produces two videos from one pass (the
colour video and the depth video of ``pipeline/jobs.py``) hands the second one's frames to a :class:`SideVideo`,
whose bounded queue feeds a ``write_video`` running on its own thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .encode import write_video


class _Aborted(Exception):
    pass


class SideVideo:
    """An MP4 written from frames pushed one at a time (``put``), encoded by ``write_video`` on a thread."""

    _END, _ABORT = object(), object()

    def __init__(self, path: Path, fps: float, maxsize: int = 32):
        self.path = path
        self.error: BaseException | None = None
        self.queue: queue.Queue = queue.Queue(maxsize)
        self.thread = threading.Thread(target=self._run, args=(fps,), daemon=True, name="depth-video")
        self.thread.start()

    def _frames(self) -> Iterator[np.ndarray]:
        while (item := self.queue.get()) is not self._END:
            if item is self._ABORT:
                raise _Aborted
            yield item

    def _run(self, fps: float) -> None:
        try:
            write_video(self.path, self._frames(), fps)
        except BaseException as e:  # noqa: BLE001  (re-raised by put/finish in the caller's thread)
            self.error = e

    def _send(self, item) -> None:
        while self.thread.is_alive():
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def put(self, frame: np.ndarray) -> None:
        """Queue one ``(H, W)`` or ``(H, W, 3)`` uint8 frame (blocks while the encoder is behind)."""
        if self.error is not None:
            raise self.error
        self._send(frame)

    def finish(self) -> Path:
        """End the video and wait for the encoder; returns the path."""
        self._send(self._END)
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.path

    def abort(self) -> None:
        """Stop without leaving a file (``write_video`` removes its temporary file)."""
        self._send(self._ABORT)
        self.thread.join()
