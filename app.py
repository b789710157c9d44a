"""Export3D web demo (Gradio): animate one portrait in 3D from a driving image or video.

    python app.py                  # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT to change)

Environment: EXPORT3D_CHECKPOINT (model folder or Hub repo id), EXPORT3D_DEMO_MAX_SECONDS (longest clip, 20),
EXPORT3D_DEMO_OUTPUTS (where results are written), EXPORT3D_TORCH_THREADS (CPU threads).

The model (``EXPORT3D_CHECKPOINT`` or checkpoints/export3d-small) is loaded on first use, so importing this
module has no side effects. On Hugging Face ZeroGPU Spaces the heavy functions run under ``spaces.GPU``.
Docs: docs/app.md. The logic without Gradio is in export3d/demo.py.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry / version check (before gradio loads)

import functools  # noqa: E402
import logging  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import gradio as gr  # noqa: E402
import torch  # noqa: E402

from export3d import demo as core  # noqa: E402
from export3d.views import MAX_PITCH, MAX_YAW  # noqa: E402

try:  # Hugging Face Spaces (ZeroGPU): a GPU is attached only while a decorated function runs
    import spaces
except ImportError:
    spaces = None

log = logging.getLogger("export3d.app")

MAX_SECONDS = float(os.environ.get("EXPORT3D_DEMO_MAX_SECONDS", "20"))  #: upper end of the clip-length slider
DEFAULT_SECONDS = min(10.0, MAX_SECONDS)
CPU = torch.device("cpu")
STATE_TTL = 2 * 3600  #: seconds a session's portrait and driver are kept after their last update

TITLE = "Export3D: 3D portrait animation"
INTRO = """\
# Export3D: 3D portrait animation
Give a **portrait** and a **driver** (a face image or video): the person in the portrait takes on the driver's
expression, and the **camera** moves around the head (yaw/pitch), following the driver's head motion or fixed.
Open re-implementation of *Export3D* (ECCV 2024). The preview updates when you release a slider.
"""
LIMITS = """\
- **Demo model.** The `small` preset (128x128 output, upscaled to 256x256 with Lanczos), trained only on
  synthetic faces, on a CPU. On real photos expect a rough, blurry likeness rather than a faithful one.
- **Camera range.** Yaw within ±{yaw:g}° and pitch within ±{pitch:g}° (also after adding the driver's head pose);
  larger angles are clamped. Quality drops towards the ends of the range.
- **The background moves with the head.** The model generates the whole crop (head and background) as one 3D
  object, so turning the camera also turns the background.
- **Clip length.** At most the first {seconds:g} s of a driving video are used per run (the slider).
- **One face.** The largest face of the portrait is animated; the driver's largest face drives it. Lost driver
  frames (face not found) are filled in from their neighbours and counted in the status.
- **Files.** Uploads and results stay on the server running the demo and are deleted after about an hour.
"""
CSS = "#status textarea {font-family: ui-monospace, monospace; font-size: 0.85em}"


def gpu(duration: int) -> Callable:
    """``spaces.GPU(duration=...)`` on Hugging Face Spaces, else a no-op decorator."""
    if spaces is None:
        return lambda fn: fn
    return spaces.GPU(duration=duration)


def friendly_errors(fn: Callable) -> Callable:
    """Turn any exception into ``gr.Error`` with one plain sentence (the traceback only goes to the log)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as e:  # noqa: BLE001 - everything reaches the user as a sentence
            message = core.user_message(e)
            if message.startswith(("Something went wrong", "The server ran out")):
                log.exception("demo: %s failed", fn.__name__)
            else:
                log.info("demo: %s: %s", fn.__name__, message)
            raise gr.Error(message, print_exception=False) from e

    return wrapper


def _examples(folder: str, suffixes: tuple[str, ...]) -> list[str]:
    d = core.EXAMPLES_DIR / folder
    return sorted(str(p) for p in d.glob("*") if p.suffix.lower() in suffixes) if d.is_dir() else []


def build_demo(animator_factory: Callable[[], object] | None = None) -> gr.Blocks:
    """The Blocks app. ``animator_factory() -> Animator`` is called once, on first use (default: the checkpoint)."""
    model = core.LazyAnimator(animator_factory)

    # ------------------------------------------------------------------ handlers
    @gpu(duration=60)
    @friendly_errors
    def set_source(path):
        if not path:
            return None, "Upload a portrait (or pick an example)."
        animator = model.get()
        t0 = time.perf_counter()
        src = core.on_device(animator.prepare_source(path), CPU)
        return src, core.source_status(src, time.perf_counter() - t0)

    def forget_source():
        return None, None  # the state and the preview of the previous portrait

    def forget_driver(current, kind):
        if current is not None and current.kind == kind:
            return None, "No driver yet: the preview shows the portrait's own expression."
        return gr.skip(), gr.skip()

    @gpu(duration=60)
    @friendly_errors
    def set_driver(path, kind):
        if not path:
            return gr.skip(), gr.skip()
        driver = core.load_driver(model.get(), path, kind)
        return driver, driver.describe()

    def set_driver_image(path):
        return set_driver(path, "image")

    def set_driver_video(path):
        return set_driver(path, "video")

    @gpu(duration=30)
    @friendly_errors
    def preview(src, driver, yaw, pitch, follow):
        if src is None:
            return None
        return core.preview(model.get(), src, driver, core.view_settings(yaw, pitch, follow))

    def _require(src, driver=None, need_driver=True):
        if src is None:
            raise gr.Error("Upload a portrait first (or pick an example portrait).", print_exception=False)
        if need_driver and driver is None:
            raise gr.Error("Choose a driving image or video first (or pick an example driver).",
                           print_exception=False)

    @gpu(duration=180)
    @friendly_errors
    def animate(src, driver, yaw, pitch, follow, max_seconds, beside=False, progress=gr.Progress()):  # noqa: B008
        _require(src, driver)
        animator = model.get()
        view = core.view_settings(yaw, pitch, follow)
        if driver.kind == "image":
            t0 = time.perf_counter()
            progress(0.1, desc="Rendering")
            path, last = core.animate_image_clip(animator, src, driver, view, core.new_output("expression"))
            status = (f"Image driver: a {core.IMAGE_CLIP_SECONDS:g} s clip from the portrait's own expression to "
                      f"the driver's, rendered in {time.perf_counter() - t0:.1f} s; its last frame is the preview.")
            return str(path), status, last

        def report(done, total):
            progress((done, total), desc="Animating", unit="frames")

        progress((0, None), desc="Tracking the driver", unit="frames")
        result = animator.animate_video(core.on_device(src, animator.device), driver.path,
                                        core.new_output("animation"), view, max_seconds=float(max_seconds),
                                        progress=report, side_by_side=bool(beside))
        for w in result.warnings:
            gr.Warning(w)
        return str(result.path), core.animation_status(result), gr.skip()

    @gpu(duration=60)
    @friendly_errors
    def grid(src, driver):
        _require(src, need_driver=False)
        return core.grid_image(model.get(), src, driver)

    @gpu(duration=90)
    @friendly_errors
    def orbit(src, driver, progress=gr.Progress()):  # noqa: B008
        _require(src, need_driver=False)
        progress(0.1, desc="Rendering the orbit")
        return str(core.orbit_video(model.get(), src, driver, core.new_output("orbit")))

    # -------------------------------------------------------------------- layout
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        src_state = gr.State(None, time_to_live=STATE_TTL)  # PreparedSource (features on the CPU)
        drv_state = gr.State(None, time_to_live=STATE_TTL)  # core.Driver
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=260):
                gr.Markdown("### 1. Portrait")
                source = gr.Image(label="Portrait (one face, looking roughly at the camera)", type="filepath",
                                  image_mode=None, sources=["upload", "clipboard", "webcam"], height=300,
                                  elem_id="source")
                gr.Examples(_examples("portraits", (".jpg", ".png")), inputs=source, label="Example portraits",
                            examples_per_page=6)
            with gr.Column(scale=1, min_width=260):
                gr.Markdown("### 2. Driver")
                with gr.Tabs():
                    with gr.Tab("Image", id="driver-image-tab"):
                        driver_image = gr.Image(label="Driving image", type="filepath", image_mode=None,
                                                sources=["upload", "clipboard", "webcam"], height=260,
                                                elem_id="driver_image")
                        gr.Examples(_examples("drivers", (".jpg", ".png")), inputs=driver_image,
                                    label="Example expressions")
                    with gr.Tab("Video", id="driver-video-tab"):
                        driver_video = gr.Video(label="Driving video (its audio is kept)", sources=["upload", "webcam"],
                                                height=260, elem_id="driver_video")
                        gr.Examples(_examples("drivers", (".mp4",)), inputs=driver_video, label="Example video")
                driver_info = gr.Markdown("No driver yet: the preview shows the portrait's own expression.",
                                          elem_id="driver_info")
            with gr.Column(scale=1, min_width=260):
                gr.Markdown("### 3. Camera")
                preview_image = gr.Image(label="Preview (driver's first face frame)", interactive=False,
                                         format="png", height=300, elem_id="preview")
                yaw = gr.Slider(-MAX_YAW, MAX_YAW, value=0, step=1, label="Yaw (degrees)",
                                info="+ moves the camera to the right", elem_id="yaw")
                pitch = gr.Slider(-MAX_PITCH, MAX_PITCH, value=0, step=1, label="Pitch (degrees)",
                                  info="+ moves the camera up", elem_id="pitch")
                follow = gr.Checkbox(value=True, label="Follow the driver's head motion",
                                     info="On: the sliders are added to the driver's head pose. Off: fixed camera.")
        with gr.Row():
            max_seconds = gr.Slider(1, MAX_SECONDS, value=DEFAULT_SECONDS, step=1,
                                    label="Max seconds of the driving video", scale=2, elem_id="max_seconds")
            beside = gr.Checkbox(value=False, label="Driver beside the result", scale=1, elem_id="beside",
                                 info="Video drivers: each frame is driver | animation.")
            animate_btn = gr.Button("Animate", variant="primary", scale=1, elem_id="animate")
            grid_btn = gr.Button("Multi-view grid", scale=1, elem_id="grid_button")
            orbit_btn = gr.Button("Orbit video", scale=1, elem_id="orbit_button")
        status = gr.Textbox(label="Status", lines=3, max_lines=8, interactive=False, elem_id="status")
        with gr.Row(equal_height=False):
            video_out = gr.Video(label="Animation (mp4, with the driver's audio)", interactive=False,
                                 elem_id="video_out", scale=1)
            grid_out = gr.Image(label="Multi-view grid (yaw -30..30, pitch -15..15)", interactive=False,
                                format="jpeg", elem_id="grid_out", scale=2)
            orbit_out = gr.Video(label="Orbit", interactive=False, loop=True, autoplay=True, elem_id="orbit_out",
                                 scale=1)
        with gr.Accordion("Limits", open=False):
            gr.Markdown(LIMITS.format(yaw=MAX_YAW, pitch=MAX_PITCH, seconds=MAX_SECONDS))
            gr.Markdown(f"Model checkpoint: `{core.checkpoint_description()}` (`EXPORT3D_CHECKPOINT` to change).")

        # -------------------------------------------------------------------- events
        heavy = {"concurrency_id": "model", "concurrency_limit": 1}  # one model call at a time
        view_inputs = [src_state, drv_state, yaw, pitch, follow]

        (source.change(forget_source, None, [src_state, preview_image], queue=False, api_name="forget_source",
                       api_visibility="private")
         .then(set_source, source, [src_state, status], api_name="set_source", **heavy)
         .success(preview, view_inputs, preview_image, api_name="preview_new_source", api_visibility="private",
                  **heavy))
        for comp, fn, kind, api in ((driver_image, set_driver_image, "image", "set_driver_image"),
                                    (driver_video, set_driver_video, "video", "set_driver_video")):
            kind_box = gr.State(kind)
            (comp.change(forget_driver, [drv_state, kind_box], [drv_state, driver_info], queue=False,
                         api_name=f"forget_{kind}", api_visibility="private")
             .then(fn, comp, [drv_state, driver_info], api_name=api, **heavy)
             .success(preview, view_inputs, preview_image, api_name=f"preview_new_{kind}", api_visibility="private",
                      **heavy))
        for slider, api in ((yaw, "preview"), (pitch, "preview_pitch")):
            slider.release(preview, view_inputs, preview_image, api_name=api, show_progress="minimal",
                           api_visibility="public" if api == "preview" else "private", trigger_mode="always_last",
                           **heavy)
        follow.change(preview, view_inputs, preview_image, api_name="preview_follow", api_visibility="private",
                      show_progress="minimal", **heavy)
        animate_btn.click(animate, [*view_inputs, max_seconds, beside], [video_out, status, preview_image],
                          api_name="animate", **heavy)
        grid_btn.click(grid, [src_state, drv_state], grid_out, api_name="grid", **heavy)
        orbit_btn.click(orbit, [src_state, drv_state], orbit_out, api_name="orbit", **heavy)
    return demo


def launch_kwargs() -> dict:
    """Arguments of ``launch``: examples servable, system fonts (no font CDN), server name/port from the env."""
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])
    return {"allowed_paths": [str(core.EXAMPLES_DIR)], "theme": theme, "css": CSS, "show_error": True,
            "max_file_size": "100mb"}


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if os.environ.get("EXPORT3D_TORCH_THREADS"):  # e.g. 1 on a CPU shared with other jobs
        torch.set_num_threads(int(os.environ["EXPORT3D_TORCH_THREADS"]))
    build_demo().queue(default_concurrency_limit=1).launch(**launch_kwargs())
