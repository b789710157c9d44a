"""Export3D: one-shot 3D-aware portrait animation with a CLeBS-driven tri-plane generator."""

from .checkpoint import save_pretrained
from .config import ModelConfig
from .models.export3d import Export3D

from_pretrained = Export3D.from_pretrained  #: ``export3d.from_pretrained(path)``, the same as the class method

__version__ = "0.1.0"
__all__ = ["Export3D", "ModelConfig", "from_pretrained", "save_pretrained", "__version__"]
