"""The evaluation command's parts: leakage probe, scoring, baselines, tables, and an end-to-end run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from export3d.evaluation.analysis import FaceReadout
from export3d.evaluation.grid_eval import ClipData, distinct_people
from export3d.evaluation.leakage import identity_leakage, pca_project, probe_accuracy, split_halves
from export3d.evaluation.methods import constant_method, copy_source, mean_image
from export3d.evaluation.report import leakage_table, table
from export3d.evaluation.scoring import mean_scores, score, to_tensor, to_uint8


def _clusters(classes=5, per=20, dim=8, spread=0.1, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)) * 3
    y = np.repeat(np.arange(classes), per)
    return centres[y] + rng.normal(size=(len(y), dim)) * spread, y


def test_probe_separates_clusters_and_is_at_chance_on_noise():
    x, y = _clusters()
    xt, yt = _clusters(seed=0)
    assert probe_accuracy(x, y, xt + 0.05, yt) == 1.0
    rng = np.random.default_rng(1)
    noise_train, noise_test = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    labels = np.repeat(np.arange(10), 40)
    acc = probe_accuracy(noise_train, labels, noise_test, labels)
    assert acc < 0.25  # chance is 0.1; pure noise cannot be learned


def test_split_halves_labels_clips_and_drops_invalid_frames():
    feats = np.arange(3 * 4 * 2, dtype=float).reshape(3, 4, 2)
    valid = np.ones((3, 4), bool)
    valid[1, 3] = False
    tx, ty, sx, sy = split_halves(feats, valid)
    assert tx.shape == (6, 2) and sx.shape == (5, 2)
    assert ty.tolist() == [0, 0, 1, 1, 2, 2] and sy.tolist() == [0, 0, 1, 2, 2]
    np.testing.assert_array_equal(sx[2], feats[1, 2])


def test_pca_project_keeps_the_dominant_axis():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)) * np.array([10.0, 1.0, 0.1])
    p, q = pca_project(x, x[:5], 1)
    assert p.shape == (200, 1) and q.shape == (5, 1)
    assert abs(np.corrcoef(p[:, 0], x[:, 0])[0, 1]) > 0.99


def test_leakage_is_high_for_identity_dims_and_at_chance_once_removed():
    """beta = [per-frame expression | per-clip identity offset]; an encoder that drops the identity half leaks less."""
    rng = np.random.default_rng(0)
    clips, frames = 8, 20
    expr = rng.uniform(size=(clips, frames, 4))
    ident = np.repeat(rng.normal(size=(clips, 1, 4)) * 2, frames, axis=1)
    beta = np.concatenate([expr, ident], -1).astype(np.float32)
    res = identity_leakage(beta, np.ones((clips, frames), bool), lambda b: b[:, :4], code_rank=4)
    assert res["raw beta"] > 0.9
    assert res["beta' (model)"] < 0.4  # chance = 1/8
    assert res["chance"] == pytest.approx(1 / 8)


def _readout(n, value=0.0):
    return FaceReadout(np.full((n, 52), value, np.float32), np.zeros((n, 3), np.float32),
                       np.zeros((n, 478, 2), np.float32), np.tile(np.eye(128, dtype=np.float32)[:1], (n, 1)))


def test_score_of_a_perfect_prediction():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    r = _readout(3)
    s = mean_scores(score(img, img, r, r, r, r.identity))
    assert s["PSNR"] == pytest.approx(10 * math.log10(4 / 1e-10), rel=1e-4)
    assert s["SSIM"] == pytest.approx(1.0, abs=1e-5)
    assert s["SFace-CSIM"] == 1.0 and s["AKD"] == 0.0 and s["AED"] == 0.0 and s["APD"] == 0.0
    assert math.isnan(s["ST-LPIPS"])  # no perceptual model passed


def test_score_psnr_matches_a_hand_computed_value_and_nan_rows_are_skipped():
    a = np.full((2, 16, 16, 3), 100, np.uint8)
    b = np.full((2, 16, 16, 3), 110, np.uint8)  # error 10/127.5 in [-1, 1]
    r = _readout(2)
    nan = _readout(2, np.nan)
    s = mean_scores(score(a, b, r, r, nan, r.identity))
    assert s["PSNR"] == pytest.approx(10 * math.log10(4 / (10 / 127.5) ** 2), rel=1e-4)
    assert math.isnan(s["AED"])


def test_uint8_tensor_round_trip():
    img = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    t = to_tensor(img)
    assert t.shape == (2, 3, 4, 4) and float(t.min()) == -1.0
    np.testing.assert_array_equal(to_uint8(t), img)


def test_baselines():
    frames = np.stack([np.full((4, 4, 3), v, np.uint8) for v in (10, 20, 40)])
    assert mean_image(frames)[0, 0, 0] == 23  # round(70 / 3)
    src = frames[0]
    out = copy_source(src, np.zeros((5, 52)), np.zeros((5, 25)))
    assert out.shape == (5, 4, 4, 3) and (out == 10).all()
    assert (constant_method(frames[2])(src, np.zeros((2, 52)), None) == 40).all()


def test_tables_mark_direction_and_missing_values():
    md = table({"a": {"PSNR": 20.123, "AED": math.nan}})
    assert "PSNR ↑" in md and "AED ↓" in md and "| a | 20.12 | – |" in md
    row = {"clips": 4, "chance": 0.25, "code_rank": 16, "raw beta": 0.9, "raw beta, PCA 16": 0.8,
           "beta' (model)": 0.3}
    assert "| x | 4 (0.250) | 0.900 | 0.800 (rank 16) | 0.300 |" in leakage_table({"x": row})


def test_distinct_people_drops_the_second_clip_of_the_same_speaker():
    def clip(name):
        return ClipData(name, np.zeros((1, 2, 2, 3), np.uint8), np.zeros((1, 52)), np.zeros((1, 25)), np.ones(1, bool))

    names = [c.name for c in distinct_people([clip(n) for n in ("bbaf2n", "pwij3p", "swwp2s", "lbax4n")])]
    assert names == ["bbaf2n", "pwij3p", "lbax4n"]


@pytest.fixture(scope="module")
def tiny_benchmark(tmp_path_factory):
    from export3d.paths import ict_facekit_path

    if not ict_facekit_path().is_file():
        pytest.skip(f"ICT-FaceKit model not found at {ict_facekit_path()} (set EXPORT3D_DATA)")
    from export3d.synthetic.benchmark import make_benchmark
    from export3d.synthetic.ict_model import ICTFaceModel
    from export3d.synthetic.scene import SceneRenderer

    out = tmp_path_factory.mktemp("bench")
    make_benchmark(SceneRenderer(ICTFaceModel(), 128), out, identities=2, drivers=2, progress=False)
    return out


def test_evaluation_command_end_to_end(tiny_benchmark, tmp_path):
    """A random model on a 2-identity benchmark: report files, baselines measured against the true arrays."""
    from export3d.checkpoint import save_pretrained
    from export3d.config import ModelConfig
    from export3d.evaluation.__main__ import main
    from export3d.models.export3d import Export3D

    torch.manual_seed(0)
    save_pretrained(Export3D(ModelConfig.preset("small")), tmp_path / "ckpt")
    out = tmp_path / "eval"
    code = main(["--checkpoint", str(tmp_path / "ckpt"), "--out", str(out), "--benchmark", str(tiny_benchmark),
                 "--no-grid", "--no-lpips", "--no-real", "--no-controllability"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert set(report["sets"]) == {"self", "cross", "views"}
    with np.load(tiny_benchmark / "benchmark.npz") as z:
        src, gt = z["source_frames"], z["views_gt_frames"]
    err = [(to_tensor(gt[i]) - to_tensor(src[i][None])).numpy() ** 2 for i in range(2)]  # (21, 3, S, S) each
    expected = np.mean([10 * math.log10(4 / e.mean()) for per_id in err for e in per_id])  # mean of per-image PSNR
    views = report["sets"]["views"]["scores"]
    assert views["copy source"]["PSNR"] == pytest.approx(expected, abs=1e-3)
    assert views["copy source"]["SFace-CSIM"] == pytest.approx(1.0, abs=1e-5)
    assert report["sets"]["views"]["targets"] == 2 * 21
    assert "Export3D (ours)" in (out / "report.md").read_text()
    assert (out / "samples_views.png").is_file()


def test_evaluation_command_reports_a_missing_checkpoint(tmp_path, capsys):
    from export3d.evaluation.__main__ import main

    assert main(["--checkpoint", str(tmp_path / "nope"), "--out", str(tmp_path / "o"), "--no-grid"]) == 2
    assert "error:" in capsys.readouterr().err
