"""What tests build their databases from, written once: an older tool's schema, the names of the
migrations, a store opened as a command opens it."""

from __future__ import annotations

from pathlib import Path

from speco_returns.db.database import Database, open_database
from speco_returns.db.migrations import STEPS, migrate

MIGRATION_NAMES = [step.name for step in STEPS]


def migration_named(suffix: str) -> str:
    return next(name for name in MIGRATION_NAMES if name.endswith(suffix))


def older_database(target: str | Path, stop_before: str):
    """The database an older tool made: every migration before `stop_before`, none after. A
    SQLite file comes back as a sqlite_utils.Database (to insert what that tool wrote); a
    server's URL as this tool's Database, not migrated further."""
    db = open_database(target, migrate=False)
    migrate(db, stop_before=stop_before)
    if db.is_server:
        return db
    db.close()
    from sqlite_utils import Database as Tables

    return Tables(target)


def opened(target: str | Path) -> Database:
    """The database as a write command opens it (created and migrated when new)."""
    return open_database(target)
