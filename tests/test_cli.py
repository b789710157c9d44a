"""``python -m export3d animate|orbit|grid``: success paths and one-line errors (exit code 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.data import astronaut
from test_pipeline import driver_frames, make_checkpoint, pytestmark  # noqa: F401  (same skip condition)

import export3d.pipeline
import export3d.pipeline.jobs
from export3d.cli import main
from export3d.media.encode import write_video
from export3d.media.image import load_image, save_image
from export3d.media.probe import probe_video
from export3d.pipeline.expression import ExpressionSettings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    return {
        "ckpt": make_checkpoint(d / "ckpt"),
        "face": save_image(d / "astronaut.png", astronaut()),
        "grey": save_image(d / "grey.png", np.full((240, 240, 3), 128, np.uint8)),
        "driver": save_image(d / "driver.jpg", driver_frames(1, lost=())[0]),
        "video": write_video(d / "driver.mp4", driver_frames(5, lost=()), 10),
    }


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle.lower() in lines[0].lower(), lines[0]


# ------------------------------------------------------------------ success
def test_grid_writes_a_contact_sheet(files, tmp_path, capsys):
    out = tmp_path / "grid.png"
    code, stdout, _ = run(["grid", files["face"], "-o", out, "--checkpoint", files["ckpt"], "--size", "48",
                           "--yaws", "-20,20", "--pitches", "0"], capsys)
    assert code == 0 and "wrote" in stdout and "frames/s" in stdout
    assert load_image(out).shape == (48, 96, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]


def test_animate_image_and_side_by_side(files, tmp_path, capsys):
    out = tmp_path / "out.jpg"
    code, _, _ = run(["animate", files["face"], files["driver"], "-o", out, "--checkpoint", files["ckpt"],
                      "--size", "64", "--side-by-side", "--yaw", "-10"], capsys)
    assert code == 0
    assert load_image(out).shape == (512, 1024, 3)  # 256² driver scaled to 512 rows | the 512² photo
    code, _, _ = run(["animate", files["face"], files["driver"], "-o", out, "--checkpoint", files["ckpt"],
                      "--size", "64", "--side-by-side", "--crop"], capsys)
    assert code == 0 and load_image(out).shape == (64, 128, 3)  # a generated model's crop: its render at --size


def test_animate_video_and_orbit_gif(files, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    code, stdout, _ = run(["animate", files["face"], files["video"], "-o", out, "--checkpoint", files["ckpt"],
                           "--size", "64", "--fixed-camera"], capsys)
    assert code == 0 and "5 frames, 10 fps" in stdout
    assert probe_video(out).frame_count == 5
    gif = tmp_path / "orbit.gif"
    code, _, _ = run(["orbit", files["face"], "-o", gif, "--checkpoint", files["ckpt"], "--size", "32",
                      "--frames", "4"], capsys)
    assert code == 0
    with Image.open(gif) as im:
        assert im.n_frames == 4 and im.size == (32, 32)


def spy(monkeypatch, name: str) -> list[dict]:
    """Record the arguments of ``Animator.<name>`` (still calling it)."""
    calls, method = [], getattr(export3d.pipeline.Animator, name)

    def wrapper(self, *args, **kw):
        calls.append({"args": args, **kw})
        return method(self, *args, **kw)

    monkeypatch.setattr(export3d.pipeline.Animator, name, wrapper)
    return calls


def test_animate_issue_form_with_expression_depth_and_mesh(files, tmp_path, capsys, monkeypatch):
    videos = spy(monkeypatch, "animate_video")
    monkeypatch.setattr(export3d.pipeline.jobs, "surface_threshold", lambda settings: 2.0)  # a random model's density
    out, depth, mesh = tmp_path / "c.mp4", tmp_path / "depth.mp4", tmp_path / "face.glb"
    code, stdout, err = run(["animate", "--source", files["face"], "--driver", files["video"], "--out", out,
                             "--yaw", "15", "--pitch", "-5", "--strength", "1.5", "--relative", "--smoothing", "0.3",
                             "--size", "48", "--depth", depth, "--mesh", mesh, "--checkpoint", files["ckpt"]], capsys)
    assert code == 0, err
    assert "5 frames, 10 fps" in stdout and f"wrote {mesh}" in stdout
    (call,) = videos
    view, expression = call["args"][3:5]
    assert expression == ExpressionSettings(strength=1.5, relative=True) and call["smoothing"] == 0.3
    assert (view.yaw, view.pitch, view.follow_head) == (15.0, -5.0, True) and call["depth_path"] == depth
    assert probe_video(depth).frame_count == 5 == probe_video(out).frame_count and probe_video(depth).width == 48
    assert probe_video(out).width == 512 and call["crop"] is False  # the whole photo
    assert mesh.read_bytes()[:4] == b"glTF"


def test_grid_strength_scales_the_own_expression(files, tmp_path, capsys, monkeypatch):
    grids = spy(monkeypatch, "grid")
    code, _, _ = run(["grid", "--source", files["face"], "-o", tmp_path / "g.png", "--checkpoint", files["ckpt"],
                      "--size", "32", "--yaws", "0", "--pitches", "0", "--strength", "0"], capsys)
    assert code == 0 and not np.asarray(grids[0]["args"][1]).any()  # strength 0: no expression


def test_mesh_command(files, tmp_path, capsys):
    out = tmp_path / "face.obj"
    code, stdout, err = run(["mesh", "--source", files["face"], "--out", out, "--driver", files["driver"],
                             "--resolution", "20", "--threshold", "2.0", "--checkpoint", files["ckpt"]], capsys)
    assert code == 0, err
    lines = out.read_text().splitlines()
    verts = [line for line in lines if line.startswith("v ")]
    faces = np.array([[int(t) for t in line.split()[1:]] for line in lines if line.startswith("f ")])
    assert len(verts) > 100 and len(faces) > 100 and faces.min() >= 1 and faces.max() <= len(verts)
    assert len(verts[0].split()) == 7  # x y z r g b
    code, _, err = run(["mesh", files["face"], "-o", tmp_path / "none.glb", "--threshold", "1e9",
                        "--resolution", "8", "--checkpoint", files["ckpt"]], capsys)
    assert_one_line_error(code, err, "never reaches", "--threshold")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.obj"]


# ------------------------------------------------------------------ errors
def test_missing_source(files, tmp_path, capsys):
    code, _, err = run(["animate", tmp_path / "nobody.png", files["driver"], "-o", tmp_path / "o.png",
                        "--checkpoint", files["ckpt"]], capsys)
    assert_one_line_error(code, err, "not found", "nobody.png")


def test_no_face_in_the_source(files, tmp_path, capsys):
    code, _, err = run(["grid", files["grey"], "-o", tmp_path / "o.png", "--checkpoint", files["ckpt"]], capsys)
    assert_one_line_error(code, err, "no face")
    assert list(tmp_path.iterdir()) == []


def test_missing_checkpoint(files, tmp_path, capsys):
    code, _, err = run(["orbit", files["face"], "-o", tmp_path / "o.mp4", "--checkpoint", tmp_path / "none"], capsys)
    assert_one_line_error(code, err, "checkpoint", "none")


@pytest.mark.parametrize("command, out", [("animate-image", "o.mp4"), ("animate-video", "o.png"),
                                          ("orbit", "o.png"), ("grid", "o.txt"), ("mesh", "o.stl"),
                                          ("depth", "o.mp4"), ("animate-mesh", "o.mp4")])
def test_bad_output_extension(files, tmp_path, capsys, command, out):
    args = {"animate-image": ["animate", files["face"], files["driver"]],
            "animate-video": ["animate", files["face"], files["video"]],
            "orbit": ["orbit", files["face"]], "grid": ["grid", files["face"]], "mesh": ["mesh", files["face"]],
            "depth": ["animate", files["face"], files["video"], "--depth", "d.png"],
            "animate-mesh": ["animate", "--source", files["face"], "--driver", files["video"], "--mesh", "m.ply"],
            }[command]
    code, _, err = run([*args, "-o", tmp_path / out, "--checkpoint", tmp_path / "not-even-loaded"], capsys)
    assert_one_line_error(code, err, "must end with")


@pytest.mark.parametrize("name, out, content", [("broken.mp4", "o.mp4", b"this is not a video"),
                                                 ("broken.jpg", "o.png", b"this is not a picture")])
def test_unreadable_driver(files, tmp_path, capsys, name, out, content):
    bad = tmp_path / name
    bad.write_bytes(content * 10)
    code, _, err = run(["animate", files["face"], bad, "-o", tmp_path / out, "--checkpoint", files["ckpt"]], capsys)
    assert_one_line_error(code, err, name)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_python_dash_m_reports_errors_without_traceback(tmp_path):
    res = subprocess.run([sys.executable, "-m", "export3d", "grid", str(tmp_path / "missing.png"), "-o",
                          str(tmp_path / "o.png")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.startswith("error: Image file not found: missing.png")
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("args, needle", [
    (["animate", "--driver", "{video}", "-o", "o.mp4"], "give the portrait as --source"),
    (["animate", "{face}", "-o", "o.mp4"], "give the driver as --driver"),
    (["animate", "{face}", "{video}", "--source", "{driver}", "-o", "o.mp4"], "portrait given twice"),
    (["grid", "-o", "o.png"], "give the portrait"),
])
def test_source_and_driver_given_wrongly(files, tmp_path, capsys, args, needle):
    argv = [a.format(**{k: str(v) for k, v in files.items()}) for a in args]
    code, _, err = run([*argv, "--checkpoint", tmp_path / "not-even-loaded"], capsys)
    assert_one_line_error(code, err, needle)


def test_strength_out_of_range_is_a_usage_error(files, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["grid", str(files["face"]), "-o", str(tmp_path / "o.png"), "--strength", "3"])
    assert e.value.code == 2 and "must be in [0, 2]" in capsys.readouterr().err


def test_animate_camera_options_make_the_view():
    from export3d.cli import view_from_args
    from export3d.cli_args import build_parser

    def parse(*extra):
        return view_from_args(build_parser().parse_args(["animate", "a.jpg", "b.mp4", "-o", "c.mp4", *extra]))

    default = parse()
    assert default.relative and default.follow_head and (default.yaw, default.pitch) == (0.0, 0.0)
    absolute = parse("--absolute-pose", "--fixed-camera", "--yaw", "-15")
    assert not absolute.relative and not absolute.follow_head and absolute.yaw == -15.0


def test_an_odd_size_for_a_video_says_it_becomes_even(files, tmp_path, capsys):
    out = tmp_path / "orbit.mp4"
    code, _, err = run(["orbit", files["face"], "-o", out, "--checkpoint", files["ckpt"], "--size", "31",
                        "--frames", "2"], capsys)
    assert code == 0 and "--size 31 is odd" in err and "written at 32" in err
    assert (probe_video(out).width, probe_video(out).height) == (32, 32)
