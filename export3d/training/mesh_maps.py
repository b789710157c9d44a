"""Face mesh maps of the synthetic portraits, for a generator with ``mesh_cue`` (``face/mesh_map.py``).

The warped model's training portrait is each clip's first frame (``warp_data.SOURCE_FRAME``); its mesh map is
drawn from the landmarks the app's tracker reads on that frame, exactly as the pipeline does for a photo, so the
cue looks the same in training and on real portraits. Written once per dataset folder:

    python -m export3d.training mesh-maps DATA        # DATA/mesh_maps.npy, (C, S, S, 3) uint8
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

MESH_FILE = "mesh_maps.npy"


def prepare_mesh_maps(folder: str | Path, frame: int = 0, progress: bool = True) -> tuple[Path, int]:
    """Draw the mesh map of frame ``frame`` of every clip; returns the file and how many clips had no face (their
    map stays 0, i.e. no cue)."""
    from ..errors import FaceInputError
    from ..face.extractor import FaceExtractor
    from ..face.mesh_map import mesh_map
    from ..synthetic.dataset import SyntheticDataset

    folder = Path(folder)
    frames = SyntheticDataset(folder).arrays["frames"]  # (C, F, S, S, 3) uint8
    size = frames.shape[2]
    out = np.zeros((len(frames), size, size, 3), np.uint8)
    ex, missed = FaceExtractor(), 0
    for c in tqdm(range(len(frames)), desc="mesh maps", unit="clip", disable=not progress):
        try:
            signals = ex.extract(np.ascontiguousarray(frames[c, frame]))
        except FaceInputError:
            missed += 1
            continue
        out[c] = np.round(mesh_map(signals.landmarks, size) * 255).astype(np.uint8)
    path = folder / MESH_FILE
    np.save(path, out)
    return path, missed
