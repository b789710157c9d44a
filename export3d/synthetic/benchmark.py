"""The fixed ground-truth benchmark set (test identities only).

For each test identity ``i`` (its own light and background):

* ``source``: a near-frontal frame with a mild random expression;
* ``self``: ``K`` driver frames from a talking clip of ``i`` (the ground truth is the driver itself);
* ``cross``: ``K`` driver frames of *other* test identities (their own look, light and background)
  and the **ground truth**: identity ``i`` rendered with its source light and background under each
  driver's expression and camera;
* ``views``: the source expression rendered at yaw x pitch grid cameras (novel-view ground truth); the
  camera moves around a still person, so the body keeps the source frame's placement.

Every target set with a ground truth of identity ``i`` (``self``, ``cross_gt``, ``views_gt``) carries the exact
correspondence field to the source frame and its visibility (``correspondence.py``).

Written as one ``benchmark.npz`` (no pickles) plus ``benchmark.json``; see ``BENCHMARK_KEYS``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .clips import cameras_for, correspondences, make_clip_spec, render_frames, stack_frames
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
    "*_foreground / *_part": "(…, S, S) uint8 for every image set: person at the pixel centre 0/1, parts.Part label",
    "{self,cross_gt,views_gt}_flow": "(N, K, S, S, 2) float16 backward flow: pixel (x, y) in the source frame "
                                      "of each target pixel's surface point minus that pixel's centre "
                                      "(docs/conventions.md)",
    "{self,cross_gt,views_gt}_visible": "(N, K, S, S) uint8 1 where that point is visible in the source frame",
}


def _identity_block(renderer: SceneRenderer, specs, i: int, k: int, rng: np.random.Generator) -> dict:
    spec = specs[i]
    prep = renderer.prepare(spec.person)
    light, bg = spec.lighting, spec.background
    out: dict[str, np.ndarray] = {}
    src_expr = spec.motion.expression[0] * 0.5
    src_cam = cameras_for([rng.uniform(-8, 8)], [rng.uniform(-5, 5)], [0.0], np.zeros((1, 3)))
    source = render_frames(renderer, prep, src_expr[None], src_cam, light, bg)
    _put(out, "source", source, squeeze=True)
    out["source_expression"], out["source_camera"] = src_expr, src_cam[0].numpy()
    fields = lambda frames: correspondences(frames, source[0], prep.mesh.tris)  # noqa: E731  to the source frame

    idx = np.linspace(1, len(spec.cameras) - 1, k).astype(int)
    _put(out, "self", render_frames(renderer, prep, spec.motion.expression[idx], spec.cameras[idx], light, bg),
         fields)
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
    _put(out, "cross_gt", gts, fields)
    out["cross_expression"], out["cross_camera"] = np.stack(exprs), np.stack(cams)
    out["cross_driver_identity"] = drivers.astype(np.int64)

    grid = [(y, p) for p in PITCHES for y in YAWS]
    vcam = cameras_for([g[0] for g in grid], [g[1] for g in grid], np.zeros(len(grid)), np.zeros((len(grid), 3)))
    views = render_frames(renderer, prep, np.repeat(src_expr[None], len(grid), 0), vcam, light, bg, src_cam[0])
    _put(out, "views_gt", views, fields)  # the camera moves around a still person: the body stays as in the source
    out["views_camera"] = vcam.numpy()
    return out


def _put(out: dict, prefix: str, frames, fields=None, squeeze: bool = False) -> None:
    """``{prefix}_frames``, ``_masks``, ``_landmarks2d``, ``_foreground``, ``_part`` from rendered frames, and
    ``_flow`` / ``_visible`` (to the source frame) when ``fields`` is given."""
    arrays = stack_frames(frames) | (fields(frames) if fields is not None else {})
    for key, a in arrays.items():
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
