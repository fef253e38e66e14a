"""Writing a file whole or not at all (export --output, backup)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import ReturnsError


@contextmanager
def write_whole(path: Path, *, force: bool) -> Iterator[str]:
    """Yield a temporary file's name beside `path`; when the block ends, sync it and move it
    into place: over an existing file only with `force`. On any error it is removed, so a
    reader never sees half a file."""
    path = path.expanduser()
    if path.is_dir():
        raise ReturnsError(f"{path} is a folder: give a file name")
    if path.exists() and not force:
        raise ReturnsError(f"{path} already exists: pass --force to overwrite it")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ReturnsError(f"folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails rather than overwrite a file that appeared meanwhile
            except FileExistsError:
                raise ReturnsError(f"{path} already exists: pass --force to overwrite it") from None
            os.unlink(tmp)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
