"""Dataset shards (writer, resume, reader), identity splits and the ground-truth benchmark."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from export3d.paths import ict_facekit_path
from export3d.rendering.camera import camera_angles
from export3d.synthetic.clips import TEST_SEED_OFFSET, identity_seed

needs_data = pytest.mark.skipif(
    not ict_facekit_path().is_file(),
    reason=f"ICT-FaceKit data not found at {ict_facekit_path()} (set EXPORT3D_DATA or EXPORT3D_ICT_FACEKIT)",
)


def test_train_and_test_identity_seeds_never_overlap():
    train = {identity_seed("train", i) for i in (0, 1, 999_999)}
    test = {identity_seed("test", i) for i in (0, 1, 999_999)}
    assert not train & test
    assert max(train) < TEST_SEED_OFFSET <= min(test)
    with pytest.raises(ValueError):
        identity_seed("train", TEST_SEED_OFFSET)
    with pytest.raises(ValueError):
        identity_seed("valid", 0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from export3d.synthetic.dataset import DatasetSpec, write_dataset

    out = tmp_path_factory.mktemp("ds")
    spec = DatasetSpec(clips=3, frames=4, size=32, shard_size=2)
    write_dataset(spec, out, workers=1, progress=False)
    return spec, out


@needs_data
def test_dataset_shapes_ranges_and_reader(tiny):
    from export3d.synthetic.dataset import SyntheticDataset

    spec, out = tiny
    ds = SyntheticDataset(out)
    a = ds.arrays
    assert len(ds) == 3 and ds.num_frames == 4
    assert a["frames"].shape == (3, 4, 32, 32, 3) and a["frames"].dtype == np.uint8
    assert a["camera"].shape == (3, 4, 25) and a["expression"].shape == (3, 4, 57)
    assert a["expression"].min() >= 0 and a["expression"].max() <= 1
    assert list(a["clip_index"]) == [0, 1, 2] and len(set(a["identity_seed"])) == 3
    # landmarks project inside the frame and mostly onto the head mask
    lm = a["landmarks2d"].reshape(-1, 68, 2)
    assert (lm > 0).all() and (lm < 32).all()
    pairs = ds.sample_pairs(np.random.default_rng(0), 5)
    assert pairs["source_frames"].shape == (5, 32, 32, 3)
    for k, c in enumerate(pairs["clip"]):  # source and driver both come from clip c
        for role in ("source", "driver"):
            assert any(np.array_equal(pairs[f"{role}_camera"][k], cam) for cam in a["camera"][c])
    clips = ds.sample_clip_frames(np.random.default_rng(0), 2, 3)
    assert clips["frames"].shape == (2, 3, 32, 32, 3)
    assert all(len(set(map(tuple, e.round(6)))) == 3 for e in clips["expression"])  # distinct frames


@needs_data
def test_dense_fields_load_on_request_and_point_to_the_first_frame(tiny):
    from export3d.synthetic.dataset import DENSE_KEYS, SyntheticDataset
    from export3d.synthetic.parts import Part

    _, out = tiny
    assert not set(DENSE_KEYS) & set(SyntheticDataset(out).arrays)  # the training reader's memory is unchanged
    a = SyntheticDataset(out, dense=True).arrays
    assert a["flow"].shape == (3, 4, 32, 32, 2) and a["flow"].dtype == np.float16
    assert a["visible"].dtype == a["foreground"].dtype == a["part"].dtype == np.uint8
    assert np.array_equal(a["foreground"], (a["part"] != Part.BACKGROUND).astype(np.uint8))
    assert a["part"].max() <= max(Part) and (a["foreground"].mean() > 0.2)
    # frame 0 is the source of its own field: zero flow, everything visible
    assert np.abs(a["flow"][:, 0].astype(np.float32)).max() < 2e-3 and a["visible"][:, 0].all()
    # static background: zero flow off the person in every frame
    bg = a["foreground"] == 0
    assert np.abs(a["flow"][bg].astype(np.float32)).max() == 0


@needs_data
def test_writer_resumes_and_reproduces_shards(tiny):
    from export3d.synthetic.dataset import DatasetSpec, write_dataset

    spec, out = tiny
    shard = out / "shard-00001.npz"
    before = dict(np.load(shard))
    shard.unlink()
    write_dataset(spec, out, workers=1, progress=False)  # only the missing shard is rendered again
    after = dict(np.load(shard))
    assert all(np.array_equal(before[k], after[k]) for k in before)
    with pytest.raises(ValueError, match="different dataset"):
        write_dataset(DatasetSpec(clips=3, frames=5, size=32, shard_size=2), out, workers=1, progress=False)


@needs_data
def test_benchmark_ground_truth(tmp_path):
    from export3d.synthetic.benchmark import PITCHES, YAWS, make_benchmark
    from export3d.synthetic.ict_model import ICTFaceModel
    from export3d.synthetic.scene import SceneRenderer

    meta = make_benchmark(SceneRenderer(ICTFaceModel(), 32), tmp_path, identities=3, drivers=2, progress=False)
    b = np.load(tmp_path / "benchmark.npz")
    assert meta["identities"] == 3
    assert b["cross_frames"].shape == b["cross_gt_frames"].shape == (3, 2, 32, 32, 3)
    assert b["views_gt_frames"].shape[1] == len(YAWS) * len(PITCHES)
    assert (b["identity_seed"] >= TEST_SEED_OFFSET).all()
    for i in range(3):
        assert i not in b["cross_driver_identity"][i]  # cross drivers are other people
        # the ground truth keeps the source's background (top-left corner) and the driver's camera/expression
        assert np.array_equal(b["cross_gt_frames"][i, :, 0, 0], np.repeat(b["source_frames"][i:i + 1, 0, 0], 2, 0))
    # self-reenactment ground truth is the driver frame itself; the source is near-frontal
    assert b["self_frames"].shape == (3, 2, 32, 32, 3)
    yaw, pitch = camera_angles(torch.from_numpy(b["source_camera"]))
    assert (yaw.abs() <= 8.01).all() and (pitch.abs() <= 5.01).all()
    for prefix in ("self", "cross_gt", "views_gt"):  # dense fields of every ground truth set, to the source frame
        k = b[f"{prefix}_frames"].shape[1]
        assert b[f"{prefix}_flow"].shape == (3, k, 32, 32, 2) and b[f"{prefix}_visible"].shape == (3, k, 32, 32)
        assert b[f"{prefix}_part"].shape == b[f"{prefix}_foreground"].shape == (3, k, 32, 32)
    assert b["source_part"].shape == (3, 32, 32)
    vy, vp = camera_angles(torch.from_numpy(b["views_camera"][0]))
    assert np.allclose(vy.numpy(), b["views_yaw_pitch"][:, 0], atol=1e-3)
    assert np.allclose(vp.numpy(), b["views_yaw_pitch"][:, 1], atol=1e-3)
