"""The Gradio demo (app.py) end to end over HTTP with gradio_client, plus the pure helpers of export3d/demo/.

A tiny random checkpoint is written to a temp folder (the real one is never used); the app is launched
in-process on 127.0.0.1 and a free port, offline, with small limits (clip 2 s, images 1024 px) so that the
limit cases are cheap. Every bad input of docs/app.md ("Bad input") has a test here; the inputs are crafted
in the tests (solid-colour images, a text file, cut video files...).
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import modulate
from PIL import Image

from export3d import demo as core
from export3d.checkpoint import save_pretrained
from export3d.config import ModelConfig
from export3d.models.export3d import Export3D

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")  # pandas deprecations inside gradio

ROOT = Path(__file__).resolve().parents[1]
PORTRAIT = ROOT / "examples" / "portraits" / "astronaut.jpg"
DRIVER_IMAGE = ROOT / "examples" / "drivers" / "smile.jpg"
DRIVER_VIDEO = ROOT / "examples" / "drivers" / "talking.mp4"
PHOTO = (512, 512, 3)  #: the example portrait's shape: the app's whole-photo output (even sides, under 640 px)
LIMITS = core.DemoLimits(max_clip_seconds=2, max_image_side=1024, max_upload_mb=5, queue_size=8)


# ------------------------------------------------------------------ crafted inputs
def _astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


def _save(image: Image.Image, path: Path, **kw) -> Path:
    image.save(path, **kw)
    return path


def _grey_video(path: Path, seconds: float = 1.0) -> Path:
    from export3d.media.encode import write_video

    return write_video(path, [np.full((128, 128, 3), 100, np.uint8)] * round(25 * seconds), 25.0)


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


def test_driver_kind_and_upload_values():
    assert core.driver_kind("a/b/face.JPG") == "image"
    assert core.driver_kind("clip.webm") == "video"
    assert core.driver_kind(DRIVER_VIDEO) == "video"
    assert core.upload_path({"path": "/x/y.png", "orig_name": "y.png"}) == Path("/x/y.png")
    assert core.upload_path("/x/y.png") == Path("/x/y.png")
    assert core.upload_path({"path": None, "url": "data:image/png;base64,aGVsbG8="}) == b"hello"
    from export3d.errors import UnreadableImageError, UnreadableVideoError

    with pytest.raises(UnreadableImageError, match="No image was received"):
        core.upload_path({"path": None, "url": None})
    with pytest.raises(UnreadableVideoError, match="No video was received"):
        core.upload_path({}, "video")


def test_user_message_is_one_plain_sentence():
    from export3d.errors import CheckpointError, NoFaceError

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


def test_animation_status_lists_numbers_trimming_truncation_and_warnings():
    from export3d.pipeline import AnimationResult

    text = core.animation_status(AnimationResult(Path("x.mp4"), 50, 25.0, 2.0, 3, ["The face was lost."]))
    assert "50 frames" in text and "2.0 s at 25 fps" in text and "25.0 frames/s" in text
    assert "Lost frames (face not found, filled in): 3" in text and "Note: The face was lost." in text
    long_driver = core.Driver("video", Path("long.mp4"), None, fps=25.0, duration=8.0)
    text = core.animation_status(AnimationResult(Path("x.mp4"), 75, 25.0, 2.0, 0), 3.0, long_driver, 3.0)
    assert "Trimmed: the driving video is 8.0 s long and the demo uses at most 3 s of it." in text
    text = core.animation_status(AnimationResult(Path("x.mp4"), 20, 25.0, 2.0, 0), 3.0, long_driver, 3.0)
    assert "ended after 20 of the 75 frames" in text and "truncated" in text


def test_demo_limits_defaults_env_and_gpu_duration():
    d = core.DemoLimits()
    assert (d.max_upload_mb, d.max_image_side, d.max_clip_seconds) == (50, 2048, 20)
    assert d.max_file_size == 50 * 1024 * 1024 and d.max_pixels == 100_000_000
    assert d.gpu_duration() == 30 and d.gpu_duration(20) == 130  # 30 + 5 s per clip second
    env = {"EXPORT3D_DEMO_MAX_SECONDS": "6", "EXPORT3D_DEMO_MAX_UPLOAD_MB": "10", "EXPORT3D_DEMO_MAX_IMAGE_SIDE": "512",
           "EXPORT3D_DEMO_QUEUE_SIZE": "4", "EXPORT3D_DEMO_GPU_SECONDS_PER_CLIP_SECOND": "2"}
    e = core.DemoLimits.from_env(env)
    assert (e.max_clip_seconds, e.max_upload_mb, e.max_image_side, e.queue_size) == (6, 10, 512, 4)
    assert e.default_clip_seconds == 6 and e.gpu_duration(e.max_clip_seconds) == 42
    assert core.DemoLimits.from_env({}, max_clip_seconds=2).max_clip_seconds == 2
    with pytest.raises(ValueError, match="EXPORT3D_DEMO_MAX_SECONDS='ten' is not a number"):
        core.DemoLimits.from_env({"EXPORT3D_DEMO_MAX_SECONDS": "ten"})
    with pytest.raises(ValueError, match="EXPORT3D_DEMO_QUEUE_SIZE"):
        core.DemoLimits.from_env({"EXPORT3D_DEMO_QUEUE_SIZE": "0"})
    text = d.describe()
    assert all(f"`{var}`" in text for var in core.ENV.values() if "GPU" not in var)


def test_huge_image_is_downscaled_with_a_notice_or_refused_with_the_limit(tmp_path):
    from export3d.errors import UnreadableImageError

    huge = _save(Image.new("RGB", (8000, 8000), (200, 180, 160)), tmp_path / "huge.png")  # ~0.2 MB on disk
    image, notes = core.load_picture(str(huge), core.DemoLimits(max_image_side=1024))
    assert image.shape == (1024, 1024, 3)
    assert notes == ["The portrait (8000x8000 pixels) was downscaled to 1024x1024, the limit being 1024 pixels on "
                     "the longer side."]
    with pytest.raises(UnreadableImageError, match="64.0 megapixels.*under 50 megapixels"):
        core.load_picture(str(huge), core.DemoLimits(max_image_megapixels=50))


def test_checkpoint_description_and_hub_id_without_network(tmp_path, monkeypatch):
    import huggingface_hub

    from export3d.errors import CheckpointError

    def offline(*args, **kwargs):
        raise ConnectionError("network is unreachable (test)")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    monkeypatch.setenv("EXPORT3D_CHECKPOINT", "nobody/export3d-nothing")
    assert "Hugging Face Hub" in core.checkpoint_description()
    with pytest.raises(CheckpointError) as excinfo:
        core.LazyAnimator().get()  # the default factory: EXPORT3D_CHECKPOINT
    message = core.user_message(excinfo.value)
    assert message.startswith("No usable model checkpoint (nobody/export3d-nothing is not a local folder and could "
                              "not be downloaded from the Hub"), message
    monkeypatch.setenv("EXPORT3D_CHECKPOINT", str(tmp_path / "missing"))
    assert "not found" in core.checkpoint_description()


# ------------------------------------------------------------------ the app over HTTP
try:
    import gradio as gr
    import gradio_client
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError
except ImportError:  # the helpers above still run
    gr = gradio_client = handle_file = AppError = None
needs_gradio = pytest.mark.skipif(gr is None, reason="gradio is not installed (pip install -r requirements.txt)")


def _file(value) -> Path:
    """A file output of gradio_client: a path, or a dict with the path under "video"."""
    return Path(value["video"] if isinstance(value, dict) else value)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _modulated(model: Export3D, seed: int = 1) -> Export3D:
    return modulate(model, seed)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return save_pretrained(_modulated(Export3D(ModelConfig.small())), tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="module")
def app_demo(tiny_checkpoint, tmp_path_factory):
    import app
    from export3d.pipeline import Animator

    outputs = tmp_path_factory.mktemp("outputs")
    previous = os.environ.get("EXPORT3D_DEMO_OUTPUTS")
    os.environ["EXPORT3D_DEMO_OUTPUTS"] = str(outputs)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # robust against a busy machine (2 threads slow down 10-50x when a core is taken)
    demo = app.build_demo(lambda: Animator.from_pretrained(tiny_checkpoint, device="cpu"), LIMITS)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True,
                            quiet=True, **app.launch_kwargs(LIMITS))
    yield demo, url
    demo.close()
    torch.set_num_threads(threads)
    if previous is None:
        os.environ.pop("EXPORT3D_DEMO_OUTPUTS", None)
    else:
        os.environ["EXPORT3D_DEMO_OUTPUTS"] = previous


def _client(url: str, folder: Path):
    return gradio_client.Client(url, verbose=False, download_files=str(folder), analytics_enabled=False)


@pytest.fixture
def client(app_demo, tmp_path):
    """A fresh session (its own source/driver state) per test."""
    return _client(app_demo[1], tmp_path)


def _prepare(client, path, scale=1.0, x=0.0, y=0.0) -> tuple[np.ndarray, str]:
    crop, status = client.predict(handle_file(str(path)), scale, x, y, api_name="/prepare")
    return np.asarray(Image.open(crop)), status


def _error(call) -> str:
    """The message of the AppError ``call()`` raises; checks it is one sentence without a traceback."""
    with pytest.raises(AppError) as excinfo:
        call()
    message = str(excinfo.value)
    assert "Traceback" not in message and 'File "' not in message and "\n" not in message.strip(), message
    return message


@needs_gradio
def test_build_demo_has_no_side_effects_and_needs_no_network(monkeypatch):
    import huggingface_hub

    import app

    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: pytest.fail("network used"))
    monkeypatch.setenv("EXPORT3D_CHECKPOINT", "nobody/export3d-nothing")
    calls = []
    app.build_demo(lambda: calls.append(1), LIMITS)  # building (and importing) never loads the model
    assert calls == []


@needs_gradio
def test_endpoints_queue_and_upload_limit(app_demo):
    import app

    demo, _ = app_demo
    public = {fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"}
    assert public == {"prepare", "driver_image", "driver_video", "preview", "animate", "grid", "orbit", "mesh"}
    assert all(fn.api_name for fn in demo.fns.values() if fn.fn is not None)  # every event is named
    assert demo._queue.max_size == LIMITS.queue_size
    assert app.launch_kwargs(LIMITS)["max_file_size"] == 5 * 1024 * 1024
    source = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "source")
    assert "webcam" in source.sources and "upload" in source.sources


@needs_gradio
def test_friendly_errors_turn_exceptions_into_one_sentence():
    import app
    from export3d.errors import CheckpointError

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
def test_missing_checkpoint_gives_a_readable_error_in_the_ui(tmp_path):
    import app
    from export3d.pipeline import Animator

    demo = app.build_demo(lambda: Animator.from_pretrained(tmp_path / "missing", device="cpu"), LIMITS)
    prepare = next(fn.fn for fn in demo.fns.values() if fn.api_name == "prepare")
    for _ in range(2):  # a failed load is retried, and fails the same way
        with pytest.raises(gr.Error) as excinfo:
            list(prepare(str(PORTRAIT), 1.0, 0.0, 0.0))  # a generator: it first clears the previous portrait
        assert excinfo.value.message.startswith("No usable model checkpoint (checkpoint folder not found: ")
        assert "EXPORT3D_CHECKPOINT" in excinfo.value.message


@pytest.fixture
def median_surface(monkeypatch):
    """A random model's density never reaches the trained surface threshold: mesh at the grid's median instead."""
    import export3d.pipeline.jobs as jobs  # where Animator.export_mesh runs marching cubes

    extract = jobs.extract_mesh
    monkeypatch.setattr(jobs, "extract_mesh", lambda grid, threshold, box: extract(grid, float(np.median(grid)), box))


@needs_gradio
def test_image_driver_preview_animate_compare_depth_grid_and_mesh(client, median_surface):
    crop, status = _prepare(client, PORTRAIT)
    assert status.startswith("Portrait ready: face found"), status
    assert crop.shape == (256, 256, 3)  # the 128 px model input, shown at 256
    info = client.predict(handle_file(str(DRIVER_IMAGE)), api_name="/driver_image")
    assert info.startswith("Driver: image smile.jpg"), info
    path = client.predict(20, 5, True, 1.0, "Absolute", api_name="/preview")  # yaw, pitch, follow, strength, mode
    image = np.asarray(Image.open(path))
    assert image.shape == PHOTO and image.std() > 1  # the whole photo
    face = np.asarray(Image.open(client.predict(20, 5, True, 1.0, "Absolute", True, api_name="/preview")))
    assert face.shape == (256, 256, 3)  # "face crop only": a generated model's crop, its render upscaled to 256
    video, status, last, compare, depth = client.predict(20, 5, True, 1.0, "Absolute", 0.5, 2, False, True,
                                                         api_name="/animate")
    assert _file(video).suffix == ".mp4" and "Image driver" in status
    from export3d.media.probe import probe_video

    assert probe_video(_file(video)).height == PHOTO[0] and np.asarray(Image.open(last)).shape == PHOTO
    assert np.asarray(Image.open(compare)).shape == (PHOTO[0], 2 * PHOTO[1], 3)  # portrait | result
    assert _file(depth).suffix == ".mp4"
    grid = np.asarray(Image.open(client.predict(1.0, "Absolute", api_name="/grid")))
    assert grid.shape == (3 * 256, 5 * 256, 3)
    glb, obj, status = client.predict(1.0, "Absolute", api_name="/mesh")
    assert Path(glb).read_bytes()[:4] == b"glTF" and status.startswith("3D mesh of the driver's expression")
    assert Path(obj).suffix == ".obj" and "\nv " in Path(obj).read_text()[:2000]


@needs_gradio
def test_mesh_without_a_surface_says_so(client):
    _prepare(client, PORTRAIT)
    message = _error(lambda: client.predict(1.0, "Absolute", api_name="/mesh"))  # the random model has no surface
    assert message.endswith("The model produced no solid surface for this portrait and expression, so there is no "
                            "mesh to export. Try another portrait or expression.")


def test_expression_beta_applies_strength_and_mode():
    from types import SimpleNamespace

    src = SimpleNamespace(signals=SimpleNamespace(beta=np.full(52, 0.2, np.float32)))
    drv = core.Driver("image", Path("d.jpg"), SimpleNamespace(beta=np.full(52, 0.4, np.float32)))
    beta = core.expression_beta
    np.testing.assert_allclose(beta(src, None, core.expression_settings(2, "Absolute")), 0.2)  # no driver: own
    np.testing.assert_allclose(beta(src, drv, core.expression_settings(0, "Absolute")), 0.0)
    np.testing.assert_allclose(beta(src, drv, core.expression_settings(1, "Absolute")), 0.4)
    np.testing.assert_allclose(beta(src, drv, core.expression_settings(2, "Absolute")), 0.8)
    np.testing.assert_allclose(beta(src, drv, core.expression_settings(5, "Absolute")), 0.8)  # strength clipped to 2
    np.testing.assert_allclose(beta(src, drv, core.expression_settings(2, "Relative")), 0.2)  # its own reference
    assert core.expression_settings(None, None).strength == 1.0 and not core.expression_settings(1, None).relative


@needs_gradio
def test_expression_strength_and_mode_reach_the_renderer(client, monkeypatch):
    from export3d.pipeline import Animator

    seen = []
    render = Animator.render_frames

    def spy(self, src, beta, camera, depth=False, canvas=None):
        seen.append(np.asarray(beta, np.float32).reshape(-1, 52).copy())
        return render(self, src, beta, camera, depth, canvas)

    _prepare(client, PORTRAIT)
    driver = client.predict(handle_file(str(DRIVER_IMAGE)), api_name="/driver_image")
    assert driver.startswith("Driver: image")
    monkeypatch.setattr(Animator, "render_frames", spy)  # the app runs in this process
    for strength, mode in ((0.0, "Absolute"), (1.0, "Absolute"), (2.0, "Absolute"), (2.0, "Relative")):
        client.predict(0, 0, False, strength, mode, api_name="/preview")
    none, full, double, relative = (b[0] for b in seen)
    assert none.max() == 0 and full.max() > 0.2
    np.testing.assert_allclose(double, np.clip(2 * full, 0, 1), atol=1e-6)
    assert np.abs(relative - full).max() > 0.05  # relative + image driver: the portrait's own expression
    seen.clear()
    client.predict(0, 0, False, 0.5, "Absolute", 0.5, 2, False, False, api_name="/animate")
    np.testing.assert_allclose(seen[0][-1], 0.5 * full, atol=1e-6)  # the clip ends at the driver's (scaled)


@needs_gradio
def test_crop_controls_re_prepare_the_source(client):
    base, _ = _prepare(client, PORTRAIT)
    wide, status = _prepare(client, PORTRAIT, 1.3, 0.0, 0.0)
    shifted, _ = _prepare(client, PORTRAIT, 1.0, 0.2, -0.2)
    assert status.startswith("Portrait ready")
    assert np.abs(wide.astype(float) - base).mean() > 5 and np.abs(shifted.astype(float) - base).mean() > 5
    again, _ = _prepare(client, PORTRAIT)
    np.testing.assert_array_equal(again, base)


@needs_gradio
def test_video_driver_gives_an_mp4_with_frames_audio_side_by_side_and_depth(client):
    from export3d.media.probe import probe_video

    _prepare(client, PORTRAIT)
    info = client.predict(handle_file(str(DRIVER_VIDEO)), api_name="/driver_video")
    assert info.startswith("Driver: video talking.mp4, 4.0 s, 25 fps, with audio"), info
    video, status, _, compare, depth = client.predict(0, 0, True, 1.0, "Relative", 0.8, 1, True, True,
                                                      api_name="/animate")  # 1 s of the clip, side by side
    meta = probe_video(_file(video))
    assert meta.frame_count == 25 and meta.fps == 25.0 and meta.has_audio
    assert (meta.width, meta.height) == (2 * PHOTO[1], PHOTO[0])  # driver (square, scaled) | the whole photo
    assert status.startswith("Animated 25 frames (1.0 s at 25 fps)"), status
    assert "Only the first 1 s" in status and "Trimmed" not in status and compare is None
    assert probe_video(_file(depth)).frame_count == 25


@needs_gradio
def test_video_longer_than_the_limit_is_trimmed_with_a_notice(client):
    _prepare(client, PORTRAIT)
    info = client.predict(handle_file(str(DRIVER_VIDEO)), api_name="/driver_video")
    assert info.endswith("It is longer than the demo's limit of 2 s, so only its first 2 s will be used (trimmed).")
    _, status, *_ = client.predict(0, 0, True, 1.0, "Absolute", 0.5, 2, False, False, api_name="/animate")
    assert status.startswith("Animated 50 frames (2.0 s at 25 fps)"), status  # the 2 s limit of the 4 s clip
    assert "Trimmed: the driving video is 4.0 s long and the demo uses at most 2 s of it." in status


@needs_gradio
def test_two_users_at_once_both_complete(app_demo, tmp_path):
    clients = [_client(app_demo[1], tmp_path / f"user{i}") for i in range(2)]
    for c, driver in zip(clients, (DRIVER_IMAGE, DRIVER_VIDEO), strict=True):
        _prepare(c, PORTRAIT)
        c.predict(handle_file(str(driver)), api_name="/driver_image" if driver.suffix == ".jpg" else "/driver_video")
    jobs = [c.submit(0, 0, True, 1.0, "Absolute", 0.5, 1, False, False, api_name="/animate") for c in clients]
    results = [job.result(timeout=120) for job in jobs]
    assert results[0][1].startswith("Image driver") and results[1][1].startswith("Animated 25 frames")
    assert all(_file(r[0]).is_file() for r in results)


# ------------------------------------------------------------------ bad input: one test per case
@needs_gradio
def test_no_face_in_the_portrait(client, tmp_path):
    grey = _save(Image.new("RGB", (256, 256), (128, 128, 128)), tmp_path / "grey.png")
    message = _error(lambda: _prepare(client, grey))
    assert message.endswith("No face was found in the image. Use a photo where the face is clearly visible.")
    _error(lambda: client.predict(0, 0, True, 1.0, "Absolute", 0.5, 2, False, False, api_name="/animate"))


@needs_gradio
def test_no_face_in_the_driver_image_keeps_the_portrait(client, tmp_path):
    _prepare(client, PORTRAIT)
    grey = _save(Image.new("RGB", (200, 200), (90, 90, 90)), tmp_path / "grey_driver.png")
    assert "No face was found in the image" in _error(
        lambda: client.predict(handle_file(str(grey)), api_name="/driver_image"))
    path = client.predict(0, 0, False, 1.0, "Absolute", api_name="/preview")  # the portrait is still there
    assert np.asarray(Image.open(path)).shape == PHOTO


@needs_gradio
def test_no_face_in_the_driver_video(client, tmp_path):
    _prepare(client, PORTRAIT)
    info = client.predict(handle_file(str(_grey_video(tmp_path / "grey.mp4"))), api_name="/driver_video")
    assert "No face in its first 2 s" in info, info
    message = _error(lambda: client.predict(0, 0, True, 1.0, "Absolute", 0.5, 2, False, False, api_name="/animate"))
    assert message.endswith("No face was found in any frame of the video."), message


@needs_gradio
def test_several_faces_use_the_largest_and_say_so(client, tmp_path):
    a = _astronaut()
    canvas = Image.new("RGB", (800, 512), (120, 120, 120))
    canvas.paste(a, (0, 0))
    canvas.paste(a.resize((256, 256)), (530, 100))
    two = _save(canvas, tmp_path / "two.jpg")
    _, status = _prepare(client, two)
    assert "2 faces were found; the largest is used." in status, status
    info = client.predict(handle_file(str(two)), api_name="/driver_image")
    assert "2 faces were found; the largest drives the portrait." in info, info


@needs_gradio
def test_text_file_renamed_as_image(client, tmp_path):
    fake = tmp_path / "notes.jpg"
    fake.write_text("these are my notes, not a photo\n" * 10)
    message = _error(lambda: _prepare(client, fake))
    assert message.endswith("This file is not an image we can read (it may be corrupt or empty): notes.jpg")


@needs_gradio
def test_empty_image_file(client, tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert _error(lambda: _prepare(client, empty)).endswith("This image file is empty (0 bytes): empty.jpg")


@needs_gradio
def test_non_video_file_as_driver_video(client, tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("these are my notes, not a video\n" * 10)
    message = _error(lambda: client.predict(handle_file(str(fake)), api_name="/driver_video"))
    assert message.endswith("This file is not a video we can read (it may be corrupt, incomplete or not a video): "
                            "notes.mp4"), message
    still = tmp_path / "still.mp4"
    still.write_bytes(DRIVER_IMAGE.read_bytes())
    message = _error(lambda: client.predict(handle_file(str(still)), api_name="/driver_video"))
    assert message.endswith("This file is a still image, not a video: still.mp4. Use it as the portrait, or choose "
                            "a video file."), message


@needs_gradio
def test_corrupt_and_empty_videos(client, tmp_path):
    data = DRIVER_VIDEO.read_bytes()
    head = tmp_path / "cut_head.mp4"
    head.write_bytes(data[:2000])  # the index is cut: cannot be opened
    assert "This file is not a video we can read" in _error(
        lambda: client.predict(handle_file(str(head)), api_name="/driver_video"))
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    message = _error(lambda: client.predict(handle_file(str(empty)), api_name="/driver_video"))
    assert message.endswith("This video file is empty (0 bytes): empty.mp4"), message
    part = tmp_path / "cut_middle.mp4"
    part.write_bytes(data[:len(data) // 3])  # an interrupted upload: the frames before the cut are used
    _prepare(client, PORTRAIT)
    client.predict(handle_file(str(part)), api_name="/driver_video")
    _, status, *_ = client.predict(0, 0, True, 1.0, "Absolute", 0.5, 2, False, False, api_name="/animate")
    assert "the file may be incomplete (truncated)" in status, status


@needs_gradio
def test_huge_image_is_downscaled_with_a_notice(client, tmp_path):
    huge = _save(Image.new("RGB", (8000, 8000), (200, 180, 160)), tmp_path / "huge.png")  # solid: cheap to make
    message = _error(lambda: _prepare(client, huge))
    assert "No face was found" in message and "(8000x8000 pixels) was downscaled to 1024x1024" in message
    big = _save(_astronaut().resize((1300, 1300)), tmp_path / "big.jpg", quality=80)  # a face: works
    _, status = _prepare(client, big)
    assert status.startswith("Portrait ready") and "(1300x1300 pixels) was downscaled to 1024x1024" in status


@needs_gradio
def test_tiny_image_says_the_face_is_too_small(client, tmp_path):
    tiny = _save(_astronaut().crop((81, 0, 369, 288)).resize((40, 40)), tmp_path / "tiny.png")
    message = _error(lambda: _prepare(client, tiny))
    assert "The face is too small" in message and "Use a larger or closer photo." in message


@needs_gradio
def test_upload_above_the_size_limit_is_refused_and_the_app_keeps_serving(client, tmp_path):
    big = tmp_path / "big.jpg"
    big.write_bytes(os.urandom(6 * 1024 * 1024))  # the test app allows 5 MB
    with pytest.raises(Exception, match="exceed"):  # gradio_client checks before uploading
        _prepare(client, big)
    assert _prepare(client, PORTRAIT)[1].startswith("Portrait ready")


@needs_gradio
@pytest.mark.parametrize("kind", ["grayscale", "rgba", "cmyk", "exif_rotated"])
def test_other_image_formats_work(client, tmp_path, kind):
    upright = _astronaut().crop((81, 0, 369, 288))  # the example portrait's framing
    if kind == "grayscale":
        path = _save(upright.convert("L"), tmp_path / "grey.png")
    elif kind == "rgba":
        rgba = upright.convert("RGBA")
        alpha = np.full(rgba.size[::-1], 255, np.uint8)
        alpha[:, :20] = 0  # a transparent strip at the left
        rgba.putalpha(Image.fromarray(alpha))
        path = _save(rgba, tmp_path / "rgba.png")
    elif kind == "cmyk":
        path = _save(upright.convert("CMYK"), tmp_path / "cmyk.jpg", quality=95)
    else:  # stored turned by 90 degrees, with the EXIF tag that turns it back (Orientation 6: rotate 90 cw)
        exif = Image.Exif()
        exif[0x0112] = 6
        path = _save(upright.rotate(90, expand=True), tmp_path / "exif.jpg", exif=exif, quality=95)
    crop, status = _prepare(client, path)
    assert status.startswith("Portrait ready: face found"), status
    if kind == "exif_rotated":  # the crop is upright: the same as the upright photo's
        reference, _ = _prepare(client, _save(upright, tmp_path / "upright.jpg", quality=95))
        assert np.abs(crop.astype(float) - reference).mean() < 6


def test_concurrency_smoke_without_gradio():
    """LazyAnimator is thread-safe: two threads asking at once build the model once."""
    calls, barrier = [], threading.Barrier(2)

    def factory():
        calls.append(1)
        return object()

    lazy = core.LazyAnimator(factory)
    out = []

    def worker():
        barrier.wait()
        out.append(lazy.get())

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and out[0] is out[1]


def test_a_portrait_turned_far_away_is_prepared_with_a_warning():
    from types import SimpleNamespace

    turned = SimpleNamespace(signals=SimpleNamespace(angles=(62.0, 3.0, 0.0)))
    fake = SimpleNamespace(prepare_source=lambda rgb, **kw: turned)
    src, notes = core.prepare_portrait(fake, str(PORTRAIT), LIMITS)
    assert src is turned and any("yaw +62°" in n and "more frontal photo" in n for n in notes)
    turned.signals.angles = (20.0, 3.0, 0.0)
    assert core.prepare_portrait(fake, str(PORTRAIT), LIMITS)[1] == []


@needs_gradio
def test_every_endpoint_checks_its_arguments_with_the_pages_ranges(client):
    """Through the API as on the page: out-of-range or malformed controls get one sentence naming the range."""
    for scale in (0, -1, 3, "x"):
        message = _error(lambda s=scale: _prepare(client, PORTRAIT, scale=s))
        assert message.startswith("Crop scale must be a number from 0.8 to 1.3"), message
    assert "Crop offset y must be a number from -0.2 to 0.2" in _error(lambda: _prepare(client, PORTRAIT, y=0.5))
    _prepare(client, PORTRAIT)  # events that preprocess their inputs get Gradio's own range check first
    assert "45" in _error(lambda: client.predict(100, 0, True, 1.0, "Auto", api_name="/preview"))
    message = _error(lambda: client.predict(0, 0, True, 1.0, "Sideways", api_name="/preview"))
    assert "Sideways" in message and "Auto" in message, message
    assert "minimum value 0" in _error(lambda: client.predict(-1, "Auto", api_name="/grid"))
    assert "maximum value 1" in _error(
        lambda: client.predict(0, 0, True, 1.0, "Auto", 5, 1, False, False, api_name="/animate"))


@needs_gradio
def test_a_failed_input_through_the_api_clears_the_one_it_replaces(client, tmp_path):
    grey = _save(Image.new("RGB", (200, 200), (90, 90, 90)), tmp_path / "grey.png")
    _prepare(client, PORTRAIT)
    client.predict(handle_file(str(DRIVER_IMAGE)), api_name="/driver_image")
    assert "No face was found" in _error(lambda: client.predict(handle_file(str(grey)), api_name="/driver_image"))
    message = _error(lambda: client.predict(0, 0, True, 1.0, "Auto", 0.5, 1, False, False, api_name="/animate"))
    assert message.startswith("Choose a driving image or video first"), message  # not the previous driver
    assert "No face was found" in _error(lambda: _prepare(client, grey))
    assert _error(lambda: client.predict(1.0, "Auto", api_name="/grid")).startswith("Upload a portrait first")


@needs_gradio
def test_only_the_example_media_are_served_not_the_scripts(app_demo):
    import urllib.error
    import urllib.request

    url = app_demo[1].rstrip("/")

    def status(path: Path) -> int:
        try:
            with urllib.request.urlopen(f"{url}/gradio_api/file={path}", timeout=30) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    assert status(PORTRAIT) == 200 and status(DRIVER_VIDEO) == 200
    assert status(ROOT / "examples" / "make_examples.py") in (403, 404)
    assert status(ROOT / "examples" / "README.md") in (403, 404)


def test_one_animation_renders_a_bounded_number_of_frames():
    limits = core.DemoLimits(max_clip_seconds=20, max_clip_frames=600)
    assert limits.clip_seconds(10, 25.0) == (10.0, None) and limits.clip_seconds(30, 25.0) == (20.0, None)
    seconds, note = limits.clip_seconds(10, 240.0)  # 2400 frames asked
    assert seconds == 2.5 and "240 frames per second" in note and "first 2.5 s" in note
    assert core.DemoLimits.from_env({"EXPORT3D_DEMO_MAX_FRAMES": "100"}).max_clip_frames == 100


@needs_gradio
def test_sessions_share_one_bounded_store_and_release_their_entries(tiny_checkpoint, tmp_path):
    """Two client sessions, a store that keeps one entry: the first session's portrait is released when the second
    prepares one, and it is told to choose it again; each session's state releases its entry when deleted."""
    import app
    from export3d.pipeline import Animator

    store = core.SessionStore(max_items=1)
    demo = app.build_demo(lambda: Animator.from_pretrained(tiny_checkpoint, device="cpu"), LIMITS, store)
    states = [b for b in demo.blocks.values() if isinstance(b, gr.State) and b.time_to_live == app.STATE_TTL]
    assert len(states) == 2 and all(s.delete_callback == store.drop for s in states)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True,
                            **app.launch_kwargs(LIMITS))
    try:
        first, second = _client(url, tmp_path / "a"), _client(url, tmp_path / "b")
        _prepare(first, PORTRAIT)
        _prepare(second, PORTRAIT)
        assert len(store) == 1
        message = _error(lambda: first.predict(1.0, "Auto", api_name="/grid"))
        assert message.startswith("Your portrait was released to keep the server's memory bounded"), message
        assert np.asarray(Image.open(second.predict(1.0, "Auto", api_name="/grid"))).ndim == 3
    finally:
        demo.close()


def test_outputs_are_pruned_by_age_and_by_total_size(tmp_path, monkeypatch):
    import time as _time

    monkeypatch.setenv("EXPORT3D_DEMO_OUTPUTS", str(tmp_path))
    now = _time.time()
    for i, (age, size) in enumerate([(7200, 10), (300, 600_000), (200, 600_000), (100, 600_000)]):
        f = tmp_path / f"old{i}.mp4"
        f.write_bytes(b"x" * size)
        os.utime(f, (now - age, now - age))
    fresh = core.new_output("animation", max_mb=1.2)  # 1.2 MiB: the two newest of 3 x 600 kB stay
    assert fresh.parent == tmp_path and not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old2.mp4", "old3.mp4"]


def test_outputs_live_in_gradios_cache_so_they_are_stored_once(monkeypatch, tmp_path):
    monkeypatch.delenv("EXPORT3D_DEMO_OUTPUTS", raising=False)
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    assert core.output_dir() == tmp_path / "gradio" / "export3d-outputs"
