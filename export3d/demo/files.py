"""Bounding a set of files on disk: by age, then by total size (the oldest go first)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path


def prune_files(paths: Iterable[Path], max_age: float, max_bytes: int, now: float | None = None) -> int:
    """Delete the files among ``paths`` older than ``max_age`` seconds (modification time), then the oldest until
    the rest total at most ``max_bytes``; returns the bytes deleted. Folders, files vanishing meanwhile and
    undeletable ones are skipped."""
    now, files, freed = time.time() if now is None else now, [], 0
    for path in paths:
        try:
            st = path.stat()
            if not path.is_file():
                continue
            if now - st.st_mtime > max_age:
                path.unlink()
                freed += st.st_size
            else:
                files.append((st.st_mtime, st.st_size, path))
        except OSError:
            continue
    total = sum(size for _, size, _ in files)
    for _, size, path in sorted(files):
        if total <= max_bytes:
            break
        try:
            path.unlink()
            total, freed = total - size, freed + size
        except OSError:
            continue
    return freed
