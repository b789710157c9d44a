"""One root for user-facing errors: every message written for the user is an ``Export3DError``."""

from __future__ import annotations

import pytest

from export3d import errors
from export3d.demo import DemoMessage, user_message

USER_FACING = [errors.FaceInputError, errors.UsageError, errors.UnreadableImageError, errors.UnreadableVideoError,
               errors.NoFaceError, errors.FaceTooSmallError, errors.FaceCutOffError, errors.CheckpointError,
               errors.ModelFileError, errors.NoSurfaceError, DemoMessage]


@pytest.mark.parametrize("cls", USER_FACING, ids=lambda c: c.__name__)
def test_every_user_facing_error_has_the_one_root_and_reaches_the_user_verbatim(cls):
    assert issubclass(cls, errors.Export3DError)
    assert user_message(cls("The face is cut off.\n Move the camera back.")) == \
        "The face is cut off. Move the camera back."


def test_input_errors_stay_value_errors_and_runtime_problems_runtime_errors():
    """Callers that caught the builtin bases before the single root keep working."""
    for cls in (errors.FaceInputError, errors.UsageError, errors.NoFaceError, errors.NoSurfaceError):
        assert issubclass(cls, ValueError)
    for cls in (errors.CheckpointError, errors.ModelFileError):
        assert issubclass(cls, RuntimeError)


def test_other_exceptions_are_not_shown_to_the_user():
    assert user_message(KeyError("secret internal detail")) == \
        "Something went wrong (KeyError). Please try again or use another file."


def test_cli_turns_every_root_error_into_one_line(monkeypatch, capsys):
    import export3d.cli as cli

    def boom(_args):
        raise errors.NoSurfaceError("There is no surface\nat this threshold.")

    monkeypatch.setitem(cli.COMMANDS, "grid", boom)
    assert cli.main(["grid", "--source", "x.png", "--out", "y.png"]) == 2
    err = capsys.readouterr().err
    assert err == "error: There is no surface at this threshold.\n"
