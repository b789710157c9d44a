"""Housekeeping of the demo's server: the activity tracker, the idle sweep, the upload sweep, ``trim_memory``."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from export3d.demo.activity import Activity
from export3d.demo.files import prune_files
from export3d.demo.limits import DemoLimits
from export3d.demo.store import ReleasedError, SessionStore
from export3d.demo.sweep import IdleSweep, SweepReport, run_every
from export3d.demo.uploads import UploadSweep
from export3d.runtime import trim_memory


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Cache:
    def __init__(self):
        self.cleared = 0

    def clear_cache(self):
        self.cleared += 1


def make_sweep(idle=10.0, release_after=300.0):
    clock, cache, trims = Clock(), Cache(), []
    store, activity = SessionStore(clock=clock), Activity(clock=clock)
    sweep = IdleSweep(store, activity, idle, release_after, caches=[cache], trim=lambda: trims.append(1) or True)
    return sweep, clock, cache, trims


# ------------------------------------------------------------------------------------------------ activity
def test_activity_counts_functions_and_generator_items_as_jobs():
    clock = Clock()
    activity, seen = Activity(clock=clock), []

    @activity.track
    def job():
        seen.append(activity.idle_for())
        return 7

    @activity.track
    def steps():
        seen.append(activity.idle_for())
        yield 1
        seen.append(activity.idle_for())
        yield 2

    clock.now += 5
    assert activity.idle_for() == 5  # the start counts as activity
    assert job() == 7 and seen == [0.0] and activity.finished == 1
    clock.now += 3
    assert activity.idle_for() == 3
    items = steps()
    assert next(items) == 1
    clock.now += 4
    assert activity.idle_for() == 4  # suspended at a yield: not working
    assert list(items) == [2] and seen == [0.0, 0.0, 0.0]
    assert activity.finished == 4  # job, two items, the final step
    with pytest.raises(ZeroDivisionError):
        activity.track(lambda: 1 / 0)()
    assert activity.idle_for() == 0.0 and activity.finished == 5  # a failed job ends too


# ------------------------------------------------------------------------------------------------ idle sweep
def test_the_sweep_waits_for_idle_then_releases_old_entries_clears_caches_and_trims():
    sweep, clock, cache, trims = make_sweep(idle=10, release_after=300)
    old = sweep.store.put(np.zeros(100, np.uint8), "portrait")
    clock.now += 5
    assert sweep.run_once() is None and not trims  # idle for 5 s only
    sweep.activity.begin()
    clock.now += 400
    assert sweep.run_once() is None  # a job is running, however long
    sweep.activity.end()
    recent = sweep.store.put(np.zeros(100, np.uint8), "driving image")
    clock.now += 10
    assert sweep.run_once() == SweepReport(released=1, trimmed=True)  # old: 415 s unused, recent: 10 s
    assert cache.cleared == 1 and trims == [1]
    with pytest.raises(ReleasedError):
        sweep.store.get(old)
    assert sweep.store.get(recent) is not None
    clock.now += 60
    assert sweep.run_once() == SweepReport(0, False) and trims == [1]  # nothing new: no second trim
    assert not SweepReport(0, False) and SweepReport(0, True)


def test_the_sweep_trims_again_after_new_work_and_when_entries_age_out():
    sweep, clock, cache, trims = make_sweep(idle=10, release_after=300)
    clock.now += 11
    assert sweep.run_once() == SweepReport(0, True)  # the first idle spell after start
    sweep.activity.track(lambda: sweep.store.put(np.zeros(10, np.uint8), "portrait"))()
    clock.now += 11
    assert sweep.run_once() == SweepReport(0, True) and len(trims) == 2  # a job ran since the last trim
    clock.now += 300
    assert sweep.run_once() == SweepReport(1, True) and len(sweep.store) == 0 and cache.cleared == 3


def test_trim_memory_returns_a_boolean_and_is_a_no_op_when_disabled(monkeypatch):
    calls = []

    class FakeLibc:
        def malloc_trim(self, pad):
            calls.append(pad)
            return 1

    assert trim_memory(libc=FakeLibc()) is True and calls == [0]
    assert trim_memory(enabled=False, libc=FakeLibc()) is False and calls == [0]
    monkeypatch.setenv("EXPORT3D_NO_MALLOPT", "1")
    assert trim_memory() is False  # no glibc call with the switch set
    monkeypatch.delenv("EXPORT3D_NO_MALLOPT")
    assert isinstance(trim_memory(), bool)  # the real one: True on glibc


def test_run_every_runs_each_task_and_survives_a_failing_one():
    seen = threading.Event()
    calls = []

    def failing():
        raise RuntimeError("boom")

    def working():
        calls.append(1)
        if len(calls) >= 2:
            seen.set()

    thread, stop = run_every(0.01, [failing, working])
    assert thread.daemon and seen.wait(5)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


# ------------------------------------------------------------------------------------------------ disk
def _file(path, size, age, now):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    os.utime(path, (now - age, now - age))
    return path


def test_prune_files_deletes_by_age_then_the_oldest_beyond_the_size():
    import pathlib

    now, d = time.time(), pathlib.Path(__import__("tempfile").mkdtemp())
    old = _file(d / "old", 10, 5000, now)
    a, b, c = (_file(d / n, 100, age, now) for n, age in (("a", 30), ("b", 20), ("c", 10)))
    assert prune_files(d.glob("*"), 3600, 250, now) == 110  # old by age, then a (the oldest)
    assert not old.exists() and not a.exists() and b.exists() and c.exists()


def test_upload_sweep_bounds_gradios_cache_but_not_the_outputs_or_the_start_up_files(tmp_path):
    now = time.time()
    example = _file(tmp_path / "ex" / "example.jpg", 1000, 100, now)  # copied by Gradio at start-up
    outputs = tmp_path / "export3d-outputs"
    result = _file(outputs / "animation.mp4", 5000, 50, now)
    sweep = UploadSweep(tmp_path, max_bytes=2500, outputs=outputs)
    uploads = [_file(tmp_path / f"h{i}" / "blob.png", 1000, 40 - i, now) for i in range(4)]
    stale = _file(tmp_path / "h9" / "old.png", 10, 7200, now)
    assert sweep.run_once() == 2010  # the stale one, then the two oldest uploads
    assert [u.exists() for u in uploads] == [False, False, True, True] and not stale.exists()
    assert example.exists() and result.exists()
    assert sweep.run_once() == 0


def test_demo_limits_memory_and_disk_settings_from_env():
    d = DemoLimits.from_env({})
    assert (d.idle_seconds, d.release_after_seconds, d.max_uploads_mb) == (10.0, 300.0, 512.0)
    assert d.max_uploads_bytes == 512 * 2**20
    e = DemoLimits.from_env({"EXPORT3D_DEMO_IDLE_SECONDS": "3", "EXPORT3D_DEMO_RELEASE_AFTER_SECONDS": "60",
                             "EXPORT3D_DEMO_MAX_UPLOADS_MB": "200"})
    assert (e.idle_seconds, e.release_after_seconds, e.max_uploads_mb) == (3.0, 60.0, 200.0)
    with pytest.raises(ValueError, match="EXPORT3D_DEMO_MAX_UPLOADS_MB .* at least twice EXPORT3D_DEMO_MAX_UPLOAD_MB"):
        DemoLimits(max_upload_mb=50, max_uploads_mb=60)
    assert "unused for 5 min" in d.describe() and "512 MB" in d.describe()
