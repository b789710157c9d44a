"""The idle sweep wired into the app: the handlers report their jobs, the sweep releases an idle session's portrait
(which is then asked for again, through the API), empties the model's cache, and the launch code starts it in a
daemon thread with the upload sweep. A tiny random checkpoint, the app in-process on loopback."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import gradio_client
import numpy as np
import pytest
import torch
from conftest import modulate
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from export3d import demo as core
from export3d.checkpoint import save_pretrained
from export3d.config import ModelConfig
from export3d.models.export3d import Export3D

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

PORTRAIT = Path(__file__).resolve().parents[1] / "examples" / "portraits" / "astronaut.jpg"
LIMITS = core.DemoLimits(max_clip_seconds=2, max_image_side=1024, max_upload_mb=5, queue_size=8)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_build_demo_with_a_sweep_shares_its_store_and_registers_the_model():
    import app

    sweep = core.IdleSweep(core.SessionStore(), core.Activity(), 10, 300)
    app.build_demo(lambda: None, LIMITS, sweep=sweep)
    assert len(sweep.caches) == 1 and isinstance(sweep.caches[0], core.LazyAnimator)
    sweep.caches[0].clear_cache()  # nothing loaded: nothing happens, nothing is loaded
    assert not sweep.caches[0].loaded
    with pytest.raises(ValueError, match="not two different stores"):
        app.build_demo(lambda: None, LIMITS, core.SessionStore(), sweep=sweep)


def test_the_sweep_releases_an_idle_sessions_portrait_and_the_session_is_asked_again(tmp_path, monkeypatch):
    import app
    from export3d.pipeline import Animator

    torch.manual_seed(0)
    ckpt = save_pretrained(modulate(Export3D(ModelConfig.small()), 1), tmp_path / "ckpt")
    monkeypatch.setenv("EXPORT3D_DEMO_OUTPUTS", str(tmp_path / "outputs"))
    clock, trims = Clock(), []
    store, activity = core.SessionStore(clock=clock), core.Activity(clock=clock)
    sweep = core.IdleSweep(store, activity, idle_seconds=10, release_after=300, trim=lambda: trims.append(1) or True)
    animators = []
    factory = lambda: animators.append(Animator.from_pretrained(ckpt, device="cpu")) or animators[-1]  # noqa: E731
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    demo = app.build_demo(factory, LIMITS, sweep=sweep)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True,
                            **app.launch_kwargs(LIMITS))
    try:
        client = gradio_client.Client(url, verbose=False, download_files=str(tmp_path / "dl"), analytics_enabled=False)
        client.predict(handle_file(str(PORTRAIT)), 1.0, 0.0, 0.0, api_name="/prepare")
        assert activity.finished >= 2 and activity.idle_for() == 0.0  # prepare's items, at the same clock
        assert len(store) == 1 and len(animators[0]._cache) == 1
        clock.now += 200
        assert sweep.run_once() == core.SweepReport(0, True)  # idle: trims, keeps the recent portrait
        assert len(animators[0]._cache) == 0 and len(store) == 1
        assert np.asarray(client.predict(1.0, "Auto", api_name="/grid")).size  # still usable
        clock.now += 301
        assert sweep.run_once() == core.SweepReport(1, True) and len(store) == 0 and len(trims) == 2
        with pytest.raises(AppError, match="^Your portrait was released .* Please choose it again"):
            client.predict(1.0, "Auto", api_name="/grid")
    finally:
        demo.close()
        torch.set_num_threads(threads)


def test_start_housekeeping_runs_the_sweeps_in_a_daemon_thread(tmp_path, monkeypatch):
    import app

    cache = tmp_path / "gradio"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    monkeypatch.delenv("EXPORT3D_DEMO_OUTPUTS", raising=False)
    (cache / "kept").mkdir(parents=True)
    (cache / "kept" / "example.jpg").write_bytes(b"x" * 100)  # present at start: kept
    clock, trims = Clock(), []
    sweep = core.IdleSweep(core.SessionStore(clock=clock), core.Activity(clock=clock), 10, 300,
                           trim=lambda: trims.append(1) or True)
    limits = core.DemoLimits(max_upload_mb=1, max_uploads_mb=2)
    thread, stop = app.start_housekeeping(sweep, limits, period=0.02)
    try:
        assert thread.daemon and thread.is_alive()
        uploads, staging = [], tmp_path / "staging"
        for i in range(3):  # 1 MB each, 30, 20 and 10 s old, moved in as Gradio does
            (staging / f"u{i}").mkdir(parents=True)
            (staging / f"u{i}" / "blob.png").write_bytes(b"x" * 2**20)
            os.utime(staging / f"u{i}" / "blob.png", (time.time() - 30 + 10 * i,) * 2)
            (staging / f"u{i}").rename(cache / f"u{i}")
            uploads.append(cache / f"u{i}" / "blob.png")
        clock.now += 11
        for _ in range(250):
            if trims and not uploads[0].exists():
                break
            stop.wait(0.02)
        assert trims == [1]  # idle: one trim
        assert [u.exists() for u in uploads] == [False, True, True]  # 3 MB > 2 MB: the oldest went
        assert (cache / "kept" / "example.jpg").exists()
    finally:
        stop.set()
        thread.join(5)
