"""Whether the demo's server is working: the jobs running now and when the last one ended.

The app wraps every handler that does work with :meth:`Activity.track`; the idle sweep (``sweep.py``) asks
:meth:`Activity.idle_for` before it releases memory, so it never runs in the middle of a job.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections.abc import Callable


class Activity:
    """A thread-safe count of running jobs, the clock of the last job's end and how many jobs have ended."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._running = 0
        self._last = clock()  #: the server start counts as activity (the first sweep waits as after a job)
        self.finished = 0  #: jobs (generator items) ended so far: the sweep trims only after new work
        self._lock = threading.Lock()

    def begin(self) -> None:
        with self._lock:
            self._running += 1

    def end(self) -> None:
        with self._lock:
            self._running = max(0, self._running - 1)
            self._last, self.finished = self.clock(), self.finished + 1

    def idle_for(self) -> float:
        """Seconds since the last job ended; 0 while a job runs."""
        with self._lock:
            return 0.0 if self._running else max(0.0, self.clock() - self._last)

    def track(self, fn: Callable) -> Callable:
        """``fn`` (a function or a generator function, which stays one) counted as a job while it runs. A generator
        counts while it computes each item, not while it is suspended (Gradio may keep one suspended at its last
        ``yield`` long after its job is done)."""
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def generator(*args, **kwargs):
                items = fn(*args, **kwargs)
                while True:
                    self.begin()
                    try:
                        item = next(items)
                    except StopIteration:
                        return
                    finally:
                        self.end()
                    yield item

            return generator

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            self.begin()
            try:
                return fn(*args, **kwargs)
            finally:
                self.end()

        return wrapper
