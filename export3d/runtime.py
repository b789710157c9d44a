"""Process-level speed settings: glibc malloc tuning, CPU precision switches, and torch's thread count.

Large tri-plane temporaries are served by ``mmap`` under glibc's defaults and
returned to the OS on free, so every training step page-faults them back in
(measured 2.3-2.6x slower rendering here). ``tune_malloc`` keeps them on the heap.
Entry points call it (the CLI, ``app.py``, training, evaluation, benchmarks; never an import or a
constructor); it can be disabled with
``EXPORT3D_NO_MALLOPT=1``; ``LD_PRELOAD`` of jemalloc (Debian ``libjemalloc2``,
``MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1``) is an alternative.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4
_state = {"tuned": None}


def tune_malloc() -> bool:
    """Disable mmap for big blocks and never trim the heap. Returns True when applied.

    Idempotent; a no-op off glibc, when jemalloc/tcmalloc is preloaded, or with
    ``EXPORT3D_NO_MALLOPT=1``.
    """
    if _state["tuned"] is not None:
        return _state["tuned"]
    ok = False
    preload = os.environ.get("LD_PRELOAD", "")
    if sys.platform.startswith("linux") and not os.environ.get("EXPORT3D_NO_MALLOPT") and "malloc" not in preload:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            ok = bool(libc.mallopt(_M_MMAP_MAX, 0))
            ok &= bool(libc.mallopt(_M_TRIM_THRESHOLD, 2**30))
            ok &= bool(libc.mallopt(_M_TOP_PAD, 256 * 2**20))
        except (OSError, AttributeError):
            ok = False
    _state["tuned"] = ok
    return ok


def _glibc():
    """glibc itself (for ``malloc_trim`` / ``mallopt``), or None: off Linux, with ``EXPORT3D_NO_MALLOPT=1``, when
    another allocator is preloaded (jemalloc, tcmalloc), or when the C library has no ``malloc_trim`` (musl)."""
    if not sys.platform.startswith("linux") or os.environ.get("EXPORT3D_NO_MALLOPT"):
        return None
    if "malloc" in os.environ.get("LD_PRELOAD", ""):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only
    except (OSError, AttributeError):
        return None
    return libc


def trim_memory(enabled: bool = True, libc=None) -> bool:
    """Give the memory freed since the last call back to the OS: ``gc.collect()``, then glibc's
    ``malloc_trim(0)`` (every arena, free pages in the middle of the heap too). For a long-running server when it is
    idle (the demo's ``IdleSweep``); the CLI and training never call it (``tune_malloc`` keeps freed memory for speed).

    Returns True when glibc was asked to trim; False (after the collection only) when ``enabled`` is false, off
    glibc, or with ``EXPORT3D_NO_MALLOPT=1``. ``libc``: for tests (default: the process's glibc)."""
    import gc

    gc.collect()
    if not enabled:
        return False
    libc = libc if libc is not None else _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


# --------------------------------------------------------------------------- threads
def threads_for(others: float, cores: int) -> int:
    """Torch threads when other processes keep ``others`` cores busy: the cores left, rounded, at least 1.

    With 2 threads on 2 cores and one core taken by another process, torch's threads wait on each other: measured
    2.8-3.7x slower than idle (``benchmarks/bench_demo.py``), while 1 thread is as fast busy as idle.
    """
    return int(min(cores, max(1, round(cores - max(0.0, others)))))


def cpu_ticks() -> tuple[int, int] | None:
    """``(busy, total)`` jiffies of all CPUs from ``/proc/stat`` (None off Linux)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


class ThreadGovernor:
    """Sets torch's thread count to the cores other processes leave free (``threads_for``), at most once per
    ``period`` seconds; ``adapt()`` is called by the renderer before each chunk. Measures the machine's busy cores
    (``/proc/stat``) minus this process's own CPU time over the time since the last call."""

    def __init__(self, cores: int | None = None, period: float = 1.0, ticks=cpu_ticks, own=None, clock=None):
        import time

        self.cores = cores or os.cpu_count() or 1
        self.period, self.ticks = period, ticks
        self.own, self.clock = own or time.process_time, clock or time.monotonic
        self.last = None  #: (clock, busy, total, own) of the previous sample
        self.threads = None  #: the count last set

    def adapt(self) -> int | None:
        """Re-decide the thread count if ``period`` has passed; returns it (None when the load cannot be read)."""
        now = self.clock()
        if self.last is not None and now - self.last[0] < self.period:
            return self.threads
        ticks = self.ticks()
        if ticks is None:
            return None
        sample = (now, *ticks, self.own())
        if self.last is not None and sample[2] > self.last[2] and now > self.last[0]:
            busy = self.cores * (sample[1] - self.last[1]) / (sample[2] - self.last[2])
            mine = (sample[3] - self.last[3]) / (now - self.last[0])
            self._set(threads_for(busy - mine, self.cores))
        self.last = sample
        return self.threads

    def _set(self, n: int) -> None:
        import torch

        if n != self.threads:
            torch.set_num_threads(n)
            self.threads = n


def thread_governor() -> ThreadGovernor | None:
    """The app's and the CLI's governor: None when ``EXPORT3D_TORCH_THREADS`` fixes the count (the entry point sets
    it) or when the load cannot be read here."""
    if os.environ.get("EXPORT3D_TORCH_THREADS") or cpu_ticks() is None:
        return None
    return ThreadGovernor()
