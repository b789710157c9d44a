"""Evaluation metrics: hand-computed PSNR/SSIM/AKD/AED/APD, ST-LPIPS and SFace CSIM."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from export3d.evaluation.metrics import (
    expression_distance,
    keypoint_distance,
    pose_distance,
    psnr,
    ssim,
    summarize,
)

# --------------------------------------------------------------------------- PSNR / SSIM


def test_psnr_of_a_constant_offset_is_exact():
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(2, 3, 16, 12, generator=gen, dtype=torch.float64) * 1.8 - 0.9
    out = psnr(target + 0.1, target)
    assert out.shape == (2,)
    # MSE = 0.1^2 up to float64 rounding of (x + 0.1) - x
    torch.testing.assert_close(out, torch.full((2,), 10 * math.log10(4 / 0.01), dtype=torch.float64),
                               rtol=0, atol=1e-9)
    # data_range 1 -> 10 log10(1 / 0.01) = 20 dB
    assert psnr(target + 0.1, target, data_range=1.0)[0].item() == pytest.approx(20.0, abs=1e-9)


def test_psnr_of_identical_images_is_finite():
    x = torch.zeros(1, 3, 8, 8)
    assert psnr(x, x).item() == pytest.approx(10 * math.log10(4 / 1e-10), rel=1e-6)


def test_ssim_of_identical_images_is_one():
    x = torch.rand(3, 3, 32, 24, generator=torch.Generator().manual_seed(1)) * 2 - 1
    torch.testing.assert_close(ssim(x, x), torch.ones(3), rtol=0, atol=1e-5)


def test_ssim_of_an_image_and_its_negation_is_negative():
    # A pixel checkerboard under a smooth per-channel amplitude has near-zero local means, so the
    # luminance term is ~1 and the contrast-structure term (2 cov + C2) / (var_x + var_y + C2) ~ -1
    # decides the sign (where local means are large, both terms are negative and SSIM(x, -x) > 0).
    r = torch.arange(32, dtype=torch.float64)
    board = (r[:, None] + r[None, :]) % 2 * 2 - 1
    channel = torch.arange(3.0, dtype=torch.float64)[:, None, None]
    amplitude = 0.5 + 0.3 * torch.sin(0.2 * r[None, :, None] + 0.1 * r[None, None, :] + channel)
    x = (board * amplitude)[None]
    value = ssim(x, -x).item()
    assert value < -0.9


def test_ssim_of_constant_images_reduces_to_the_luminance_term():
    a, b = 0.5, -0.2
    c1 = (0.01 * 2.0) ** 2
    pred = torch.tensor([a, 0.3], dtype=torch.float64).view(2, 1, 1, 1).expand(2, 3, 15, 13)
    target = torch.tensor([b, 0.3], dtype=torch.float64).view(2, 1, 1, 1).expand(2, 3, 15, 13)
    expected = torch.tensor([(2 * a * b + c1) / (a * a + b * b + c1), 1.0], dtype=torch.float64)
    torch.testing.assert_close(ssim(pred, target), expected, rtol=0, atol=1e-9)


def test_ssim_matches_skimage_gaussian_ssim():
    from skimage.metrics import structural_similarity

    gen = torch.Generator().manual_seed(3)
    x = torch.rand(1, 3, 40, 36, generator=gen, dtype=torch.float64) * 2 - 1
    y = (x + torch.randn(1, 3, 40, 36, generator=gen, dtype=torch.float64) * 0.3).clamp(-1, 1)
    ref = structural_similarity(x[0].permute(1, 2, 0).numpy(), y[0].permute(1, 2, 0).numpy(), data_range=2.0,
                                channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    assert ssim(x, y).item() == pytest.approx(ref, abs=1e-9)


def test_image_metrics_reject_mismatched_shapes():
    with pytest.raises(ValueError):
        psnr(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))
    with pytest.raises(ValueError):
        ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))  # smaller than the 11x11 window


# --------------------------------------------------------------------------- AKD / AED / APD / summary


def test_keypoint_distance_on_three_points():
    pred = torch.tensor([[[0.0, 0.0], [3.0, 4.0], [1.0, 1.0]]])
    true = torch.tensor([[[0.0, 0.0], [0.0, 0.0], [1.0, 2.0]]])
    torch.testing.assert_close(keypoint_distance(pred, true), torch.tensor([2.0]))  # (0 + 5 + 1) / 3


def test_keypoint_distance_ignores_nan_points():
    nan = float("nan")
    pred = torch.tensor([[[0.0, 0.0], [3.0, 4.0], [nan, 1.0], [7.0, 7.0]],
                         [[nan, nan], [1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]], requires_grad=True)
    true = torch.tensor([[[0.0, 0.0], [0.0, 0.0], [1.0, 2.0], [7.0, nan]],
                         [[0.0, 0.0], [nan, 0.0], [nan, nan], [0.0, nan]]])
    out = keypoint_distance(pred, true)
    assert out[0].item() == pytest.approx(2.5)  # only (0, 5) are valid in both
    assert math.isnan(out[1].item())  # nothing valid
    out[0].backward()
    assert torch.isfinite(pred.grad).all()


def test_expression_distance():
    beta_pred = torch.tensor([[0.1, 0.5, 0.9, 0.0], [1.0, 1.0, 1.0, 1.0]])
    beta_true = torch.tensor([[0.2, 0.5, 0.6, 0.4], [1.0, 1.0, 1.0, 1.0]])
    torch.testing.assert_close(expression_distance(beta_pred, beta_true), torch.tensor([0.2, 0.0]))


def test_pose_distance_wraps_around():
    pred = torch.tensor([[179.0, 10.0, -5.0], [180.0, 90.0, 0.0], [350.0, -30.0, 45.0]], dtype=torch.float64)
    true = torch.tensor([[-179.0, 20.0, -5.0], [-180.0, -90.0, 0.0], [10.0, 30.0, 40.0]], dtype=torch.float64)
    # |wrap(358)| = 2, 10, 0 -> 4;  0, 180, 0 -> 60;  20, 60, 5 -> 85 / 3
    expected = torch.tensor([4.0, 60.0, 85.0 / 3], dtype=torch.float64)
    torch.testing.assert_close(pose_distance(pred, true), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(pose_distance(true, pred), expected, rtol=0, atol=1e-12)


def test_summarize_ignores_nan():
    nan = float("nan")
    out = summarize({"akd": torch.tensor([1.0, nan, 3.0]), "aed": torch.tensor([nan, nan]),
                     "psnr": torch.tensor([5.0])})
    assert out == {"akd": 2.0, "aed": out["aed"], "psnr": 5.0}
    assert math.isnan(out["aed"])
    assert all(isinstance(v, float) for v in out.values())


# --------------------------------------------------------------------------- ST-LPIPS


def _pattern(size: int, phase: float) -> torch.Tensor:
    """A smooth deterministic colour pattern ``(1, 3, size, size)`` in [-0.6, 0.6]."""
    r = torch.arange(size, dtype=torch.float64)
    v, u = torch.meshgrid(r, r, indexing="ij")
    ch = torch.arange(3, dtype=torch.float64)[:, None, None]
    img = 0.6 * torch.sin(0.23 * u + 0.11 * v + 1.3 * ch + phase) * torch.cos(0.07 * v - 0.05 * u + phase)
    return img[None].float()


@pytest.fixture(scope="module")
def stlpips():
    from export3d.models.perceptual import STLPIPS

    try:
        return STLPIPS("alex")
    except RuntimeError as e:
        pytest.skip(f"ST-LPIPS weights unavailable: {e}")


def test_stlpips_of_identical_images_is_zero(stlpips):
    x = torch.cat([_pattern(64, 0.0), _pattern(64, 1.0)])
    d = stlpips(x, x.clone())
    assert d.shape == (2,)
    assert d.abs().max().item() <= 1e-6


def test_stlpips_grows_with_noise_and_is_symmetric(stlpips):
    x = _pattern(64, 0.4)
    gen = torch.Generator().manual_seed(5)
    noise = torch.randn(1, 3, 64, 64, generator=gen)
    noisy = torch.cat([(x + s * noise).clamp(-1, 1) for s in (0.05, 0.15, 0.4)])
    with torch.no_grad():
        d = stlpips(noisy, x.expand_as(noisy))
        d_swapped = stlpips(x.expand_as(noisy), noisy)
    assert d[0] > 0 and d[0] < d[1] < d[2], d
    torch.testing.assert_close(d, d_swapped, rtol=1e-5, atol=1e-6)


def test_stlpips_passes_gradients_to_pred(stlpips):
    target = _pattern(64, 0.0)
    pred = (_pattern(64, 0.8)).requires_grad_(True)
    stlpips(pred, target).sum().backward()
    assert torch.isfinite(pred.grad).all()
    assert pred.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in stlpips.parameters())


def test_stlpips_matches_the_reference_package():
    """Values from ``stlpips_pytorch.stlpips.LPIPS(net, variant="shift_tolerant")`` itself (run once
    with torchvision stubbed out, since that package imports it) on the same inputs."""
    from export3d.models.perceptual import STLPIPS

    x = torch.cat([_pattern(64, 0.0), _pattern(64, 0.5)])
    y = torch.cat([_pattern(64, 0.3), _pattern(64, 2.0)])
    reference = {"alex": [0.029875043779611588, 0.2378484308719635],
                 "vgg": [0.09663429111242294, 0.5611827969551086]}
    for net, ref in reference.items():
        try:
            metric = STLPIPS(net)
        except RuntimeError as e:
            pytest.skip(f"ST-LPIPS weights unavailable: {e}")
        with torch.no_grad():
            torch.testing.assert_close(metric(x, y), torch.tensor(ref), rtol=1e-5, atol=1e-7)


def test_stlpips_reports_missing_weights(monkeypatch, tmp_path):
    from export3d.models.perceptual import ENV_WEIGHTS, STLPIPS

    monkeypatch.setenv(ENV_WEIGHTS, str(tmp_path / "missing.pth"))
    with pytest.raises(RuntimeError, match=ENV_WEIGHTS):
        STLPIPS()


# --------------------------------------------------------------------------- SFace CSIM


@pytest.fixture(scope="module")
def sface():
    from export3d.errors import ModelFileError
    from export3d.face.assets import SFACE, YUNET, locate

    try:
        locate(SFACE, download=False)
        locate(YUNET, download=False)
    except ModelFileError as e:
        pytest.skip(f"SFace/YuNet model files not installed: {e}")
    from export3d.evaluation.identity import SFaceIdentity

    return SFaceIdentity(download=False)


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return data.astronaut()


def test_sface_embedding_is_unit_norm_and_self_similar(sface, astronaut):
    e = sface.embed(astronaut)
    assert e.shape == (128,) and e.dtype == np.float32
    assert np.linalg.norm(e) == pytest.approx(1.0, abs=1e-5)
    assert sface.csim(astronaut, astronaut) > 0.99
    face = sface.detector.detect(astronaut)[0]
    assert float(e @ sface.embed(astronaut, face)) > 0.999  # an explicit detection gives the same result


def test_sface_resized_brightened_copy_is_similar(sface, astronaut):
    import cv2

    small = cv2.resize(astronaut, (400, 400), interpolation=cv2.INTER_AREA)
    brighter = np.clip(small.astype(np.float32) * 1.1 + 15, 0, 255).astype(np.uint8)
    assert sface.csim(astronaut, brighter) > 0.8


def test_sface_raises_without_a_face(sface):
    from export3d.errors import NoFaceError

    with pytest.raises(NoFaceError):
        sface.embed(np.full((200, 200, 3), 128, np.uint8))


def test_sface_different_face_is_dissimilar(sface, astronaut):
    from export3d.paths import ict_facekit_path

    if not ict_facekit_path().is_file():
        pytest.skip(f"ICT-FaceKit data not found at {ict_facekit_path()} (set EXPORT3D_DATA or EXPORT3D_ICT_FACEKIT)")
    from export3d.rendering.camera import orbit_camera
    from export3d.synthetic.appearance import Lighting
    from export3d.synthetic.ict_model import ICTFaceModel
    from export3d.synthetic.scene import Person, SceneRenderer

    size = 128
    renderer = SceneRenderer(ICTFaceModel(), size, supersample=2)
    d = np.array([0.3, 0.3, 1.0])
    light = Lighting(direction=d / np.linalg.norm(d), colour=np.full(3, 0.7), ambient=np.full(3, 0.4), sky=0.1)
    frame = renderer.render(renderer.prepare(Person.from_seed(1)), np.zeros(57, np.float32),
                            orbit_camera(0.0, 0.0)[0], light, np.full((size, size, 3), 0.5, np.float32))
    assert sface.csim(astronaut, frame.image) < 0.5
