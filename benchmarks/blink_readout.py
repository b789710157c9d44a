"""The blink sweep read two ways: MediaPipe's eyeBlink scores and its own lid landmarks.

    python benchmarks/blink_readout.py [--checkpoint PATH] [--portraits DIR] [--steps 6]

For every portrait (every image of ``--portraits``, default the shared ``portraits/``, plus the astronaut) the
controllability blink sweep (``evaluation/controllability.py``: eyeBlinkLeft and eyeBlinkRight set together from
0 to 1, the rest at the portrait's own expression and camera, the app's 256² output) is read by the extractor, and
printed per input value:

* ``score``: the mean of MediaPipe's eyeBlinkLeft/Right scores (what the controllability goal, a rise >= 0.3, is
  measured with);
* ``opening``: the lids' gap from MediaPipe's own landmarks, in eye widths (``part_contours.eye_opening``; the
  portrait's own eyes are typically 0.2-0.35 open, 0 when the lids meet).

A portrait whose score stays low while its opening falls to about 0 closes its eyes by the tracker's own
landmarks; its blink classifier does not call it a blink. Not a test: the figures go in the model card.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a clone without installing

from export3d import paths  # noqa: E402
from export3d.evaluation.analysis import FaceAnalyzer  # noqa: E402
from export3d.evaluation.controllability import SWEEPS, fit_line, sweep_betas  # noqa: E402
from export3d.evaluation.real_cross import load_portraits, prepare_all  # noqa: E402
from export3d.evaluation.real_figures import group_readout  # noqa: E402
from export3d.face.part_contours import eye_opening  # noqa: E402
from export3d.pipeline import Animator, ViewSettings  # noqa: E402

BLINK = next(s for s in SWEEPS if s.blendshapes == ("eyeBlinkLeft", "eyeBlinkRight"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--portraits", type=Path, default=None)
    p.add_argument("--steps", type=int, default=6)
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    folder = a.portraits or paths.portraits_dir()
    portraits, skipped = load_portraits(folder if folder.is_dir() else None)
    anim = Animator.from_pretrained(a.checkpoint, device="cpu", output_size=256)
    analyzer = FaceAnalyzer(identity=False)
    values = np.linspace(0.0, 1.0, a.steps)
    print(f"checkpoint: {a.checkpoint or 'bundled'}; eyeBlink L+R = {np.round(values, 2).tolist()}")
    prepared, refused = prepare_all(anim, portraits)
    for portrait, src in prepared:
        images = anim.render(src, sweep_betas(src.signals.beta, BLINK, values),
                             anim.camera_for(src.signals, ViewSettings()))
        faces = analyzer.read(images)
        score, opening = group_readout(faces.beta, BLINK.blendshapes), eye_opening(faces.landmarks)
        row = lambda x: " ".join(f"{v:5.2f}" for v in x)  # noqa: E731
        print(f"{portrait.name}\n  score   {row(score)}   slope {fit_line(values, score)[0]:+.2f}"
              f"\n  opening {row(opening)}   slope {fit_line(values, opening)[0]:+.2f}")
    if skipped + refused:
        print("skipped:", "; ".join(skipped + refused))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
