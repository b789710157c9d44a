"""The oracle-warp row on a tiny rendered benchmark (skipped without the ICT data).

A stand-in face analyser (every face found, all readouts zero) keeps the test free of the face models;
only the image metrics of the rows are checked.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import needs_ict

from export3d.evaluation.analysis import FaceReadout

pytestmark = needs_ict


class BlindAnalyzer:
    """Finds a face in every image and reads zeros: enough to run the image metrics."""

    def read(self, images: np.ndarray) -> FaceReadout:
        n = len(images)
        return FaceReadout(np.zeros((n, 52)), np.zeros((n, 3)), np.zeros((n, 478, 2)), np.full((n, 128), np.nan))


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    from export3d.evaluation.synthetic_eval import load_benchmark
    from export3d.synthetic.benchmark import make_benchmark
    from export3d.synthetic.ict_model import ICTFaceModel
    from export3d.synthetic.scene import SceneRenderer

    out = tmp_path_factory.mktemp("bench")
    make_benchmark(SceneRenderer(ICTFaceModel(), 64), out, identities=2, drivers=2, progress=False)
    return load_benchmark(out)


def test_oracle_row_is_added_when_the_benchmark_has_fields(bench):
    from export3d.evaluation.methods import ORACLE_WARP, copy_source
    from export3d.evaluation.synthetic_eval import evaluate_synthetic

    results, samples = evaluate_synthetic(bench, {"copy source": copy_source}, BlindAnalyzer(), progress=False)
    for name in ("self", "cross", "views"):
        scores = results[name].scores
        assert ORACLE_WARP in scores and f"{name}/{ORACLE_WARP}" in samples
        assert scores[ORACLE_WARP]["PSNR"] > scores["copy source"]["PSNR"] + 1.0, name
    old = {k: v for k, v in bench.items() if not k.endswith(("_flow", "_visible"))}  # a format-1 benchmark
    results, _ = evaluate_synthetic(old, {"copy source": copy_source}, BlindAnalyzer(), progress=False)
    assert ORACLE_WARP not in results["self"].scores


def test_oracle_equals_the_target_where_visible_up_to_interpolation(bench):
    from export3d.evaluation.oracle import oracle_scores

    s = oracle_scores(bench)
    assert set(s) == {"self", "cross", "views"}
    for name, row in s.items():
        assert row["warp MAE (visible fg)"] < 8.0, name  # grey levels at 64^2 (measured 6.3-6.5)
        assert row["warp PSNR (visible fg)"] > row["oracle PSNR"] > row["copy PSNR"], name
        assert row["oracle SSIM"] > row["copy SSIM"], name
