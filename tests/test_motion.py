"""Procedural talking-head motion: shapes, determinism, smoothness bounds and event statistics."""

from __future__ import annotations

import time

import numpy as np
import pytest

from export3d.synthetic.motion import ICT_EXPRESSION_NAMES, SPEECH_SHAPES, Motion, MotionConfig, sample_motion

IDX = {name: i for i, name in enumerate(ICT_EXPRESSION_NAMES)}
FPS = 25.0
SPEECH_STEP = 0.5  #: documented bound on the per-frame change of SPEECH_SHAPES at 25 fps.
OTHER_STEP = 0.2  #: documented bound for every other shape except eyeBlink and eyeLook.
LONG_SECONDS = 300


def col(m: Motion, name: str) -> np.ndarray:
    return m.expression[:, IDX[name]]


def runs(mask: np.ndarray, inner: bool = False) -> list[tuple[int, int]]:
    """[start, end) frame ranges of the True runs of a (F,) mask; ``inner``: without runs cut by the clip ends."""
    d = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    found = zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True)
    return [(s, e) for s, e in found if not inner or (s > 0 and e < len(mask))]


def blink_count(m: Motion) -> int:
    """Closures seen in the output: upward crossings of 0.5 by the more closed eye."""
    b = np.maximum(col(m, "eyeBlink_L"), col(m, "eyeBlink_R"))
    return int(((b[1:] > 0.5) & (b[:-1] <= 0.5)).sum() + (b[0] > 0.5))


def jaw_cycles_per_talking_second(m: Motion) -> float:
    """Open/close cycles of jawOpen in talking frames (hysteresis 0.15 / 0.2) per second of talking."""
    jaw, talking, cycles = col(m, "jawOpen"), m.events["talking"], 0
    for start, end in runs(talking):
        x = jaw[start:end]
        above = np.where(x > 0.2, 1, np.where(x < 0.15, -1, 0))
        states = above[above != 0]
        cycles += int(((states[1:] == 1) & (states[:-1] == -1)).sum())
    return cycles / (talking.sum() / m.fps)


@pytest.fixture(scope="module")
def long_clips() -> list[Motion]:
    """Four 300 s clips with the default config."""
    return [sample_motion(int(LONG_SECONDS * FPS), np.random.default_rng(seed)) for seed in range(4)]


def test_expression_names():
    assert len(ICT_EXPRESSION_NAMES) == 57 and len(set(ICT_EXPRESSION_NAMES)) == 57
    assert ICT_EXPRESSION_NAMES[0] == "PupilDilate_L" and ICT_EXPRESSION_NAMES[-1] == "noseSneer_R"
    assert ICT_EXPRESSION_NAMES[14:16] == ("eyeBlink_L", "eyeBlink_R") and ICT_EXPRESSION_NAMES[30] == "jawOpen"
    assert "jawOpen" in SPEECH_SHAPES and "mouthPucker" in SPEECH_SHAPES and "mouthSmile_L" not in SPEECH_SHAPES


@pytest.mark.parametrize("num_frames", [1, 2, 32, 1000])
def test_shapes_dtypes_ranges(num_frames):
    m = sample_motion(num_frames, np.random.default_rng(0))
    assert m.expression.shape == (num_frames, 57) and m.translation.shape == (num_frames, 3)
    for a in (m.expression, m.yaw, m.pitch, m.roll, m.translation):
        assert a.dtype == np.float32 and np.isfinite(a).all()
    for a in (m.yaw, m.pitch, m.roll):
        assert a.shape == (num_frames,)
    assert m.expression.min() >= 0.0 and m.expression.max() <= 1.0
    assert np.abs(m.yaw).max() <= 35 and np.abs(m.pitch).max() <= 20 and np.abs(m.roll).max() <= 10
    assert np.abs(m.translation).max() <= 0.02
    assert {"blink_L", "blink_R", "wink", "talking", "blink", "saccade"} <= set(m.events)
    for v in m.events.values():
        assert v.shape == (num_frames,)
    assert m.events["talking"].dtype == bool and m.events["blink_L"].dtype == np.float32


def test_deterministic_given_rng():
    a, b = (sample_motion(200, np.random.default_rng(7)) for _ in range(2))
    c = sample_motion(200, np.random.default_rng(8))
    for name in ("expression", "yaw", "pitch", "roll", "translation"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert not np.array_equal(getattr(a, name), getattr(c, name))
    for key in a.events:
        np.testing.assert_array_equal(a.events[key], b.events[key])


def test_start_pose():
    m = sample_motion(50, np.random.default_rng(0), MotionConfig(), start_pose=(12.0, -6.0, 3.0))
    np.testing.assert_allclose([m.yaw[0], m.pitch[0], m.roll[0]], [12.0, -6.0, 3.0], atol=1e-3)
    far = sample_motion(50, np.random.default_rng(0), start_pose=(90.0, -90.0, 0.0))
    assert np.abs(far.yaw).max() <= 35 and np.abs(far.pitch).max() <= 20
    first = np.array([[s.yaw[0], s.pitch[0], s.roll[0]] for s in
                      (sample_motion(1, np.random.default_rng(i)) for i in range(200))])
    assert (np.abs(first) <= 0.6 * np.array([35, 20, 10]) + 1e-4).all()
    assert (first.min(0) < -0.4 * np.array([35, 20, 10])).all() and (first.max(0) > 0.4 * np.array([35, 20, 10])).all()


@pytest.mark.parametrize("fps", [25.0, 50.0])
def test_head_motion_smooth_and_bounded(fps):
    cfg = MotionConfig(fps=fps)
    step = cfg.max_head_speed / fps  # deg per frame: 2.4 at 25 fps
    for seed in range(3):
        m = sample_motion(int(120 * fps), np.random.default_rng(seed), cfg)
        for angle, limit in ((m.yaw, 35), (m.pitch, 20), (m.roll, 10)):
            assert np.abs(angle).max() <= limit
            assert np.abs(np.diff(angle)).max() <= step + 1e-3
            assert np.abs(np.diff(angle, 2)).mean() < 0.2 * np.abs(np.diff(angle)).mean()  # smooth, not jittery
        assert np.abs(np.diff(m.translation, axis=0)).max() < 0.001
        assert (m.translation.max(0) - m.translation.min(0) > 0.005).all()
        for start in range(0, len(m.yaw), int(60 * fps)):  # each minute covers a good part of the range
            window = m.yaw[start:start + int(60 * fps)]
            assert window.max() - window.min() >= 0.5 * 35


def test_narrow_ranges_and_speed_limit_are_respected():
    cfg = MotionConfig(yaw_range=3.0, pitch_range=2.0, roll_range=0.0, translation_range=0.0)
    m = sample_motion(3000, np.random.default_rng(1), cfg)
    assert np.abs(m.yaw).max() <= 3.0 and np.abs(m.pitch).max() <= 2.0
    assert not m.roll.any() and not m.translation.any()
    slow = sample_motion(3000, np.random.default_rng(1), MotionConfig(max_head_speed=10.0))
    assert np.abs(np.diff(np.stack([slow.yaw, slow.pitch, slow.roll]), axis=1)).max() <= 10.0 / FPS + 1e-4


def test_expression_smoothness(long_clips):
    speech = [IDX[n] for n in SPEECH_SHAPES]
    other = [i for n, i in IDX.items() if n not in SPEECH_SHAPES and not n.startswith(("eyeBlink", "eyeLook"))]
    for m in long_clips:
        step = np.abs(np.diff(m.expression, axis=0))
        assert step[:, speech].max() <= SPEECH_STEP
        assert step[:, other].max() <= OTHER_STEP
        assert step[:, [IDX["mouthSmile_L"], IDX["browDown_L"]]].max() <= 0.12  # slow ramps
        assert step[:, IDX["eyeBlink_L"]].max() > OTHER_STEP  # blinks are fast (the exclusion is needed)


def test_blink_rate(long_clips):
    count = sum(blink_count(m) for m in long_clips)
    expected = 0.35 * LONG_SECONDS * len(long_clips)
    assert abs(count - expected) <= 0.12 * expected
    fast = MotionConfig(blink_rate=1.0)
    assert abs(blink_count(sample_motion(int(300 * FPS), np.random.default_rng(0), fast)) - 300) <= 45


def test_blinks_close_fully_and_briefly(long_clips):
    for m in long_clips:
        left, right = m.events["blink_L"], m.events["blink_R"]
        np.testing.assert_array_equal(left, col(m, "eyeBlink_L"))
        for start, end in runs(m.events["blink"], inner=True):
            assert np.maximum(left, right)[start:end].max() >= 0.9
            assert end - start <= 0.3 * FPS + 1  # at most 0.3 s of non-zero closure
            if not m.events["wink"][start:end].any():
                assert min(left[start:end].max(), right[start:end].max()) >= 0.9  # both eyes
        assert not ((left > 0) & ~m.events["blink"]).any()


def test_winks():
    m = sample_motion(int(120 * FPS), np.random.default_rng(0), MotionConfig(wink_probability=0.3))
    winks = runs(m.events["wink"], inner=True)
    assert len(winks) >= 3
    sides = set()
    for start, end in winks:
        left, right = col(m, "eyeBlink_L")[start:end], col(m, "eyeBlink_R")[start:end]
        assert max(left.max(), right.max()) >= 0.9 and min(left.max(), right.max()) < 0.2
        sides.add(int(right.max() > left.max()))
    assert sides == {0, 1}


def test_wink_probability(long_clips):
    winks = sum(len(runs(m.events["wink"])) for m in long_clips)
    blinks = sum(len(runs(m.events["blink"])) for m in long_clips)
    assert 0.05 <= winks / blinks <= 0.15
    never = sample_motion(3000, np.random.default_rng(0), MotionConfig(wink_probability=0.0))
    assert not never.events["wink"].any() and np.array_equal(col(never, "eyeBlink_L"), col(never, "eyeBlink_R"))
    always = sample_motion(3000, np.random.default_rng(0), MotionConfig(wink_probability=1.0))
    assert np.array_equal(always.events["wink"], always.events["blink"]) and always.events["blink"].any()


@pytest.mark.parametrize("rate", [3.0, 4.5, 6.0])
def test_jaw_cycles_follow_syllable_rate(rate):
    m = sample_motion(int(120 * FPS), np.random.default_rng(0), MotionConfig(syllable_rate=rate))
    cycles = jaw_cycles_per_talking_second(m)
    assert 2.0 <= cycles <= 7.0 and abs(cycles - rate) <= 0.15 * rate


def test_jaw_dominant_frequency_while_talking(long_clips):
    for m in long_clips:
        start, end = max(runs(m.events["talking"]), key=lambda r: r[1] - r[0])
        jaw = col(m, "jawOpen")[start:end]
        assert len(jaw) >= 4 * FPS
        spectrum = np.abs(np.fft.rfft(jaw - jaw.mean()))
        freq = np.fft.rfftfreq(len(jaw), 1 / FPS)[np.argmax(spectrum)]
        assert 2.0 <= freq <= 7.0
        assert jaw.max() > 0.4 and np.percentile(jaw, 10) < 0.15  # opens wide and closes


def test_mouth_rests_during_pauses(long_clips):
    speech = [IDX[n] for n in SPEECH_SHAPES]
    margin = int(0.25 * FPS)
    for m in long_clips:
        pauses = [(s + margin, e - margin) for s, e in runs(~m.events["talking"]) if e - s > 2 * margin]
        assert pauses
        for start, end in pauses:
            assert m.expression[start:end, speech].max() <= 1e-6


@pytest.mark.parametrize("fraction", [0.3, 0.7])
def test_talk_fraction(fraction):
    cfg = MotionConfig(talk_fraction=fraction)
    talking = np.concatenate([sample_motion(int(600 * FPS), np.random.default_rng(s), cfg).events["talking"]
                              for s in range(2)])
    assert abs(talking.mean() - fraction) <= 0.06
    assert len(runs(talking)) >= 50  # alternates, not one long segment


def test_talk_fraction_extremes():
    silent = sample_motion(1000, np.random.default_rng(0), MotionConfig(talk_fraction=0.0))
    assert not silent.events["talking"].any()
    assert silent.expression[:, [IDX[n] for n in SPEECH_SHAPES]].max() == 0.0
    chatty = sample_motion(1000, np.random.default_rng(0), MotionConfig(talk_fraction=1.0))
    assert chatty.events["talking"].all() and jaw_cycles_per_talking_second(chatty) > 3


def test_gaze_shapes_are_consistent(long_clips):
    for m in long_clips:
        for side in "LR":
            assert not ((col(m, f"eyeLookIn_{side}") > 0) & (col(m, f"eyeLookOut_{side}") > 0)).any()
            assert not ((col(m, f"eyeLookUp_{side}") > 0) & (col(m, f"eyeLookDown_{side}") > 0)).any()
        np.testing.assert_array_equal(col(m, "eyeLookOut_L"), col(m, "eyeLookIn_R"))  # subject's left
        np.testing.assert_array_equal(col(m, "eyeLookIn_L"), col(m, "eyeLookOut_R"))  # subject's right
        np.testing.assert_array_equal(col(m, "eyeLookOut_L") > 0, m.events["gaze_h"] > 0)
        np.testing.assert_array_equal(col(m, "eyeLookUp_L") > 0, m.events["gaze_v"] > 0)
        for name in ("eyeLookOut_L", "eyeLookIn_L", "eyeLookUp_L", "eyeLookDown_L"):
            assert col(m, name).max() > 0.2


def test_gaze_saccades_are_fast_and_fixations_still(long_clips):
    for m in long_clips:
        saccade = m.events["saccade"]
        lengths = [e - s for s, e in runs(saccade)]
        assert len(lengths) > 0.8 * LONG_SECONDS and max(lengths) <= 3  # ~1.2 saccades/s, 2-3 frames each
        moving = np.abs(np.diff(np.stack([m.events["gaze_h"], m.events["gaze_v"]], 1), axis=0)).max(1) > 0
        assert not (moving & ~saccade[1:] & ~saccade[:-1]).any()  # piecewise constant between saccades


def test_smiles_brows_and_extras_occur(long_clips):
    m = long_clips[0]
    assert col(m, "mouthSmile_L").max() > 0.3 and col(m, "browInnerUp_L").max() > 0.3
    assert max(col(c, "browDown_L").max() for c in long_clips) > 0.15
    assert not np.array_equal(col(m, "mouthSmile_L"), col(m, "mouthSmile_R"))  # slightly asymmetric
    assert np.corrcoef(col(m, "mouthSmile_L"), col(m, "cheekSquint_L"))[0, 1] > 0.9
    assert col(m, "PupilDilate_L").std() > 0.02 and (col(m, "jawLeft") > 0).any() and (col(m, "jawRight") > 0).any()
    np.testing.assert_allclose(m.events["smile"], (col(m, "mouthSmile_L") + col(m, "mouthSmile_R")) / 2, atol=1e-6)


def test_invalid_arguments():
    for kwargs in ({"fps": 0.0}, {"wink_probability": 1.5}, {"talk_fraction": -0.1}, {"yaw_range": -1.0},
                   {"head_recenter": 0.0}, {"syllable_rate": 0.0}, {"blink_duration": (0.0, 0.2)}):
        with pytest.raises(ValueError):
            MotionConfig(**kwargs)
    with pytest.raises(ValueError):
        sample_motion(0, np.random.default_rng(0))


def test_speed():
    start = time.perf_counter()
    for i in range(1000):
        sample_motion(32, np.random.default_rng(i))
    assert time.perf_counter() - start < 5.0
    start = time.perf_counter()
    sample_motion(10_000, np.random.default_rng(0))
    assert time.perf_counter() - start < 1.0
