"""``controllability.png``: readout vs input, one panel per swept input, one line per portrait."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_curves(curves: dict[str, dict[str, dict]], kinds: dict[str, str], path: Path,
                no_ideal: tuple[str, ...] = ()) -> Path:
    """``curves``: portrait -> sweep name -> ``{"inputs": [...], "readout": [...]}`` (``report.json`` form).

    Real portraits are solid coloured lines, synthetic identities thin grey dashes; the diagonal is the
    ideal response, except in the panels of ``no_ideal`` (sweeps whose readout is not a score, e.g. a length).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweeps = list(next(iter(curves.values())).keys()) if curves else []
    fig, axes = plt.subplots(1, max(1, len(sweeps)), figsize=(3.2 * max(1, len(sweeps)), 3.4), squeeze=False)
    for ax, sweep in zip(axes[0], sweeps, strict=False):
        if sweep not in no_ideal:
            ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls=":", label="ideal")
        for name, per in curves.items():
            c = per[sweep]
            x, y = np.asarray(c["inputs"]), np.asarray(c["readout"], np.float64)
            if kinds.get(name) == "synthetic":
                ax.plot(x, y, color="0.6", lw=0.8, ls="--", label="synthetic ids")
            else:
                ax.plot(x, y, marker="o", ms=3, lw=1.4, label=name)
        ax.set_title(sweep if len(sweep) < 28 else sweep.split(":")[0], fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("input")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("extractor readout of the output")
    handles, labels = axes[0][0].get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    fig.legend(unique.values(), unique.keys(), loc="lower center", ncol=min(8, len(unique)), fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
