"""The demo's session store: one memory budget for every client session's portrait and driver."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from export3d.demo.store import ReleasedError, SessionStore, footprint


@dataclass
class Thing:
    image: np.ndarray
    extra: dict = field(default_factory=dict)


def test_footprint_counts_arrays_and_tensors_once():
    a = np.zeros((10, 10), np.float32)  # 400 bytes
    thing = Thing(a, {"t": torch.zeros(5, dtype=torch.float64), "again": a, "list": [np.zeros(3, np.uint8)]})
    assert footprint(thing) == 400 + 40 + 3


def test_the_oldest_entries_go_first_by_count_and_by_bytes():
    store = SessionStore(max_items=2, max_bytes=10_000)
    a, b = store.put(Thing(np.zeros(100, np.uint8)), "portrait"), store.put(Thing(np.zeros(100, np.uint8)), "portrait")
    store.get(a)  # a is now the most recently used
    c = store.put(Thing(np.zeros(100, np.uint8)), "driving video")
    assert store.get(a) is not None and store.get(c) is not None and len(store) == 2
    with pytest.raises(ReleasedError, match="^Your portrait was released .* Please choose it again"):
        store.get(b)
    big = store.put(Thing(np.zeros(9_950, np.uint8)), "portrait")  # over the byte budget with anything else
    assert len(store) == 1 and store.get(big) is not None and store.bytes == 9_950
    assert store.get(None) is None


def test_drop_and_update():
    store = SessionStore()
    h = store.put(Thing(np.zeros(10, np.uint8)), "driving image")
    store.update(h, Thing(np.zeros(50, np.uint8)))
    assert store.bytes == 50
    store.drop(h), store.drop(None), store.drop("not a handle")
    assert len(store) == 0 and store.bytes == 0
    with pytest.raises(ReleasedError, match="Your driving image was released"):
        store.get(h)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_release_idle_releases_entries_unused_longer_than_the_setting_and_keeps_recent_ones():
    clock = Clock()
    store = SessionStore(clock=clock)
    old, used, recent = (store.put(Thing(np.zeros(10, np.uint8)), "portrait") for _ in range(3))
    clock.now += 200
    store.get(used)  # used again: its idle time starts over
    store.update(recent, Thing(np.zeros(20, np.uint8)))  # so does an update
    clock.now += 150  # old: 350 s unused, used and recent: 150 s
    assert store.release_idle(300) == 1
    assert len(store) == 2 and store.bytes == 30
    assert store.get(used) is not None and store.get(recent) is not None
    with pytest.raises(ReleasedError, match="^Your portrait was released .*unused for a while.*choose it again"):
        store.get(old)
    assert store.release_idle(300) == 0  # get() above counted as a use
    clock.now += 301
    assert store.release_idle(300) == 2 and len(store) == 0 and store.bytes == 0


def test_entries_released_under_load_or_dropped_leave_no_idle_record():
    clock = Clock()
    store = SessionStore(max_items=1, clock=clock)
    a = store.put(Thing(np.zeros(10, np.uint8)), "portrait")
    b = store.put(Thing(np.zeros(10, np.uint8)), "portrait")  # releases a (count bound)
    store.drop(b)
    clock.now += 10_000
    assert store.release_idle(1) == 0 and len(store) == 0
    with pytest.raises(ReleasedError):
        store.get(a)
