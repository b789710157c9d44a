"""Synthetic ground-truth benchmark (``export3d.synthetic.benchmark``): self, cross-identity, novel views.

The model gets what it gets at inference: beta and camera read from each driver frame by the frozen
extractor (``ours``); ``ours, true camera`` replaces the extracted camera by the exact one, which
separates generator errors from pose-estimation errors. Cross-identity targets are true renders of the
source person under the driver's expression and camera; novel-view targets are the source expression
at a yaw x pitch grid (true cameras, the source's own extracted beta).

Every method also gets the source's own signals (``source_camera``, ``source_beta``: what a warped model
warps from, ``methods.Method``), in every set: the camera read from the source frame by the extractor, or for
the ``true camera`` row the benchmark's exact ``source_camera``; the source's own beta is always the
extracted one, in the same space as the driving beta (the expression field moves by their difference, so it
is zero when the driver reads like the source, as in the novel-view set). The novel-view set runs the
``true camera`` row only with ``views_true_camera`` (warped models): its target cameras are true already, so
for a generated model it would repeat ``ours``.

When the benchmark carries the true correspondence fields (``{self,cross_gt,views_gt}_flow`` and
``_visible``, benchmark format of ``export3d.synthetic.benchmark``), an ``oracle warp`` row is added to every
set: the source frame warped by the true field, invisible pixels copied from the source (``methods.oracle_warp``).
It bounds what a model that warps the source's own pixels can reach on the targets it keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..synthetic.correspondence import flow_to_coords
from .analysis import FaceAnalyzer, FaceReadout
from .methods import ORACLE_WARP, Method, cameras_from_angles, oracle_warp
from .scoring import mean_scores, score

SETS = ("self", "cross", "views")
FIELD_PREFIX = {"self": "self", "cross": "cross_gt", "views": "views_gt"}  #: benchmark keys of each set's fields


def true_fields(bench: dict[str, np.ndarray], set_name: str, i: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Identity ``i``'s correspondence ``(K, S, S, 2)`` and visibility ``(K, S, S)`` for a set, or None."""
    prefix = FIELD_PREFIX[set_name]
    if f"{prefix}_flow" not in bench or f"{prefix}_visible" not in bench:
        return None
    return flow_to_coords(bench[f"{prefix}_flow"][i]), bench[f"{prefix}_visible"][i]


@dataclass
class SetResult:
    """Mean metrics per method for one benchmark set, and how many targets were usable."""

    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    targets: int = 0
    skipped: int = 0  #: driver frames where the extractor found no face (no beta to drive with)


def load_benchmark(folder: str | Path, identities: int | None = None) -> dict[str, np.ndarray]:
    path = Path(folder) / "benchmark.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: make it with `python -m export3d.synthetic make-benchmark "
                                f"{folder}` or pass --make-benchmark")
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    if identities is not None:
        arrays = {k: (v[:identities] if v.ndim and len(v) == len(arrays["source_frames"]) and k != "views_yaw_pitch"
                      else v) for k, v in arrays.items()}
    return arrays


def _concat(readouts: list[FaceReadout]) -> FaceReadout:
    return FaceReadout(*(np.concatenate([getattr(r, k) for r in readouts])
                         for k in ("beta", "angles", "landmarks", "identity")))


@dataclass
class OwnSignals:
    """The source's own camera, expression and landmarks handed to every method (``source_camera``,
    ``source_beta``, ``source_landmarks``)."""

    camera: np.ndarray  #: (25,) read from the source frame by the extractor (what inference has)
    true_camera: np.ndarray | None  #: (25,) the benchmark's exact source camera (``true camera`` rows)
    beta: np.ndarray  #: (52,) read from the source frame (the driving beta's space)
    landmarks: np.ndarray | None = None  #: (478, 2) read from the source frame, its pixels (part remaps)

    def camera_for(self, method_name: str) -> np.ndarray | None:
        return self.true_camera if method_name.endswith("true camera") else self.camera


def own_signals(bench: dict[str, np.ndarray], i: int, src_faces: FaceReadout) -> OwnSignals:
    """Identity ``i``'s own signals; ``src_faces``: the extractor's readout of its source frame (face found)."""
    true = bench["source_camera"][i].astype(np.float32) if "source_camera" in bench else None
    return OwnSignals(cameras_from_angles(src_faces.angles[:1])[0].astype(np.float32), true,
                      src_faces.beta[0].astype(np.float32), src_faces.landmarks[0].astype(np.float32))


@dataclass
class _Collected:
    preds: dict[str, list[np.ndarray]] = field(default_factory=dict)
    drivers: list[np.ndarray] = field(default_factory=list)
    targets: list[np.ndarray] = field(default_factory=list)
    target_faces: list[FaceReadout] = field(default_factory=list)
    driver_faces: list[FaceReadout] = field(default_factory=list)
    source_identity: list[np.ndarray] = field(default_factory=list)
    skipped: int = 0


def _drive(methods: dict[str, Method], col: _Collected, source, src_faces: FaceReadout, own: OwnSignals,
           drivers: np.ndarray, targets: np.ndarray | None, true_camera: np.ndarray, analyzer: FaceAnalyzer,
           driver_faces: FaceReadout | None = None, beta: np.ndarray | None = None,
           fields: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """Run every method on one identity's drivers; ``targets`` None = the drivers are the targets.

    ``own``: the source's own camera and beta; ``fields``: the true correspondence and visibility of the
    targets, for the oracle-warp row.
    """
    faces = driver_faces if driver_faces is not None else analyzer.read(drivers)
    ok = faces.found if beta is None else np.ones(len(drivers), bool)
    col.skipped += int((~ok).sum())
    b = faces.beta[ok] if beta is None else beta
    extracted = cameras_from_angles(faces.angles[ok]) if beta is None else true_camera
    for name, method in methods.items():
        cam = true_camera[ok] if name.endswith("true camera") else extracted
        col.preds.setdefault(name, []).append(method(source, b, cam, source_camera=own.camera_for(name),
                                                     source_beta=own.beta, source_landmarks=own.landmarks))
    if fields is not None:
        col.preds.setdefault(ORACLE_WARP, []).append(oracle_warp(source, fields[0][ok], fields[1][ok]))
    col.drivers.append(drivers[ok])
    col.targets.append(drivers[ok] if targets is None else targets[ok])
    col.target_faces.append(faces.rows(ok) if targets is None else analyzer.read(targets[ok]))
    col.driver_faces.append(faces.rows(ok))
    col.source_identity.append(np.repeat(src_faces.identity[:1], int(ok.sum()), 0))


def _score_set(col: _Collected, analyzer: FaceAnalyzer, lpips) -> SetResult:
    targets = np.concatenate(col.targets)
    tf, df = _concat(col.target_faces), _concat(col.driver_faces)
    src_id = np.concatenate(col.source_identity)
    res = SetResult(targets=len(targets), skipped=col.skipped)
    for name, preds in col.preds.items():
        p = np.concatenate(preds)
        res.scores[name] = mean_scores(score(p, targets, analyzer.read(p), tf, df, src_id, lpips))
    return res


def evaluate_synthetic(bench: dict[str, np.ndarray], methods: dict[str, Method], analyzer: FaceAnalyzer,
                       lpips=None, progress: bool = True,
                       views_true_camera: bool = False) -> tuple[dict[str, SetResult], dict[str, np.ndarray]]:
    """Scores per set, plus the first identity's predictions per set and method (for sample sheets).

    ``views_true_camera``: run the ``true camera`` rows on the novel views too (they differ from ``ours`` there
    only by the source's own camera: set it for warped models).
    """
    cols = {s: _Collected() for s in SETS}
    view_methods = methods if views_true_camera else {k: v for k, v in methods.items()
                                                      if not k.endswith("true camera")}
    for i in tqdm(range(len(bench["source_frames"])), desc="synthetic benchmark", disable=not progress):
        source = bench["source_frames"][i]
        src_faces = analyzer.read(source[None])
        if not src_faces.found[0]:
            for s in SETS:
                cols[s].skipped += 1
            continue
        own = own_signals(bench, i, src_faces)
        _drive(methods, cols["self"], source, src_faces, own, bench["self_frames"][i], None,
               bench["self_camera"][i], analyzer, fields=true_fields(bench, "self", i))
        _drive(methods, cols["cross"], source, src_faces, own, bench["cross_frames"][i],
               bench["cross_gt_frames"][i], bench["cross_camera"][i], analyzer, fields=true_fields(bench, "cross", i))
        views = bench["views_gt_frames"][i]
        vfaces = analyzer.read(views)
        beta = np.repeat(src_faces.beta, len(views), 0)
        _drive(view_methods, cols["views"], source, src_faces, own, views, None, bench["views_camera"][i],
               analyzer, vfaces, beta=beta, fields=true_fields(bench, "views", i))
    results = {s: _score_set(cols[s], analyzer, lpips) for s in SETS if cols[s].targets}
    samples = {f"{s}/{m}": p[0] for s in SETS for m, p in cols[s].preds.items() if p}
    samples.update({f"{s}/target": cols[s].targets[0] for s in SETS if cols[s].targets})
    samples.update({f"{s}/driver": cols[s].drivers[0] for s in SETS if cols[s].drivers})
    samples["source"] = bench["source_frames"][0]
    return results, samples
