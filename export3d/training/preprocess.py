"""Real-video training data: ``python -m export3d.training preprocess VIDEOS OUT [--shard i/n]``.

Every video is decoded (``export3d.media.video``), tracked by the same face extractor as inference
(``FaceExtractor.track``, no smoothing) and, for every frame, the model-input crop
``CropTransform(signals.box, size).warp(frame)`` is stored with beta and the camera. The frames are
cut into clips of ``clip_frames`` consecutive frames (a shorter tail is dropped; a clip needs at
least two frames with a tracked face). One file per video, ``OUT/real-<stem>.npz``
(``np.savez_compressed``, no pickles):

| key | shape | dtype | meaning |
|---|---|---|---|
| frames | (C, F, S, S, 3) | uint8 | model-input crops (RGB) |
| beta | (C, F, 52) | float32 | extractor beta; NaN rows where the face was lost |
| camera | (C, F, 25) | float32 | EG3D camera (interpolated where the face was lost) |
| valid | (C, F) | bool | the face was tracked in this frame (not interpolated) |
| box | (C, F, 3) | float64 | crop square in the video frame: centre x, centre y, side (pixels) |
| frame_index | (C, F) | int32 | index of the frame in the decoded video (before ``every``) |

plus ``OUT/real-<stem>.json`` (source file, fps, frame counts, lost frames, seconds taken). Files are
written under a temporary name and renamed, so an existing npz is always complete; a rerun skips
videos whose npz exists (resumable). ``--shard i/n`` takes the videos whose index in the sorted list
is ``i`` modulo ``n``, so ``n`` machines can share a folder without coordination. Unreadable videos
and videos without a usable face are reported and listed in ``OUT/preprocess-errors-<i>of<n>.txt``.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..blendshapes import BETA_DIM
from ..media.files import atomic_write
from ..media.kind import VIDEO_SUFFIXES

PREFIX = "real-"
FORMAT_VERSION = 1


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with ``0 <= i < n``; ``ValueError`` with a clear sentence otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m:
        raise ValueError(f"--shard must look like i/n (for example 0/4), got {text!r}")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1:
        raise ValueError(f"--shard {text}: the number of shards n must be at least 1")
    if i >= n:
        raise ValueError(f"--shard {text}: the shard index i must be between 0 and n-1 = {n - 1} (0-based)")
    return i, n


def list_videos(path: str | Path) -> list[Path]:
    """A single video file, or the videos directly inside a folder, sorted by file name."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is neither a video file nor a folder")
    return sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES),
                  key=lambda p: p.name)


def shard_videos(videos: list[Path], index: int, count: int) -> list[Path]:
    """The videos whose position in ``videos`` is ``index`` modulo ``count``."""
    return [v for k, v in enumerate(videos) if k % count == index]


def output_path(out: Path, video: Path) -> Path:
    return out / f"{PREFIX}{video.stem}.npz"


def errors_path(out: Path, index: int, count: int) -> Path:
    return out / f"preprocess-errors-{index}of{count}.txt"


class VideoSkipped(Exception):
    """A video that gives no training data (too short, no usable clip); the message says why."""


@dataclass
class Summary:
    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    clips: int = 0
    frames: int = 0
    lost: int = 0
    seconds: float = 0.0  #: time spent on the videos processed in this run

    def line(self) -> str:
        fps = self.frames / self.seconds if self.seconds > 0 else 0.0
        return (f"videos: {self.done} done, {self.skipped} skipped (already done), {len(self.failed)} failed; "
                f"{self.clips} clips, {self.frames} frames ({self.lost} lost) in {self.seconds:.1f} s "
                f"= {fps:.1f} frames/s")


def process_video(video: Path, extractor, size: int = 128, max_seconds: float | None = 30.0, every: int = 1,
                  clip_frames: int = 32) -> tuple[dict[str, np.ndarray], dict]:
    """Decode, track and crop one video; returns ``(arrays, meta)`` (see the module docstring).

    Raises ``FaceInputError`` for unreadable videos or videos without any face, ``VideoSkipped``
    when the video yields no usable clip.
    """
    from ..face.crop import CropTransform
    from ..media.video import open_video

    t0 = time.time()
    with open_video(video, max_seconds=max_seconds or None) as reader:
        fps = reader.info.fps
        pending: deque[tuple[int, np.ndarray]] = deque()

        def frames() -> Iterator[np.ndarray]:
            for k, frame in itertools.islice(enumerate(reader), 0, None, every):
                pending.append((k, frame))
                yield frame

        crops, beta, camera, valid, box, index = [], [], [], [], [], []
        # signals come in frame order, but a lost frame is only yielded once the face is found again
        for s in extractor.track(frames(), fps / every, smoothing=0.0):
            k, frame = pending.popleft()
            crops.append(CropTransform(s.box, size).warp(frame))
            ok = not s.interpolated
            beta.append(s.beta if ok else np.full(BETA_DIM, np.nan, np.float32))
            camera.append(s.camera)
            valid.append(ok)
            box.append((s.box.cx, s.box.cy, s.box.size))
            index.append(k)
        height, width = reader.info.height, reader.info.width
    n = len(crops)
    c = n // clip_frames
    if c == 0:
        raise VideoSkipped(f"too short: {n} frames, a clip needs {clip_frames} (--clip-frames)")
    use = c * clip_frames

    def clipped(values, dtype) -> np.ndarray:
        a = np.asarray(values[:use], dtype=dtype)
        return a.reshape(c, clip_frames, *a.shape[1:])

    arrays = {"frames": clipped(crops, np.uint8), "beta": clipped(beta, np.float32),
              "camera": clipped(camera, np.float32), "valid": clipped(valid, bool),
              "box": clipped(box, np.float64), "frame_index": clipped(index, np.int32)}
    keep = arrays["valid"].sum(1) >= 2
    if not keep.any():
        raise VideoSkipped("no clip has two frames with a tracked face")
    arrays = {k: v[keep] for k, v in arrays.items()}
    meta = {"format_version": FORMAT_VERSION, "source": video.name, "fps": fps, "fps_stored": fps / every,
            "every": every, "width": width, "height": height, "size": size, "clip_frames": clip_frames,
            "max_seconds": max_seconds, "frames_tracked": n, "lost_frames": int(n - sum(valid)),
            "clips": int(keep.sum()), "clips_dropped": int(c - keep.sum()), "tail_frames_dropped": n - use,
            "seconds": round(time.time() - t0, 2)}
    return arrays, meta



def save_video_cache(out: Path, video: Path, arrays: dict[str, np.ndarray], meta: dict) -> Path:
    """The JSON sidecar first, then the npz (so an existing npz always has its sidecar); both atomic."""
    final = output_path(out, video)
    text = json.dumps(meta, indent=2) + "\n"
    atomic_write(final.with_suffix(".json"), lambda p: p.write_text(text))
    atomic_write(final, lambda p: np.savez_compressed(p, **arrays))
    return final


def preprocess(videos: str | Path, out: str | Path, shard: tuple[int, int] = (0, 1), size: int = 128,
               max_seconds: float | None = 30.0, every: int = 1, clip_frames: int = 32, progress: bool = True,
               extractor=None, log=None) -> Summary:
    """Preprocess this shard's videos into ``out`` (resumable); returns a :class:`Summary`.

    ``log(message)`` receives the warning lines (default: stderr, without breaking the progress bar).
    """
    from ..errors import FaceInputError, ModelFileError

    if size < 8:
        raise ValueError(f"--size must be at least 8, got {size}")
    if every < 1:
        raise ValueError(f"--every must be at least 1, got {every}")
    if clip_frames < 2:
        raise ValueError(f"--clip-frames must be at least 2, got {clip_frames}")
    if max_seconds is not None and max_seconds < 0:
        raise ValueError(f"--max-seconds must be >= 0 (0 = whole video), got {max_seconds}")
    index, count = shard
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} is not in 0..{count - 1}")
    out = Path(out)
    everything = list_videos(videos)
    if not everything:
        raise FileNotFoundError(f"no videos ({' '.join(sorted(VIDEO_SUFFIXES))}) in {videos}")
    mine = shard_videos(everything, index, count)
    out.mkdir(parents=True, exist_ok=True)
    summary = Summary()
    errors = errors_path(out, index, count)
    errors.unlink(missing_ok=True)
    log = log or (lambda message: tqdm.write(message, file=sys.stderr))

    def fail(name: str, why: str) -> None:
        summary.failed.append((name, why))
        log(f"warning: skipped {name}: {why}")
        errors.write_text("".join(f"{n}\t{w}\n" for n, w in summary.failed))

    stems: dict[str, str] = {}
    for v in everything:  # the first video (sorted) of a name stem owns real-<stem>.npz on every machine
        stems.setdefault(v.stem, v.name)
    todo = []
    for v in mine:
        if stems[v.stem] != v.name:
            fail(v.name, f"same name stem as {stems[v.stem]}, whose output is {output_path(out, v).name}")
        elif output_path(out, v).exists():
            summary.skipped += 1
        else:
            todo.append(v)
    if todo and extractor is None:
        from ..face.extractor import FaceExtractor

        extractor = FaceExtractor()  # one per process (model loading dominates short videos)
    for v in tqdm(todo, desc=f"preprocess {index}/{count}", unit="video", disable=not progress):
        t0 = time.time()
        try:
            arrays, meta = process_video(v, extractor, size, max_seconds, every, clip_frames)
            save_video_cache(out, v, arrays, meta)
        except ModelFileError:
            raise
        except (FaceInputError, VideoSkipped) as e:
            fail(v.name, str(e))
        except Exception as e:  # noqa: BLE001 - one bad video must not stop the others
            fail(v.name, f"{type(e).__name__}: {e}")
        else:
            summary.done += 1
            summary.clips += meta["clips"]
            summary.frames += meta["frames_tracked"]
            summary.lost += meta["lost_frames"]
            summary.seconds += time.time() - t0
    return summary


def main(args) -> int:
    """The ``preprocess`` command of ``python -m export3d.training`` (arguments parsed there)."""
    from ..errors import ModelFileError

    try:
        shard = parse_shard(args.shard)
        s = preprocess(args.videos, args.out, shard, args.size, args.max_seconds, args.every, args.clip_frames,
                       progress=not args.quiet)
    except (FileNotFoundError, ValueError, ModelFileError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(s.line())
    if s.failed:
        print(f"failed videos are listed in {errors_path(Path(args.out), *shard)}")
    return 0
