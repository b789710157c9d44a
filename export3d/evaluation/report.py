"""Markdown tables and sample sheets for an evaluation run (``report.json`` -> ``report.md``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from . import real_figures
from .scoring import COLUMNS, HIGHER_IS_BETTER

SET_TITLES = {
    "self": "Synthetic self-reenactment (target = the driver frame)",
    "cross": "Synthetic cross-identity (target = true render of the source person with the driver's expression "
             "and camera)",
    "views": "Synthetic novel views (source expression, 7 yaws x 3 pitches, true target cameras)",
    "grid_self": "GRID self-reenactment (real video; source = first frame)",
    "grid_cross": "GRID cross-identity (real video; no ground truth: identity and expression transfer only)",
}


def _fmt(v: float, col: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if col in ("PSNR", "AKD", "APD", "pose_error", "pixel_change"):
        return f"{v:.2f}"
    return f"{v:.3f}"


def table(scores: dict[str, dict[str, float]], columns=COLUMNS, higher: dict[str, bool] | None = None,
          first: str = "method") -> str:
    """One row per key of ``scores``; ``higher`` (default: the image metrics') sets the arrows."""
    higher = HIGHER_IS_BETTER if higher is None else higher
    cols = [c for c in columns if any(c in s for s in scores.values())]
    arrows = [c + ("" if c not in higher else " ↑" if higher[c] else " ↓") for c in cols]
    lines = [f"| {first} | " + " | ".join(arrows) + " |", "|---|" + "---|" * len(cols)]
    for name, s in scores.items():
        lines.append(f"| {name} | " + " | ".join(_fmt(s.get(c, math.nan), c) for c in cols) + " |")
    return "\n".join(lines)


def leakage_table(rows: dict[str, dict]) -> str:
    lines = ["| data | clips (chance) | raw beta | raw beta, PCA to code rank | beta' (model) |",
             "|---|---|---|---|---|"]
    for data, r in rows.items():
        pca = next(k for k in r if k.startswith("raw beta, PCA"))
        code = r["beta' (model)"]
        lines.append(f"| {data} | {r['clips']} ({r['chance']:.3f}) | {r['raw beta']:.3f} | {r[pca]:.3f} "
                     f"(rank {r['code_rank']}) | {code:.3f} |")
    return "\n".join(lines)


def markdown(report: dict) -> str:
    parts = [f"# Evaluation: `{report['checkpoint']}`", "", report.get("command", ""), ""]
    for key, title in SET_TITLES.items():
        if key in report.get("sets", {}):
            s = report["sets"][key]
            parts += [f"## {title}", "", table(s["scores"]), ""]
            if s.get("note"):
                parts += [s["note"], ""]
    if "real_cross" in report.get("sets", {}):
        parts += real_cross_markdown(report["sets"]["real_cross"])
    if "controllability" in report.get("sets", {}):
        parts += controllability_markdown(report["sets"]["controllability"])
    if report.get("leakage"):
        parts += ["## Identity leakage (linear-probe accuracy of predicting the person; lower = less leakage)", "",
                  leakage_table(report["leakage"]), ""]
    parts += ["Arrows: ↑ higher is better, ↓ lower is better. SFace-CSIM is measured against the source image "
              "(copy-source scores 1.0 by construction). AED/APD are against the driver as read by the extractor.",
              ""]
    if "seconds" in report:
        parts += [f"Wall time of this evaluation: {report['seconds']:.0f} s.", ""]
    return "\n".join(parts)


REAL_CROSS_LEGEND = (
    "identity: SFace cosine of the output with the source portrait. collapse: SFace cosine between outputs of "
    "different portraits under the same driver frame (copy source row = the portraits themselves). jaw_r, "
    "blink_r, smile_r: Pearson r across frames of the extractor's jawOpen / eyeBlink / mouthSmile readout, driver "
    "vs output (0 = does not follow; – = the driver did not move it). eyes_open_blink: output eyeBlink readout "
    "on frames where the driver's eyes are open (copy source = the portrait's own). pose_error: degrees, "
    "output's read yaw/pitch/roll vs the driver's. face_found: share of outputs with a readable face.")


def real_cross_markdown(s: dict) -> list[str]:
    cols, higher = real_figures.FIGURES, real_figures.HIGHER_IS_BETTER
    per = {f"{p} / {m}": v for p, methods in s.get("portraits", {}).items() for m, v in methods.items()}
    return ["## Real portraits, cross-identity (`real_cross`: what a user of the app sees)", "",
            table(s["scores"], cols, higher), "", s.get("note", ""), "", REAL_CROSS_LEGEND, "",
            "Per portrait (mean over driver clips; per pair in `report.json`):", "",
            table(per, [c for c in cols if c != "collapse"], higher, first="portrait / method"), "",
            "Samples (`samples_real_cross.png`): top row the first driver clip; then per portrait: the portrait, "
            "ours at 4 frames, the landmark warp at the same frames.", ""]


def controllability_markdown(s: dict) -> list[str]:
    parts = ["## Expression controllability (`controllability`)", ""]
    higher = {"slope": True, "r": True, "pixel_change": True}
    for kind, rows in s.get("summary", {}).items():
        parts += [f"Mean over {kind} portraits:", "",
                  table(rows, ("slope", "r", "pixel_change"), higher, first="swept input"), ""]
    if s.get("plot"):
        parts += [f"![readout vs input]({s['plot']})", "",
                  "`samples_controllability.png`: one row per portrait; per swept input (in the table's order) "
                  "the output at input 0, then at input 1.", ""]
    parts += [s.get("note", ""), ""]
    return parts


def sheet(rows: list[list[np.ndarray]], path: str | Path, labels: list[str] | None = None) -> Path:
    """Save rows of equally sized uint8 images as one PNG (rows top to bottom)."""
    h = max(len(r) for r in rows)
    size = rows[0][0].shape[0]
    canvas = np.full((len(rows) * size, h * size, 3), 255, np.uint8)
    for i, r in enumerate(rows):
        for j, img in enumerate(r):
            canvas[i * size:(i + 1) * size, j * size:(j + 1) * size] = img
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(canvas).save(path)
    return path
