"""Generate the demo's example files (deterministic; the outputs are committed).

    python examples/make_examples.py            # writes examples/portraits/* and examples/drivers/*
    python examples/make_examples.py --check    # also runs the face extractor on every file

Portraits: the NASA astronaut photo shipped with scikit-image (public domain), whole (head, hair,
shoulders and the flag behind), and two synthetic people of the *test* split (never seen in training)
rendered frontally.
Drivers: a 4 s synthetic talking clip (25 fps, 256², blinks and a smile, with a synthetic voice-like
audio track so that the demo's audio copy can be seen) and two expression stills (smile, open mouth).
The synthetic renders need the ICT-FaceKit head model (``EXPORT3D_ICT_FACEKIT`` / ``EXPORT3D_DATA``,
see export3d/paths.py); the model itself is never copied here, only renders of it.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a clone without installing the package

PORTRAIT_SIZE = 512
DRIVER_SIZE = 256
CLIP_SECONDS = 4.0
FPS = 25.0
AUDIO_RATE = 16000
ASTRONAUT_CROP = (slice(0, 512), slice(0, 512))  #: rows, cols: the whole photo (hair, shoulders, suit, flag), so
#: that the demo's whole-photo output shows the head animated in its own picture
#: (file stem, test-split identity index, lighting/background seed, yaw, pitch)
PORTRAITS = (("synthetic_a", 2, 11, 0.0, 0.0), ("synthetic_b", 4, 12, 0.0, 0.0))
CLIP_IDENTITY = 9  #: test-split identity of the talking clip
STILL_IDENTITY = 5  #: test-split identity of the expression stills
JPEG_QUALITY = 92


def _expression(**weights: float) -> np.ndarray:
    """(57,) ICT expression weights from ``name=weight`` (a name without _L/_R sets both sides)."""
    from export3d.synthetic.motion import ICT_EXPRESSION_NAMES

    vec = np.zeros(len(ICT_EXPRESSION_NAMES), np.float32)
    for name, weight in weights.items():
        keys = [k for k in (name, name + "_L", name + "_R") if k in ICT_EXPRESSION_NAMES]
        if not keys:
            raise KeyError(name)
        for key in keys:
            vec[ICT_EXPRESSION_NAMES.index(key)] = weight
    return vec


STILLS = {  # file stem -> (expression, yaw, pitch): the head is turned a little so that "follow head" shows
    "smile": (_expression(mouthSmile=0.9, cheekSquint=0.45, cheekRaiser=0.35, eyeSquint=0.25, mouthDimple=0.2),
              -12.0, 4.0),
    "open_mouth": (_expression(jawOpen=0.75, mouthLowerDown=0.4, mouthUpperUp=0.2, browInnerUp=0.6,
                               browOuterUp=0.5, eyeWide=0.4), 10.0, -4.0),
}


def save_jpeg(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, quality=JPEG_QUALITY, optimize=True)


def make_astronaut(out: Path) -> Path:
    from skimage import data

    path = out / "portraits" / "astronaut.jpg"
    save_jpeg(path, np.ascontiguousarray(data.astronaut()[ASTRONAUT_CROP]))
    return path


def _renderer(size: int):
    import torch

    from export3d.synthetic.ict_model import ICTFaceModel
    from export3d.synthetic.scene import SceneRenderer

    torch.set_num_threads(1)
    return SceneRenderer(ICTFaceModel(), size)


def _still(renderer, identity: int, seed: int, expression: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    from export3d.synthetic.appearance import sample_background, sample_lighting
    from export3d.synthetic.clips import cameras_for, identity_seed
    from export3d.synthetic.scene import Person

    rng = np.random.default_rng([2024, seed])
    prepared = renderer.prepare(Person.from_seed(identity_seed("test", identity)))
    camera = cameras_for([yaw], [pitch], [0.0], [[0.0, 0.0, 0.0]])[0]
    return renderer.render(prepared, expression, camera, sample_lighting(rng),
                           sample_background(rng, renderer.size)).image


def make_portraits(out: Path) -> list[Path]:
    renderer = _renderer(PORTRAIT_SIZE)
    paths = []
    neutral = _expression(mouthSmile=0.15)  # a hint of a smile, eyes open
    for stem, identity, seed, yaw, pitch in PORTRAITS:
        path = out / "portraits" / f"{stem}.jpg"
        save_jpeg(path, _still(renderer, identity, seed, neutral, yaw, pitch))
        paths.append(path)
    return paths


def make_stills(out: Path) -> list[Path]:
    renderer = _renderer(DRIVER_SIZE)
    paths = []
    for stem, (expression, yaw, pitch) in STILLS.items():
        path = out / "drivers" / f"{stem}.jpg"
        save_jpeg(path, _still(renderer, STILL_IDENTITY, 20, expression, yaw, pitch))
        paths.append(path)
    return paths


def _clip_motion():
    """The first motion seed whose 4 s contain talking, a full blink and a clear smile (deterministic)."""
    from export3d.synthetic.motion import MotionConfig, sample_motion

    cfg = MotionConfig(fps=FPS, yaw_range=25.0, pitch_range=12.0, roll_range=6.0, smile_rate=0.4,
                       blink_rate=0.6, wink_probability=0.0, talk_fraction=0.8)
    frames = int(round(CLIP_SECONDS * FPS))
    for seed in range(1000):
        m = sample_motion(frames, np.random.default_rng([77, seed]), cfg, start_pose=(0.0, 0.0, 0.0))
        ev = m.events
        if ev["blink"].any() and ev["smile"].max() > 0.4 and ev["talking"].mean() > 0.5 and ev["smile"][0] < 0.05:
            return m
    raise RuntimeError("no motion seed met the requirements")


def _voice(motion, frames: int) -> np.ndarray:
    """A voice-like buzz (glottal pulses through two formants) following the jaw: int16 mono."""
    from scipy.signal import lfilter

    from export3d.synthetic.motion import ICT_EXPRESSION_NAMES

    n = int(round(frames / FPS * AUDIO_RATE))
    t = np.arange(n) / AUDIO_RATE
    frame_t = np.arange(frames) / FPS
    jaw = motion.expression[:, ICT_EXPRESSION_NAMES.index("jawOpen")]
    talking = motion.events["talking"].astype(np.float64)
    env = np.interp(t, frame_t, np.clip(jaw * 2.0, 0, 1) * talking)
    f0 = 125.0 + 12.0 * np.sin(2 * np.pi * 0.7 * t)
    phase = np.cumsum(f0) / AUDIO_RATE
    pulses = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(np.float64)
    sig = pulses
    for freq, bw in ((650.0, 90.0), (1150.0, 120.0), (2500.0, 200.0)):
        r = np.exp(-np.pi * bw / AUDIO_RATE)
        sig = sig + lfilter([1.0 - r], [1.0, -2 * r * np.cos(2 * np.pi * freq / AUDIO_RATE), r * r], pulses)
    sig = sig * env
    sig = sig / max(np.abs(sig).max(), 1e-9) * 0.5
    return np.round(sig * 32767).astype(np.int16)


def make_clip(out: Path) -> Path:
    from scipy.io import wavfile

    from export3d.media.encode import write_video
    from export3d.synthetic.appearance import sample_background, sample_lighting
    from export3d.synthetic.clips import cameras_for, identity_seed, render_frames
    from export3d.synthetic.scene import Person

    renderer = _renderer(DRIVER_SIZE)
    motion = _clip_motion()
    rng = np.random.default_rng([2024, 30])
    prepared = renderer.prepare(Person.from_seed(identity_seed("test", CLIP_IDENTITY)))
    cameras = cameras_for(motion.yaw, motion.pitch, motion.roll, motion.translation)
    frames = render_frames(renderer, prepared, motion.expression, cameras, sample_lighting(rng),
                           sample_background(rng, DRIVER_SIZE))
    path = out / "drivers" / "talking.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "voice.wav"
        wavfile.write(wav, AUDIO_RATE, _voice(motion, len(frames)))
        write_video(path, (f.image for f in frames), FPS, audio_from=wav, quality=6)
    return path


def check(paths: list[Path]) -> None:
    """Every example must give a face to the extractor (the video: its first frame)."""
    from export3d.blendshapes import BLENDSHAPE_NAMES
    from export3d.face.extractor import FaceExtractor
    from export3d.media.image import load_image
    from export3d.media.probe import probe_video
    from export3d.media.video import iter_frames

    ex = FaceExtractor()
    names = ("mouthSmileLeft", "jawOpen", "eyeBlinkLeft")
    idx = [BLENDSHAPE_NAMES.index(n) for n in names]
    for p in paths:
        if p.suffix == ".mp4":
            info = probe_video(p)
            image = next(iter(iter_frames(p, max_frames=1)))
            extra = f" | {info}"
        else:
            image, extra = load_image(p), ""
        s = ex.extract(image)
        scores = " ".join(f"{n}={s.beta[i]:.2f}" for n, i in zip(names, idx, strict=True))
        print(f"  {p.name}: {image.shape[1]}x{image.shape[0]}, yaw {s.angles[0]:+.1f} pitch {s.angles[1]:+.1f}, "
              f"{scores}{extra}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=HERE, help="output folder (default: examples/)")
    ap.add_argument("--check", action="store_true", help="run the face extractor on every generated file")
    a = ap.parse_args(argv)
    paths = [make_astronaut(a.out), *make_portraits(a.out), *make_stills(a.out), make_clip(a.out)]
    total = 0
    for p in paths:
        data = p.read_bytes()
        total += len(data)
        print(f"{p.relative_to(a.out)}  {len(data) / 1024:.0f} KiB  sha256 {hashlib.sha256(data).hexdigest()[:16]}")
    print(f"total {total / 1024:.0f} KiB")
    if a.check:
        check(paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
