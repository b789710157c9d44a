"""One memory budget for the portraits and drivers of every client session of the demo.

A client session's Gradio state holds only a ``Handle`` (a token); the prepared portrait or driver itself lives in
the app's ``SessionStore``: a least-recently-used map bounded by count and by bytes, shared by all sessions. A
session that ends (Gradio deletes its state: the page is closed, or the state's time to live passes) releases its
entries at once; under load the oldest entries are released first, and a session whose portrait was released is
asked to upload it again (``ReleasedError``) instead of the server growing without bound. Entries unused for a while
are released by the app's idle sweep (``release_idle``, ``export3d/demo/sweep.py``), since an API client's session
never ends.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .inputs import DemoMessage

MAX_ITEMS = 48  #: entries kept at most (portraits and drivers of all sessions together)
MAX_BYTES = 256 * 2**20  #: their estimated memory at most (a prepared 2048-px portrait with its canvas: ~30 MB)


class ReleasedError(DemoMessage):
    """The session's portrait or driver was released to bound the server's memory."""


@dataclass(frozen=True)
class Handle:
    """What a client session's state holds: the key of its entry, and what it is ("portrait" or "driver")."""

    token: str
    what: str


def footprint(obj, _seen: set | None = None) -> int:
    """Estimated bytes of the arrays and tensors reachable from ``obj`` (dataclasses, dicts, lists, tuples)."""
    seen = set() if _seen is None else _seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if hasattr(obj, "element_size") and hasattr(obj, "nelement"):  # torch.Tensor, without importing torch
        return int(obj.element_size() * obj.nelement())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return sum(footprint(getattr(obj, f.name), seen) for f in dataclasses.fields(obj))
    if isinstance(obj, dict):
        return sum(footprint(v, seen) for v in obj.values())
    if isinstance(obj, list | tuple):
        return sum(footprint(v, seen) for v in obj)
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        return sum(footprint(v, seen) for v in vars(obj).values())
    return 0


class SessionStore:
    """A thread-safe LRU of the sessions' portraits and drivers, bounded by ``max_items`` and ``max_bytes``."""

    def __init__(self, max_items: int = MAX_ITEMS, max_bytes: int = MAX_BYTES,
                 clock: Callable[[], float] = time.monotonic):
        """``clock``: seconds, for ``release_idle`` (tests inject their own)."""
        self.max_items, self.max_bytes, self.clock = max_items, max_bytes, clock
        self._items: OrderedDict[str, tuple[object, int]] = OrderedDict()
        self._used: dict[str, float] = {}  #: token -> clock() of its last put / get / update
        self._lock = threading.Lock()

    def put(self, obj, what: str) -> Handle:
        """Keep ``obj``; returns its handle. Older entries are released until the bounds hold (``obj`` stays)."""
        token, size = uuid.uuid4().hex, footprint(obj)
        with self._lock:
            self._items[token], self._used[token] = (obj, size), self.clock()
            while len(self._items) > 1 and (len(self._items) > self.max_items or self.bytes > self.max_bytes):
                self._used.pop(self._items.popitem(last=False)[0], None)
        return Handle(token, what)

    def get(self, handle: Handle | None):
        """The object of ``handle`` (None for None); raises ``ReleasedError`` when it was released."""
        if handle is None:
            return None
        with self._lock:
            entry = self._items.get(handle.token)
            if entry is not None:
                self._items.move_to_end(handle.token)
                self._used[handle.token] = self.clock()
                return entry[0]
        raise ReleasedError(f"Your {handle.what} was released to keep the server's memory bounded (it was unused for "
                            f"a while, or many people are using the demo). Please choose it again.")

    def update(self, handle: Handle, obj) -> None:
        """Replace the object of a live ``handle`` (its size is measured again); a released one stays released."""
        with self._lock:
            if handle.token in self._items:
                self._items[handle.token], self._used[handle.token] = (obj, footprint(obj)), self.clock()

    def drop(self, handle: Handle | None) -> None:
        """Release ``handle``'s entry (a session ended or replaced it); unknown handles are ignored."""
        if isinstance(handle, Handle):
            with self._lock:
                self._items.pop(handle.token, None)
                self._used.pop(handle.token, None)

    def release_idle(self, max_idle: float) -> int:
        """Release the entries unused (no put, get or update) for more than ``max_idle`` seconds; returns how many.
        Their sessions are asked to choose them again (``ReleasedError``), as after a release under load."""
        with self._lock:
            now = self.clock()
            old = [token for token, used in self._used.items() if now - used > max_idle]
            for token in old:
                self._items.pop(token, None)
                self._used.pop(token, None)
        return len(old)

    @property
    def bytes(self) -> int:
        return sum(size for _, size in self._items.values())

    def __len__(self) -> int:
        return len(self._items)
