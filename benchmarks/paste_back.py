"""Paste-back figures: size, stillness far from the face, the seam, and the cost (prints them).

    python benchmarks/paste_back.py                       # shared Biden portrait + GRID clip bbaf2n, 5 s
    python benchmarks/paste_back.py --portrait P --driver D --width 910 --height 1137

The portrait is scaled to ``--width`` and cut to ``--height`` rows from the top (a head-and-shoulders photo of that
size), written to a temporary folder (never to the repository). Then:

* the whole-photo video of ``--seconds`` of the driver: its size, and per frame the grey-level difference to the
  photo of the pixels farther than 1.5 face widths from the face (landmark box; max and 99th percentile, after
  H.264), and the face region's mean change;
* the seam: mean grey-level gradient magnitude in the feather band at the crop box's border (where the field fades
  out), in the output frames and in the photo itself (the ratio should be about 1), and inside the photo overall;
* the time of the whole-photo video against the face-crop video (``--crop``), and the same at 1080x1920 (portrait
  orientation, 1080p's pixel count).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from export3d.media.encode import write_video  # noqa: E402
from export3d.media.image import load_image, save_image  # noqa: E402
from export3d.media.video import iter_frames  # noqa: E402
from export3d.paths import shared_data_dir  # noqa: E402
from export3d.pipeline import Animator, ExpressionSettings  # noqa: E402
from export3d.pipeline.paste import FEATHER  # noqa: E402
from export3d.runtime import thread_governor  # noqa: E402


def sized_photo(path: Path, width: int, height: int) -> np.ndarray:
    rgb = load_image(path)
    h, w = rgb.shape[:2]
    rows = round(h * width / w)
    scaled = cv2.resize(rgb, (width, rows), interpolation=cv2.INTER_AREA if width < w else cv2.INTER_CUBIC)
    if rows < height:
        raise SystemExit(f"{path.name} scaled to {width} wide has only {rows} rows (< {height})")
    return np.ascontiguousarray(scaled[:height])


def grey(x: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float32)


def gradient(g: np.ndarray) -> np.ndarray:
    return np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)) / 8


def masks(src, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(far, face, band)`` boolean maps of the output: far from the face, the face's landmark box, the box's
    feather band."""
    h, w = shape
    marks = src.signals.landmarks[:, :2]
    (x0, y0), (x1, y1) = marks.min(0), marks.max(0)
    fw = x1 - x0
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    dx = np.maximum(np.maximum(x0 - xx, xx - x1), 0)
    dy = np.maximum(np.maximum(y0 - yy, yy - y1), 0)
    far = np.hypot(dx, dy) > 1.5 * fw
    face = (dx == 0) & (dy == 0)
    b = src.signals.box
    inside = lambda m: (xx > b.x0 + m) & (xx < b.x0 + b.size - m) & (yy > b.y0 + m) & (yy < b.y0 + b.size - m)  # noqa: E731
    band = inside(0) & ~inside(FEATHER * b.size)
    return far, face, band


def animate(anim: Animator, photo: Path, driver: Path, out: Path, seconds: float, crop: bool) -> tuple[float, object]:
    src = anim.prepare_source(photo)
    anim.canvas(src, crop)  # made once per portrait, like the app's prepare
    t0 = time.perf_counter()
    res = anim.animate_video(src, driver, out, max_seconds=seconds, audio=False, crop=crop,
                             expression=ExpressionSettings())
    return time.perf_counter() - t0, res


def main(argv=None) -> int:
    data = shared_data_dir()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--portrait", type=Path, default=data / "portraits" / "biden_official_2013.jpg")
    p.add_argument("--driver", type=Path, default=data / "grid" / "bbaf2n.mpg")
    p.add_argument("--width", type=int, default=910)
    p.add_argument("--height", type=int, default=1137)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--no-1080p", action="store_true")
    p.add_argument("--repeats", type=int, default=3, help="timed runs of each output (alternated)")
    a = p.parse_args(argv)
    for f in (a.portrait, a.driver):
        if not f.is_file():
            print(f"missing {f} (shared data: EXPORT3D_DATA)")
            return 2
    anim = Animator.from_pretrained(governor=thread_governor())  # threads as the app and the CLI choose them
    tmp = Path(tempfile.mkdtemp(prefix="paste_back_"))
    photo_path = save_image(tmp / "photo.png", sized_photo(a.portrait, a.width, a.height))
    _, res = animate(anim, photo_path, a.driver, tmp / "full.mp4", a.seconds, crop=False)
    frames = list(iter_frames(res.path))
    photo = load_image(photo_path)[: frames[0].shape[0], : frames[0].shape[1]]
    src = anim.prepare_source(photo_path)
    far, face, band = masks(src, frames[0].shape[:2])
    g0 = grey(photo)
    far_max, far_p99, face_change, seam, flicker = [], [], [], [], []
    first = grey(frames[0])
    for f in frames:
        d = np.abs(grey(f) - g0)
        flicker.append(np.abs(grey(f) - first)[far].max())
        far_max.append(d[far].max())
        far_p99.append(np.percentile(d[far], 99))
        face_change.append(d[face].mean())
        seam.append(gradient(grey(f))[band].mean())
    grad_photo = gradient(g0)
    codec = grey(next(iter_frames(write_video(tmp / "photo.mp4", [photo] * 3, 25.0)))) - g0  # H.264's own error
    print(f"the photo itself through H.264: far pixels max {np.abs(codec[far]).max():.1f}, "
          f"99th percentile {np.percentile(np.abs(codec[far]), 99):.1f}")
    print(f"portrait {a.portrait.name} as {a.width}x{a.height}, driver {a.driver.name}, {len(frames)} frames")
    print(f"output size (W x H): {frames[0].shape[1]} x {frames[0].shape[0]}")
    print(f"far pixels ({far.mean():.0%} of the frame): grey |out - photo| max over frames {max(far_max):.1f}, "
          f"99th percentile (worst frame) {max(far_p99):.1f}")
    print(f"far pixels from frame to frame (against the video's first frame): max {max(flicker):.1f}")
    print(f"face region mean change: {np.mean(face_change):.1f} grey levels (min frame {min(face_change):.1f})")
    print(f"seam: mean gradient in the feather band {np.mean(seam):.2f} (frames) vs {grad_photo[band].mean():.2f} "
          f"(the photo there), {grad_photo.mean():.2f} (the whole photo)")
    sizes = [(photo_path, f"{a.width}x{a.height}")]
    if not a.no_1080p:
        sizes.append((save_image(tmp / "photo1080.png", sized_photo(a.portrait, 1080, 1920)), "1080x1920"))
    for path, name in sizes:  # alternated, 3 runs each: single runs on this machine spread by 20 %
        runs = {False: [], True: []}
        for _ in range(a.repeats):
            for crop in (False, True):
                runs[crop].append(animate(anim, path, a.driver, tmp / "t.mp4", a.seconds, crop)[0])
        full_s, crop_s = np.median(runs[False]), np.median(runs[True])
        print(f"time at {name}, {res.frames} frames: whole photo {full_s:.1f} s, face crop {crop_s:.1f} s (medians of "
              f"{a.repeats}: {', '.join(f'{x:.1f}' for x in runs[False])} / {', '.join(f'{x:.1f}' for x in runs[True])}"
              f"), +{100 * (full_s / crop_s - 1):.0f}%")
    print(f"outputs in {tmp}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
