"""The fixed ground-truth benchmark set (test identities only).

For each test identity ``i`` (its own light and background):

* ``source``: a near-frontal frame with a mild random expression;
* ``self``: ``K`` driver frames from a talking clip of ``i`` (the ground truth is the driver itself);
* ``cross``: ``K`` driver frames of *other* test identities (their own look, light and background)
  and the **ground truth**: identity ``i`` rendered with its source light and background under each
  driver's expression and camera;
* ``views``: the source expression rendered at yaw x pitch grid cameras (novel-view ground truth).

Written as one ``benchmark.npz`` (no pickles) plus ``benchmark.json``; see ``BENCHMARK_KEYS``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .clips import cameras_for, make_clip_spec, render_frames, stack_frames
from .scene import SceneRenderer

YAWS = (-30.0, -20.0, -10.0, 0.0, 10.0, 20.0, 30.0)
PITCHES = (-15.0, 0.0, 15.0)
BENCHMARK_KEYS = {
    "source_frames": "(N, S, S, 3) uint8", "source_expression": "(N, 57)", "source_camera": "(N, 25)",
    "self_frames": "(N, K, S, S, 3) uint8", "self_expression": "(N, K, 57)", "self_camera": "(N, K, 25)",
    "cross_frames": "(N, K, S, S, 3) uint8 drivers", "cross_gt_frames": "(N, K, S, S, 3) uint8 ground truth",
    "cross_expression": "(N, K, 57)", "cross_camera": "(N, K, 25)", "cross_driver_identity": "(N, K) int",
    "views_gt_frames": "(N, P*Y, S, S, 3) uint8", "views_camera": "(N, P*Y, 25)", "views_yaw_pitch": "(P*Y, 2)",
    "*_landmarks2d / *_masks": "landmarks (…, 68, 2) and masks (…, S, S) uint8 for every image set",
}


def _identity_block(renderer: SceneRenderer, specs, i: int, k: int, rng: np.random.Generator) -> dict:
    spec = specs[i]
    prep = renderer.prepare(spec.person)
    light, bg = spec.lighting, spec.background
    out: dict[str, np.ndarray] = {}
    src_expr = spec.motion.expression[0] * 0.5
    src_cam = cameras_for([rng.uniform(-8, 8)], [rng.uniform(-5, 5)], [0.0], np.zeros((1, 3)))
    _put(out, "source", render_frames(renderer, prep, src_expr[None], src_cam, light, bg), squeeze=True)
    out["source_expression"], out["source_camera"] = src_expr, src_cam[0].numpy()

    idx = np.linspace(1, len(spec.cameras) - 1, k).astype(int)
    _put(out, "self", render_frames(renderer, prep, spec.motion.expression[idx], spec.cameras[idx], light, bg))
    out["self_expression"], out["self_camera"] = spec.motion.expression[idx], spec.cameras[idx].numpy()

    others = [j for j in range(len(specs)) if j != i]
    drivers = rng.choice(others, size=k, replace=len(others) < k)
    frames, gts, exprs, cams = [], [], [], []
    for j in drivers:
        d = specs[j]
        t = int(rng.integers(len(d.cameras)))
        e, c = d.motion.expression[t:t + 1], d.cameras[t:t + 1]
        frames += render_frames(renderer, renderer.prepare(d.person), e, c, d.lighting, d.background)
        gts += render_frames(renderer, prep, e, c, light, bg)
        exprs.append(e[0])
        cams.append(c[0].numpy())
    _put(out, "cross", frames)
    _put(out, "cross_gt", gts)
    out["cross_expression"], out["cross_camera"] = np.stack(exprs), np.stack(cams)
    out["cross_driver_identity"] = drivers.astype(np.int64)

    grid = [(y, p) for p in PITCHES for y in YAWS]
    vcam = cameras_for([g[0] for g in grid], [g[1] for g in grid], np.zeros(len(grid)), np.zeros((len(grid), 3)))
    _put(out, "views_gt", render_frames(renderer, prep, np.repeat(src_expr[None], len(grid), 0), vcam, light, bg))
    out["views_camera"] = vcam.numpy()
    return out


def _put(out: dict, prefix: str, frames, squeeze: bool = False) -> None:
    """``{prefix}_frames``, ``{prefix}_masks`` and ``{prefix}_landmarks2d`` from rendered frames."""
    for key, a in stack_frames(frames).items():
        if key != "landmarks3d":
            out[f"{prefix}_{key}"] = a[0] if squeeze else a


def make_benchmark(renderer: SceneRenderer, out: str | Path, identities: int = 16, drivers: int = 8,
                   seed: int = 1234, progress: bool = True) -> dict:
    """Write ``benchmark.npz`` + ``benchmark.json`` into ``out`` (deterministic for a seed)."""
    torch.set_num_threads(1)
    t0 = time.time()
    specs = [make_clip_spec("test", i, 48, renderer.size, base_seed=seed) for i in range(identities)]
    rng = np.random.default_rng([seed, 99])
    blocks = [_identity_block(renderer, specs, i, drivers, rng)
              for i in tqdm(range(identities), desc="benchmark identities", disable=not progress)]
    arrays = {key: np.stack([b[key] for b in blocks]) for key in blocks[0]}
    arrays["views_yaw_pitch"] = np.array([(y, p) for p in PITCHES for y in YAWS], dtype=np.float32)
    arrays["identity_seed"] = np.array([s.person.seed for s in specs], dtype=np.int64)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "benchmark.npz", **arrays)
    meta = {"identities": identities, "drivers": drivers, "seed": seed, "size": renderer.size,
            "seconds": round(time.time() - t0, 1), "bytes": (out / "benchmark.npz").stat().st_size,
            "keys": {k: list(v.shape) for k, v in arrays.items()}}
    (out / "benchmark.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta
