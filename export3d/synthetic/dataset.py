"""Synthetic dataset shards: writer (resumable, multi-process) and reader.

A dataset folder holds ``dataset.json`` and ``shard-XXXXX.npz`` files (``np.savez_compressed``,
no pickles). Every shard has ``C`` clips of ``F`` frames at ``S x S``:

| key | shape | dtype | meaning |
|---|---|---|---|
| frames | (C, F, S, S, 3) | uint8 | sRGB frames |
| masks | (C, F, S, S) | uint8 | head coverage x 255 (anti-aliased) |
| expression | (C, F, 57) | float32 | ICT expression weights (``motion.ICT_EXPRESSION_NAMES``) |
| camera | (C, F, 25) | float32 | EG3D cameras (docs/conventions.md) |
| pose | (C, F, 3) | float32 | yaw, pitch, roll in degrees |
| landmarks2d | (C, F, 68, 2) | float32 | pixel x (column), y (row) |
| landmarks3d | (C, F, 68, 3) | float32 | world units |
| identity | (C, 100) | float32 | ICT identity coefficients |
| identity_seed | (C,) | int64 | person seed (train < 1e6 <= test) |
| clip_index | (C,) | int64 | index of the clip in its split |
| foreground | (C, F, S, S) | uint8 | 1 where the pixel centre shows the person (head, hair, body) |
| part | (C, F, S, S) | uint8 | ``parts.Part`` label at the pixel centre (0 background) |
| flow | (C, F, S, S, 2) | float16 | (x, y) in the clip's **first frame** of the pixel's surface point - pixel centre |
| visible | (C, F, S, S) | uint8 | 1 where that point is visible in the first frame |

The last four (format 2) are the dense supervision (``DENSE_KEYS``, docs/conventions.md "Correspondence
fields"); ``SyntheticDataset`` loads them only when asked (``dense=True``), and format-1 folders lack them.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

FORMAT_VERSION = 2  #: 2: + foreground, part, flow, visible
DENSE_KEYS = ("foreground", "part", "flow", "visible")


@dataclass
class DatasetSpec:
    split: str = "train"
    clips: int = 1000
    frames: int = 32
    size: int = 128
    seed: int = 0
    shard_size: int = 50
    clips_per_identity: int = 1
    supersample: int = 2

    def shard_ranges(self) -> list[tuple[int, int]]:
        return [(s, min(s + self.shard_size, self.clips)) for s in range(0, self.clips, self.shard_size)]


_WORKER: dict = {}


def _init_worker(supersample: int, size: int) -> None:
    import torch

    from .ict_model import ICTFaceModel
    from .scene import SceneRenderer

    torch.set_num_threads(1)
    _WORKER["renderer"] = SceneRenderer(ICTFaceModel(), size, supersample)


def _write_shard(args: tuple[DatasetSpec, int, str]) -> int:
    from .clips import make_clip_spec, render_clip

    spec, shard, out = args
    start, end = spec.shard_ranges()[shard]
    clips = []
    for i in range(start, end):
        cs = make_clip_spec(spec.split, i, spec.frames, spec.size, spec.seed, spec.clips_per_identity)
        clips.append(render_clip(_WORKER["renderer"], cs))
    arrays = {k: np.stack([c[k] for c in clips]) for k in clips[0]}
    arrays["clip_index"] = np.arange(start, end, dtype=np.int64)
    final = Path(out) / f"shard-{shard:05d}.npz"
    tmp = final.with_name(final.stem + f".tmp-{os.getpid()}.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, final)
    return end - start


def write_dataset(spec: DatasetSpec, out: str | Path, workers: int = 2, progress: bool = True) -> dict:
    """Write (or finish writing) a dataset; finished shards are skipped, so it resumes."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "dataset.json"
    if meta_path.exists():
        old_meta = json.loads(meta_path.read_text())
        old = old_meta["spec"]
        if old != asdict(spec) or old_meta.get("format_version", 1) != FORMAT_VERSION:
            raise ValueError(f"{out} holds a different dataset (format {old_meta.get('format_version', 1)}, {old}); "
                             "choose another folder")
    meta_path.write_text(json.dumps({"format_version": FORMAT_VERSION, "spec": asdict(spec), "complete": False}))
    todo = [i for i in range(len(spec.shard_ranges())) if not (out / f"shard-{i:05d}.npz").exists()]
    done = spec.clips - sum(e - s for i, (s, e) in enumerate(spec.shard_ranges()) if i in todo)
    t0 = time.time()
    bar = tqdm(total=spec.clips, initial=done, unit="clip", disable=not progress, desc=f"{spec.split} clips")
    jobs = [(spec, i, str(out)) for i in todo]
    if workers <= 1:
        _init_worker(spec.supersample, spec.size)
        for job in jobs:
            bar.update(_write_shard(job))
    else:
        ctx = mp.get_context("spawn")
        with ctx.Pool(workers, _init_worker, (spec.supersample, spec.size)) as pool:
            for n in pool.imap_unordered(_write_shard, jobs):
                bar.update(n)
    bar.close()
    meta = {"format_version": FORMAT_VERSION, "spec": asdict(spec), "complete": True,
            "seconds_last_run": round(time.time() - t0, 1)}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta


class SyntheticDataset:
    """All shards of a dataset folder, loaded into memory (uint8 frames).

    ``dense=False`` (default) skips the per-pixel supervision (``DENSE_KEYS``: 7 bytes per pixel and frame,
    more than the frames themselves); ``dense=True`` loads whatever of it the shards carry.
    """

    def __init__(self, folder: str | Path, dense: bool = False):
        folder = Path(folder)
        meta_path = folder / "dataset.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"{folder} is not a synthetic dataset (no dataset.json)")
        self.meta = json.loads(meta_path.read_text())
        if not self.meta.get("complete"):
            raise ValueError(f"{folder} is incomplete: run make-dataset again to finish it")
        shards = sorted(folder.glob("shard-*.npz"))
        parts: dict[str, list[np.ndarray]] = {}
        for path in shards:
            with np.load(path, allow_pickle=False) as z:
                for k in z.files:
                    if dense or k not in DENSE_KEYS:
                        parts.setdefault(k, []).append(z[k])
        self.arrays = {k: np.concatenate(v) for k, v in parts.items()}

    def __len__(self) -> int:
        return len(self.arrays["frames"])

    @property
    def num_frames(self) -> int:
        return self.arrays["frames"].shape[1]

    def clip(self, i: int) -> dict[str, np.ndarray]:
        return {k: v[i] for k, v in self.arrays.items()}

    def sample_pairs(self, rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
        """(source, driver) pairs from the same clip: ``source_*`` and ``driver_*`` arrays of ``batch`` rows."""
        c = rng.integers(len(self), size=batch)
        s, d = rng.integers(self.num_frames, size=(2, batch))
        out = {}
        for key in ("frames", "masks", "expression", "camera", "landmarks2d"):
            out[f"source_{key}"] = self.arrays[key][c, s]
            out[f"driver_{key}"] = self.arrays[key][c, d]
        out["clip"] = c
        return out

    def sample_clip_frames(self, rng: np.random.Generator, clips: int, frames: int) -> dict[str, np.ndarray]:
        """Distinct frames of random clips (contrastive batches): arrays ``(clips, frames, ...)``."""
        c = rng.choice(len(self), size=clips, replace=False)
        f = np.stack([rng.choice(self.num_frames, size=frames, replace=False) for _ in c])
        return {key: self.arrays[key][c[:, None], f] for key in ("frames", "expression", "camera")} | {"clip": c}
