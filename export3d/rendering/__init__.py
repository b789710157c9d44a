"""Parameter-free rendering maths: cameras, rays, tri-plane sampling, compositing, renderer."""

from .camera import orbit_camera, pack_camera, unpack_camera
from .renderer import RenderOutput, RenderSettings, render_triplane

__all__ = ["orbit_camera", "pack_camera", "unpack_camera", "RenderOutput", "RenderSettings", "render_triplane"]
