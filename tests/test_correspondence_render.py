"""Correspondences, parts and the body on real rendered frames of the ICT head (skipped without the data)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import needs_ict

from export3d.synthetic.correspondence import correspondence, pixel_centres

pytestmark = needs_ict
SIZE = 128


@pytest.fixture(scope="module")
def clip(renderer):
    from export3d.synthetic.clips import make_clip_spec, render_frames

    spec = make_clip_spec("train", 3, 24, SIZE)
    prep = renderer.prepare(spec.person)
    pick = [0, 5, 8, 23]  # only the frames the tests use
    frames = render_frames(renderer, prep, spec.motion.expression[pick], spec.cameras[pick], spec.lighting,
                           spec.background)
    return prep, dict(zip(pick, frames, strict=True))


def field(prep, target, source):
    return correspondence(target.surface, source.surface, source.vertices, source.camera, prep.mesh.tris)


def test_a_frame_maps_onto_itself(clip):
    prep, frames = clip
    c = field(prep, frames[5], frames[5])
    np.testing.assert_allclose(c.coords, pixel_centres(SIZE, SIZE), atol=2e-3)
    assert c.visible.all()


def test_warping_the_source_with_the_true_field_reproduces_the_target(clip):
    """Visible foreground: bilinear-warp error only (docs/synthetic.md); a field 1 pixel off is far worse."""
    from export3d.synthetic.warp import warp

    prep, frames = clip
    src = frames[0].image.astype(np.float32)
    for k in (8, 23):
        tgt = frames[k].image.astype(np.float32)
        c = field(prep, frames[k], frames[0])
        m = c.visible & frames[k].foreground
        assert m.sum() > 0.8 * frames[k].foreground.sum()
        true, off = (np.abs(warp(src, xy) - tgt).mean(-1)[m].mean() for xy in (c.coords, c.coords + [1.0, 0.0]))
        copy = np.abs(src - tgt).mean(-1)[m].mean()
        assert true < 3.5, (k, true)  # grey levels
        assert off > 1.5 * true and copy > 2 * true, (k, true, off, copy)


def test_parts_label_the_right_features(renderer, clip):
    from export3d.rendering.camera import orbit_camera
    from export3d.synthetic.parts import Part

    prep, _ = clip
    render = lambda pitch: renderer.render(prep, np.zeros(57, np.float32), orbit_camera(0.0, pitch)[0],  # noqa: E731
                                           _flat_light(), np.full((SIZE, SIZE, 3), 0.5, np.float32))
    f, above = render(0.0), render(15.0)
    at = lambda xy: f.part[int(xy[1]), int(xy[0])]  # noqa: E731
    lm = f.landmarks2d
    assert at(lm[30]) == Part.SKIN  # nose tip
    assert at(lm[36:42].mean(0)) == Part.EYES and at(lm[42:48].mean(0)) == Part.EYES
    assert f.part[0, 0] == Part.BACKGROUND and not f.foreground[0, 0]
    top = np.flatnonzero(f.foreground[:, SIZE // 2])[0]  # the first person pixel in the middle column
    assert f.part[top + 1, SIZE // 2] == Part.HAIR
    assert f.part[-1, SIZE // 2] == Part.NECK  # straight below the chin
    torso = lambda frame: (frame.part == Part.TORSO).sum()  # noqa: E731
    assert (above.part[-1] == Part.TORSO).any() and torso(above) > torso(f)  # from above, more shoulder shows


def test_mouth_interior_is_labelled_when_the_mouth_opens(renderer, clip):
    from export3d.rendering.camera import orbit_camera
    from export3d.synthetic.motion import ICT_EXPRESSION_NAMES
    from export3d.synthetic.parts import Part

    prep, _ = clip
    expr = np.zeros(57, np.float32)
    expr[ICT_EXPRESSION_NAMES.index("jawOpen")] = 0.8
    f = renderer.render(prep, expr, orbit_camera(0.0, 0.0)[0], _flat_light(), np.full((SIZE, SIZE, 3), 0.5, np.float32))
    inner = f.landmarks2d[60:68].mean(0)  # the middle of the inner lip contour
    assert f.part[int(inner[1]), int(inner[0])] == Part.MOUTH


def test_the_body_stays_still_while_the_head_turns(renderer, clip):
    """Same placement, yaw 0 -> 30: in camera space the body only moves by the neck pivot's displacement.

    Truth: a torso point seen at target pixel ``(x, y)`` with depth ``z`` sits at ``P = z K^-1 (x, y, 1)`` in the
    target camera; in the source camera it is ``P + (pivot_src - pivot_tgt)`` (camera coordinates), projected by K.
    """
    from export3d.rendering.camera import FOCAL, orbit_camera
    from export3d.synthetic.parts import Part

    prep, _ = clip
    light, bg = _flat_light(), np.full((SIZE, SIZE, 3), 0.5, np.float32)
    src = renderer.render(prep, np.zeros(57, np.float32), orbit_camera(0.0, 15.0)[0], light, bg)
    tgt = renderer.render(prep, np.zeros(57, np.float32), orbit_camera(30.0, 15.0)[0], light, bg)
    c = field(prep, tgt, src)
    torso = tgt.part == Part.TORSO
    assert torso.sum() > 50

    def to_camera(frame, p):
        c2w = frame.camera[:16].reshape(4, 4).astype(np.float64)
        return (p - c2w[:3, 3]) @ c2w[:3, :3]

    shift = to_camera(src, prep.mesh.pivot) - to_camera(tgt, prep.mesh.pivot)
    z = tgt.surface.depth[torso].astype(np.float64)
    xy = pixel_centres(SIZE, SIZE)[torso]
    p = np.stack([(xy[:, 0] / SIZE - 0.5) * z / FOCAL, (xy[:, 1] / SIZE - 0.5) * z / FOCAL, z], 1) + shift
    truth = (p[:, :2] / p[:, 2:] * FOCAL + 0.5) * SIZE
    np.testing.assert_allclose(c.coords[torso], truth, atol=0.02)
    flow = c.coords - pixel_centres(SIZE, SIZE)
    assert flow[tgt.part == Part.SKIN].std(0).max() > 5.0  # while the face turns (a different motion)


def _flat_light():
    from export3d.synthetic.appearance import Lighting

    return Lighting(direction=np.array([0.0, 0.0, 1.0]), colour=np.zeros(3), ambient=np.ones(3), sky=0.0)


def test_warp_error_halves_when_the_resolution_doubles():
    """An exact field leaves only bilinear interpolation error, which scales with the pixel size."""
    from export3d.synthetic.clips import make_clip_spec, render_frames
    from export3d.synthetic.ict_model import ICTFaceModel
    from export3d.synthetic.parts import Part
    from export3d.synthetic.scene import SceneRenderer
    from export3d.synthetic.warp import warp

    model, errors = ICTFaceModel(), []
    for size in (128, 256):
        r = SceneRenderer(model, size)
        spec = make_clip_spec("test", 1, 48, size)
        prep = r.prepare(spec.person)
        a, b = render_frames(r, prep, np.repeat(spec.motion.expression[:1], 2, 0), spec.cameras[::36],
                             spec.lighting, spec.background)  # a camera move, same expression
        c = field(prep, b, a)
        err = np.abs(warp(a.image.astype(np.float32), c.coords) - b.image).mean(-1)
        errors.append([err[c.visible & (b.part == p)].mean() for p in (Part.SKIN, Part.EYES, Part.HAIR)])
    ratio = np.array(errors[1]) / np.array(errors[0])
    assert (ratio < 0.7).all(), (errors, ratio)
