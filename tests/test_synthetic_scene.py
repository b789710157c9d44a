"""Rendered synthetic frames: landmarks, yaw direction, cracks, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import needs_ict

from export3d.rendering.camera import orbit_camera
from export3d.synthetic.raster import rasterize

pytestmark = needs_ict
SIZE = 128


@pytest.fixture(scope="module")
def person(renderer):
    from export3d.synthetic.scene import Person

    return renderer.prepare(Person.from_seed(3))


def flat_light():
    """Albedo-only lighting: ambient 1, no directional light."""
    from export3d.synthetic.appearance import Lighting

    return Lighting(direction=np.array([0.0, 0.0, 1.0]), colour=np.zeros(3), ambient=np.ones(3), sky=0.0)


def grey(size=SIZE):
    return np.full((size, size, 3), 0.5, np.float32)


def render(renderer, person, expr=None, yaw=0.0, pitch=0.0, light=None):
    expr = np.zeros(57, np.float32) if expr is None else expr
    return renderer.render(person, expr, orbit_camera(yaw, pitch)[0], light or flat_light(), grey())


def pixel(frame_array, xy):
    x, y = (int(v) for v in np.floor(xy))
    return frame_array[y, x]


def test_landmarks_land_on_the_face_and_on_the_right_features(renderer, person):
    f = render(renderer, person)
    lm = f.landmarks2d
    names = renderer.region_names
    for i in list(range(17, 68)):  # brows, nose, eyes, mouth: inside the head mask
        assert pixel(f.mask, lm[i]) > 0.5, f"landmark {i} off the face"
    assert names[pixel(f.region, lm[30])] == "face"  # nose tip
    for eye in (slice(36, 42), slice(42, 48)):  # the middle of each eye outline shows the eyeball
        assert "eyeball" in names[pixel(f.region, lm[eye].mean(0))]
    lip = person.person.appearance.lip ** (1 / 2.2) * 255
    skin = person.person.appearance.skin ** (1 / 2.2) * 255
    for i in (51, 57):  # upper and lower lip centres are lip-coloured, cheeks are skin-coloured
        c = pixel(f.image, lm[i] + [0, 1 if i == 51 else -1]).astype(float)
        assert np.abs(c - lip).sum() < np.abs(c - skin).sum(), f"landmark {i} is not on the lips"
    cheek = pixel(f.image, (lm[3] + lm[31]) / 2).astype(float)
    assert np.abs(cheek - skin).sum() < np.abs(cheek - lip).sum()


def test_positive_yaw_turns_the_head_to_the_viewers_left(renderer, person):
    """docs/conventions.md: positive yaw moves the camera to +x; the nose then points to screen-left."""
    for yaw, sign in ((30.0, -1), (-30.0, 1)):
        f = render(renderer, person, yaw=yaw)
        ys, xs = np.nonzero(f.mask > 0.5)
        centroid_x = xs.mean() + 0.5
        nose_x = f.landmarks2d[30, 0]
        assert sign * (nose_x - centroid_x) > 3.0, (yaw, nose_x, centroid_x)


def test_positive_pitch_looks_down_on_the_face(renderer, person):
    up, down = render(renderer, person, pitch=15.0), render(renderer, person, pitch=-15.0)
    # seen from above, the nose tip moves down relative to the eyes
    gap = lambda f: f.landmarks2d[30, 1] - f.landmarks2d[36:48, 1].mean()  # noqa: E731
    assert gap(up) > gap(down) + 2


def test_blink_closes_the_eye(renderer, person):
    from export3d.synthetic.motion import ICT_EXPRESSION_NAMES

    expr = np.zeros(57, np.float32)
    expr[ICT_EXPRESSION_NAMES.index("eyeBlink_L")] = 1.0
    expr[ICT_EXPRESSION_NAMES.index("eyeBlink_R")] = 1.0
    open_, shut = render(renderer, person), render(renderer, person, expr)
    names = np.array(renderer.region_names + ["background"])
    eye_px = lambda f: np.isin(names[f.region], ["eyeball_left", "eyeball_right"]).sum()  # noqa: E731
    assert eye_px(open_) > 40 and eye_px(shut) < 0.1 * eye_px(open_)


def test_the_quad_mesh_renders_without_cracks(renderer, person):
    """Inside the face outline (jaw line + brows) every supersample is covered."""
    from export3d.synthetic.semantics import inside_polygon

    cam = orbit_camera(0.0, 0.0)
    verts = renderer.world_vertices(person, np.zeros(57, np.float32))
    from export3d.rendering.camera import project_points

    big = 256
    screen = project_points(verts[None], cam, big)[0].numpy()
    frags = rasterize(screen, renderer.tris, big, big)
    lm = project_points(renderer.model.landmarks(verts[None]), cam, big)[0, :, :2].numpy()
    outline = np.concatenate([lm[0:17], lm[26:16:-1]])
    yy, xx = np.mgrid[0:big, 0:big]
    centres = np.stack([xx.ravel() + 0.5, yy.ravel() + 0.5], 1)
    inside = inside_polygon(centres, outline).reshape(big, big)
    assert inside.sum() > 5000
    assert frags.mask[inside].all(), f"{(~frags.mask[inside]).sum()} holes inside the face"


def test_same_seed_gives_byte_identical_frames(renderer):
    from export3d.synthetic.appearance import sample_background, sample_lighting
    from export3d.synthetic.scene import Person

    def once(seed):
        rng = np.random.default_rng(seed)
        p = renderer.prepare(Person.from_seed(seed))
        expr = rng.random(57).astype(np.float32) * 0.3
        return renderer.render(p, expr, orbit_camera(10.0, 5.0)[0], sample_lighting(rng), sample_background(rng, SIZE))

    a, b, c = once(5), once(5), once(6)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
    assert not np.array_equal(a.image, c.image)


def test_distinct_people_look_distinct(renderer):
    from export3d.synthetic.scene import Person

    frames = [render(renderer, renderer.prepare(Person.from_seed(s))) for s in range(6)]
    diffs = [np.abs(a.image.astype(int) - b.image.astype(int)).mean() for a in frames for b in frames if a is not b]
    assert min(diffs) > 3.0  # mean absolute difference in 0..255 between any two people
    assert torch.is_tensor(renderer.prepare(Person.from_seed(0)).identity_offset)


def test_gaze_rotates_the_eyeballs_towards_the_subjects_left(renderer, person):
    from export3d.synthetic.motion import ICT_EXPRESSION_NAMES as N

    def iris_x(**shapes):
        expr = np.zeros(57, np.float32)
        for k, v in shapes.items():
            expr[N.index(k)] = v
        f = render(renderer, person, expr)
        names = np.array(renderer.region_names + ["background"])
        dark = f.image.astype(int).sum(-1) < 200  # pupils and irises are darker than the sclera
        eyes = np.isin(names[f.region], ["eyeball_left", "iris_left"]) & dark
        return np.nonzero(eyes)[1].mean()

    centre, left = iris_x(), iris_x(eyeLookOut_L=1.0, eyeLookIn_R=1.0)
    right = iris_x(eyeLookIn_L=1.0, eyeLookOut_R=1.0)
    assert left > centre + 1.0 > right + 2.0  # the subject's left is the image's right in a frontal view
