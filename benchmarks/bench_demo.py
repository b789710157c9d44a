"""Demo speed: slider re-render of a still and end-to-end animation of a 5-s driving clip.

    python benchmarks/bench_demo.py [--checkpoint PATH] [--driver CLIP] [--portrait IMAGE] [--seconds 5] [--fps 25]

(1) the demo's preview (``export3d.demo.preview``: one frame of the whole photo, scaled to at most 640 px) for 20
yaw values after a warm-up, as the demo's yaw/pitch sliders do; (2) ``Animator.animate_video`` (the whole photo)
over a driver of ``--seconds`` at ``--fps`` (the default driver, examples/drivers/talking.mp4, is looped to that
length), wall time split into rendering and the rest, and the time of decoding + face tracking (on its own
thread, overlapping the rendering); (3) torch version and threads. Without a checkpoint
(``--checkpoint``, default ``export3d.pipeline.default_checkpoint()``) a random ``small`` model is timed instead,
with a notice: the speed does not depend on the weights. Output format: docs/usage.md ("Speed").
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a clone without installing

from export3d import demo  # noqa: E402
from export3d.config import ModelConfig  # noqa: E402
from export3d.errors import CheckpointError  # noqa: E402
from export3d.media.encode import write_video  # noqa: E402
from export3d.media.video import open_video  # noqa: E402
from export3d.models.export3d import Export3D  # noqa: E402
from export3d.pipeline import Animator, ViewSettings, default_checkpoint  # noqa: E402
from export3d.runtime import thread_governor, tune_malloc  # noqa: E402


def load(checkpoint: str | None, size: int, fixed_threads: bool = False) -> Animator:
    path = checkpoint or default_checkpoint()
    try:
        anim = Animator.from_pretrained(path, device="cpu", output_size=size)
        print(f"checkpoint: {path}")
    except CheckpointError:
        print(f"NOTICE: no usable checkpoint at {path}; timing a random `small` model (speed does not depend "
              "on the weights)")
        anim = Animator(Export3D(ModelConfig.small()).eval(), device="cpu", output_size=size)
    cfg = anim.model.cfg
    anim.frames.governor = None if fixed_threads else thread_governor()  # as the app and the CLI
    print("threads: fixed" if anim.frames.governor is None else "threads: chosen per chunk from the free cores "
          "(runtime.ThreadGovernor, as the app and the CLI)")
    r = cfg.render
    print(f"model: source {cfg.generator.source_size}, render {r.render_size}^2 ({r.num_coarse}+{r.num_fine} "
          f"samples), model output {cfg.superres.output_size}^2, delivered {size}^2")
    return anim


def timed(fn, *args, **kw) -> tuple[object, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def bench_slider(anim: Animator, portrait: Path, yaws: int = 20) -> None:
    anim._cache.clear()
    src, first = timed(anim.prepare_source, portrait)
    _, cached = timed(anim.prepare_source, portrait)
    print(f"portrait {portrait.name}: prepare {first * 1e3:.0f} ms (first), {cached * 1e3:.1f} ms (cached)")
    _, made = timed(anim.canvas, src)
    print(f"whole-photo canvas (once per portrait): {made * 1e3:.0f} ms")
    view = lambda yaw: ViewSettings(float(yaw), 0.0, follow_head=False)  # noqa: E731
    for yaw in (-10.0, 0.0, 10.0):  # warm-up
        demo.preview(anim, src, None, view(yaw))
    times = [timed(demo.preview, anim, src, None, view(yaw))[1] for yaw in np.linspace(-40, 40, yaws)]
    ms = np.array(times) * 1e3
    h, w = demo.preview(anim, src, None, view(0)).shape[:2]
    print(f"slider re-render (the demo's preview: the whole photo, shown at {w}x{h}; {yaws} yaws -40..40): "
          f"mean {ms.mean():.1f} ms, max {ms.max():.1f} ms ({1e3 / ms.mean():.1f} frames/s)")


def make_driver(clip: Path, seconds: float, fps: float, folder: Path) -> Path:
    """``clip`` looped (or cut) to ``seconds`` at ``fps`` (frames taken in order, the clip's own rate ignored)."""
    with open_video(clip) as reader:
        frames = list(reader)
    n = round(seconds * fps)
    return write_video(folder / f"driver_{seconds:g}s.mp4", itertools.islice(itertools.cycle(frames), n), fps)


class Clock:
    """Accumulates the time spent inside wrapped calls and generator steps."""

    def __init__(self):
        self.seconds = 0.0

    def call(self, fn):
        def wrapped(*args, **kw):
            out, dt = timed(fn, *args, **kw)
            self.seconds += dt
            return out

        return wrapped

    def iterate(self, fn):
        def wrapped(*args, **kw):
            it = iter(fn(*args, **kw))
            while True:
                t0 = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    self.seconds += time.perf_counter() - t0
                    return
                self.seconds += time.perf_counter() - t0
                yield item

        return wrapped


def bench_animation(anim: Animator, portrait: Path, clip: Path, seconds: float, fps: float,
                    crop: bool = False) -> None:
    src = anim.prepare_source(portrait)
    with tempfile.TemporaryDirectory() as tmp:
        driver = make_driver(clip, seconds, fps, Path(tmp))
        track, render = Clock(), Clock()
        anim.extractor.track = track.iterate(anim.extractor.track)  # instance attributes shadow the methods
        anim.frames.frames = render.call(anim.frames.frames)  # every job renders through the FrameRenderer
        try:
            anim.canvas(src, crop)  # made when the portrait is prepared in the app
            res, wall = timed(anim.animate_video, src, driver, Path(tmp) / "out.mp4", max_seconds=None, crop=crop)
        finally:
            del anim.extractor.track, anim.frames.frames
    rest = wall - render.seconds  # the tracker's time includes decoding (it pulls the frames)
    print(f"animation: {seconds:g} s driver at {fps:g} fps ({res.frames} frames, {clip.name} looped; portrait "
          f"already prepared): {wall:.1f} s wall = {res.frames / wall:.1f} frames/s ({seconds / wall:.2f}x real time)")
    print(f"  rendering {render.seconds:.1f} s; decode + face tracking {track.seconds:.1f} s on a thread, ahead of "
          f"the rendering; outside the rendering {rest:.1f} s (waiting for the tracker, pasting; ffmpeg encodes "
          "on its own thread)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--driver", type=Path, default=ROOT / "examples" / "drivers" / "talking.mp4")
    ap.add_argument("--portrait", type=Path, default=ROOT / "examples" / "portraits" / "astronaut.jpg")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--size", type=int, default=256, help="output size (the demo's default)")
    ap.add_argument("--skip-animation", action="store_true")
    ap.add_argument("--fixed-threads", action="store_true", help="keep torch's thread count (no governor)")
    ap.add_argument("--crop", action="store_true", help="animate the face crop (512²) instead of the whole photo")
    args = ap.parse_args()
    tune_malloc()
    cap = torch.backends.cpu.get_cpu_capability()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()} (OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}), cpu capability {cap}, {os.cpu_count()} CPUs")
    anim = load(args.checkpoint, args.size, args.fixed_threads)
    bench_slider(anim, args.portrait)
    if not args.skip_animation:
        bench_animation(anim, args.portrait, args.driver, args.seconds, args.fps, args.crop)


if __name__ == "__main__":
    main()
