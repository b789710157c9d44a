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
from export3d.models.export3d import Export3D
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
    assert loss.item() < 0.5 * math.log(4)


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

    cfg = ModelConfig.small()
    s2 = Stage2Config(batch=2, adv_start=1, log_every=1, r1_interval=2, lpips=0.0)
    res = train_stage2(cfg, s2, data, tmp_path / "a", None, steps=3, minutes=5)
    assert res["step"] == 3
    model = Export3D.from_pretrained(tmp_path / "a" / "model")
    assert model.cfg == cfg
    rows = (tmp_path / "a" / "stage2_log.csv").read_text().splitlines()[1:]
    assert len(rows) == 3 and all("nan" not in r for r in rows)
    assert float(rows[-1].split(",")[5]) > 0  # the adversarial term is active after adv_start
    train_stage2(cfg, s2, data, tmp_path / "b", None, steps=2, minutes=5)
    train_stage2(cfg, s2, data, tmp_path / "b", None, steps=3, minutes=5)
    resumed = (tmp_path / "b" / "stage2_log.csv").read_text().splitlines()[-1].split(",")[:7]
    assert resumed == rows[-1].split(",")[:7]  # same step-3 losses as the uninterrupted run


def test_stage2_resume_takes_learning_rate_and_betas_from_the_config(data, tmp_path):
    import json

    cfg = ModelConfig.small()
    train_stage2(cfg, Stage2Config(batch=2, lpips=0.0, lr_g=1e-4), data, tmp_path / "r", None, steps=1, minutes=5)
    changed = Stage2Config(batch=2, lpips=0.0, lr_g=5e-4, betas=(0.9, 0.99))
    train_stage2(cfg, changed, data, tmp_path / "r", None, steps=2, minutes=5)
    meta = json.loads((tmp_path / "r" / "resume.json").read_text())
    groups = meta["opt.g.param_groups"]
    assert groups[0]["lr"] == 5e-4 and list(groups[0]["betas"]) == [0.9, 0.99]


def test_stage2_keeps_clebs_frozen(data, tmp_path):
    cfg = ModelConfig.small()
    train_stage1(cfg, small_s1(), data, tmp_path / "s1", steps=2, minutes=5)
    train_stage2(cfg, Stage2Config(batch=2, lpips=0.0), data, tmp_path / "s2", tmp_path / "s1", steps=2, minutes=5)

    s1 = load_file(str(tmp_path / "s1" / EXPRESSION_WEIGHTS))
    trained = Export3D.from_pretrained(tmp_path / "s2" / "model").expression.state_dict()
    assert all(torch.equal(s1[k], trained[k]) for k in s1)


def test_stage2_trains_a_direct_expression_encoder(data, tmp_path):
    import dataclasses

    cfg = ModelConfig.small()
    cfg = dataclasses.replace(cfg, expression=dataclasses.replace(cfg.expression, kind="direct"))
    torch.manual_seed(Stage2Config().seed)
    initial = Export3D(cfg).expression.state_dict()
    train_stage2(cfg, Stage2Config(batch=2, lpips=0.0), data, tmp_path / "s2", None, steps=2, minutes=5)
    trained = Export3D.from_pretrained(tmp_path / "s2" / "model").expression.state_dict()
    assert any(not torch.equal(initial[k], trained[k]) for k in initial)  # the ablation's MLP learns with G


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


# ----------------------------------------------------------------------------- real clips and mixing


def make_real_clips(folder: Path, videos: int = 3, clips: int = 4, frames: int = 6, size: int = 128,
                    seed: int = 1) -> Path:
    """``real-*.npz`` files as ``preprocess`` writes them; beta >= 2 marks a real example (synthetic is < 1)."""
    from export3d.rendering.camera import orbit_camera

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for v in range(videos):
        cams = orbit_camera(torch.from_numpy(rng.uniform(-20, 20, clips * frames)).float(), 0.0).numpy()
        valid = np.ones((clips, frames), bool)
        valid[0, :-2] = False  # the first clip of each video has exactly two tracked frames
        beta = (2 + v + rng.random((clips, frames, 52))).astype(np.float32)
        beta[~valid] = np.nan
        np.savez_compressed(folder / f"real-v{v}.npz",
                            frames=rng.integers(0, 256, (clips, frames, size, size, 3), dtype=np.uint8),
                            beta=beta, camera=cams.reshape(clips, frames, 25).astype(np.float32), valid=valid,
                            box=np.zeros((clips, frames, 3)), frame_index=np.zeros((clips, frames), np.int32))
    return folder


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    from export3d.training.data import RealClips

    return RealClips(make_real_clips(tmp_path_factory.mktemp("real")), holdout_clips=2)


def test_real_clips_load_in_order_and_hold_out_whole_videos(real):
    assert real.frames.shape == (12, 6, 128, 128, 3) and real.frames.dtype == torch.uint8
    assert real.heldout.tolist() == [0, 1]
    assert real.train.tolist() == list(range(4, 12))  # the rest of video 0 is not trained on
    assert real.valid[0].tolist() == [False] * 4 + [True] * 2 and torch.equal(real.beta[0, 0], torch.zeros(52))
    assert (real.beta[4:8][real.valid[4:8]] >= 3).all() and (real.beta[4:8] < 4).all()  # video 1
    for seed in range(20):  # only tracked frames are drawn, and contrastive clips need K tracked frames
        g = torch.Generator().manual_seed(seed)
        assert (real.pairs(4, g, heldout=True).beta >= 2).all()
        assert (real.clip_batch(8, 4, g)[1] >= 2).all() and (real.clip_batch(2, 3, g, heldout=True)[1] >= 2).all()
    assert real.clip_pool(4, heldout=True).tolist() == [1] and real.clip_pool(2, heldout=True).tolist() == [0, 1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Synthetic and real data at 16^2 (cheap to draw many batches from)."""
    from export3d.training.data import RealClips

    syn = TrainingData(make_dataset(tmp_path_factory.mktemp("tiny-syn"), clips=12, size=16), holdout_clips=2)
    return syn, RealClips(make_real_clips(tmp_path_factory.mktemp("tiny-real"), size=16), holdout_clips=2)


def _real_fraction(data, draws: int = 100, seed: int = 0) -> tuple[float, float]:
    """Fraction of real examples over ``16 * draws`` pairs and ``6 * draws`` contrastive clips."""
    g = torch.Generator().manual_seed(seed)
    pairs = torch.cat([data.pairs(16, g).beta[:, 0] for _ in range(draws)])
    clips = torch.cat([data.clip_batch(6, 2, g)[1][:, 0, 0] for _ in range(draws)])
    return float((pairs >= 2).float().mean()), float((clips >= 2).float().mean())


def test_mixing_ratio_decides_real_vs_synthetic(tiny):
    from export3d.training.data import MixedData

    data, real = tiny
    assert _real_fraction(MixedData(data, real, 0.0), 10) == (0.0, 0.0)
    assert _real_fraction(MixedData(data, real, 1.0), 10) == (1.0, 1.0)
    assert _real_fraction(MixedData(None, real, 0.3), 10) == (1.0, 1.0)  # real only
    assert _real_fraction(MixedData(data, None, 0.3), 10) == (0.0, 0.0)
    p, c = _real_fraction(MixedData(data, real, 0.3))
    assert abs(p - 0.3) < 0.04 and abs(c - 0.3) < 0.06  # 1,600 pairs and 600 clips


def test_mixed_batches_are_consistent_and_reproducible(data, real):
    from export3d.training.data import MixedData

    mixed = MixedData(data, real, 0.5)
    a = mixed.pairs(16, torch.Generator().manual_seed(7))
    b = mixed.pairs(16, torch.Generator().manual_seed(7))
    assert all(torch.equal(x, y) for x, y in zip((a.source, a.driver, a.beta, a.camera),
                                                 (b.source, b.driver, b.beta, b.camera), strict=True))
    is_real = a.beta[:, 0] >= 2
    assert 0 < int(is_real.sum()) < 16
    for i in range(16):  # every example is a frame of its own source with its own beta and camera
        src = real if is_real[i] else data
        c, f = [(c, f) for c in range(len(src.frames)) for f in range(src.frames.shape[1])
                if torch.equal(src.camera[c, f], a.camera[i])][0]
        assert torch.equal(src.beta[c, f], a.beta[i]) and torch.equal(src.to_float(src.frames[c, f]), a.driver[i])
        assert any(torch.equal(src.to_float(src.frames[c, k]), a.source[i]) for k in range(src.frames.shape[1]))
    i1, b1 = mixed.clip_batch(4, 2, torch.Generator().manual_seed(3))
    i2, b2 = mixed.clip_batch(4, 2, torch.Generator().manual_seed(3))
    assert torch.equal(i1, i2) and torch.equal(b1, b2) and i1.shape == (4, 2, 3, 128, 128)
    # ratio 0 draws exactly what the synthetic data alone draws (an existing run resumes unchanged)
    x = MixedData(data, real, 0.0).pairs(4, torch.Generator().manual_seed(5))
    assert torch.equal(x.source, data.pairs(4, torch.Generator().manual_seed(5)).source)


def test_real_clips_must_match_the_synthetic_frame_size(data, tmp_path):
    from export3d.training.data import MixedData, RealClips

    small = RealClips(make_real_clips(tmp_path / "r64", size=64), holdout_clips=1)
    with pytest.raises(ValueError, match="--size 128"):
        MixedData(data, small, 0.3)
    make_real_clips(tmp_path / "r64", videos=1, size=32, seed=5)  # overwrites real-v0 with another size
    with pytest.raises(ValueError, match="same --clip-frames and --size"):
        RealClips(tmp_path / "r64")
    with pytest.raises(FileNotFoundError, match="preprocess"):
        RealClips(tmp_path / "empty")


def test_stage1_cli_trains_on_real_clips_only(tmp_path, capsys):
    from export3d.training.cli import main

    folder = make_real_clips(tmp_path / "real", videos=3, clips=4, frames=16, size=32)
    args = ["stage1", "--real", str(folder), "--holdout-clips", "2", "--out", str(tmp_path / "run"),
            "--steps", "2", "--minutes", "2"]
    assert main(args) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["step"] == 2 and 0.0 <= res["heldout_retrieval"] <= 1.0
    assert (tmp_path / "run" / EXPRESSION_WEIGHTS).is_file()


def test_train_cli_needs_some_data(tmp_path):
    from export3d.training.cli import main

    with pytest.raises(SystemExit):
        main(["stage1", "--out", str(tmp_path / "x")])
