"""Training the warped model: field/visibility losses against hand-made truth, data pairs, the loop and resume."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from export3d.checkpoint import save_pretrained
from export3d.config import AppearanceConfig, ModelConfig
from export3d.models.export3d import Export3D
from export3d.rendering.camera import orbit_camera
from export3d.training.config import WarpConfig
from export3d.training.data import BETA_FILE
from export3d.training.stage_warp import train_warp, warm_start
from export3d.training.warp_data import FEATURE_WEIGHT, SOURCE_FRAME, WarpClips, feature_weights
from export3d.training.warp_losses import field_loss, visibility_loss, warp_losses

S, CLIPS, FRAMES, SHIFT = 64, 5, 4, 3.0  #: frame size, clips, frames per clip, driver motion in pixels


def centres(s: int) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(s) + 0.5, torch.arange(s) + 0.5, indexing="ij")
    return torch.stack([xx, yy], -1).float()


def test_field_loss_is_the_mean_pixel_error_in_image_widths_over_fully_valid_blocks():
    true = centres(S)[None].expand(2, -1, -1, -1).clone()
    valid = torch.ones(2, S, S, dtype=torch.bool)
    r = 16
    grid = (centres(r)[None] / r) * 2 - 1  # the identity field at R, grid_sample units
    assert field_loss(grid.expand(2, -1, -1, -1), true, valid).item() == pytest.approx(0.0, abs=1e-6)
    shifted = true.clone()
    shifted[..., 0] += 2.0  # the truth is 2 pixels to the right everywhere
    assert field_loss(grid.expand(2, -1, -1, -1), shifted, valid).item() == pytest.approx(2.0 / S, rel=1e-4)
    valid[:, :8, :] = False  # the top blocks are excluded whatever their truth says
    shifted[:, :8] = 1e4
    assert field_loss(grid.expand(2, -1, -1, -1), shifted, valid).item() == pytest.approx(2.0 / S, rel=1e-4)


def test_feature_weights_cover_the_mouth_and_eye_boxes():
    lm = torch.zeros(1, 68, 2)
    lm[0, 48:68] = torch.tensor([[20.0, 40.0], [30.0, 46.0]]).repeat(10, 1)  # mouth box x 20..30, y 40..46
    lm[0, 36:48] = torch.tensor([[10.0, 10.0], [14.0, 12.0]]).repeat(6, 1)  # both eyes in x 10..14, y 10..12
    w = feature_weights(lm, S, margin=0.0)[0]  # boxes grown by 1 pixel only
    assert w[43, 25] == w[11, 12] == 1 + FEATURE_WEIGHT  # pixel centres (25.5, 43.5) and (12.5, 11.5)
    assert w[43, 35] == w[30, 25] == w[11, 20] == 1.0
    # mouth: box x 19..31, y 39..47 holds pixel centres 19.5..30.5 (12 columns) x 39.5..46.5 (8 rows); eyes 6 x 4
    assert float((w > 1).sum()) == 12 * 8 + 6 * 4


def test_weighted_field_loss_counts_weighted_blocks_more():
    true = centres(S)[None].clone()
    true[:, : S // 2, :, 0] += 4.0  # the top half is 4 px off, the bottom half exact
    r = 16
    grid = (centres(r)[None] / r) * 2 - 1
    valid = torch.ones(1, S, S, dtype=torch.bool)
    weight = torch.ones(1, S, S)
    weight[:, : S // 2] = 3.0
    assert field_loss(grid, true, valid).item() == pytest.approx(2.0 / S, rel=1e-4)
    assert field_loss(grid, true, valid, weight).item() == pytest.approx(3 * 4.0 / S / 4, rel=1e-4)


def test_visibility_loss_prefers_the_true_visibility():
    visible = torch.zeros(1, S, S, dtype=torch.bool)
    visible[:, :, : S // 2] = True  # left half visible
    right = torch.where(torch.arange(16) < 8, 20.0, -20.0).expand(1, 1, 16, 16)
    assert visibility_loss(right, visible).item() < 1e-6
    assert visibility_loss(-right, visible).item() > 10


def make_v2_dataset(folder: Path) -> Path:
    """Format-2 shards with known truth: each later frame is the first one moved SHIFT pixels to the right, so
    every pixel's surface point lies SHIFT pixels to its left in the first frame; the first column is occluded."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    base = rng.integers(0, 256, (CLIPS, S, S, 3), dtype=np.uint8)
    frames = np.stack([np.roll(base, int(SHIFT) * min(f, 1), axis=2) for f in range(FRAMES)], 1)
    flow = np.zeros((CLIPS, FRAMES, S, S, 2), np.float16)
    flow[:, 1:, :, :, 0] = -SHIFT
    visible = np.ones((CLIPS, FRAMES, S, S), np.uint8)
    visible[:, 1:, :, : int(SHIFT)] = 0
    cams = np.broadcast_to(orbit_camera(0.0, 0.0).numpy(), (CLIPS, FRAMES, 25)).astype(np.float32)
    np.savez(folder / "shard-00000.npz", frames=frames, camera=cams, flow=flow, visible=visible,
             foreground=np.ones_like(visible), part=np.ones_like(visible),
             expression=np.zeros((CLIPS, FRAMES, 57), np.float32),
             landmarks2d=np.broadcast_to(rng.uniform(16, 48, (68, 2)), (CLIPS, FRAMES, 68, 2)).astype(np.float32))
    (folder / "dataset.json").write_text(json.dumps({"format_version": 2, "spec": {}, "complete": True}))
    np.save(folder / BETA_FILE, rng.random((CLIPS, FRAMES, 52), dtype=np.float32))
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return WarpClips(make_v2_dataset(tmp_path_factory.mktemp("v2")), holdout_clips=1)


def test_pairs_take_the_first_frame_as_the_portrait_with_its_truth(data):
    b = data.warp_pairs(3, torch.Generator().manual_seed(0))
    assert b.source.shape == b.driver.shape == (3, 3, S, S) and b.coords.shape == (3, S, S, 2)
    for i in range(3):
        assert any(torch.equal(data.to_float(data.frames[c, SOURCE_FRAME]), b.source[i]) for c in range(CLIPS))
        assert not torch.equal(b.driver[i], b.source[i])  # a later frame
    assert torch.allclose(b.coords[..., 0], centres(S)[..., 0] - SHIFT) and b.visible[:, :, :3].logical_not().all()
    # the truth is right: sampling the source at the true coordinates gives the driver where visible
    src = b.source[0].permute(1, 2, 0)
    cols = (b.coords[0, ..., 0] - 0.5).round().long().clamp(0, S - 1)
    assert torch.equal(src[torch.arange(S)[:, None], cols][:, 3:], b.driver[0].permute(1, 2, 0)[:, 3:])


def small_warped(tmp_path: Path) -> Export3D:
    cfg = ModelConfig.small().scaled_to_source(S)
    torch.manual_seed(0)
    init = save_pretrained(Export3D(cfg), tmp_path / "generated")
    return warm_start(init, AppearanceConfig(kind="warped", output_size=S))


def test_warm_start_copies_every_shared_weight(tmp_path):
    model = small_warped(tmp_path)
    generated = Export3D.from_pretrained(tmp_path / "generated")
    shared = generated.state_dict()
    for k, v in model.state_dict().items():
        if k in shared:
            assert torch.equal(v, shared[k]), k
    assert model.warped and not generated.warped


def test_training_runs_resumes_and_saves_a_loadable_warped_model(data, tmp_path):
    w = dataclasses.replace(WarpConfig(), batch=2, lpips=0.0, log_every=1, image_every=0)
    model = small_warped(tmp_path)
    res = train_warp(model, w, data, None, tmp_path / "run", steps=2, minutes=5)
    assert res["step"] == 2
    res = train_warp(small_warped(tmp_path), w, data, None, tmp_path / "run", steps=3, minutes=5)
    assert res["step"] == 3  # resumed at 2, one more step
    rows = (tmp_path / "run" / "warp_log.csv").read_text().splitlines()
    assert rows[0].startswith("step,loss,l1,rendered,lpips,field,visibility") and len(rows) == 4
    saved = Export3D.from_pretrained(tmp_path / "run" / "model")
    assert saved.warped and saved.cfg.appearance.output_size == S


def test_the_field_learns_a_known_motion(data, tmp_path):
    """Trained on one batch, the field moves towards the true SHIFT-pixel correspondence."""
    w = dataclasses.replace(WarpConfig(), batch=2, lpips=0.0, lr=3e-3)
    model = small_warped(tmp_path).train()
    model.expression.requires_grad_(False)
    batch = data.warp_pairs(2, torch.Generator().manual_seed(1))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=w.lr)
    first = None
    for _ in range(40):
        total, terms, _ = warp_losses(model, batch, w, None)
        first = float(terms["field"].detach()) if first is None else first
        opt.zero_grad()
        total.backward()
        opt.step()
    assert first == pytest.approx(SHIFT / S, rel=0.35)  # untrained: the identity field, SHIFT pixels off
    assert float(terms["field"].detach()) < 0.5 * first


def test_a_mesh_cue_model_trains_on_the_datasets_mesh_maps_and_a_plain_one_ignores_them(tmp_path):
    """``mesh_maps.npy`` (``mesh-maps``) reaches the batches as the portrait's map; a mesh-cue warm start pads the
    input weights with zeros (the same planes as its start), trains on the maps and saves a model with the cue."""
    from export3d.training.mesh_maps import MESH_FILE

    folder = make_v2_dataset(tmp_path / "v2")
    maps = np.random.default_rng(1).integers(0, 256, (CLIPS, S, S, 3), dtype=np.uint8)
    np.save(folder / MESH_FILE, maps)
    clips = WarpClips(folder, holdout_clips=1)
    b = clips.warp_pairs(3, torch.Generator().manual_seed(0))
    for i in range(3):  # each row's map is its own portrait's clip's
        c = next(c for c in range(CLIPS) if torch.equal(clips.to_float(clips.frames[c, SOURCE_FRAME]), b.source[i]))
        assert torch.allclose(b.mesh[i], torch.from_numpy(maps[c]).permute(2, 0, 1).float() / 255)
    plain = small_warped(tmp_path)
    cued = warm_start(tmp_path / "generated", AppearanceConfig(kind="warped", output_size=S), mesh_cue=True)
    with torch.no_grad():
        assert torch.allclose(cued.planes(cued.encode_source(b.source, b.mesh), b.beta),
                              plain.planes(plain.encode_source(b.source), b.beta), atol=1e-5)
    w = dataclasses.replace(WarpConfig(), batch=2, lpips=0.0, log_every=1, image_every=0)
    assert train_warp(plain, w, clips, None, tmp_path / "plain", steps=1, minutes=5)["step"] == 1
    assert train_warp(cued, w, clips, None, tmp_path / "cued", steps=2, minutes=5)["step"] == 2
    saved = Export3D.from_pretrained(tmp_path / "cued" / "model")
    assert saved.cfg.generator.mesh_cue
    assert saved.generator.stem[0][0].weight[:, 5:].abs().amax() > 0  # the cue's weights trained
