"""The Gradio demo (app.py) end to end over HTTP with gradio_client, plus the pure helpers of export3d/demo.py.

A tiny random checkpoint is written to a temp folder (the real one is never used); the app is launched
in-process on 127.0.0.1 and a free port, offline.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from export3d import demo as core
from export3d.checkpoint import save_pretrained
from export3d.config import ModelConfig
from export3d.models.export3d import Export3D

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")  # pandas deprecations inside gradio

ROOT = Path(__file__).resolve().parents[1]
PORTRAIT = ROOT / "examples" / "portraits" / "astronaut.jpg"
DRIVER_IMAGE = ROOT / "examples" / "drivers" / "smile.jpg"
DRIVER_VIDEO = ROOT / "examples" / "drivers" / "talking.mp4"


# ------------------------------------------------------------------ pure helpers
def test_expression_ramp_eases_from_start_to_end_and_holds():
    start, end = np.zeros(52, np.float32), np.ones(52, np.float32)
    ramp = core.expression_ramp(start, end, 10, hold=0.3)
    assert ramp.shape == (10, 52) and ramp.dtype == np.float32
    np.testing.assert_allclose(ramp[0], start)
    np.testing.assert_allclose(ramp[-3:], np.ones((3, 52)))  # the last 30 % hold the target
    assert np.all(np.diff(ramp[:, 0]) >= 0)  # monotone
    np.testing.assert_allclose(core.expression_ramp(start, end, 1), end[None])  # one frame: the target
    with pytest.raises(ValueError):
        core.expression_ramp(start, end, 0)


def test_driver_kind_from_suffix():
    assert core.driver_kind("a/b/face.JPG") == "image"
    assert core.driver_kind("clip.webm") == "video"
    assert core.driver_kind(DRIVER_VIDEO) == "video"


def test_user_message_is_one_plain_sentence():
    from export3d.checkpoint import CheckpointError
    from export3d.face.errors import NoFaceError

    assert core.user_message(NoFaceError("No face was found.\nUse a photo.")) == "No face was found. Use a photo."
    assert core.user_message(CheckpointError("no config.json in x")) == "no config.json in x"
    hidden = core.user_message(KeyError("internal detail"))
    assert "internal detail" not in hidden and "KeyError" in hidden and "\n" not in hidden


def test_new_output_removes_old_files(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPORT3D_DEMO_OUTPUTS", str(tmp_path))
    old = tmp_path / "old.mp4"
    old.write_bytes(b"x")
    os.utime(old, (1, 1))
    fresh = tmp_path / "fresh.mp4"
    fresh.write_bytes(b"x")
    path = core.new_output("animation")
    assert path.parent == tmp_path and path.name.startswith("animation-") and path.suffix == ".mp4"
    assert not old.exists() and fresh.exists()


def test_lazy_animator_builds_once_and_retries_after_failure():
    calls = []

    def factory():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first load fails")
        return object()

    lazy = core.LazyAnimator(factory)
    assert not lazy.loaded
    with pytest.raises(RuntimeError):
        lazy.get()
    a = lazy.get()
    assert lazy.get() is a and lazy.loaded and len(calls) == 2


def test_animation_status_lists_numbers_and_warnings():
    from export3d.pipeline import AnimationResult

    text = core.animation_status(AnimationResult(Path("x.mp4"), 50, 25.0, 2.0, 3, ["The face was lost."]))
    assert "50 frames" in text and "2.0 s at 25 fps" in text and "25.0 frames/s" in text
    assert "Lost frames (face not found, filled in): 3" in text and "Note: The face was lost." in text


# ------------------------------------------------------------------ the app over HTTP
try:
    import gradio as gr
    import gradio_client
except ImportError:  # the helpers above still run
    gr = gradio_client = None
needs_gradio = pytest.mark.skipif(gr is None, reason="gradio is not installed (pip install -r requirements.txt)")


def _file(value) -> Path:
    """A file output of gradio_client: a path, or a dict with the path under "video"."""
    return Path(value["video"] if isinstance(value, dict) else value)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return save_pretrained(Export3D(ModelConfig.small()), tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="module")
def app_url(tiny_checkpoint, tmp_path_factory):
    import app
    from export3d.pipeline import Animator

    outputs = tmp_path_factory.mktemp("outputs")
    previous = os.environ.get("EXPORT3D_DEMO_OUTPUTS")
    os.environ["EXPORT3D_DEMO_OUTPUTS"] = str(outputs)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # robust against a busy machine (2 threads slow down 10-50x when a core is taken)
    demo = app.build_demo(lambda: Animator.from_pretrained(tiny_checkpoint, device="cpu"))
    demo.queue(default_concurrency_limit=1)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True,
                            quiet=True, **app.launch_kwargs())
    yield url
    demo.close()
    torch.set_num_threads(threads)
    if previous is None:
        os.environ.pop("EXPORT3D_DEMO_OUTPUTS", None)
    else:
        os.environ["EXPORT3D_DEMO_OUTPUTS"] = previous


@pytest.fixture
def client(app_url, tmp_path):
    """A fresh session (its own source/driver state) per test."""
    return gradio_client.Client(app_url, verbose=False, download_files=str(tmp_path), analytics_enabled=False)


@needs_gradio
def test_build_demo_has_no_side_effects():
    import app

    calls = []
    app.build_demo(lambda: calls.append(1))  # building (and importing) never loads the model
    assert calls == []


@needs_gradio
def test_friendly_errors_turn_exceptions_into_one_sentence():
    import app
    from export3d.checkpoint import CheckpointError

    def missing_model():
        raise CheckpointError("No usable model checkpoint (no config.json in x). Pass a checkpoint folder.")

    def bug():
        raise IndexError("list index out of range in some/internal/file.py")

    with pytest.raises(gr.Error) as excinfo:
        app.friendly_errors(missing_model)()
    assert excinfo.value.message == "No usable model checkpoint (no config.json in x). Pass a checkpoint folder."
    with pytest.raises(gr.Error) as excinfo:
        app.friendly_errors(bug)()
    assert excinfo.value.message == "Something went wrong (IndexError). Please try again or use another file."


@needs_gradio
def test_preview_and_animate_with_image_driver(client):
    from gradio_client import handle_file
    from PIL import Image

    src_status = client.predict(handle_file(str(PORTRAIT)), api_name="/set_source")
    assert src_status.startswith("Portrait ready: face found"), src_status
    info = client.predict(handle_file(str(DRIVER_IMAGE)), api_name="/set_driver_image")
    assert info.startswith("Driver: image smile.jpg"), info
    path = client.predict(20, 5, True, api_name="/preview")  # yaw, pitch, follow (state is per session)
    image = np.asarray(Image.open(path))
    assert image.shape == (256, 256, 3) and image.std() > 1  # 128 px model output upscaled to 256
    video, status, last = client.predict(20, 5, True, 10, False, api_name="/animate")
    assert _file(video).suffix == ".mp4" and "Image driver" in status
    assert np.asarray(Image.open(last)).shape == (256, 256, 3)
    grid = np.asarray(Image.open(client.predict(api_name="/grid")))
    assert grid.shape == (3 * 256, 5 * 256, 3)


@needs_gradio
def test_flat_grey_portrait_gives_a_readable_error(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError
    from PIL import Image

    grey = tmp_path / "grey.png"
    Image.new("RGB", (256, 256), (128, 128, 128)).save(grey)
    with pytest.raises(AppError) as excinfo:
        client.predict(handle_file(str(grey)), api_name="/set_source")
    message = str(excinfo.value)
    assert "No face was found" in message
    assert "Traceback" not in message and 'File "' not in message
    with pytest.raises(AppError, match="Upload a portrait first"):  # nothing was cached for this session
        client.predict(0, 0, True, 10, False, api_name="/animate")


@needs_gradio
def test_bad_driver_keeps_the_source(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError
    from PIL import Image

    client.predict(handle_file(str(PORTRAIT)), api_name="/set_source")
    grey = tmp_path / "grey_driver.png"
    Image.new("RGB", (200, 200), (90, 90, 90)).save(grey)
    with pytest.raises(AppError, match="No face was found"):
        client.predict(handle_file(str(grey)), api_name="/set_driver_image")
    path = client.predict(0, 0, False, api_name="/preview")  # the portrait is still there
    assert np.asarray(Image.open(path)).shape == (256, 256, 3)


@needs_gradio
def test_video_driver_gives_an_mp4_with_the_right_frame_count_and_audio(client):
    from gradio_client import handle_file

    from export3d.face.video import probe_video

    client.predict(handle_file(str(PORTRAIT)), api_name="/set_source")
    info = client.predict(handle_file(str(DRIVER_VIDEO)), api_name="/set_driver_video")
    assert info.startswith("Driver: video talking.mp4, 4.0 s, 25 fps, with audio"), info
    video, status, _ = client.predict(0, 0, True, 2, True, api_name="/animate")  # 2 s of the 4 s clip, side by side
    meta = probe_video(_file(video))
    assert meta.frame_count == 50 and meta.fps == 25.0 and meta.has_audio
    assert (meta.width, meta.height) == (512, 256)  # driver (256 high) | animation (256)
    assert status.startswith("Animated 50 frames (2.0 s at 25 fps)"), status
    assert "Only the first 2 s" in status
