"""Bounding the uploads on disk: Gradio stores every uploaded file in its cache before any handler runs (a client
can upload without ever calling one), so the app sweeps that folder by total size as well as age.

Gradio's own ``delete_cache`` deletes by age only, once an hour; :class:`UploadSweep` runs every few seconds (the
app's housekeeping thread, ``sweep.py``). The demo's outputs, which live in the same cache, have their own cap
(``outputs.prune``) and are left to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .files import prune_files

UPLOAD_MAX_AGE = 3600.0  #: seconds; older files of Gradio's cache are deleted (Gradio's ``delete_cache`` age)


class UploadSweep:
    """Keeps the files of ``folder`` (Gradio's cache, outside ``outputs``) under ``max_bytes`` and ``max_age``.

    Files present when the sweep is made (the examples Gradio copied at start-up) are never deleted. Folders are
    left in place (Gradio may be about to write an upload into a new one)."""

    def __init__(self, folder: Path, max_bytes: int, outputs: Path | None = None, max_age: float = UPLOAD_MAX_AGE):
        self.folder, self.max_bytes, self.max_age = Path(folder), int(max_bytes), float(max_age)
        self.outputs = None if outputs is None else Path(outputs).resolve()
        self.keep = frozenset(self._all())

    def _all(self) -> Iterator[Path]:
        if not self.folder.is_dir():
            return
        for path in self.folder.rglob("*"):
            if self.outputs is None or self.outputs not in path.resolve().parents:
                yield path

    def files(self) -> list[Path]:
        """Every file below ``folder``, except those in the outputs' folder and those kept from the start."""
        return [path for path in self._all() if path not in self.keep and path.is_file()]

    def run_once(self) -> int:
        """Deletes the files beyond the bounds (the oldest first); returns the bytes deleted."""
        return prune_files(self.files(), self.max_age, self.max_bytes)
