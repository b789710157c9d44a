"""``python -m export3d COMMAND``: animate a portrait, orbit the camera around it, or draw a view grid.

* ``animate SOURCE DRIVER -o OUT``: DRIVER image -> OUT image (.png/.jpg/.webp); DRIVER video -> OUT .mp4;
* ``orbit SOURCE -o OUT.mp4|OUT.gif``: a looping camera orbit with the portrait's own expression;
* ``grid SOURCE -o OUT.png``: a contact sheet, one row per pitch, one column per yaw.

Bad input (missing or unreadable files, no face, no checkpoint, wrong output extension) prints one
``error: ...`` line on stderr and exits with code 2. Usage: docs/usage.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
IMAGE_OUTPUTS = {".png", ".jpg", ".jpeg", ".webp"}
_LIST_OPTIONS = ("--yaws", "--pitches")
DESCRIPTION = "Animate a portrait, orbit the camera around it, or draw a grid of views (docs/usage.md)."


class UsageError(ValueError):
    """A command line the user has to fix (reported as ``error: ...``, exit code 2)."""


# ----------------------------------------------------------------------------- helpers
def _floats(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def _unit(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def _check_suffix(path: Path, allowed: set[str], what: str) -> None:
    if path.suffix.lower() not in allowed:
        raise UsageError(f"{what} must end with {', '.join(sorted(allowed))}; got {path.name}")


def _check_input(path: Path, kind: str) -> None:
    from .face.errors import UnreadableImageError, UnreadableVideoError, check_input_file

    check_input_file(path, kind, UnreadableImageError if kind == "image" else UnreadableVideoError)


def _atomic(path: Path, write) -> Path:
    """Call ``write(tmp)`` on a temporary name beside ``path`` (same suffix), then rename it to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.partial{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _save_image(path: Path, image) -> None:
    from .face.image_io import save_image

    _atomic(path, lambda tmp: save_image(tmp, image))


def _save_gif(path: Path, frames, fps: float) -> None:
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    _atomic(path, lambda tmp: images[0].save(tmp, save_all=True, append_images=images[1:], loop=0,
                                             duration=max(20, round(1000 / fps)), disposal=2))


def _animator(a):
    """The loaded ``Animator`` and the time when loading finished (the start of the reported wall time)."""
    from .pipeline import Animator

    t0 = time.perf_counter()
    anim = Animator.from_pretrained(a.checkpoint, device=a.device, output_size=a.size)
    t1 = time.perf_counter()
    print(f"loaded the model on {anim.device} in {t1 - t0:.1f} s")
    return anim, t1


def _report(out: Path, frames: int, seconds: float, fps: float | None = None) -> None:
    rate = f", {fps:g} fps" if fps else ""
    print(f"wrote {out} ({frames} frame{'s' if frames != 1 else ''}{rate}) in {seconds:.1f} s "
          f"({frames / max(seconds, 1e-9):.1f} frames/s)")


# ----------------------------------------------------------------------------- commands
def cmd_animate(a) -> None:
    from .pipeline import ViewSettings

    is_image = a.driver.suffix.lower() in IMAGE_SUFFIXES
    if a.max_seconds < 0:
        raise UsageError(f"--max-seconds must be >= 0 (0 = the whole video), got {a.max_seconds:g}")
    _check_input(a.source, "image")
    _check_input(a.driver, "image" if is_image else "video")
    _check_suffix(a.out, IMAGE_OUTPUTS if is_image else {".mp4"},
                  "for a driving image the output" if is_image else "for a driving video the output")
    view = ViewSettings(a.yaw, a.pitch, follow_head=not a.fixed_camera)
    anim, t0 = _animator(a)
    src = anim.prepare_source(a.source, a.face_index)
    if is_image:
        _animate_image(anim, src, a, view, t0)
    else:
        _animate_video(anim, src, a, view, t0)


def _animate_image(anim, src, a, view, t0: float) -> None:
    from .face.image_io import load_image
    from .views import side_by_side

    driver = load_image(a.driver)
    out = anim.animate_image(src, driver, view)
    _save_image(a.out, side_by_side(driver, out) if a.side_by_side else out)
    _report(a.out, 1, time.perf_counter() - t0)


def _animate_video(anim, src, a, view, t0: float) -> None:
    from tqdm import tqdm

    bar = tqdm(desc="animate", unit="frame", dynamic_ncols=True)

    def progress(done: int, total: int | None) -> None:
        if total is not None and bar.total != max(total, done):
            bar.total = max(total, done)
        bar.update(done - bar.n)

    try:
        res = anim.animate_video(src, a.driver, a.out, view, max_seconds=a.max_seconds or None,
                                 smoothing=a.smoothing, progress=progress, audio=not a.no_audio,
                                 side_by_side=a.side_by_side)
    finally:
        bar.close()
    for w in res.warnings:
        print(f"warning: {w}", file=sys.stderr)
    _report(res.path, res.frames, time.perf_counter() - t0, res.fps)


def cmd_orbit(a) -> None:
    _check_input(a.source, "image")
    _check_suffix(a.out, {".mp4", ".gif"}, "the orbit output")
    anim, t0 = _animator(a)
    frames = anim.orbit(anim.prepare_source(a.source, a.face_index), frames=a.frames, yaw_range=a.yaw_range,
                        pitch_range=a.pitch_range)
    if a.out.suffix.lower() == ".gif":
        _save_gif(a.out, frames, a.fps)
    else:
        from .face.video import write_video

        write_video(a.out, iter(frames), a.fps)
    _report(a.out, len(frames), time.perf_counter() - t0, a.fps)


def cmd_grid(a) -> None:
    _check_input(a.source, "image")
    _check_suffix(a.out, IMAGE_OUTPUTS, "the grid output")
    anim, t0 = _animator(a)
    sheet = anim.grid(anim.prepare_source(a.source, a.face_index), yaws=a.yaws, pitches=a.pitches)
    _save_image(a.out, sheet)
    _report(a.out, len(a.yaws) * len(a.pitches), time.perf_counter() - t0)


# ----------------------------------------------------------------------------- parser
def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--out", type=Path, required=True, help="output file")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint folder or Hugging Face repo id (default: $EXPORT3D_CHECKPOINT or "
                        "checkpoints/export3d-small)")
    p.add_argument("--face-index", type=int, default=None, help="which face of the portrait: 0 = largest (default)")
    p.add_argument("--size", type=_positive(int), default=256, help="output size in pixels")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m export3d", description=DESCRIPTION)
    sub = p.add_subparsers(dest="command", required=True)
    an = sub.add_parser("animate", help="animate SOURCE with the expression and head pose of DRIVER")
    an.add_argument("source", type=Path, help="portrait image")
    an.add_argument("driver", type=Path, help="driving image or video")
    _common(an)
    an.add_argument("--yaw", type=float, default=0.0, help="camera yaw offset in degrees (+ = viewer's right)")
    an.add_argument("--pitch", type=float, default=0.0, help="camera pitch offset in degrees (+ = from above)")
    an.add_argument("--fixed-camera", action="store_true",
                    help="ignore the driver's head pose: fixed camera at --yaw/--pitch")
    an.add_argument("--max-seconds", type=float, default=10.0, help="use at most this much video (0 = all)")
    an.add_argument("--smoothing", type=_unit, default=0.5, help="0..1 smoothing of the driver's signals")
    an.add_argument("--side-by-side", action="store_true", help="write driver | output")
    an.add_argument("--no-audio", action="store_true", help="do not copy the driver's audio")
    an.set_defaults(func=cmd_animate)
    o = sub.add_parser("orbit", help="looping camera orbit around SOURCE (.mp4 or .gif)")
    o.add_argument("source", type=Path)
    _common(o)
    o.add_argument("--frames", type=_positive(int), default=48)
    o.add_argument("--yaw-range", type=float, default=30.0, help="yaw amplitude in degrees (max 45)")
    o.add_argument("--pitch-range", type=float, default=10.0, help="pitch amplitude in degrees (max 30)")
    o.add_argument("--fps", type=_positive(float), default=24.0)
    o.set_defaults(func=cmd_orbit)
    g = sub.add_parser("grid", help="contact sheet of SOURCE from several cameras")
    g.add_argument("source", type=Path)
    _common(g)
    g.add_argument("--yaws", type=_floats, default=[-30.0, -15.0, 0.0, 15.0, 30.0], help="e.g. -30,-15,0,15,30")
    g.add_argument("--pitches", type=_floats, default=[-15.0, 0.0, 15.0], help="e.g. -15,0,15 (one row each)")
    g.set_defaults(func=cmd_grid)
    return p


def _join_lists(argv: list[str]) -> list[str]:
    """``--yaws -30,-15`` -> ``--yaws=-30,-15`` (argparse would take ``-30,-15`` for an option)."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] in _LIST_OPTIONS and i + 1 < len(argv):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(_join_lists(list(sys.argv[1:] if argv is None else argv)))
    from .checkpoint import CheckpointError
    from .face.errors import FaceInputError, ModelFileError

    try:
        args.func(args)
    except (FaceInputError, CheckpointError, ModelFileError, UsageError, OSError) as e:
        print("error: " + " ".join(str(e).split()), file=sys.stderr)  # one line, whatever the message
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0
