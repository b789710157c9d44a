"""The demo in a real browser: headless Debian Chromium driven by Playwright (no browser download).

Exactly the user's path: load the page, upload a portrait, pick an example driver by clicking the example
gallery, move the yaw slider, click Animate, and check that a ``<video>`` element with a non-empty ``src``
appears. Also checks that the page loads nothing from outside the local server (the app works offline).
A screenshot is saved in the test's temp folder; with ``EXPORT3D_SCREENSHOT=docs/images/app.png`` it is also
written there, using the real checkpoint (``EXPORT3D_CHECKPOINT`` / checkpoints/export3d-small) when it exists,
after also rendering the grid and the orbit so that the picture shows every output
(``python examples/screenshot.py`` does exactly this).
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import torch

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not found (Debian: apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
pytest.importorskip("gradio")
pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")  # pandas deprecations inside gradio

ROOT = Path(__file__).resolve().parents[1]
PORTRAIT = ROOT / "examples" / "portraits" / "astronaut.jpg"
PORTRAIT_SIZE = (512, 512)  #: its width, height: the size of the whole-photo result
DRIVER_VIDEO = ROOT / "examples" / "drivers" / "talking.mp4"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT = os.environ.get("EXPORT3D_SCREENSHOT")
TIMEOUT_MS = 90_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _checkpoint(tmp_path_factory) -> Path:
    """The real checkpoint for a README screenshot when there is one, else a tiny random model."""
    from export3d.checkpoint import save_pretrained
    from export3d.config import ModelConfig
    from export3d.models.export3d import Export3D
    from export3d.pipeline import default_checkpoint

    real = default_checkpoint()
    if SCREENSHOT and (real / "model.safetensors").is_file():
        return real
    from conftest import modulate

    torch.manual_seed(0)  # random EAdaLN modulations: the driver's expression changes the picture (the camera
    # alone does not: a still driver leaves the portrait at its own pose)
    return save_pretrained(modulate(Export3D(ModelConfig.small()), seed=0), tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    import app
    from export3d import demo as core
    from export3d.pipeline import Animator

    ckpt = _checkpoint(tmp_path_factory)
    os.environ.setdefault("EXPORT3D_DEMO_OUTPUTS", str(tmp_path_factory.mktemp("outputs")))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # robust against a busy machine (2 threads slow down 10-50x when a core is taken)
    limits = core.DemoLimits.from_env()
    demo = app.build_demo(lambda: Animator.from_pretrained(ckpt, device="cpu"), limits)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True,
                            quiet=True, **app.launch_kwargs(limits))
    yield url
    demo.close()
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _attr(page, selector: str, name: str = "src") -> str | None:
    loc = page.locator(selector)
    return loc.first.get_attribute(name) if loc.count() else None


def _wait_new_src(page, selector: str, old: str | None, timeout: float = 30.0) -> float:
    """Seconds until ``selector``'s src is non-empty and differs from ``old``; fails after ``timeout``."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        src = _attr(page, selector)
        if src and src != old:
            return time.perf_counter() - t0
        time.sleep(0.05)
    raise AssertionError(f"{selector} did not get a new src within {timeout} s")


def _text_contains(page, selector: str, text: str) -> None:
    js = ("([sel, text]) => { const e = document.querySelector(sel); "
          "return !!e && (e.value ?? e.innerText).includes(text); }")
    page.wait_for_function(js, arg=[selector, text], timeout=TIMEOUT_MS)


def _drag(page, selector: str, fraction: float) -> None:
    """Drag a range slider to ``fraction`` of its width with the mouse (the release event follows)."""
    box = page.locator(f"{selector} input[type=range]").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * fraction, y, steps=6)
    page.mouse.up()


def test_upload_pick_example_driver_move_yaw_animate(app_url, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    server = urlparse(app_url).netloc
    outside = []
    page.on("request", lambda r: outside.append(r.url) if urlparse(r.url).netloc not in (server, "") else None)
    t0 = time.perf_counter()
    page.goto(app_url)
    page.wait_for_selector("#source input[type=file]", state="attached", timeout=TIMEOUT_MS)

    # 1. upload a portrait
    page.locator("#source input[type=file]").set_input_files(str(PORTRAIT))
    _text_contains(page, "#status textarea", "Portrait ready: face found")
    page.wait_for_selector("#crop img", timeout=TIMEOUT_MS)  # the model-input crop is shown
    _wait_new_src(page, "#preview img", None)  # the portrait's own expression
    own = _attr(page, "#preview img")

    # 2. pick an example driver: click the "smile" thumbnail of the example gallery
    page.locator("#driver_examples img[src*='smile']").first.click()
    _text_contains(page, "#driver_info", "Driver: image smile")
    _wait_new_src(page, "#preview img", own)  # the driver's expression

    # 3. move the yaw slider: the preview is re-rendered on release
    src = _attr(page, "#preview img")
    _drag(page, "#yaw", 0.75)  # yaw about +22
    seconds = _wait_new_src(page, "#preview img", src)
    assert int(page.locator("#yaw input[type=number]").input_value()) > 10
    print(f"preview after slider release: {seconds:.2f} s")

    # 4. animate: a <video> with a non-empty src appears
    page.locator("#animate").click()
    page.wait_for_selector("#video_out video[src]", timeout=TIMEOUT_MS)
    video_src = _attr(page, "#video_out video")
    assert video_src and video_src.strip(), video_src
    _text_contains(page, "#status textarea", "Image driver")
    print(f"upload -> animated video in {time.perf_counter() - t0:.1f} s: {video_src}")

    # 5. the result is the whole photo, shown before the tabs of the other outputs
    width = page.wait_for_function("() => { const v = document.querySelector('#video_out video'); "
                                   "return v && v.videoWidth > 0 && [v.videoWidth, v.videoHeight]; }",
                                   timeout=TIMEOUT_MS).json_value()
    assert width == list(PORTRAIT_SIZE), width
    assert page.locator("#video_out").bounding_box()["y"] < page.locator("#more_tabs").bounding_box()["y"]

    # 6. the tabs open: the grid (and, for the screenshot, the orbit) behind them
    assert not page.locator("#grid_button").is_visible()
    page.get_by_role("tab", name="Multi-view grid").click()
    page.locator("#grid_button").click()
    page.wait_for_selector("#grid_out img", timeout=TIMEOUT_MS)
    if SCREENSHOT:
        page.get_by_role("tab", name="Orbit").click()
        page.locator("#orbit_button").click()
        page.wait_for_selector("#orbit_out video[src]", timeout=TIMEOUT_MS)

    # 7. a driving video: its H.264 preview plays in the browser, its signals are plotted
    page.get_by_role("tab", name="Video", exact=True).click()
    page.locator("#driver_video input[type=file]").set_input_files(str(DRIVER_VIDEO))
    page.wait_for_selector("#driver_clip video[src]", timeout=TIMEOUT_MS)
    played = page.wait_for_function("() => { const v = document.querySelector('#driver_clip video'); "
                                    "if (!v) return false; v.muted = true; "
                                    "if (v.paused) v.play().catch(() => {}); "  # retried on every poll
                                    "return v.currentTime > 0 && !v.error; }", timeout=TIMEOUT_MS, polling=200)
    assert played.json_value() is True  # the H.264 copy decodes and its time advances
    page.wait_for_selector("#expr_plot canvas, #expr_plot svg", timeout=TIMEOUT_MS)
    page.wait_for_timeout(300)
    shot = tmp_path / "app.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if SCREENSHOT:
        Path(SCREENSHOT).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)
    assert outside == [], f"the page loaded files from outside the app: {outside[:5]}"
    page.close()
