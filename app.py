"""Export3D web demo (Gradio): animate one portrait in 3D from a driving image or video.

    python app.py                  # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT to change)

Environment: EXPORT3D_CHECKPOINT (model folder or Hub repo id), EXPORT3D_DEMO_* limits (export3d/demo/limits.py:
upload size, image size, clip length, queue size, ZeroGPU durations, the uploads' disk cap, the idle memory sweep),
EXPORT3D_DEMO_OUTPUTS (where results are written), EXPORT3D_TORCH_THREADS (CPU threads). ``python app.py`` also
starts a housekeeping thread (``start_housekeeping``) that gives memory back when the server is idle and bounds the
uploads on disk.

The model (``EXPORT3D_CHECKPOINT`` or checkpoints/export3d-small) is loaded on first use, so importing this
module has no side effects and start-up needs no network. On Hugging Face ZeroGPU Spaces the heavy functions
run under ``spaces.GPU``. Docs: docs/app.md. The logic without Gradio is in export3d/demo/.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry / version check (before gradio loads)

import functools  # noqa: E402
import inspect  # noqa: E402
import logging  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import gradio as gr  # noqa: E402
import torch  # noqa: E402

from export3d import demo as core  # noqa: E402
from export3d.demo import checks  # noqa: E402
from export3d.pipeline.views import MAX_PITCH, MAX_YAW  # noqa: E402

try:  # Hugging Face Spaces (ZeroGPU): a GPU is attached only while a decorated function runs
    import spaces
except ImportError:
    spaces = None

log = logging.getLogger("export3d.app")

CPU = torch.device("cpu")
STATE_TTL = 2 * 3600  #: seconds a session's portrait and driver are kept after their last update
NO_DRIVER = "No driver yet: the preview shows the portrait's own expression."

TITLE = "Export3D: 3D portrait animation"
INTRO = """\
# Export3D: 3D portrait animation
Give a **portrait** and a **driver** (a face image or video): the person in the portrait takes on the driver's
expression, and the **camera** moves around the head (yaw/pitch), following the driver's head motion or fixed.
Open re-implementation of *Export3D* (ECCV 2024). The preview updates when you release a slider.
"""
LIMITS = """\
- **Demo model.** The `small` preset, trained for a few hours on a CPU. The 256x256 output is your photo's own
  pixels, moved by a field rendered from the 3D head: the person and hair stay as they are, the head turns, the
  eyes blink and look sideways, the brows rise and fall, and the mouth opens and smiles with the driver. An opened
  mouth is a **dark hole** with a smooth band of upper teeth drawn under the upper lip (no tongue or lower teeth),
  the eyes do not look up or down, the background close to the head moves with it when it turns, and a portrait
  that is itself turned far away breaks up when the driver faces the camera: keep such portraits near their own
  view.
- **Camera range.** Yaw within ±{yaw:g}° and pitch within ±{pitch:g}° (also after adding the driver's head pose);
  larger angles are clamped. Quality drops towards the ends of the range.
- **Background.** Outside the face crop it is the photo's own and stays still; inside it, the model's 3D head
  includes the background, so near the head it moves when the head turns, the depth map and the mesh show it as
  part of one 3D object, and turning far stretches the crop's border.
- **One face.** The largest face of the portrait is animated; the driver's largest face drives it. Lost driver
  frames (face not found) are filled in from their neighbours and counted in the status.
- **Files.** Uploads and results stay on the server running the demo and are deleted after about an hour.
{limits}
"""
CSS = "#status textarea {font-family: ui-monospace, monospace; font-size: 0.85em}"


def gpu(duration: int) -> Callable:
    """``spaces.GPU(duration=...)`` on Hugging Face Spaces, else a no-op decorator."""
    if spaces is None:
        return lambda fn: fn
    return spaces.GPU(duration=duration)


def friendly_errors(fn: Callable) -> Callable:
    """Turn any exception into ``gr.Error`` with one plain sentence (the traceback only goes to the log).

    Generator handlers stay generators: what they yielded before failing has been applied (``prepare`` and
    ``set_driver`` first yield a cleared state, so a failed input never leaves the previous one in use)."""

    def as_error(e: Exception) -> gr.Error:
        message = core.user_message(e)
        if message.startswith(("Something went wrong", "The server ran out")):
            log.exception("demo: %s failed", fn.__name__)
        else:
            log.info("demo: %s: %s", fn.__name__, message)
        return gr.Error(message, print_exception=False)

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as e:  # noqa: BLE001 - everything reaches the user as a sentence
                raise as_error(e) from e

        return generator

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as e:  # noqa: BLE001 - everything reaches the user as a sentence
            raise as_error(e) from e

    return wrapper


def _examples(folder: str, kind: str) -> list[str]:
    """The example media files of one kind ("image" or "video", by name: ``media.kind.suffix_kind``)."""
    from export3d.media.kind import suffix_kind

    d = core.EXAMPLES_DIR / folder
    return sorted(str(p) for p in d.glob("*") if suffix_kind(p) == kind) if d.is_dir() else []


def _view(yaw, pitch, follow):
    """The camera controls, checked against the page's ranges (API clients get the same sentences)."""
    return core.view_settings(checks.number(yaw, (-MAX_YAW, MAX_YAW), "Yaw"),
                              checks.number(pitch, (-MAX_PITCH, MAX_PITCH), "Pitch"),
                              checks.flag(follow, "Follow the driver's head motion"))


def _expression(strength, mode):
    """The expression controls, checked like ``_view``."""
    return core.expression_settings(checks.number(strength, checks.STRENGTH, "Expression strength"),
                                    checks.choice(mode, checks.EXPRESSION_MODES, "Expression transfer"))


def _require(src, driver=None, need_driver=True):
    if src is None:
        raise gr.Error("Upload a portrait first (or pick an example portrait).", print_exception=False)
    if need_driver and driver is None:
        raise gr.Error("Choose a driving image or video first (or pick an example driver).", print_exception=False)


def build_demo(animator_factory: Callable[[], object] | None = None,
               limits: core.DemoLimits | None = None, store: core.SessionStore | None = None,
               sweep: core.IdleSweep | None = None) -> gr.Blocks:
    """The Blocks app, queued. ``animator_factory() -> Animator`` is called once, on first use (default: the
    checkpoint); ``limits`` default to ``DemoLimits.from_env()``; ``store``: where the sessions' portraits and
    drivers live (default: a new ``SessionStore``, one memory budget for all sessions); ``sweep``: the idle sweep
    the launch code runs (``start_housekeeping``): the handlers report their jobs to its ``activity``, the model's
    cache is among its ``caches`` and its ``store`` is the app's."""
    limits = limits or core.DemoLimits.from_env()
    model = core.LazyAnimator(animator_factory)
    if sweep is not None:
        if store is not None and store is not sweep.store:
            raise ValueError("build_demo: pass the store or a sweep over it, not two different stores")
        store = sweep.store
        sweep.caches.append(model)
    store = core.SessionStore() if store is None else store
    job = (core.Activity() if sweep is None else sweep.activity).track  # what the idle sweep waits for

    # ------------------------------------------------------------------ handlers
    @gpu(duration=limits.gpu_duration())
    @friendly_errors
    @job
    def prepare(image, crop_scale=1.0, crop_x=0.0, crop_y=0.0, previous=None):
        """Portrait (any upload value) + crop controls -> (session handle, crop preview, status); the previous
        portrait is released first, so that a failure leaves none (through the API as on the page)."""
        store.drop(previous)
        if not image:
            yield None, None, "Upload a portrait (or pick an example)."
            return
        yield None, None, "Preparing the portrait..."
        # the work runs in a function: Gradio may keep this generator suspended at its last yield, and its frame
        # must not hold the prepared portrait (that kept ~100 MB per client session alive, past the store's budget)
        yield prepared(image, crop_scale, crop_x, crop_y)

    def prepared(image, crop_scale, crop_x, crop_y):
        crop_scale = checks.number(crop_scale, checks.CROP_SCALE, "Crop scale")
        crop_x = checks.number(crop_x, checks.CROP_OFFSET, "Crop offset x")
        crop_y = checks.number(crop_y, checks.CROP_OFFSET, "Crop offset y")
        t0 = time.perf_counter()
        animator = model.get()
        src, notes = core.prepare_portrait(animator, image, limits, crop_scale, (crop_x, crop_y))
        src = core.on_device(src, CPU)
        animator.canvas(src)  # the whole photo's canvas, made now so that the store counts it
        handle = store.put(src, "portrait")
        return handle, core.crop_preview(src), core.source_status(src, time.perf_counter() - t0, notes)

    def forget_source(previous=None):
        store.drop(previous)
        return None, None, None  # the state, crop and preview of the previous portrait

    def forget_driver(current, kind):
        if current is not None and current.what == f"driving {kind}":
            store.drop(current)
            return None, NO_DRIVER
        return gr.skip(), gr.skip()

    @gpu(duration=limits.gpu_duration())
    @friendly_errors
    @job
    def set_driver(value, kind, previous=None):
        """The previous driver is released first, so that a failure leaves none (as ``prepare``)."""
        if not value:
            yield gr.skip(), gr.skip()
            return
        store.drop(previous)
        yield None, NO_DRIVER
        yield loaded_driver(value, kind)  # in a function, as ``prepared``

    def loaded_driver(value, kind):
        driver = core.load_driver(model.get(), value, kind, limits)
        return store.put(driver, f"driving {driver.kind}"), driver.describe()

    def driver_image(image, previous=None):
        yield from set_driver(image, "image", previous)

    def driver_video(video, previous=None):
        yield from set_driver(video, "video", previous)

    @gpu(duration=limits.gpu_duration())
    @friendly_errors
    @job
    def preview(src, driver, yaw, pitch, follow, strength=1.0, mode="Auto", crop=False):
        src, driver = store.get(src), store.get(driver)
        if src is None:
            return None
        view, expression = _view(yaw, pitch, follow), _expression(strength, mode)
        return core.preview(model.get(), src, driver, view, expression, checks.flag(crop, "Face crop only"))

    @gpu(duration=limits.gpu_duration(limits.max_clip_seconds))
    @friendly_errors
    @job
    def driver_views(handle, smoothing=0.5):
        """A video driver's browser-playable preview and its signals over time (images: nothing to show)."""
        driver = store.get(handle)
        if driver is None or driver.kind != "video":
            return gr.skip(), None, None, None
        seconds = limits.max_clip_seconds
        clip = core.preview_video(driver.path, core.new_output("driver"), seconds)
        tracked = model.get().track_video(driver.path, seconds, float(smoothing))
        driver.tracks[core.track_key(smoothing, seconds)] = tracked  # the animation will not track it again
        store.update(handle, driver)  # counted with its tracks
        expression, pose = core.signal_table(tracked, driver.fps or 25.0)
        return handle, str(clip), expression, pose

    @gpu(duration=limits.gpu_duration(limits.max_clip_seconds))
    @friendly_errors
    @job
    def animate(src, driver, yaw, pitch, follow, strength=1.0, mode="Auto", smoothing=0.5, max_seconds=None,
                beside=False, depth=False, crop=False, progress=gr.Progress()):  # noqa: B008
        view, expression = _view(yaw, pitch, follow), _expression(strength, mode)
        smoothing = checks.number(smoothing, checks.SMOOTHING, "Smoothing")
        if max_seconds is not None:
            max_seconds = checks.number(max_seconds, (0.0, limits.max_clip_seconds), "Max seconds")
        crop, beside, depth = (checks.flag(v, w) for v, w in ((crop, "Face crop only"), (beside, "Driver beside"),
                                                              (depth, "Depth video")))
        src, driver = store.get(src), store.get(driver)
        _require(src, driver)
        animator = model.get()
        depth_path = core.new_output("depth") if depth else None
        if driver.kind == "image":
            t0 = time.perf_counter()
            progress(0.1, desc="Rendering")
            path, last = core.animate_image_clip(animator, src, driver, view, core.new_output("expression"),
                                                 expression, depth_path, crop=crop)
            status = (f"Image driver: a {core.IMAGE_CLIP_SECONDS:g} s clip from the portrait's own expression to "
                      f"the driver's, rendered in {time.perf_counter() - t0:.1f} s; its last frame is the preview.")
            if expression.resolved(video=False).relative:
                status += ("\nNote: relative mode with a driving image keeps the portrait's own expression (the "
                           "image is its own reference); use Absolute to copy the driver's expression.")
            compare = core.compare_image(animator, src, last, crop)
            shown = core.shrink(last, core.PREVIEW_SIDE)
            return str(path), status, shown, compare, str(depth_path) if depth_path else None

        def report(done, total):
            progress((done, total), desc="Animating", unit="frames")

        seconds, cut = limits.clip_seconds(max_seconds or limits.default_clip_seconds, driver.fps)
        if cut:
            gr.Warning(cut)
        progress((0, None), desc="Tracking the driver", unit="frames")
        result = animator.animate_video(core.on_device(src, animator.device), driver.path,
                                        core.new_output("animation"), view, expression=expression,
                                        max_seconds=seconds, smoothing=float(smoothing), progress=report,
                                        side_by_side=bool(beside), depth_path=depth_path, crop=crop,
                                        tracked=driver.tracks.get(core.track_key(smoothing, limits.max_clip_seconds)))
        for w in result.warnings:
            gr.Warning(w)
        status = core.animation_status(result, seconds, driver, limits.max_clip_seconds)
        status += f"\n{cut}" if cut else ""
        return str(result.path), status, gr.skip(), None, str(depth_path) if depth_path else None

    @gpu(duration=limits.gpu_duration())
    @friendly_errors
    @job
    def grid(src, driver, strength=1.0, mode="Auto"):
        src, driver = store.get(src), store.get(driver)
        _require(src, need_driver=False)
        return core.grid_image(model.get(), src, driver, _expression(strength, mode))

    @gpu(duration=limits.gpu_duration(core.ORBIT_FRAMES / core.ORBIT_FPS))
    @friendly_errors
    @job
    def orbit(src, driver, strength=1.0, mode="Auto", progress=gr.Progress()):  # noqa: B008
        src, driver = store.get(src), store.get(driver)
        _require(src, need_driver=False)
        progress(0.1, desc="Rendering the orbit")
        return str(core.orbit_video(model.get(), src, driver, core.new_output("orbit"),
                                    _expression(strength, mode)))

    @gpu(duration=limits.gpu_duration())
    @friendly_errors
    @job
    def mesh(src, driver, strength=1.0, mode="Auto", progress=gr.Progress()):  # noqa: B008
        src, driver = store.get(src), store.get(driver)
        _require(src, need_driver=False)
        progress(0.1, desc="Extracting the surface")
        t0 = time.perf_counter()
        glb, obj = core.export_meshes(model.get(), src, driver, "mesh", _expression(strength, mode))
        whose = "the portrait's own expression" if driver is None else "the driver's expression"
        status = (f"3D mesh of {whose} ({core.MESH_RESOLUTION}³ grid, vertex colours) in "
                  f"{time.perf_counter() - t0:.1f} s: GLB in the viewer, OBJ to download.")
        return str(glb), str(obj), status

    # -------------------------------------------------------------------- layout
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        # a Handle into the store (the PreparedSource / core.Driver live there); released when the session ends
        src_state = gr.State(None, time_to_live=STATE_TTL, delete_callback=store.drop)
        drv_state = gr.State(None, time_to_live=STATE_TTL, delete_callback=store.drop)
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=260):
                gr.Markdown("### 1. Portrait")
                source = gr.Image(label="Portrait (one face, looking roughly at the camera)", type="filepath",
                                  image_mode=None, sources=["upload", "clipboard", "webcam"], height=280,
                                  elem_id="source")
                gr.Examples(_examples("portraits", "image"), inputs=source, label="Example portraits",
                            examples_per_page=6)
                with gr.Row(equal_height=False):
                    crop_image = gr.Image(label="Model input (128²)", interactive=False, format="png", height=170,
                                          min_width=130, elem_id="crop", scale=1, show_label=True,
                                          buttons=[])
                    with gr.Column(scale=2, min_width=140):
                        crop_scale = gr.Slider(*checks.CROP_SCALE, value=1.0, step=0.05, label="Crop scale",
                                               info="> 1: more around the head", elem_id="crop_scale")
                        crop_x = gr.Slider(*checks.CROP_OFFSET, value=0.0, step=0.01, label="Crop offset x",
                                           info="fraction of the side, + = right", elem_id="crop_x")
                        crop_y = gr.Slider(*checks.CROP_OFFSET, value=0.0, step=0.01, label="Crop offset y",
                                           info="fraction of the side, + = down", elem_id="crop_y")
            with gr.Column(scale=1, min_width=260):
                gr.Markdown("### 2. Driver")
                with gr.Tabs():
                    with gr.Tab("Image", id="driver-image-tab"):
                        driver_image_in = gr.Image(label="Driving image", type="filepath", image_mode=None,
                                                   sources=["upload", "clipboard", "webcam"], height=240,
                                                   elem_id="driver_image")
                        gr.Examples(_examples("drivers", "image"), inputs=driver_image_in,
                                    label="Example expressions", elem_id="driver_examples")
                    with gr.Tab("Video", id="driver-video-tab"):
                        driver_video_in = gr.Video(label="Driving video (its audio is kept)",
                                                   sources=["upload", "webcam"], height=240, elem_id="driver_video")
                        gr.Examples(_examples("drivers", "video"), inputs=driver_video_in, label="Example video",
                                    elem_id="video_examples")
                driver_info = gr.Markdown(NO_DRIVER, elem_id="driver_info")
                strength = gr.Slider(*checks.STRENGTH, value=1.0, step=0.05, label="Expression strength",
                                     info="0 = none, 1 = as driven, 2 = exaggerated", elem_id="strength")
                mode = gr.Radio(list(checks.EXPRESSION_MODES), value="Auto", label="Expression transfer",
                                elem_id="mode",
                                info="Relative: the portrait keeps its own expression and adds the driver's change "
                                     "since its first frame. Absolute: copy the driver's expression. Auto: "
                                     "relative for videos, absolute for images.")
                smoothing = gr.Slider(*checks.SMOOTHING, value=0.5, step=0.05, label="Smoothing (video drivers)",
                                      info="0 = raw tracking, 1 = smoothest expression and head motion",
                                      elem_id="smoothing")
                with gr.Accordion("Driver video: preview and signals", open=True, visible=True):
                    driver_clip = gr.Video(label="Driver preview (H.264 copy)", interactive=False, height=200,
                                           elem_id="driver_clip")
                    expr_plot = gr.LinePlot(x="time", y="value", color="signal", label="Expression (0..1)",
                                            x_title="seconds", y_title="score", height=160, elem_id="expr_plot")
                    pose_plot = gr.LinePlot(x="time", y="value", color="signal", label="Head pose (degrees)",
                                            x_title="seconds", y_title="degrees", height=160, elem_id="pose_plot")
            with gr.Column(scale=1, min_width=260):
                gr.Markdown("### 3. Camera")
                preview_image = gr.Image(label="Preview (driver's first face frame)", interactive=False,
                                         format="jpeg", height=280, elem_id="preview")
                yaw = gr.Slider(-MAX_YAW, MAX_YAW, value=0, step=1, label="Yaw (degrees)",
                                info="from the photo's own view; + moves the camera to the right. On the whole "
                                     "photo the neck stretches beyond about ±20°", elem_id="yaw")
                pitch = gr.Slider(-MAX_PITCH, MAX_PITCH, value=0, step=1, label="Pitch (degrees)",
                                  info="+ moves the camera up", elem_id="pitch")
                follow = gr.Checkbox(value=True, label="Follow the driver's head motion",
                                     info="On: the head also turns, nods and leans as the driver's head does (from "
                                          "its first frame). Off: the camera stays where the sliders put it.",
                                     elem_id="follow")
                crop = gr.Checkbox(value=False, label="Face crop only", elem_id="crop_only",
                                   info="Off: your whole photo, with the head animated in place. On: the face "
                                        "crop (512x512).")
        with gr.Row():
            max_seconds = gr.Slider(min(1, limits.max_clip_seconds), limits.max_clip_seconds,
                                    value=limits.default_clip_seconds, step=1, label="Max seconds of the driving video",
                                    scale=2, elem_id="max_seconds")
            with gr.Column(scale=1, min_width=180):
                beside = gr.Checkbox(value=False, label="Driver beside the result", elem_id="beside",
                                     info="Video drivers: each frame is driver | animation.")
                depth = gr.Checkbox(value=False, label="Depth video too", elem_id="depth",
                                    info="A second video: the depth map (near = bright), in the Depth tab.")
            animate_btn = gr.Button("Animate", variant="primary", scale=1, size="lg", elem_id="animate")
        status = gr.Textbox(label="Status", lines=3, max_lines=8, interactive=False, elem_id="status")
        video_out = gr.Video(label="Animation: your photo, animated (mp4, with the driver's audio)", interactive=False,
                             height=560, elem_id="video_out")
        with gr.Tabs(elem_id="more_tabs"):
            with gr.Tab("Portrait | result", id="compare-tab", elem_id="compare_tab"):
                compare_out = gr.Image(label="Portrait | result (image drivers)", interactive=False, format="jpeg",
                                       height=480, elem_id="compare_out")
            with gr.Tab("Depth", id="depth-tab", elem_id="depth_tab"):
                depth_out = gr.Video(label="Depth video (tick 'Depth video too' before animating)",
                                     interactive=False, height=420, elem_id="depth_out")
            with gr.Tab("Multi-view grid", id="grid-tab", elem_id="grid_tab"):
                grid_btn = gr.Button("Render the multi-view grid", elem_id="grid_button")
                grid_out = gr.Image(label="Multi-view grid of the face crop (yaw -30..30, pitch -15..15)",
                                    interactive=False, format="jpeg", height=480, elem_id="grid_out")
            with gr.Tab("Orbit", id="orbit-tab", elem_id="orbit_tab"):
                orbit_btn = gr.Button("Render the orbit video", elem_id="orbit_button")
                orbit_out = gr.Video(label="Orbit", interactive=False, loop=True, autoplay=True, height=420,
                                     elem_id="orbit_out")
            with gr.Tab("3D mesh", id="mesh-tab", elem_id="mesh_tab"):
                mesh_btn = gr.Button("3D mesh of this expression", elem_id="mesh_button")
                with gr.Row(equal_height=False):
                    mesh_view = gr.Model3D(label="3D mesh (GLB; drag to turn)", interactive=False, height=320,
                                           elem_id="mesh_view", scale=2)
                    mesh_file = gr.File(label="Mesh (OBJ with vertex colours)", interactive=False,
                                        elem_id="mesh_file", scale=1)
        with gr.Accordion("Limits", open=False):
            gr.Markdown(LIMITS.format(yaw=MAX_YAW, pitch=MAX_PITCH, limits=limits.describe()))
            gr.Markdown(f"Model checkpoint: {core.checkpoint_description()} (`EXPORT3D_CHECKPOINT` to change: a "
                        "folder or a Hugging Face repo id).")

        # -------------------------------------------------------------------- events
        heavy = {"concurrency_id": "model", "concurrency_limit": 1}  # one model call at a time
        view_inputs = [src_state, drv_state, yaw, pitch, follow, strength, mode]  # + crop for the preview
        preview_inputs = [*view_inputs, crop]
        expr_inputs = [src_state, drv_state, strength, mode]
        prep_inputs = [source, crop_scale, crop_x, crop_y, src_state]
        prep_outputs = [src_state, crop_image, status]
        raw = {"preprocess": False}  # uploads reach our loaders as files (their messages, not Gradio's)

        (source.change(forget_source, src_state, [src_state, crop_image, preview_image], queue=False,
                       api_name="forget_source", api_visibility="private")
         .then(prepare, prep_inputs, prep_outputs, api_name="prepare", **raw, **heavy)
         .success(preview, preview_inputs, preview_image, api_name="preview_new_source", api_visibility="private",
                  **heavy))
        for slider in (crop_scale, crop_x, crop_y):
            (slider.release(prepare, prep_inputs, prep_outputs, api_name=f"prepare_{slider.elem_id}",
                            api_visibility="private", trigger_mode="always_last", **raw, **heavy)
             .success(preview, preview_inputs, preview_image, api_name=f"preview_{slider.elem_id}",
                      api_visibility="private", **heavy))
        for comp, fn, kind in ((driver_image_in, driver_image, "image"), (driver_video_in, driver_video, "video")):
            kind_box = gr.State(kind)
            (comp.change(forget_driver, [drv_state, kind_box], [drv_state, driver_info], queue=False,
                         api_name=f"forget_{kind}", api_visibility="private")
             .then(fn, [comp, drv_state], [drv_state, driver_info], api_name=f"driver_{kind}", **raw, **heavy)
             .success(preview, preview_inputs, preview_image, api_name=f"preview_new_{kind}",
                      api_visibility="private", **heavy)
             .success(driver_views, [drv_state, smoothing], [drv_state, driver_clip, expr_plot, pose_plot],
                      api_name=f"driver_views_{kind}", api_visibility="private", **heavy))
        for slider in (yaw, pitch, strength):
            slider.release(preview, preview_inputs, preview_image, show_progress="minimal",
                           trigger_mode="always_last",
                           api_name="preview" if slider is yaw else f"preview_{slider.elem_id}",
                           api_visibility="public" if slider is yaw else "private", **heavy)
        for box in (follow, mode, crop):
            box.change(preview, preview_inputs, preview_image, api_name=f"preview_{box.elem_id}",
                       api_visibility="private", show_progress="minimal", **heavy)
        animate_btn.click(animate, [*view_inputs, smoothing, max_seconds, beside, depth, crop],
                          [video_out, status, preview_image, compare_out, depth_out], api_name="animate", **heavy)
        grid_btn.click(grid, expr_inputs, grid_out, api_name="grid", **heavy)
        orbit_btn.click(orbit, expr_inputs, orbit_out, api_name="orbit", **heavy)
        mesh_btn.click(mesh, expr_inputs, [mesh_view, mesh_file, status], api_name="mesh", **heavy)
    demo.queue(default_concurrency_limit=1, max_size=limits.queue_size)
    return demo


def launch_kwargs(limits: core.DemoLimits | None = None) -> dict:
    """Arguments of ``launch``: the example media files servable (not the scripts beside them), system fonts (no
    font CDN), the upload limit; the server name/port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT."""
    limits = limits or core.DemoLimits.from_env()
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])
    media = _examples("portraits", "image") + _examples("drivers", "image") + _examples("drivers", "video")
    return {"allowed_paths": media, "theme": theme, "css": CSS, "show_error": True,
            "max_file_size": limits.max_file_size}


def start_housekeeping(sweep: core.IdleSweep, limits: core.DemoLimits,
                       period: float = core.SWEEP_PERIOD) -> tuple[threading.Thread, threading.Event]:
    """The daemon thread that, every ``period`` seconds, gives memory back when the server is idle (``sweep``) and
    keeps the uploads in Gradio's cache under ``limits.max_uploads_mb``; returns it and the event that stops it."""
    uploads = core.UploadSweep(core.gradio_cache(), limits.max_uploads_bytes, core.output_dir())
    return core.run_every(period, [sweep.run_once, uploads.run_once])


def main() -> None:
    """``python app.py``: process settings, the app, its housekeeping thread, then serve."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from export3d.runtime import tune_malloc

    tune_malloc()
    if os.environ.get("EXPORT3D_TORCH_THREADS"):  # e.g. 1 on a CPU shared with other jobs
        torch.set_num_threads(int(os.environ["EXPORT3D_TORCH_THREADS"]))
    limits = core.DemoLimits.from_env()
    sweep = core.IdleSweep(core.SessionStore(), core.Activity(), limits.idle_seconds, limits.release_after_seconds)
    demo = build_demo(limits=limits, sweep=sweep)
    start_housekeeping(sweep, limits)
    demo.launch(**launch_kwargs(limits))


if __name__ == "__main__":
    main()
