"""Keep the native libraries' start-up chatter off the user's terminal (OpenCV DNN, MediaPipe glog/TFLite)."""

from __future__ import annotations

import contextlib
import os
import sys

import cv2


@contextlib.contextmanager
def quiet_opencv():
    """Lower OpenCV's log level meanwhile (its new DNN engine warns about targets on every load)."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


@contextlib.contextmanager
def native_stderr_silenced():
    """Point file descriptor 2 at /dev/null meanwhile: MediaPipe's glog/TFLite start-up lines ignore
    ``GLOG_minloglevel`` once absl logging is initialised. Python exceptions still propagate normally.
    Set ``EXPORT3D_VERBOSE=1`` to see everything."""
    if os.environ.get("EXPORT3D_VERBOSE"):
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
