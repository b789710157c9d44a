"""Real-video preprocessing (``python -m export3d.training preprocess``): sharding, cache format, resume, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from export3d.paths import grid_clips_dir
from export3d.training.cli import main as train_main
from export3d.training.preprocess import (
    errors_path,
    list_videos,
    parse_shard,
    preprocess,
    shard_videos,
)

SIZE, CLIP = 96, 8  # 1 s of GRID at 25 fps = 25 frames -> 3 clips of 8, one tail frame dropped


@pytest.mark.parametrize("text,expected", [("0/1", (0, 1)), ("3/4", (3, 4)), (" 2 / 5 ", (2, 5)), ("0/16", (0, 16))])
def test_parse_shard_accepts_i_of_n(text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["4/4", "5/4", "1/0", "0/0", "-1/4", "a/b", "1", "1/2/3", "", "1.0/2", "1/-2"])
def test_parse_shard_rejects_bad_values(text):
    with pytest.raises(ValueError, match="shard"):
        parse_shard(text)


def test_bad_shard_is_a_clear_cli_error(tmp_path, capsys):
    (tmp_path / "a.mp4").write_bytes(b"x")
    assert train_main(["preprocess", str(tmp_path), str(tmp_path / "out"), "--shard", "4/4"]) == 2
    err = capsys.readouterr().err
    assert "error: --shard 4/4" in err and "0-based" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7])
def test_shards_cover_every_video_exactly_once(tmp_path, count):
    names = [f"v{k:02d}{ext}" for k, ext in enumerate([".mp4", ".MOV", ".avi", ".mkv", ".webm", ".mpg"] * 2)]
    for n in names + ["notes.txt", "frame.png"]:
        (tmp_path / n).write_bytes(b"x")
    (tmp_path / "sub.mp4").mkdir()  # a folder is not a video
    videos = list_videos(tmp_path)
    assert [v.name for v in videos] == sorted(names)
    parts = [shard_videos(videos, i, count) for i in range(count)]
    flat = [v for p in parts for v in p]
    assert sorted(flat) == sorted(videos) and len(flat) == len(set(flat)) == 12
    assert all(abs(len(p) - 12 / count) < 1 for p in parts)  # round-robin: balanced
    assert parts[0][0] == videos[0] and (count == 1 or parts[1][0] == videos[1])
    assert list_videos(tmp_path / names[0]) == [tmp_path / names[0]]  # a single file is accepted
    with pytest.raises(FileNotFoundError):
        list_videos(tmp_path / "missing")


def _grid_videos(count: int) -> list[Path]:
    folder = grid_clips_dir()
    videos = sorted(folder.glob("*.mpg")) if folder.is_dir() else []
    if len(videos) < count:
        pytest.skip(f"needs {count} GRID clips in {folder} (set EXPORT3D_DATA); found {len(videos)}")
    return videos[:count]


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory):
    """Two GRID clips plus a garbage x.mp4, preprocessed once (1 s each)."""
    from export3d.face.extractor import FaceExtractor

    src = tmp_path_factory.mktemp("videos")
    videos = _grid_videos(2)
    for v in videos:
        (src / v.name).symlink_to(v)
    (src / "x.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    out = tmp_path_factory.mktemp("real")
    extractor = FaceExtractor()
    logged: list[str] = []
    summary = preprocess(src, out, (0, 1), size=SIZE, max_seconds=1, clip_frames=CLIP, progress=False,
                         extractor=extractor, log=logged.append)
    return {"src": src, "out": out, "videos": videos, "summary": summary, "logged": logged, "extractor": extractor}


def test_bad_video_is_listed_and_does_not_stop_the_others(grid_run):
    s, out = grid_run["summary"], grid_run["out"]
    assert s.done == 2 and s.skipped == 0
    assert [name for name, _ in s.failed] == ["x.mp4"]
    assert "Traceback" not in s.failed[0][1]
    assert any(line.startswith("warning: skipped x.mp4") for line in grid_run["logged"])
    listed = errors_path(out, 0, 1).read_text().splitlines()
    assert len(listed) == 1 and listed[0].startswith("x.mp4\t")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"real-{v.stem}.{e}" for v in grid_run["videos"] for e in ("npz", "json")] + [errors_path(out, 0, 1).name])
    assert s.clips == 6 and s.frames == 50  # 2 videos x 25 frames, 3 clips of 8 each


def test_cache_has_documented_keys_shapes_and_dtypes(grid_run):
    v = grid_run["videos"][0]
    with np.load(grid_run["out"] / f"real-{v.stem}.npz", allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    c = 3
    expected = {"frames": ((c, CLIP, SIZE, SIZE, 3), np.uint8), "beta": ((c, CLIP, 52), np.float32),
                "camera": ((c, CLIP, 25), np.float32), "valid": ((c, CLIP), np.bool_),
                "box": ((c, CLIP, 3), np.float64), "frame_index": ((c, CLIP), np.int32)}
    assert set(a) == set(expected)
    for k, (shape, dtype) in expected.items():
        assert a[k].shape == shape and a[k].dtype == dtype, k
    assert np.array_equal(a["frame_index"].ravel(), np.arange(c * CLIP))
    assert np.isnan(a["beta"]).any(-1).tolist() == (~a["valid"]).tolist()  # NaN rows exactly where invalid
    assert np.isfinite(a["camera"]).all() and a["valid"].all()  # GRID: the face is never lost
    assert 0.2 < a["frames"].mean() / 255 < 0.8 and a["frames"].std() > 10  # real pictures, not blanks
    meta = json.loads((grid_run["out"] / f"real-{v.stem}.json").read_text())
    assert meta["source"] == v.name and meta["fps"] == 25.0 and meta["frames_tracked"] == 25
    assert meta["lost_frames"] == 0 and meta["clips"] == c and meta["tail_frames_dropped"] == 1
    assert meta["seconds"] > 0 and meta["size"] == SIZE and meta["clip_frames"] == CLIP


def test_crops_are_the_inference_crops_of_the_tracked_box(grid_run):
    from export3d.face.crop import CropBox, CropTransform
    from export3d.media.video import iter_frames

    v = grid_run["videos"][1]
    with np.load(grid_run["out"] / f"real-{v.stem}.npz", allow_pickle=False) as z:
        crops, boxes, beta = z["frames"], z["box"], z["beta"]
    frames = list(iter_frames(v, max_seconds=1))
    signals = list(grid_run["extractor"].track(iter(frames), 25.0, smoothing=0.0))  # an independent re-run
    for c, f in [(0, 0), (1, 5), (2, 7)]:
        k = c * CLIP + f
        s = signals[k]
        assert np.allclose(boxes[c, f], (s.box.cx, s.box.cy, s.box.size))
        assert np.array_equal(crops[c, f], CropTransform(s.box, SIZE).warp(frames[k]))
        assert np.array_equal(crops[c, f], CropTransform(CropBox(*boxes[c, f]), SIZE).warp(frames[k]))
        assert np.allclose(beta[c, f], s.beta, atol=1e-5)
    assert not np.array_equal(crops[0, 0], crops[2, 7])


def test_rerun_skips_existing_outputs(grid_run):
    out = grid_run["out"]
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("real-*")}
    s = preprocess(grid_run["src"], out, (0, 1), size=SIZE, max_seconds=1, clip_frames=CLIP, progress=False,
                   extractor=grid_run["extractor"], log=lambda m: None)
    assert (s.done, s.skipped, [n for n, _ in s.failed]) == (0, 2, ["x.mp4"])
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("real-*")} == stamps
    s = preprocess(grid_run["src"], out, (1, 2), size=SIZE, max_seconds=1, clip_frames=CLIP, progress=False,
                   extractor=grid_run["extractor"], log=lambda m: None)  # shard 1/2 = the second video only
    assert (s.done, s.skipped, s.failed) == (0, 1, [])


def test_too_short_video_is_reported_not_written(grid_run, tmp_path):
    v = grid_run["videos"][0]
    s = preprocess(v, tmp_path, (0, 1), size=SIZE, max_seconds=1, clip_frames=64, progress=False,
                   extractor=grid_run["extractor"], log=lambda m: None)
    assert s.done == 0 and len(s.failed) == 1 and "too short" in s.failed[0][1]
    assert not list(tmp_path.glob("real-*")) and errors_path(tmp_path, 0, 1).is_file()


def test_interrupted_write_leaves_no_partial_file(grid_run, tmp_path, monkeypatch):
    def killed(path, **arrays):
        Path(path).write_bytes(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", killed)
    with pytest.raises(KeyboardInterrupt):
        preprocess(grid_run["videos"][0], tmp_path, size=SIZE, max_seconds=1, clip_frames=CLIP, progress=False,
                   extractor=grid_run["extractor"], log=lambda m: None)
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".npz"]  # no real-*.npz, no temporary left over
