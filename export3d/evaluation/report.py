"""Markdown tables and sample sheets for an evaluation run (``report.json`` -> ``report.md``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from .scoring import COLUMNS, HIGHER_IS_BETTER

SET_TITLES = {
    "self": "Synthetic self-reenactment (target = the driver frame)",
    "cross": "Synthetic cross-identity (target = true render of the source person with the driver's expression "
             "and camera)",
    "views": "Synthetic novel views (source expression, 7 yaws x 3 pitches, true cameras)",
    "grid_self": "GRID self-reenactment (real video; source = first frame)",
    "grid_cross": "GRID cross-identity (real video; no ground truth: identity and expression transfer only)",
}


def _fmt(v: float, col: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if col in ("PSNR", "AKD", "APD"):
        return f"{v:.2f}"
    return f"{v:.3f}"


def table(scores: dict[str, dict[str, float]], columns=COLUMNS) -> str:
    cols = [c for c in columns if any(c in s for s in scores.values())]
    arrows = [c + (" ↑" if HIGHER_IS_BETTER[c] else " ↓") for c in cols]
    lines = ["| method | " + " | ".join(arrows) + " |", "|---|" + "---|" * len(cols)]
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
    if report.get("leakage"):
        parts += ["## Identity leakage (linear-probe accuracy of predicting the person; lower = less leakage)", "",
                  leakage_table(report["leakage"]), ""]
    parts += ["Arrows: ↑ higher is better, ↓ lower is better. SFace-CSIM is measured against the source image "
              "(copy-source scores 1.0 by construction). AED/APD are against the driver as read by the extractor.",
              ""]
    return "\n".join(parts)


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
