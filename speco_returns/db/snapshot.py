"""A consistent copy of a desk's SQLite file (`backup`): SQLite's backup API and its check.

A server keeps its own backups (pg_dump, at the server, once per team): only a file has this.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ReturnsError

if TYPE_CHECKING:
    from .connection import Database


def copy_into(store: Database, target: Path) -> None:
    """Copy the live file into `target` (an empty file) in one step of SQLite's backup API: a
    snapshot taken under a read lock, safe while others write. Then the copy's quick check
    (pages, records, free list; not index contents), enough for a copy made page by page: the
    full check was 75% of a backup at 1M (`doctor` runs the full check of the database itself)."""
    copy = sqlite3.connect(target)
    try:
        store.raw.backup(copy)
        (result,) = copy.execute("PRAGMA quick_check").fetchone()
        if result != "ok":
            raise ReturnsError(f"the copy failed its quick check ({result}); nothing was written")
        copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    finally:
        copy.close()
