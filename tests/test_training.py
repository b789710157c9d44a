"""Training smoke tests on a tiny fabricated dataset: losses, checkpoints, exact resume, DDP."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from export3d.config import ModelConfig
from export3d.training.config import Stage1Config, Stage2Config
from export3d.training.data import BETA_FILE, TrainingData
from export3d.training.stage1 import EXPRESSION_WEIGHTS, Stage1, train_stage1
from export3d.training.stage2 import train_stage2


def make_dataset(folder: Path, clips: int = 6, frames: int = 6, size: int = 128, seed: int = 0) -> Path:
    """A dataset folder in the synthetic shard format with random frames, beta and cameras."""
    from export3d.rendering.camera import orbit_camera

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    cams = orbit_camera(torch.from_numpy(rng.uniform(-20, 20, clips * frames)).float(), 0.0).numpy()
    arrays = {
        "frames": rng.integers(0, 256, (clips, frames, size, size, 3), dtype=np.uint8),
        "camera": cams.reshape(clips, frames, 25).astype(np.float32),
        "expression": rng.random((clips, frames, 57), dtype=np.float32),
    }
    np.savez(folder / "shard-00000.npz", **arrays)
    (folder / "dataset.json").write_text(json.dumps({"format_version": 1, "spec": {}, "complete": True}))
    np.save(folder / BETA_FILE, rng.random((clips, frames, 52), dtype=np.float32))
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return TrainingData(make_dataset(tmp_path_factory.mktemp("ds")), holdout_clips=2)


def small_s1() -> Stage1Config:
    return Stage1Config(clips_per_batch=2, frames_per_clip=4, eval_every=2, image_size=32)


def test_training_data_pairs_come_from_one_clip(data):
    g = torch.Generator().manual_seed(0)
    b = data.pairs(3, g)
    assert b.source.shape == b.driver.shape == (3, 3, 128, 128) and b.beta.shape == (3, 52)
    assert b.source.min() >= -1 and b.source.max() <= 1
    for i in range(3):  # the driver's beta/camera belong to the driver frame of the same clip
        hit = [(c, f) for c in range(6) for f in range(6) if torch.equal(data.camera[c, f], b.camera[i])]
        c, f = hit[0]
        assert torch.equal(data.beta[c, f], b.beta[i])
        assert torch.equal(TrainingData.to_float(data.frames[c, f]), b.driver[i])
        assert any(torch.equal(TrainingData.to_float(data.frames[c, k]), b.source[i]) for k in range(6))


def test_contrastive_loss_starts_at_log_k_and_falls_when_overfitting(data):
    torch.manual_seed(0)
    model = Stage1(ModelConfig.small(), small_s1())
    images, beta = data.clip_batch(2, 4, torch.Generator().manual_seed(0))
    first = float(model(images, beta).detach())
    assert abs(first - math.log(4)) < 0.35
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(60):
        loss = model(images, beta)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.5 * math.log(4)


def test_stage1_smoke_writes_weights_and_resumes_exactly(data, tmp_path):
    cfg = ModelConfig.small()
    res = train_stage1(cfg, small_s1(), data, tmp_path / "a", steps=4, minutes=5)
    assert res["step"] == 4 and 0.0 <= res["heldout_retrieval"] <= 1.0
    weights = load_file(str(tmp_path / "a" / EXPRESSION_WEIGHTS))
    assert set(weights) == set(Stage1(cfg, small_s1()).expression.state_dict())
    train_stage1(cfg, small_s1(), data, tmp_path / "b", steps=2, minutes=5)
    train_stage1(cfg, small_s1(), data, tmp_path / "b", steps=4, minutes=5)  # resumes at step 2
    resumed = load_file(str(tmp_path / "b" / EXPRESSION_WEIGHTS))
    assert all(torch.equal(weights[k], resumed[k]) for k in weights)
    log = (tmp_path / "a" / "stage1_log.csv").read_text().splitlines()
    assert log[0].startswith("step,loss") and len(log) == 3 and "nan" not in log[-1]


def test_stage2_smoke_trains_all_losses_and_resumes_exactly(data, tmp_path):
    from export3d.checkpoint import from_pretrained

    cfg = ModelConfig.small()
    s2 = Stage2Config(batch=2, adv_start=1, log_every=1, r1_interval=2, lpips=0.0)
    res = train_stage2(cfg, s2, data, tmp_path / "a", None, steps=3, minutes=5)
    assert res["step"] == 3
    model = from_pretrained(tmp_path / "a" / "model")
    assert model.cfg == cfg
    rows = (tmp_path / "a" / "stage2_log.csv").read_text().splitlines()[1:]
    assert len(rows) == 3 and all("nan" not in r for r in rows)
    assert float(rows[-1].split(",")[5]) > 0  # the adversarial term is active after adv_start
    train_stage2(cfg, s2, data, tmp_path / "b", None, steps=2, minutes=5)
    train_stage2(cfg, s2, data, tmp_path / "b", None, steps=3, minutes=5)
    resumed = (tmp_path / "b" / "stage2_log.csv").read_text().splitlines()[-1].split(",")[:7]
    assert resumed == rows[-1].split(",")[:7]  # same step-3 losses as the uninterrupted run


def test_stage2_keeps_clebs_frozen(data, tmp_path):
    cfg = ModelConfig.small()
    train_stage1(cfg, small_s1(), data, tmp_path / "s1", steps=2, minutes=5)
    train_stage2(cfg, Stage2Config(batch=2, lpips=0.0), data, tmp_path / "s2", tmp_path / "s1", steps=2, minutes=5)
    from export3d.checkpoint import from_pretrained

    s1 = load_file(str(tmp_path / "s1" / EXPRESSION_WEIGHTS))
    trained = from_pretrained(tmp_path / "s2" / "model").expression.state_dict()
    assert all(torch.equal(s1[k], trained[k]) for k in s1)


def _ddp_worker(rank: int, world: int, init: str, out: str) -> None:
    import torch.distributed as dist

    from export3d.training.distributed import Dist, wrap

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    torch.manual_seed(0)  # same initial weights on every rank
    model = Stage1(ModelConfig.small(), small_s1())
    net = wrap(model, Dist(rank, world))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(100 + rank)  # different data on each rank
    for _ in range(2):
        images, beta = torch.rand(2, 4, 3, 32, 32, generator=g) * 2 - 1, torch.rand(2, 4, 52, generator=g)
        loss = net(images, beta)
        opt.zero_grad()
        loss.backward()
        opt.step()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f"{out}/rank{rank}.safetensors")
    dist.destroy_process_group()


def test_ddp_with_two_gloo_processes_keeps_ranks_identical(tmp_path):
    import torch.multiprocessing as mp

    init = f"file://{tmp_path}/rendezvous"
    mp.spawn(_ddp_worker, args=(2, init, str(tmp_path)), nprocs=2, join=True)
    a, b = (load_file(str(tmp_path / f"rank{r}.safetensors")) for r in range(2))
    assert all(torch.equal(a[k], b[k]) for k in a)
    torch.manual_seed(0)
    init_weights = Stage1(ModelConfig.small(), small_s1()).state_dict()
    assert any(not torch.equal(a[k], init_weights[k]) for k in a)  # they did train
