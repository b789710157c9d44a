"""Native stderr silencing: fd 2 goes to /dev/null inside the block and comes back after."""

import os

import pytest

from export3d.face.quiet import native_stderr_silenced


def test_native_stderr_is_silenced_and_restored(capfd, monkeypatch):
    monkeypatch.delenv("EXPORT3D_VERBOSE", raising=False)
    with native_stderr_silenced():
        os.write(2, b"native noise\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_verbose_keeps_native_stderr_and_exceptions_propagate(capfd, monkeypatch):
    monkeypatch.setenv("EXPORT3D_VERBOSE", "1")
    with native_stderr_silenced():
        os.write(2, b"shown\n")
    assert capfd.readouterr().err == "shown\n"
    monkeypatch.delenv("EXPORT3D_VERBOSE")
    with pytest.raises(RuntimeError), native_stderr_silenced():
        raise RuntimeError("boom")
    os.write(2, b"restored\n")
    assert capfd.readouterr().err == "restored\n"
