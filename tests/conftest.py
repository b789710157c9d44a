"""Shared fixtures: seeded small models, the (reduced) paper model and model inputs."""

from __future__ import annotations

import os

import pytest
import torch

from export3d.config import ModelConfig
from export3d.models.export3d import Export3D
from export3d.models.segformer import EAdaLN
from export3d.rendering.camera import orbit_camera

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))  # 1 keeps a core free for other work


@pytest.fixture(autouse=True)
def _seed_everything():
    torch.manual_seed(0)
    yield


def build_model(cfg: ModelConfig, seed: int = 0, modulated: bool = False) -> Export3D:
    """``Export3D(cfg)`` built after ``torch.manual_seed(seed)``, in eval mode.

    EAdaLN modulation layers are zero-initialised (adaLN-Zero), so a freshly built
    generator ignores the expression. ``modulated=True`` gives them random weights,
    as a trained model would have, so that beta actually changes the tri-plane.
    """
    torch.manual_seed(seed)
    model = Export3D(cfg)
    if modulated:
        modulate(model, seed + 1000)
    return model.eval()


def modulate(model: Export3D, seed: int) -> Export3D:
    """Random EAdaLN modulation weights (a fresh model ignores the expression: adaLN-Zero), in place."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, EAdaLN):
                std = 1.0 / m.modulation.in_features ** 0.5
                m.modulation.weight.copy_(torch.randn(m.modulation.weight.shape, generator=gen) * std)
                m.modulation.bias.copy_(torch.randn(m.modulation.bias.shape, generator=gen) * 0.1)
    return model


def have_face_models() -> bool:
    """MediaPipe and the landmarker/YuNet model files are available offline."""
    try:
        from export3d.face.assets import LANDMARKER, YUNET, locate

        locate(LANDMARKER, download=False), locate(YUNET, download=False)
        import mediapipe  # noqa: F401
    except Exception:  # noqa: BLE001
        return False
    return True


def make_inputs(cfg: ModelConfig, batch: int, seed: int = 0):
    """Source in [-1, 1], blendshape-like beta in [0, 1], and cameras with distinct poses."""
    gen = torch.Generator().manual_seed(seed)
    s = cfg.generator.source_size
    source = torch.rand(batch, 3, s, s, generator=gen) * 2 - 1
    beta = torch.rand(batch, cfg.expression.beta_dim, generator=gen)
    yaw = torch.linspace(-20.0, 20.0, batch) if batch > 1 else torch.tensor([10.0])
    pitch = torch.linspace(5.0, -5.0, batch) if batch > 1 else torch.tensor([-5.0])
    return source, beta, orbit_camera(yaw, pitch)


@pytest.fixture
def small_cfg() -> ModelConfig:
    return ModelConfig.small()


@pytest.fixture
def small_model(small_cfg) -> Export3D:
    """A fresh seeded small model with random EAdaLN modulation, eval mode."""
    return build_model(small_cfg, seed=0, modulated=True)


@pytest.fixture(scope="session")
def paper_model() -> Export3D:
    """The paper architecture at source 64 (63M parameters): built once per session."""
    return build_model(ModelConfig.paper().scaled_to_source(64), seed=0)


@pytest.fixture
def model_factory():
    """``model_factory(cfg, seed=0, modulated=False) -> Export3D`` (see ``build_model``)."""
    return build_model


@pytest.fixture
def inputs_factory():
    """``inputs_factory(cfg, batch, seed=0) -> (source, beta, camera)`` (see ``make_inputs``)."""
    return make_inputs


def user_message(excinfo) -> str:
    """The text of a raised user-facing error: one plain sentence, never a traceback."""
    msg = str(excinfo.value)
    assert "Traceback" not in msg and "\n" not in msg
    return msg


def _ict_reason() -> str:
    from export3d.paths import ict_facekit_path

    return f"ICT-FaceKit data not found at {ict_facekit_path()} (set EXPORT3D_DATA or EXPORT3D_ICT_FACEKIT)"


def have_ict() -> bool:
    from export3d.paths import ict_facekit_path

    return ict_facekit_path().is_file()


#: skip marker for tests that render the synthetic world (they need the shared ICT-FaceKit file)
needs_ict = pytest.mark.skipif(not have_ict(), reason=_ict_reason())


@pytest.fixture(scope="session")
def renderer():
    """A 128² ``SceneRenderer`` (supersample 2) of the ICT-FaceKit head, shared by the synthetic-world tests."""
    if not have_ict():
        pytest.skip(_ict_reason())
    from export3d.synthetic.ict_model import ICTFaceModel
    from export3d.synthetic.scene import SceneRenderer

    return SceneRenderer(ICTFaceModel(), 128, supersample=2)
