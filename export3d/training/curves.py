"""Training curves from a run's CSV log (``stage1_log.csv`` / ``stage2_log.csv``) as one PNG.

    python -m export3d.training.curves runs/stage2/stage2_log.csv curves.png
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np


def read_log(path: str | Path) -> dict[str, np.ndarray]:
    """Columns of a CSV log as float arrays (empty cells -> NaN); a repeated step keeps its last row."""
    with Path(path).open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path}: empty log")
    if "step" in rows[0]:  # a resumed run logs again the steps after its last checkpoint: keep the later rows
        last = {r["step"]: i for i, r in enumerate(rows)}
        rows = [r for i, r in enumerate(rows) if last[r["step"]] == i]
    return {k: np.array([float(r[k]) if r[k] not in ("", None) else np.nan for r in rows]) for k in rows[0]}


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average over ``window`` rows (shorter at the start)."""
    c = np.cumsum(np.insert(np.nan_to_num(values), 0, 0.0))
    n = np.arange(1, len(values) + 1)
    lo = np.maximum(0, n - window)
    return (c[n] - c[lo]) / (n - lo)


def plot_log(path: str | Path, out: str | Path, window: int = 10) -> Path:
    """One panel per logged quantity (all columns except step/seconds), raw and smoothed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = read_log(path)
    names = [k for k in log if k not in ("step", "seconds") and np.any(log[k] != 0)]
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 2.8), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        ax.plot(log["step"], log[name], alpha=0.3, lw=0.8)
        ax.plot(log["step"], smooth(log[name], window), lw=1.5)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m export3d.training.curves LOG.csv OUT.png")
    print(plot_log(sys.argv[1], sys.argv[2]))
