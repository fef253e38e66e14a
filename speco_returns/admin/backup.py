"""`backup`: a consistent copy of a desk's database, safe while others keep writing."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ReturnsError
from ..files import write_whole

if TYPE_CHECKING:
    from ..db.database import Database


def backup(store: Database, dest: Path, *, force: bool) -> int:
    """Copy the live database with SQLite's backup API (a consistent snapshot while others
    write) into a temporary file beside `dest`, check it, then rename it into place."""
    if store.is_server:  # a server keeps its own backups: pg_dump, at the server, once per team
        raise ReturnsError("on a server database, back up with pg_dump (README: A team on one server)")
    dest = dest.expanduser()
    with write_whole(dest, force=force, protected=[store.path], what="backup target") as tmp:
        copy = sqlite3.connect(tmp)
        try:
            store.raw.backup(copy)  # one step: a snapshot taken under a read lock
            # The quick check (pages, records, free list; not index contents) is enough for a copy
            # SQLite's backup API made page by page: the full check was 75% of a backup at 1M.
            # `doctor` runs the full integrity check of the database itself.
            (result,) = copy.execute("PRAGMA quick_check").fetchone()
            if result != "ok":
                raise ReturnsError(f"the copy failed its quick check ({result}); nothing was written")
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            copy.close()
    return dest.stat().st_size
