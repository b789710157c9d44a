"""Procedural talking-head motion: ICT-FaceKit blendshape weights and a head pose for every frame.

``sample_motion`` draws a clip of ``F`` frames at ``MotionConfig.fps``: speech (syllable visemes, talking
segments alternating with pauses), blinks and winks, smiles, brow raises and frowns, gaze saccades, a few
low-amplitude extras, and a smooth head pose given as a camera orbiting the head (yaw, pitch, roll in
degrees, see docs/conventions.md) plus a small translation of the look-at point. Everything is vectorised
over frames and events (no Python loop over frames) and deterministic given the ``Generator``.

Per-frame change bounds with the default config at 25 fps (checked in tests/test_motion.py):
head angles <= ``max_head_speed / fps`` = 2.4 deg; ``SPEECH_SHAPES`` <= 0.5; every other shape except
eyeBlink (blinks) and eyeLook (saccades) <= 0.2.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

ICT_EXPRESSION_NAMES: tuple[str, ...] = tuple("""
PupilDilate_L PupilDilate_R browDown_L browDown_R browInnerUp_L browInnerUp_R browOuterUp_L browOuterUp_R
cheekPuff_L cheekPuff_R cheekRaiser_L cheekRaiser_R cheekSquint_L cheekSquint_R eyeBlink_L eyeBlink_R
eyeLookDown_L eyeLookDown_R eyeLookIn_L eyeLookIn_R eyeLookOut_L eyeLookOut_R eyeLookUp_L eyeLookUp_R
eyeSquint_L eyeSquint_R eyeWide_L eyeWide_R jawForward jawLeft jawOpen jawRight mouthClose mouthDimple_L
mouthDimple_R mouthFrown_L mouthFrown_R mouthFunnel mouthLeft mouthLowerDown_L mouthLowerDown_R mouthPress_L
mouthPress_R mouthPucker mouthRight mouthRollLower mouthRollUpper mouthShrugLower mouthShrugUpper mouthSmile_L
mouthSmile_R mouthStretch_L mouthStretch_R mouthUpperUp_L mouthUpperUp_R noseSneer_L noseSneer_R
""".split())  #: the 57 ICT-FaceKit expression blendshapes, in the model's order; _L/_R = the subject's side.
_INDEX = {name: i for i, name in enumerate(ICT_EXPRESSION_NAMES)}


def _shapes(**weights: float) -> np.ndarray:
    """(57,) float32 vector from ``name=weight``; a name without ``_L``/``_R`` sets both sides."""
    vec = np.zeros(len(ICT_EXPRESSION_NAMES), np.float32)
    for name, weight in weights.items():
        for key in (name, name + "_L", name + "_R"):
            if key in _INDEX:
                vec[_INDEX[key]] = weight
    return vec


#: Vowel visemes ("aa", "ee", "oo", "oh", "eh"), the open phase of a syllable: (5, 57).
VOWEL_VISEMES = np.stack([
    _shapes(jawOpen=0.5, mouthLowerDown=0.3, mouthUpperUp=0.15),
    _shapes(jawOpen=0.3, mouthStretch=0.4, mouthUpperUp=0.2, mouthLowerDown=0.2),
    _shapes(jawOpen=0.3, mouthPucker=0.6, mouthFunnel=0.3),
    _shapes(jawOpen=0.4, mouthFunnel=0.5, mouthPucker=0.2, mouthShrugLower=0.1),
    _shapes(jawOpen=0.4, mouthStretch=0.2, mouthLowerDown=0.25),
])
#: Consonant visemes ("p b m", "f v", "t d s n", "ch sh"), the nearly closed phase: (4, 57).
CONSONANT_VISEMES = np.stack([
    _shapes(jawOpen=0.03, mouthClose=0.03, mouthPress=0.35, mouthRollLower=0.1, mouthRollUpper=0.1),
    _shapes(jawOpen=0.08, mouthRollLower=0.4, mouthUpperUp=0.2),
    _shapes(jawOpen=0.1, mouthStretch=0.15, mouthLowerDown=0.1),
    _shapes(jawOpen=0.08, mouthFunnel=0.3, mouthPucker=0.25, mouthShrugUpper=0.2),
])
#: Names of the shapes driven by speech.
SPEECH_SHAPES: tuple[str, ...] = tuple(np.array(ICT_EXPRESSION_NAMES)[
    np.concatenate([VOWEL_VISEMES, CONSONANT_VISEMES]).any(0)].tolist())


@dataclass(frozen=True)
class MotionConfig:
    """Parameters of ``sample_motion``: times in seconds, rates in events per second, angles in degrees."""

    fps: float = 25.0  #: frames per second of the clip.
    yaw_range: float = 35.0  #: |yaw| never exceeds this (positive = camera to the viewer's right).
    pitch_range: float = 20.0  #: |pitch| never exceeds this (positive = camera up).
    roll_range: float = 10.0  #: |roll| never exceeds this (positive = image counter-clockwise).
    translation_range: float = 0.02  #: |look-at offset| per axis never exceeds this (world units).
    head_spread: float = 0.4  #: std of the raw head signal as a fraction of each range (before the soft limit).
    head_band: tuple[float, float] = (0.02, 0.4)  #: frequency band (Hz) of the head-motion sinusoids.
    max_head_speed: float = 60.0  #: bound on |d angle / dt| (deg/s) of yaw, pitch and roll.
    head_recenter: float = 10.0  #: time constant (s) of the drift from the start pose back to the centre.
    blink_rate: float = 0.35  #: blinks per second, winks included (rates above ~2.5/s saturate).
    blink_duration: tuple[float, float] = (0.12, 0.3)  #: uniform range of a blink's length, closing 40%.
    wink_probability: float = 0.1  #: fraction of blink events that close one eye only (the other stays < 0.2).
    talk_fraction: float = 0.7  #: expected fraction of time spent talking; the rest are pauses.
    talk_duration: float = 3.0  #: mean talking-segment length; pauses average talk_duration * (1 - f) / f.
    syllable_rate: float = 4.5  #: syllables per second while talking; one jaw open/close cycle each.
    speech_strength: float = 1.0  #: scale of the viseme targets (jawOpen peaks at ~0.55).
    smile_rate: float = 0.05  #: smile episodes per second (1-4 s plateaus, 0.5-1 s ramps).
    smile_strength: float = 0.7  #: mouthSmile of the strongest smiles (+-15% left/right asymmetry).
    brow_raise_rate: float = 0.12  #: brow raises (browInnerUp + browOuterUp) per second.
    brow_raise_strength: float = 0.6  #: browInnerUp of the strongest raises.
    frown_rate: float = 0.03  #: frowns (browDown) per second.
    frown_strength: float = 0.5  #: browDown of the strongest frowns.
    saccade_rate: float = 1.2  #: gaze saccades per second (fixations last >= 0.2 s).
    saccade_duration: float = 0.1  #: length of one saccade transition (2.5 frames at 25 fps).
    gaze_spread: float = 0.35  #: std of horizontal gaze targets in [-1, 1] (vertical: 0.6x); 40% near the camera.
    gaze_strength: float = 0.6  #: eyeLook weight at full deflection.
    extra_strength: float = 1.0  #: scale of the small extras: jaw/mouth sideways, cheekPuff, noseSneer, pupils.

    def __post_init__(self):
        if self.fps <= 0 or min(self.yaw_range, self.pitch_range, self.roll_range, self.translation_range) < 0:
            raise ValueError("fps must be > 0 and ranges >= 0")
        if not (0 <= self.wink_probability <= 1 and 0 <= self.talk_fraction <= 1) or self.head_recenter <= 0:
            raise ValueError("wink_probability and talk_fraction must be in [0, 1], head_recenter > 0")
        if min(self.syllable_rate, self.talk_duration, self.saccade_duration, *self.blink_duration) <= 0:
            raise ValueError("syllable_rate, talk_duration, saccade_duration and blink_duration must be > 0")


@dataclass
class Motion:
    """One clip of ``F`` frames (arrays float32 unless noted)."""

    expression: np.ndarray  #: (F, 57) in [0, 1], columns in ``ICT_EXPRESSION_NAMES`` order.
    yaw: np.ndarray  #: (F,) degrees, camera orbit (positive = camera to the viewer's right).
    pitch: np.ndarray  #: (F,) degrees (positive = camera up).
    roll: np.ndarray  #: (F,) degrees (positive = image counter-clockwise).
    translation: np.ndarray  #: (F, 3) world units, offset of the look-at point.
    events: dict[str, np.ndarray] = field(default_factory=dict)  #: (F,) annotations, see ``sample_motion``.
    fps: float = 25.0  #: frame rate of the clip.


def _cover(draw: Callable[[int], np.ndarray], span: float, batch: int) -> np.ndarray:
    """Cumulative sums of ``draw(batch)`` intervals, extended until the last one exceeds ``span``: (K,)."""
    times = np.cumsum(draw(batch))
    while times[-1] <= span:
        times = np.concatenate([times, times[-1] + np.cumsum(draw(batch))])
    return times


def _poisson(rng: np.random.Generator, rate: float, t0: float, t1: float, min_gap: float = 0.0) -> np.ndarray:
    """Event times in (t0, t1): intervals ``min_gap + Exp`` with mean ``1 / rate`` (refractory Poisson): (E,)."""
    if rate <= 0:
        return np.zeros(0)
    mean = max(1.0 / rate - min_gap, 1e-3)
    times = t0 + _cover(lambda m: min_gap + rng.exponential(mean, m), t1 - t0, int((t1 - t0) * rate) + 2)
    return times[times < t1]


def _bumps(t: np.ndarray, start: np.ndarray, rise: np.ndarray, hold: np.ndarray, fall: np.ndarray,
           amp: np.ndarray) -> np.ndarray:
    """Max over events of raised-cosine ramps and plateaus: t (F,); start..fall (E,); amp (E, C) -> (F, C).
    Event ``e`` rises over ``rise[e]`` from ``start[e]``, holds ``amp[e]`` for ``hold[e]``, falls over ``fall[e]``;
    its slope never exceeds ``pi / 2 * amp / min(rise, fall)``.
    """
    if len(start) == 0:
        return np.zeros((len(t), amp.shape[1]))
    dt = t[None, :] - start[:, None]
    x = np.clip(np.minimum(dt / rise[:, None], ((rise + hold + fall)[:, None] - dt) / fall[:, None]), 0.0, 1.0)
    return ((0.5 - 0.5 * np.cos(np.pi * x))[:, :, None] * amp[:, None, :]).max(0)


def _interp(times: np.ndarray, values: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smoothstep between keyframes (times (K,) increasing, values (K, D)) at t (F,), held outside.
    Returns the values (F, D) and the keyframe segment index (F,) of every frame."""
    seg = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    a = np.clip((t - times[seg]) / (times[seg + 1] - times[seg]), 0.0, 1.0)
    return values[seg] + (values[seg + 1] - values[seg]) * (a * a * (3 - 2 * a))[:, None], seg


def _noise(rng: np.random.Generator, t: np.ndarray, dims: int, band: tuple[float, float], k: int = 5) -> np.ndarray:
    """Smooth zero-mean noise of unit variance: sums of ``k`` random sinusoids in ``band`` (Hz): (F, dims)."""
    freq = np.exp(rng.uniform(np.log(band[0]), np.log(band[1]), (dims, k)))
    amp = rng.uniform(0.5, 1.0, (dims, k)) / np.sqrt(freq)  # more power at low frequencies
    amp *= np.sqrt(2.0 / (amp**2).sum(1, keepdims=True))
    phase = rng.uniform(0.0, 2 * np.pi, (dims, k))
    return (np.sin(2 * np.pi * freq * t[:, None, None] + phase) * amp).sum(-1)


def _head(rng: np.random.Generator, t: np.ndarray, cfg: MotionConfig,
          start_pose: tuple[float, float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    """Yaw, pitch, roll (F, 3) in degrees and the look-at translation (F, 3):
    random sinusoids plus the start offset (decaying with time constant ``head_recenter``), rate-limited to
    ``max_head_speed`` and passed through the soft limit ``range * tanh(x / range)`` (1-Lipschitz).
    """
    ranges = np.array([cfg.yaw_range, cfg.pitch_range, cfg.roll_range])
    start = rng.uniform(-0.6, 0.6, 3) * ranges if start_pose is None else np.asarray(start_pose, float)
    safe = np.maximum(ranges, 1e-9)
    x0 = safe * np.arctanh(np.clip(start / safe, -0.99, 0.99))
    raw = _noise(rng, t, 3, cfg.head_band) * cfg.head_spread * ranges + x0 * np.exp(-t / cfg.head_recenter)[:, None]
    vmax = cfg.max_head_speed / cfg.fps
    raw = x0 + np.concatenate([np.zeros((1, 3)), np.cumsum(np.clip(np.diff(raw, axis=0), -vmax, vmax), axis=0)])
    angles = ranges * np.tanh(raw / safe)
    translation = cfg.translation_range * np.tanh(0.5 * _noise(rng, t, 3, (0.02, 0.3)))
    return np.clip(angles, -ranges, ranges), translation


def _talk_state(rng: np.random.Generator, cfg: MotionConfig, start: float, span: float) -> Callable:
    """``talking(times) -> bool``: gamma(2) talking and pause segments alternating from ``start`` over ``span``."""
    f = cfg.talk_fraction
    if f <= 0.0 or f >= 1.0:
        return lambda times: np.full(np.shape(times), f >= 1.0)
    mean = np.array([cfg.talk_duration, cfg.talk_duration * (1 - f) / f])
    first = int(rng.random() >= f)  # 0: the clip starts talking
    order = np.roll(mean, -first)
    warm = rng.uniform(0.0, 2.0) * mean.sum()  # begin earlier, so the clip starts part-way through a segment
    ends = _cover(lambda m: rng.gamma(2.0, np.tile(order, m) / 2.0), span + warm, int(span / mean.sum()) + 2) - warm
    return lambda times: (np.searchsorted(ends, times - start, side="right") + first) % 2 == 0


def _speech(rng: np.random.Generator, t: np.ndarray, cfg: MotionConfig) -> tuple[np.ndarray, np.ndarray]:
    """Mouth shapes (F, 57) and the talking mask (F,) bool. Each syllable (gamma(8) length around
    ``1 / syllable_rate``) has a consonant keyframe at its onset and a vowel keyframe half-way; keyframes
    outside talking segments are the closed rest pose (zeros)."""
    d = 1.0 / cfg.syllable_rate
    start, span = t[0] - 2 * d, t[-1] - t[0] + 4 * d
    talking = _talk_state(rng, cfg, start, span)
    ends = _cover(lambda m: np.clip(rng.gamma(8.0, d / 8, m), 0.7 * d, 1.5 * d), span, int(span / d) + 2)
    onset = start + np.concatenate([[0.0], ends[:-1]])
    times = np.stack([onset, onset + 0.5 * np.diff(ends, prepend=0.0)], 1).ravel()
    n = len(onset)
    scale = cfg.speech_strength * rng.uniform(0.8, 1.1, (n, 1, 1))
    targets = np.stack([CONSONANT_VISEMES[rng.integers(0, 4, n)], VOWEL_VISEMES[rng.integers(0, 5, n)]], 1)
    values = (targets * scale).reshape(2 * n, -1) * talking(times)[:, None]
    return _interp(times, values, t)[0], talking(t)


def _blinks(rng: np.random.Generator, t: np.ndarray, cfg: MotionConfig) -> np.ndarray:
    """(F, 4): eyeBlink left, right, then the wink and blink masks (> 0 while a wink / any blink is on)."""
    lo, hi = cfg.blink_duration
    peak = _poisson(rng, cfg.blink_rate, t[0] - hi, t[-1] + hi, min_gap=hi + 0.1)
    peak = np.round(peak * cfg.fps) / cfg.fps  # the fully closed instant falls on a frame
    n = len(peak)
    close = 0.4 * rng.uniform(lo, hi, n)
    amp = np.concatenate([np.repeat(rng.uniform(0.95, 1.0, (n, 1)), 2, 1), np.zeros((n, 1)), np.ones((n, 1))], 1)
    wink = np.flatnonzero(rng.random(n) < cfg.wink_probability)
    amp[wink, rng.integers(0, 2, len(wink))] = rng.uniform(0.0, 0.15, len(wink))  # that eye stays open
    amp[wink, 2] = 1.0
    return _bumps(t, peak - close, close, np.zeros(n), 1.5 * close, amp)


def _gaze(rng: np.random.Generator, t: np.ndarray, cfg: MotionConfig) -> tuple[np.ndarray, np.ndarray]:
    """Gaze (F, 2) in [-1, 1] (horizontal + = subject's left, vertical + = up) and the saccade mask (F,) bool."""
    dur = cfg.saccade_duration
    onset = _poisson(rng, cfg.saccade_rate, t[0] - 1.0, t[-1], min_gap=max(0.2, 2 * dur))
    target = rng.normal(0.0, cfg.gaze_spread, (len(onset) + 1, 2)) * [1.0, 0.6]
    target[rng.random(len(target)) < 0.4] *= 0.15  # back to (near) the camera
    target = np.clip(target, -1.0, 1.0)
    times = np.concatenate([[t[0] - 2.0], np.stack([onset, onset + dur], 1).ravel(), [t[-1] + 1.0 + dur]])
    values = np.concatenate([target[:1], np.stack([target[:-1], target[1:]], 1).reshape(-1, 2), target[-1:]])
    gaze, seg = _interp(times, values, t)
    return gaze, seg % 2 == 1


def _episodes(rng: np.random.Generator, t: np.ndarray, rate: float, strength: float,
              hold: tuple[float, float], ramp: tuple[float, float]) -> np.ndarray:
    """Poisson episodes (F, 2) [left, right]: uniform ramps and plateau lengths, peaks ``strength * U(0.5, 1)``
    with +-15% left/right asymmetry."""
    start = _poisson(rng, rate, t[0] - hold[1] - 2 * ramp[1], t[-1])
    n = len(start)
    rise, fall = rng.uniform(*ramp, (2, n))
    peak = strength * rng.uniform(0.5, 1.0, (n, 1)) * (1 + rng.uniform(-0.15, 0.15, (n, 1)) * np.array([1, -1]))
    return _bumps(t, start, rise, rng.uniform(*hold, n), fall, peak)


def _add(expr: np.ndarray, name: str, value: np.ndarray) -> None:
    """Add ``value`` (F,) or (F, 2) [left, right] to column ``name``, or to ``name_L`` and ``name_R``, of expr."""
    cols = [_INDEX[name]] if name in _INDEX else [_INDEX[name + "_L"], _INDEX[name + "_R"]]
    expr[:, cols] += value.reshape(len(expr), -1)


def sample_motion(num_frames: int, rng: np.random.Generator, cfg: MotionConfig = MotionConfig(),
                  start_pose: tuple[float, float, float] | None = None) -> Motion:
    """Sample ``num_frames`` frames of talking-head motion at ``cfg.fps``, deterministic given ``rng``.

    ``start_pose`` = (yaw, pitch, roll) of frame 0 in degrees (kept within 99% of the ranges); default:
    uniform within 60% of the ranges. ``Motion.events`` holds (F,) arrays: bool masks ``talking``, ``blink``,
    ``wink``, ``saccade``; float32 ``blink_L``/``blink_R`` (eyeBlink), ``gaze_h`` (+ = subject's left) and
    ``gaze_v`` (+ = up) in [-1, 1], and the ``smile``, ``brow_raise``, ``frown`` envelopes (mean of both sides).
    """
    if num_frames < 1:
        raise ValueError("num_frames must be >= 1")
    t = np.arange(num_frames) / cfg.fps
    mouth, talking = _speech(rng, t, cfg)
    blink = _blinks(rng, t, cfg)
    gaze, saccade = _gaze(rng, t, cfg)
    smile = _episodes(rng, t, cfg.smile_rate, cfg.smile_strength, (1.0, 4.0), (0.5, 1.0))
    brow = _episodes(rng, t, cfg.brow_raise_rate, cfg.brow_raise_strength, (0.3, 1.5), (0.25, 0.5))
    frown = _episodes(rng, t, cfg.frown_rate, cfg.frown_strength, (1.0, 3.0), (0.4, 0.8))
    puff = _episodes(rng, t, 0.01, 0.5 * cfg.extra_strength, (0.3, 1.0), (0.3, 0.5))
    sneer = _episodes(rng, t, 0.02, 0.3 * cfg.extra_strength, (0.2, 0.8), (0.2, 0.4))
    side = _noise(rng, t, 3, (0.05, 0.5)) * cfg.extra_strength  # jaw sideways, mouth sideways, pupils
    h, v = gaze.T * cfg.gaze_strength
    parts = {
        "eyeBlink": blink[:, :2], "mouthSmile": smile, "cheekSquint": 0.5 * smile, "cheekRaiser": 0.4 * smile,
        "eyeSquint": 0.3 * smile, "mouthDimple": 0.2 * smile, "browInnerUp": brow, "browOuterUp": 0.8 * brow,
        "eyeWide": 0.3 * brow, "browDown": frown, "mouthFrown": 0.3 * frown, "cheekPuff": puff,
        "noseSneer": sneer + 0.2 * frown, "eyeLookOut_L": np.maximum(h, 0), "eyeLookIn_R": np.maximum(h, 0),
        "eyeLookIn_L": np.maximum(-h, 0), "eyeLookOut_R": np.maximum(-h, 0), "eyeLookUp": np.maximum(v, 0),
        "eyeLookDown": np.maximum(-v, 0), "jawLeft": np.maximum(0.05 * side[:, 0], 0),
        "jawRight": np.maximum(-0.05 * side[:, 0], 0), "mouthLeft": np.maximum(0.05 * side[:, 1], 0),
        "mouthRight": np.maximum(-0.05 * side[:, 1], 0), "PupilDilate": 0.3 + 0.12 * side[:, 2],
    }
    expr = mouth.copy()
    for name, value in parts.items():
        _add(expr, name, value)
    angles, translation = _head(rng, t, cfg, start_pose)
    f32 = np.float32
    events = {"talking": talking, "blink": blink[:, 3] > 0, "wink": blink[:, 2] > 0, "saccade": saccade,
              "blink_L": blink[:, 0].astype(f32), "blink_R": blink[:, 1].astype(f32),
              "gaze_h": gaze[:, 0].astype(f32), "gaze_v": gaze[:, 1].astype(f32), "smile": smile.mean(1).astype(f32),
              "brow_raise": brow.mean(1).astype(f32), "frown": frown.mean(1).astype(f32)}
    yaw, pitch, roll = np.ascontiguousarray(angles.T, dtype=f32)
    return Motion(np.clip(expr, 0.0, 1.0).astype(f32), yaw, pitch, roll, translation.astype(f32), events, cfg.fps)
