"""Process-level speed settings: glibc malloc tuning and CPU precision switches.

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
