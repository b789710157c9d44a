"""The demo's housekeeping: give memory back when the server is idle, and run it (with the upload sweep) in a
daemon thread.

An API client's session never ends (Gradio deletes a session's state only when a page closes, or after the state's
time to live), and memory freed by Python stays with glibc's allocator. So when the server has run no job for
``idle_seconds``, :class:`IdleSweep` releases the store's entries unused for ``release_after`` seconds (their
sessions are asked to choose them again), clears the model's cache of prepared portraits, and trims the heap
(``runtime.trim_memory``: ``gc.collect()`` + ``malloc_trim(0)``). It never runs during a job, and trims only once
after each spell of work, so a busy server pays nothing and an idle one little.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..runtime import trim_memory
from .activity import Activity
from .store import SessionStore

log = logging.getLogger(__name__)

SWEEP_PERIOD = 2.0  #: seconds between two checks (uploads can exceed their cap by what arrives meanwhile)


@dataclass(frozen=True)
class SweepReport:
    released: int  #: store entries released (unused for longer than ``release_after``)
    trimmed: bool  #: glibc was asked to give freed memory back (``trim_memory``)

    def __bool__(self) -> bool:
        return bool(self.released or self.trimmed)


class IdleSweep:
    """Releases memory once the server has been idle for ``idle_seconds`` (see the module docstring).

    ``caches``: objects with a ``clear_cache()`` method (the app's ``LazyAnimator``), cleared by each sweep that
    trims; ``trim``: ``runtime.trim_memory`` (tests inject their own)."""

    def __init__(self, store: SessionStore, activity: Activity, idle_seconds: float, release_after: float,
                 caches: Iterable[object] = (), trim: Callable[[], bool] = trim_memory):
        self.store, self.activity, self.trim = store, activity, trim
        self.idle_seconds, self.release_after = float(idle_seconds), float(release_after)
        self.caches = list(caches)
        self._swept = None  #: ``activity.finished`` at the last trim (None: never trimmed)

    def run_once(self) -> SweepReport | None:
        """One check: None while the server is busy or not idle long enough; else what was done (nothing is
        trimmed again when no job ran and nothing was released since the last trim)."""
        if self.activity.idle_for() < self.idle_seconds:
            return None
        released = self.store.release_idle(self.release_after)
        finished = self.activity.finished
        if not released and finished == self._swept:
            return SweepReport(0, False)
        self._swept = finished
        for cache in self.caches:
            cache.clear_cache()
        return SweepReport(released, bool(self.trim()))


def run_every(period: float, tasks: Iterable[Callable[[], object]], stop: threading.Event | None = None,
              name: str = "export3d-housekeeping") -> tuple[threading.Thread, threading.Event]:
    """Start a daemon thread calling each of ``tasks`` every ``period`` seconds until ``stop`` is set; a task's
    exception is logged and does not stop the others. Returns the thread and its stop event."""
    stop = stop or threading.Event()
    tasks = list(tasks)

    def loop():
        while not stop.wait(period):
            for task in tasks:
                try:
                    result = task()
                except Exception:  # noqa: BLE001 - housekeeping must outlive any one failure
                    log.exception("housekeeping: %r failed", task)
                    continue
                if result:
                    log.info("housekeeping: %s", result)

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread, stop
