"""``pipeline.prefetch.ahead``: same items in the same order, errors where they happened, bounded look-ahead, and
a thread that stops when the consumer does."""

import threading
import time

import pytest

from export3d.pipeline.prefetch import ahead


def wait_for(condition, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_yields_the_same_items_in_order():
    assert list(ahead(iter(range(100)), 3)) == list(range(100))
    assert list(ahead([], 1)) == []


def test_an_error_is_raised_after_the_items_before_it():
    def items():
        yield from (1, 2)
        raise LookupError("no face in any frame")

    got = []
    with pytest.raises(LookupError, match="no face"):
        for x in ahead(items(), 4):
            got.append(x)
    assert got == [1, 2]


def test_runs_ahead_by_at_most_depth_items():
    made = []

    def items():
        for i in range(50):
            made.append(i)
            yield i

    it = ahead(items(), 3)
    assert next(it) == 0
    # the producer fills the queue (3) and holds one more item it cannot put yet: 1 taken + 3 queued + 1 held
    assert wait_for(lambda: len(made) == 5)
    time.sleep(0.2)
    assert len(made) == 5
    it.close()


def test_closing_early_stops_the_thread():
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    before = {t.ident for t in threading.enumerate()}
    it = ahead(endless(), 2)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()
    assert not [t for t in threading.enumerate() if t.name == "prefetch" and t.ident not in before]


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="depth"):
        next(ahead(iter([1]), 0))
