"""Networks: CLeBS expression encoder, tri-plane generator, decoder, super-resolution, discriminator."""

from .export3d import Export3D, Export3DOutput

__all__ = ["Export3D", "Export3DOutput"]
