"""Running an iterator ahead on a thread: the driver's decoding and face tracking overlap the rendering.

``ahead(items, depth)`` yields what ``items`` yields, in order, while a daemon thread computes up to ``depth``
items in advance. MediaPipe and the video decoder release the GIL, so on two cores the tracker works on the next
chunk while torch renders this one. An exception raised by ``items`` is raised by ``ahead`` at the same place in
the sequence; closing ``ahead`` early (the consumer stops, or fails) stops the thread at its next item.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()
POLL = 0.1  #: seconds between the producer's checks of the stop flag while the queue is full


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def _produce(items: Iterable, out: queue.Queue, stop: threading.Event) -> None:
    def put(item) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=POLL)
                return True
            except queue.Full:
                continue
        return False

    try:
        for item in items:
            if not put(item):
                return
        put(_END)
    except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
        put(_Failed(e))


def ahead(items: Iterable[T], depth: int) -> Iterator[T]:
    """``items`` computed on a thread, at most ``depth`` (>= 1) items ahead of the consumer."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    out: queue.Queue = queue.Queue(depth)
    stop = threading.Event()
    thread = threading.Thread(target=_produce, args=(items, out, stop), daemon=True, name="prefetch")
    thread.start()
    try:
        while (item := out.get()) is not _END:
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()
