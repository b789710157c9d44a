"""``python -m export3d.evaluation.track RUN``: the controllability figures of a training run's current model.

Training saves its EMA model in ``RUN/model`` (``save_pretrained``, with the step in ``config.json``); this
command sweeps jawOpen, blink, smile and browInnerUp on the real portraits (``controllability.py``), prints one
line and appends it to ``RUN/controllability_log.csv``. Run it between training chunks (``--minutes``; training
resumes exactly), e.g.

    for i in 1 2 3; do python -m export3d.training warp ... --out RUN --minutes 10
                       python -m export3d.evaluation.track RUN; done

so that a run is stopped when expression stops driving the output, not after it.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

from ..errors import Export3DError
from ..paths import portraits_dir
from ..pipeline import Animator
from .analysis import FaceAnalyzer
from .controllability import SWEEPS, ControllabilitySettings, evaluate_controllability
from .real_cross import load_portraits

LOG = "controllability_log.csv"
FIELDS = ("slope", "r", "pixel_change")


def track_row(model, portraits, steps: int = 5) -> dict[str, float]:
    """``{"<sweep> <figure>": value}`` averaged over the real ``portraits`` (``load_portraits`` items)."""
    res = evaluate_controllability(Animator(model), FaceAnalyzer(), [(p.name, "real", p.image) for p in portraits],
                                   ControllabilitySettings(steps=steps), progress=False)
    summary = res.summary("real")
    return {f"{sw.name} {k}": round(summary[sw.name][k], 4) for sw in SWEEPS for k in FIELDS}


def main(argv: list[str] | None = None) -> int:
    from ..models.export3d import Export3D

    p = argparse.ArgumentParser(prog="python -m export3d.evaluation.track", description=__doc__.split("\n")[0])
    p.add_argument("run", type=Path, help="training output folder (holds model/) or a checkpoint folder")
    p.add_argument("--portraits", type=Path, default=None, help="folder of real portraits (default: shared)")
    p.add_argument("--steps", type=int, default=5, help="input values per sweep")
    args = p.parse_args(argv)
    folder = args.run / "model" if (args.run / "model").is_dir() else args.run
    t0 = time.time()
    try:
        model = Export3D.from_pretrained(folder)
    except (Export3DError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    portraits, _ = load_portraits(args.portraits or portraits_dir())
    step = json.loads((folder / "config.json").read_text()).get("extra", {}).get("step", "")
    row = {"step": step, **track_row(model, portraits, args.steps)}
    row["seconds"] = round(time.time() - t0, 1)
    log = args.run / LOG
    new = not log.is_file()
    with log.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)
    print(" ".join(f"{k}={v}" for k, v in row.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
