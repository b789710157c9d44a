"""Torch's thread count chosen from the cores other processes leave free (``runtime.ThreadGovernor``)."""

from __future__ import annotations

import torch

from export3d.runtime import ThreadGovernor, threads_for


def test_threads_for_leaves_the_busy_cores_alone():
    assert [threads_for(x, 2) for x in (0.0, 0.3, 0.6, 1.0, 1.9, 5.0, -1.0)] == [2, 2, 1, 1, 1, 1, 2]
    assert threads_for(1.0, 8) == 7 and threads_for(0.0, 1) == 1


def test_the_governor_subtracts_its_own_cpu_time_and_waits_for_its_period():
    """Two cores; each second 100 jiffies pass per core. A window where the machine is busy 1.8 cores while this
    process used 0.9 of them leaves 0.9 to others: one thread. Then an idle machine: two threads."""
    t = {"clock": 0.0, "busy": 0, "total": 0, "own": 0.0}
    gov = ThreadGovernor(cores=2, period=1.0, ticks=lambda: (t["busy"], t["total"]), own=lambda: t["own"],
                         clock=lambda: t["clock"])
    before = torch.get_num_threads()
    try:
        assert gov.adapt() is None  # the first call only takes a sample
        t.update(clock=1.0, busy=180, total=200, own=0.9)
        assert gov.adapt() == 1 and torch.get_num_threads() == 1
        t.update(clock=1.5, busy=200, total=300, own=1.4)
        assert gov.adapt() == 1  # within the period: unchanged, no new sample
        t.update(clock=2.0, busy=290, total=400, own=1.8)  # since t = 1: 1.1 cores busy, 0.9 of them ours
        assert gov.adapt() == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
