"""Golden slice of the generated-design checkpoint: a refactor must not change what the model computes.

The expected numbers were produced by the code *before* the layout change of issue 10 (commit 0ad4713, the
last commit of the old layout) from ``checkpoints/export3d-small`` (the bundled checkpoint then, the same weights
as ``checkpoints/export3d-small-generated`` now), with the fixed, synthetic input below (fp32,
no autocast). If a deliberate model change moves them, regenerate them from the commit before the change and
say so in the commit message.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from export3d.blendshapes import blendshape_index
from export3d.models.export3d import Export3D
from export3d.rendering.camera import orbit_camera

CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "export3d-small-generated"
#: (channel, row, column, value) of the 128² output image in [-1, 1]
PIXELS = [(0, 64, 64, -0.024077), (1, 40, 70, -0.192723), (2, 90, 30, -0.541526), (0, 10, 10, -0.675148),
          (1, 100, 100, 0.353581), (2, 64, 20, -0.424468), (0, 80, 50, 0.079807), (1, 20, 110, -0.535676)]
DEPTH_CENTER = 2.692595  #: raw-render depth at pixel (16, 16) of 32²
MEAN = -0.017146  #: mean of the whole output image
TOL = 2e-4


@pytest.fixture(scope="module")
def output():
    if not (CHECKPOINT / "model.safetensors").is_file():
        pytest.skip(f"the shipped checkpoint is missing: {CHECKPOINT}")
    model = Export3D.from_pretrained(CHECKPOINT).eval()
    s = model.cfg.generator.source_size
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, s), torch.linspace(-1, 1, s), indexing="ij")
    source = torch.stack([xx, yy, torch.sin(3 * xx) * torch.cos(2 * yy)])[None] * 0.8
    beta = torch.zeros(1, 52)
    beta[0, blendshape_index("jawOpen")] = 0.6
    beta[0, blendshape_index("eyeBlinkLeft")] = 0.3
    with torch.no_grad():
        return model(source, beta, orbit_camera(15.0, -5.0))


def test_output_pixels_match_the_golden_slice(output):
    image = output.image[0]
    got = [float(image[c, y, x]) for c, y, x, _ in PIXELS]
    assert got == pytest.approx([v for *_, v in PIXELS], abs=TOL)
    assert float(image.mean()) == pytest.approx(MEAN, abs=TOL)


def test_raw_depth_matches_the_golden_slice(output):
    assert float(output.raw.depth[0, 0, 16, 16]) == pytest.approx(DEPTH_CENTER, abs=TOL)


def test_blendshape_indices_are_mediapipe_order():
    assert blendshape_index("jawOpen") == 25 and blendshape_index("eyeBlinkLeft") == 9
    with pytest.raises(ValueError, match="unknown blendshape 'jawOpn'"):
        blendshape_index("jawOpn")
