"""``python -m export3d.synthetic COMMAND``: datasets, the benchmark set, docs images, speed.

Commands: ``make-dataset``, ``make-benchmark``, ``contact-sheet``, ``warp-sheet``, ``render-clip``,
``bench``, and ``calibrate`` / ``measure`` (the face extractor's calibration against synthetic ground truth).
The ICT-FaceKit file is found through ``EXPORT3D_ICT_FACEKIT`` / ``EXPORT3D_DATA`` (see ``export3d.paths``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def _renderer(size: int, supersample: int = 2):
    import torch

    from .ict_model import ICTFaceModel
    from .scene import SceneRenderer

    torch.set_num_threads(1)
    return SceneRenderer(ICTFaceModel(), size, supersample)


def cmd_make_dataset(a) -> None:
    from .dataset import DatasetSpec, write_dataset

    spec = DatasetSpec(split=a.split, clips=a.clips, frames=a.frames, size=a.size, seed=a.seed,
                       shard_size=a.shard_size, clips_per_identity=a.clips_per_identity)
    _renderer(8)  # fail fast, with a clear message, when the face model is missing
    meta = write_dataset(spec, a.out, workers=a.workers)
    print(f"wrote {spec.clips} clips x {spec.frames} frames at {spec.size}^2 to {a.out} "
          f"in {meta['seconds_last_run']:.0f} s (this run)")


def cmd_make_benchmark(a) -> None:
    from .benchmark import make_benchmark

    meta = make_benchmark(_renderer(a.size), a.out, a.identities, a.drivers, a.seed)
    size_mib = meta["bytes"] / 2**20
    print(f"benchmark: {meta['identities']} identities, {size_mib:.1f} MiB, {meta['seconds']} s -> {a.out}")


def cmd_contact_sheet(a) -> None:
    from PIL import Image

    from .clips import make_clip_spec, render_frames

    r = _renderer(a.size)
    tiles = []
    for i in range(a.count):
        spec = make_clip_spec(a.split, i, 25, a.size, a.seed)
        t = int(np.argmax(spec.motion.expression[:, 30]))  # the most open mouth of the clip
        prep = r.prepare(spec.person)
        tiles.append(render_frames(r, prep, spec.motion.expression[t:t + 1], spec.cameras[t:t + 1],
                                   spec.lighting, spec.background)[0].image)
    cols = a.columns
    rows = [np.concatenate(tiles[k:k + cols], 1) for k in range(0, len(tiles), cols)]
    Image.fromarray(np.concatenate(rows, 0)).save(a.out)
    print(f"contact sheet of {a.count} identities -> {a.out}")


PART_COLOURS = np.array([[0, 0, 0], [230, 180, 150], [60, 120, 255], [200, 30, 60], [120, 70, 20], [240, 220, 90],
                         [60, 170, 90]], np.uint8)  #: one colour per ``parts.Part``, for pictures


def cmd_warp_sheet(a) -> None:
    from PIL import Image

    from .clips import correspondences, make_clip_spec, render_frames
    from .correspondence import flow_to_coords
    from .warp import oracle_warp

    r, rows = _renderer(a.size), []
    for clip, k in ((0, 20), (1, 30), (2, 40)):
        spec = make_clip_spec("test", clip, k + 1, a.size, a.seed)
        prep = r.prepare(spec.person)
        src, tgt = render_frames(r, prep, spec.motion.expression[[0, k]], spec.cameras[[0, k]], spec.lighting,
                                 spec.background)
        f = correspondences([tgt], src, prep.mesh.tris)
        pred = oracle_warp(src.image, flow_to_coords(f["flow"]), f["visible"])[0]
        err = np.clip(np.abs(pred.astype(int) - tgt.image) * 4, 0, 255).astype(np.uint8)
        vis = np.repeat(f["visible"][0, ..., None] * 255, 3, -1).astype(np.uint8)
        rows.append(np.concatenate([src.image, tgt.image, pred, err, vis, PART_COLOURS[tgt.part]], 1))
    Image.fromarray(np.concatenate(rows, 0)).save(a.out)
    print(f"source | target | oracle warp | 4 x error | visible | parts, 3 pairs -> {a.out}")


def cmd_render_clip(a) -> None:
    from PIL import Image

    from .clips import make_clip_spec, render_clip

    spec = make_clip_spec(a.split, a.index, a.frames, a.size, a.seed)
    frames = render_clip(_renderer(a.size), spec)["frames"]
    images = [Image.fromarray(f) for f in frames]
    images[0].save(a.out, save_all=True, append_images=images[1:], duration=40, loop=0)
    print(f"{len(frames)} frames at 25 fps -> {a.out}")


def cmd_bench(a) -> None:
    from .clips import make_clip_spec

    for size in a.sizes:
        r = _renderer(size)
        spec = make_clip_spec("train", 0, a.frames, size)
        t0 = time.perf_counter()
        prep = r.prepare(spec.person)
        t_prep = time.perf_counter() - t0
        r.render(prep, spec.motion.expression[0], spec.cameras[0], spec.lighting, spec.background)  # warm-up
        t0 = time.perf_counter()
        for e, c in zip(spec.motion.expression, spec.cameras, strict=True):
            r.render(prep, e, c, spec.lighting, spec.background)
        dt = (time.perf_counter() - t0) / a.frames
        print(f"{size}x{size} (2x supersampled, 1 thread): {1 / dt:.1f} frames/s ({dt * 1e3:.1f} ms/frame); "
              f"new identity (textures) {t_prep * 1e3:.0f} ms")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m export3d.synthetic", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("make-dataset", help="render training/test clips into shards (resumable)")
    d.add_argument("out", type=Path)
    d.add_argument("--clips", type=int, default=1000)
    d.add_argument("--frames", type=int, default=32)
    d.add_argument("--size", type=int, default=128)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--split", choices=["train", "test"], default="train")
    d.add_argument("--shard-size", type=int, default=50)
    d.add_argument("--clips-per-identity", type=int, default=1)
    d.add_argument("--workers", type=int, default=2)
    d.set_defaults(func=cmd_make_dataset)
    b = sub.add_parser("make-benchmark", help="the fixed ground-truth benchmark set")
    b.add_argument("out", type=Path)
    b.add_argument("--identities", type=int, default=16)
    b.add_argument("--drivers", type=int, default=8)
    b.add_argument("--size", type=int, default=128)
    b.add_argument("--seed", type=int, default=1234)
    b.set_defaults(func=cmd_make_benchmark)
    c = sub.add_parser("contact-sheet", help="a grid of random identities (PNG)")
    c.add_argument("out", type=Path)
    c.add_argument("--count", type=int, default=32)
    c.add_argument("--columns", type=int, default=8)
    c.add_argument("--size", type=int, default=128)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--split", choices=["train", "test"], default="train")
    c.set_defaults(func=cmd_contact_sheet)
    w = sub.add_parser("warp-sheet", help="frame pairs with their true-field warp, visibility and parts (PNG)")
    w.add_argument("out", type=Path)
    w.add_argument("--size", type=int, default=128)
    w.add_argument("--seed", type=int, default=0)
    w.set_defaults(func=cmd_warp_sheet)
    r = sub.add_parser("render-clip", help="one clip as an animated GIF")
    r.add_argument("out", type=Path)
    r.add_argument("--index", type=int, default=0)
    r.add_argument("--frames", type=int, default=75)
    r.add_argument("--size", type=int, default=128)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--split", choices=["train", "test"], default="train")
    r.set_defaults(func=cmd_render_clip)
    s = sub.add_parser("bench", help="rendering speed")
    s.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    s.add_argument("--frames", type=int, default=50)
    s.set_defaults(func=cmd_bench)
    from .calibrate_extractor import add_commands  # calibrate / measure the face extractor

    add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
