"""``python -m export3d COMMAND``: animate a portrait, orbit the camera around it, draw a view grid, export a mesh.

* ``animate --source SOURCE --driver DRIVER --out OUT`` (or ``animate SOURCE DRIVER -o OUT``): DRIVER image ->
  OUT image (.png/.jpg/.webp); DRIVER video -> OUT .mp4; ``--depth`` and ``--mesh`` add a depth map and a mesh;
* ``orbit SOURCE -o OUT.mp4|OUT.gif``: a looping camera orbit with the portrait's own expression;
* ``grid SOURCE -o OUT.png``: a contact sheet, one row per pitch, one column per yaw;
* ``mesh SOURCE -o OUT.obj|OUT.glb``: the 3D surface (marching cubes of the tri-plane density).

SOURCE may always be given as ``--source``.

Bad input (missing or unreadable files, no face, no checkpoint, wrong output extension) prints one
``error: ...`` line on stderr and exits with code 2. Usage: docs/usage.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .cli_args import build_parser, join_lists
from .errors import Export3DError, UsageError
from .media.files import atomic_write
from .media.kind import IMAGE_OUTPUTS, MESH_OUTPUTS, VIDEO_OUTPUTS, kind


# ----------------------------------------------------------------------------- helpers
def _one(a, name: str, what: str) -> Path:
    """The path given positionally or as ``--name`` (exactly one of them, or both the same)."""
    pos, opt = getattr(a, name), getattr(a, f"{name}_opt")
    if pos is not None and opt is not None and pos != opt:
        raise UsageError(f"{what} given twice ({pos} and --{name} {opt}); give it once")
    if pos is None and opt is None:
        raise UsageError(f"give the {what} as --{name} FILE")
    return pos if pos is not None else opt


def _check_suffix(path: Path, allowed: set[str], what: str) -> None:
    if path.suffix.lower() not in allowed:
        raise UsageError(f"{what} must end with {', '.join(sorted(allowed))}; got {path.name}")


def _check_input(path: Path, kind: str) -> None:
    from .errors import UnreadableImageError, UnreadableVideoError, check_input_file

    check_input_file(path, kind, UnreadableImageError if kind == "image" else UnreadableVideoError)


def _save_gif(path: Path, frames, fps: float) -> None:
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    atomic_write(path, lambda tmp: images[0].save(tmp, save_all=True, append_images=images[1:], loop=0,
                                             duration=max(20, round(1000 / fps)), disposal=2))


def _animator(a):
    """The loaded ``Animator`` and the time when loading finished (the start of the reported wall time)."""
    from .pipeline import Animator
    from .runtime import thread_governor

    videos = [str(p).lower() for p in (getattr(a, "out", None), getattr(a, "depth", None)) if p is not None]
    if a.size is not None and a.size % 2 and any(p.endswith(".mp4") for p in videos):
        _warn([f"--size {a.size} is odd; H.264 video frames need even sides, so the {a.size}-pixel frames are "
               f"written at {a.size + 1} (the last row and column repeated)."])
    t0 = time.perf_counter()
    anim = Animator.from_pretrained(a.checkpoint, device=a.device, output_size=a.size, governor=thread_governor())
    t1 = time.perf_counter()
    print(f"loaded the model on {anim.device} in {t1 - t0:.1f} s")
    return anim, t1


def _report(out: Path, frames: int, seconds: float, fps: float | None = None) -> None:
    rate = f", {fps:g} fps" if fps else ""
    print(f"wrote {out} ({frames} frame{'s' if frames != 1 else ''}{rate}) in {seconds:.1f} s "
          f"({frames / max(seconds, 1e-9):.1f} frames/s)")


# ----------------------------------------------------------------------------- commands
def _expression(a):
    from .pipeline.expression import ExpressionSettings

    relative = True if getattr(a, "relative", False) else False if getattr(a, "absolute", False) else None
    return ExpressionSettings(strength=a.strength, relative=relative)  # None: auto (relative for videos)


def _warn(warnings) -> None:
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)


def _warn_turned(src) -> None:
    from .pipeline.views import portrait_pose_warning

    _warn([w] if (w := portrait_pose_warning(src.signals.angles)) else [])


def _check_animate(a) -> bool:
    """Validate the ``animate`` command line before the model is loaded; returns whether the driver is an image."""
    a.source, a.driver = _one(a, "source", "portrait"), _one(a, "driver", "driver")
    is_image = kind(a.driver) == "image"  # by content, as the app and Animator.animate decide
    if a.max_seconds < 0:
        raise UsageError(f"--max-seconds must be >= 0 (0 = the whole video), got {a.max_seconds:g}")
    _check_input(a.source, "image")
    _check_input(a.driver, "image" if is_image else "video")
    outputs = IMAGE_OUTPUTS if is_image else VIDEO_OUTPUTS
    what = "for a driving image" if is_image else "for a driving video"
    _check_suffix(a.out, outputs, f"{what} the output")
    if a.depth is not None:
        _check_suffix(a.depth, outputs, f"{what} --depth")
    if a.mesh is not None:
        _check_suffix(a.mesh, MESH_OUTPUTS, "--mesh")
    return is_image


def view_from_args(a):
    """``ViewSettings`` of ``animate``'s camera options."""
    from .pipeline import ViewSettings

    return ViewSettings(a.yaw, a.pitch, follow_head=not a.fixed_camera, relative=not a.absolute_pose,
                        follow_position=not a.fixed_position)


def cmd_animate(a) -> None:
    is_image = _check_animate(a)
    view = view_from_args(a)
    anim, t0 = _animator(a)
    src = anim.prepare_source(a.source, a.face_index)
    _warn_turned(src)
    if a.mesh is not None:  # first: it fails (no surface) before the animation is made
        _export_mesh(anim, src, a.mesh, _driver_beta(anim, src, a.driver, is_image, _expression(a)))
    try:
        if is_image:
            res = anim.animate_still(src, a.driver, a.out, view, _expression(a), side_by_side=a.side_by_side,
                                     depth_path=a.depth, crop=a.crop)
        else:
            res = _animate_video(anim, src, a, view)
    except BaseException:
        if a.mesh is not None:
            a.mesh.unlink(missing_ok=True)
        raise
    _warn(res.warnings)
    _report(res.path, res.frames, time.perf_counter() - t0, res.fps)
    if a.depth is not None:
        print(f"wrote {a.depth} (depth, near = bright)")


def _animate_video(anim, src, a, view):
    from tqdm import tqdm

    bar = tqdm(desc="animate", unit="frame", dynamic_ncols=True)

    def progress(done: int, total: int | None) -> None:
        if total is not None and bar.total != max(total, done):
            bar.total = max(total, done)
        bar.update(done - bar.n)

    try:
        return anim.animate_video(src, a.driver, a.out, view, _expression(a), max_seconds=a.max_seconds or None,
                                  smoothing=a.smoothing, progress=progress, audio=not a.no_audio,
                                  side_by_side=a.side_by_side, depth_path=a.depth, crop=a.crop)
    finally:
        bar.close()


def _driver_beta(anim, src, driver: Path, is_image: bool, expression):
    """The portrait's expression ``(52,)`` for the driver image, or the first frame of the driver video."""
    from .media.image import load_image
    from .media.video import iter_frames
    from .pipeline.expression import transfer_expression

    frame = load_image(driver) if is_image else next(iter_frames(driver, max_frames=1))
    return transfer_expression(anim.extractor.extract(frame).beta, src.signals.beta,
                               expression.resolved(not is_image))[0]


def _export_mesh(anim, src, out: Path, beta=None, resolution: int = 64, threshold: float | None = None) -> None:
    t0 = time.perf_counter()
    try:
        anim.export_mesh(src, out, beta=beta, resolution=resolution, threshold=threshold)
    except ValueError as e:  # no surface at this threshold
        raise UsageError(f"{e}; set another surface density with: python -m export3d mesh --threshold") from None
    print(f"wrote {out} (mesh) in {time.perf_counter() - t0:.1f} s")


def cmd_orbit(a) -> None:
    a.source = _one(a, "source", "portrait")
    _check_input(a.source, "image")
    _check_suffix(a.out, {".mp4", ".gif"}, "the orbit output")
    anim, t0 = _animator(a)
    frames = anim.orbit(anim.prepare_source(a.source, a.face_index), frames=a.frames, yaw_range=a.yaw_range,
                        pitch_range=a.pitch_range)
    if a.out.suffix.lower() == ".gif":
        _save_gif(a.out, frames, a.fps)
    else:
        from .media.encode import write_video

        write_video(a.out, iter(frames), a.fps)
    _report(a.out, len(frames), time.perf_counter() - t0, a.fps)


def cmd_grid(a) -> None:
    from .pipeline.expression import transfer_expression

    a.source = _one(a, "source", "portrait")
    _check_input(a.source, "image")
    _check_suffix(a.out, IMAGE_OUTPUTS, "the grid output")
    anim, t0 = _animator(a)
    src = anim.prepare_source(a.source, a.face_index)
    beta = transfer_expression(src.signals.beta, src.signals.beta, _expression(a))[0]  # strength x own expression
    from .media.image import save_image

    save_image(a.out, anim.grid(src, beta, yaws=a.yaws, pitches=a.pitches))
    _report(a.out, len(a.yaws) * len(a.pitches), time.perf_counter() - t0)


def cmd_mesh(a) -> None:
    a.source = _one(a, "source", "portrait")
    _check_input(a.source, "image")
    _check_suffix(a.out, MESH_OUTPUTS, "the mesh output")
    is_image = a.driver is None or kind(a.driver) == "image"
    if a.driver is not None:
        _check_input(a.driver, "image" if is_image else "video")
    anim, _ = _animator(a)
    src = anim.prepare_source(a.source, a.face_index)
    beta = None if a.driver is None else _driver_beta(anim, src, a.driver, is_image, _expression(a))
    if a.driver is not None and a.relative:
        _warn(["--relative with a single driving frame keeps the portrait's own expression."])
    _export_mesh(anim, src, a.out, beta, a.resolution, a.threshold)


COMMANDS = {"animate": cmd_animate, "orbit": cmd_orbit, "grid": cmd_grid, "mesh": cmd_mesh}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(join_lists(list(sys.argv[1:] if argv is None else argv)))
    from .runtime import tune_malloc

    tune_malloc()
    try:
        COMMANDS[args.command](args)
    except (Export3DError, OSError) as e:
        print("error: " + " ".join(str(e).split()), file=sys.stderr)  # one line, whatever the message
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0
