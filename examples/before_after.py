"""The README's before/after GIF: driver | the example portrait | the portrait animated (whole photo, shown around
the head).

    python examples/before_after.py            # -> docs/images/before_after.gif (bundled checkpoint)

Uses only files of this repository (the example astronaut photo and the synthetic talking clip), the default
checkpoint and the app's defaults (relative camera, auto expression transfer, whole photo).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from export3d.media.image import load_image  # noqa: E402
from export3d.media.video import iter_frames  # noqa: E402
from export3d.pipeline import Animator  # noqa: E402

HEIGHT = 224  #: pixels of each panel
STEP = 3  #: keep every STEP-th frame (25 fps -> 8.3)
SPAN = 1.8  #: the photo panels show this many face-crop sides around the face (the whole photo is animated)


def head_and_shoulders(frame: np.ndarray, box) -> np.ndarray:
    """A square of ``SPAN`` face-crop sides around the face (inside the photo): the head with what surrounds it."""
    h, w = frame.shape[:2]
    side = min(h, w, round(SPAN * box.size))
    x0 = int(np.clip(round(box.cx - side / 2), 0, w - side))
    y0 = int(np.clip(round(box.cy - side * 0.42), 0, h - side))
    return frame[y0:y0 + side, x0:x0 + side]


def panel(frame: np.ndarray) -> Image.Image:
    im = Image.fromarray(frame)
    return im.resize((round(im.width * HEIGHT / im.height), HEIGHT), Image.Resampling.LANCZOS)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--portrait", type=Path, default=ROOT / "examples" / "portraits" / "astronaut.jpg")
    p.add_argument("--driver", type=Path, default=ROOT / "examples" / "drivers" / "talking.mp4")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "before_after.gif")
    a = p.parse_args(argv)
    anim = Animator.from_pretrained()
    src = anim.prepare_source(a.portrait)
    with tempfile.TemporaryDirectory() as tmp:
        res = anim.animate_video(src, a.driver, Path(tmp) / "out.mp4", audio=False)
        outputs = [head_and_shoulders(f, src.signals.box) for f in iter_frames(res.path)]
    drivers = list(iter_frames(a.driver))[: len(outputs)]
    photo = panel(head_and_shoulders(load_image(a.portrait), src.signals.box))
    frames = []
    for d, o in list(zip(drivers, outputs, strict=True))[::STEP]:
        tiles = [panel(d), photo, panel(o)]
        sheet = Image.new("RGB", (sum(t.width for t in tiles) + 2 * 6, HEIGHT), (255, 255, 255))
        x = 0
        for t in tiles:
            sheet.paste(t, (x, 0))
            x += t.width + 6
        frames.append(sheet.quantize(colors=96, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(a.out, save_all=True, append_images=frames[1:], duration=round(1000 * STEP / res.fps), loop=0,
                   optimize=True)
    print(f"wrote {a.out} ({len(frames)} frames, {a.out.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
