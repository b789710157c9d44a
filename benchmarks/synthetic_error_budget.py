"""Where the synthetic benchmark's error lies: by part, visible or not in the source, and how much is the camera.

    python benchmarks/synthetic_error_budget.py BENCH [--checkpoint PATH] [--identities N]

``BENCH``: a folder made by ``python -m export3d.synthetic make-benchmark BENCH`` (with correspondence fields).
For the cross-identity and novel-view sets (targets as in ``python -m export3d.evaluation``) it scores:

* ``ours``: the model with the camera read from each frame by the extractor (cross only; views use true cameras);
* ``ours, true camera``: the same with the benchmark's exact cameras (the source's too);
* ``oracle warp``: the source warped by the true field, the source's own pixel where the point is hidden;
* ``oracle + our fill``: the oracle warp where the source sees the point, ours (true camera) elsewhere;
* ``ours + true fill``: ours (true camera) where the source sees the point, the target elsewhere.

For each it prints the mean PSNR over targets (as the evaluation reports it) and the share of the summed squared
error per target part (``synthetic.parts.Part``) split by whether the source sees the point (``vis``/``inv``),
with the share of pixels and the RMS error there (grey levels). Not a test: the figures go in the model card.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a clone without installing

from export3d.evaluation.analysis import FaceAnalyzer  # noqa: E402
from export3d.evaluation.methods import cameras_from_angles, model_method  # noqa: E402
from export3d.evaluation.synthetic_eval import load_benchmark, own_signals, true_fields  # noqa: E402
from export3d.models.export3d import Export3D  # noqa: E402
from export3d.pipeline import default_checkpoint  # noqa: E402
from export3d.synthetic.parts import PART_NAMES  # noqa: E402
from export3d.synthetic.warp import oracle_warp  # noqa: E402

ROWS = ("ours", "ours, true camera", "oracle warp", "oracle + our fill", "ours + true fill")


class Budget:
    """Summed squared error and pixel counts per (part, visible) cell, and per-target PSNR, for one row."""

    def __init__(self):
        self.cells = np.zeros((len(PART_NAMES), 2, 2))  # part, visible -> (squared error, pixels)
        self.psnr: list[float] = []

    def add(self, pred: np.ndarray, target: np.ndarray, part: np.ndarray, visible: np.ndarray) -> None:
        """``pred, target (N, S, S, 3)`` uint8; ``part, visible (N, S, S)``."""
        se = ((pred.astype(np.float64) - target.astype(np.float64)) ** 2).mean(-1)
        np.add.at(self.cells, (part, visible.astype(int)), np.stack([se, np.ones_like(se)], -1))
        self.psnr += (10 * np.log10(255.0 ** 2 / np.maximum(se.reshape(len(se), -1).mean(1), 1e-10))).tolist()

    def report(self, name: str, top: int = 6) -> str:
        total, pixels = self.cells[..., 0].sum(), self.cells[..., 1].sum()
        lines = [f"  {name}: mean PSNR {np.mean(self.psnr):.2f} dB over {len(self.psnr)} targets"]
        order = np.dstack(np.unravel_index(np.argsort(-self.cells[..., 0], axis=None), self.cells.shape[:2]))[0]
        for p, v in order[:top]:
            se, n = self.cells[p, v]
            if n:
                lines.append(f"    {PART_NAMES[p]:10s} {'vis' if v else 'inv'}: {100 * se / total:5.1f}% of the error, "
                             f"{100 * n / pixels:5.1f}% of the pixels, RMS {np.sqrt(se / n):5.1f}")
        return "\n".join(lines)


def score_identity(run, bench, i: int, analyzer: FaceAnalyzer, budgets: dict) -> None:
    source = bench["source_frames"][i]
    src = analyzer.read(source[None])
    if not src.found[0]:
        return
    own = own_signals(bench, i, src)
    for name, key in (("cross", "cross_gt"), ("views", "views_gt")):
        coords, visible = true_fields(bench, name, i)
        target = bench[f"{key}_frames"][i]
        if name == "cross":
            faces = analyzer.read(bench["cross_frames"][i])
            ok, beta, camera = faces.found, faces.beta[faces.found], cameras_from_angles(faces.angles[faces.found])
        else:
            ok, beta, camera = np.ones(len(target), bool), np.repeat(src.beta, len(target), 0), None
        true_cam = bench[f"{name}_camera"][i][ok]
        part, vis, tgt = bench[f"{key}_part"][i][ok], visible[ok].astype(bool), target[ok]
        kw = dict(source_beta=own.beta, source_landmarks=own.landmarks)
        ours_true = run(source, beta, true_cam, source_camera=own.true_camera, **kw)
        oracle = oracle_warp(source, coords[ok], vis)
        preds = {"ours, true camera": ours_true, "oracle warp": oracle,
                 "oracle + our fill": np.where(vis[..., None], oracle, ours_true),
                 "ours + true fill": np.where(vis[..., None], ours_true, tgt)}
        if camera is not None:
            preds["ours"] = run(source, beta, camera, source_camera=own.camera, **kw)
        for row, pred in preds.items():
            budgets[name].setdefault(row, Budget()).add(pred, tgt, part, vis)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("benchmark", type=Path)
    p.add_argument("--checkpoint", default=None, help="default: the bundled checkpoint")
    p.add_argument("--identities", type=int, default=None, help="only the first N benchmark identities")
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    bench = load_benchmark(a.benchmark, a.identities)
    if "cross_gt_flow" not in bench:
        raise SystemExit(f"{a.benchmark}: the benchmark has no correspondence fields; remake it with make-benchmark")
    model = Export3D.from_pretrained(a.checkpoint or default_checkpoint()).eval()
    if not model.warped:
        raise SystemExit("the budget needs a warped model (appearance.kind = 'warped')")
    run, analyzer = model_method(model), FaceAnalyzer(identity=False)
    budgets: dict[str, dict[str, Budget]] = {"cross": {}, "views": {}}
    for i in range(len(bench["source_frames"])):
        score_identity(run, bench, i, analyzer, budgets)
    for name, rows in budgets.items():
        print(f"{name}:")
        for row in ROWS:
            if row in rows:
                print(rows[row].report(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
