"""The argument parser of ``python -m export3d`` (``export3d.cli``): subcommands, options and value checks."""

from __future__ import annotations

import argparse
from pathlib import Path

_LIST_OPTIONS = ("--yaws", "--pitches")
DESCRIPTION = "Animate a portrait, orbit the camera around it, draw a grid of views or export a mesh (docs/usage.md)."


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


def _within(low: float, high: float):
    """argparse type: a number in [low, high]."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be in [{low:g}, {high:g}], got {text}")
        return value

    return parse


_unit = _within(0.0, 1.0)
_strength = _within(0.0, 2.0)


def _common(p: argparse.ArgumentParser, size: bool = True) -> None:
    p.add_argument("--source", dest="source_opt", type=Path, default=None, metavar="FILE",
                   help="portrait image (or positional)")
    p.add_argument("-o", "--out", type=Path, required=True, help="output file")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint folder or Hugging Face repo id (default: $EXPORT3D_CHECKPOINT or "
                        "checkpoints/export3d-small)")
    p.add_argument("--face-index", type=int, default=None, help="which face of the portrait: 0 = largest (default)")
    if size:
        p.add_argument("--size", type=_positive(int), default=256,
                       help="side of the face crop in pixels (orbit, grid, depth maps; animate writes the whole photo)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")


def _expression_options(p: argparse.ArgumentParser, relative: bool = True) -> None:
    p.add_argument("--strength", type=_strength, default=1.0, help="expression strength, 0..2 (default 1)")
    if relative:
        mode = p.add_mutually_exclusive_group()
        mode.add_argument("--relative", action="store_true",
                          help="add the driver's expression change (from its first frame) to the portrait's own "
                               "(default for driving videos)")
        mode.add_argument("--absolute", action="store_true",
                          help="copy the driver's expression scores (default for driving images)")


def _animate_parser(sub) -> None:
    an = sub.add_parser("animate", help="animate SOURCE with the expression and head pose of DRIVER")
    an.add_argument("source", type=Path, nargs="?", default=None, help="portrait image (or --source)")
    an.add_argument("driver", type=Path, nargs="?", default=None, help="driving image or video (or --driver)")
    an.add_argument("--driver", dest="driver_opt", type=Path, default=None, metavar="FILE",
                    help="driving image or video (or positional)")
    _common(an)
    an.add_argument("--yaw", type=float, default=0.0, help="camera yaw offset in degrees (+ = viewer's right)")
    an.add_argument("--pitch", type=float, default=0.0, help="camera pitch offset in degrees (+ = from above)")
    an.add_argument("--fixed-camera", action="store_true",
                    help="ignore the driver's head motion: fixed camera at --yaw/--pitch")
    an.add_argument("--fixed-position", action="store_true",
                    help="keep the face where it is in the portrait (do not follow the driver's face shift and size)")
    an.add_argument("--absolute-pose", action="store_true",
                    help="the camera takes the driver's head pose itself (and --yaw/--pitch count from the frontal "
                         "view), not the portrait's own pose plus the driver's motion since its first frame")
    _expression_options(an)
    an.add_argument("--max-seconds", type=float, default=10.0, help="use at most this much video (0 = all)")
    an.add_argument("--smoothing", type=_unit, default=0.5, help="0..1 smoothing of the driver's signals")
    an.add_argument("--crop", action="store_true",
                    help="write the face crop (512x512) instead of the whole photo with the animated head put back")
    an.add_argument("--side-by-side", action="store_true", help="write driver | output")
    an.add_argument("--no-audio", action="store_true", help="do not copy the driver's audio")
    an.add_argument("--depth", type=Path, default=None, help="also write the depth maps (.mp4, or an image)")
    an.add_argument("--mesh", type=Path, default=None, help="also export the mesh (.obj or .glb)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m export3d", description=DESCRIPTION)
    sub = p.add_subparsers(dest="command", required=True)
    _animate_parser(sub)
    o = sub.add_parser("orbit", help="looping camera orbit around SOURCE (.mp4 or .gif)")
    o.add_argument("source", type=Path, nargs="?", default=None)
    _common(o)
    o.add_argument("--frames", type=_positive(int), default=48)
    o.add_argument("--yaw-range", type=float, default=30.0, help="yaw amplitude in degrees (max 45)")
    o.add_argument("--pitch-range", type=float, default=10.0, help="pitch amplitude in degrees (max 30)")
    o.add_argument("--fps", type=_positive(float), default=24.0)
    g = sub.add_parser("grid", help="contact sheet of SOURCE from several cameras")
    g.add_argument("source", type=Path, nargs="?", default=None)
    _common(g)
    g.add_argument("--yaws", type=_floats, default=[-30.0, -15.0, 0.0, 15.0, 30.0], help="e.g. -30,-15,0,15,30")
    g.add_argument("--pitches", type=_floats, default=[-15.0, 0.0, 15.0], help="e.g. -15,0,15 (one row each)")
    _expression_options(g, relative=False)
    m = sub.add_parser("mesh", help="export the 3D surface of SOURCE (.obj or .glb)")
    m.add_argument("source", type=Path, nargs="?", default=None)
    _common(m, size=False)
    m.add_argument("--driver", type=Path, default=None, metavar="FILE",
                   help="take the expression of this image (or a video's first frame); default: the portrait's own")
    _expression_options(m)
    m.add_argument("--resolution", type=_positive(int), default=64, help="marching-cubes grid size (default 64)")
    m.add_argument("--threshold", type=_positive(float), default=None,
                   help="surface density (default: where one coarse render step is half opaque)")
    m.set_defaults(size=None)
    return p


def join_lists(argv: list[str]) -> list[str]:
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
