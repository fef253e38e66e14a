"""`backup`: a consistent copy of a desk's database, safe while others keep writing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..db.snapshot import copy_into
from ..errors import ReturnsError
from ..files import write_whole

if TYPE_CHECKING:
    from ..db.database import Database


def backup(store: Database, dest: Path, *, force: bool) -> int:
    """Copy the live database (db/snapshot.py) into a temporary file beside `dest`, checked,
    then renamed into place."""
    # a server keeps its own backups: pg_dump, at the server, once per team
    if store.is_server:
        raise ReturnsError("on a server database, back up with pg_dump "
                           "(README: A team on one server)")
    dest = dest.expanduser()
    with write_whole(dest, force=force, protected=[store.path], what="backup target") as tmp:
        copy_into(store, tmp)
    return dest.stat().st_size
