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
