"""Opening a database: the engine is chosen once, from what names it (a file, or a PostgreSQL
URL), the schema checked and migrated. Everything after works on the `Database` it gives."""

from __future__ import annotations

from pathlib import Path

from ..errors import ReturnsError
from .connection import MIGRATION_SET, Database
from .migrations import READS_NEED_SCHEMA, SCHEMA_VERSION
from .urls import is_url

__all__ = ["MIGRATION_SET", "Database", "check_version", "open_database"]


def check_version(db: Database, *, read: bool) -> None:
    """A database upgraded by a newer tool: no writes at all; reads only where that tool
    recorded that this schema can still read it."""
    version = db.schema_version()
    if version <= SCHEMA_VERSION:
        if db.readonly and version < READS_NEED_SCHEMA:
            raise ReturnsError(f"{db.where} is at schema {version} and needs an upgrade, "
                               "which this account cannot write: run any command once as an "
                               "account that can write it")
        return
    info = db.schema_info()
    if read and int(info.get("reads_need_schema", version)) <= SCHEMA_VERSION:
        return
    raise ReturnsError(db.newer_message(info))


def open_database(target: str | Path, *, read: bool = False, make_folder: bool = False,
                  diagnose: bool = False, migrate: bool = True, create: bool = True) -> Database:
    """`read`: a read command. It never creates a database, and it reads one it cannot write (a
    reporting account, a read-only mount, a backup) without leaving a file behind. Otherwise a
    write: a new database only in a folder that exists (`make_folder`: the default folder),
    never world-accessible; `create=False` for a write that adds nothing but to returns already
    there (`notify`): no database, no write. `diagnose` (doctor): reports a newer schema instead
    of refusing it, and migrates nothing."""
    db = (_open_server(str(target)) if is_url(target)
          else _open_file(Path(target), read=read or diagnose, make_folder=make_folder,
                          create=create))
    try:
        if not diagnose:
            check_version(db, read=read)
        if migrate and not diagnose and not db.readonly:
            from .migrations import migrate as run_migrations

            run_migrations(db)
    except BaseException:
        db.close()
        raise
    return db


def in_memory() -> Database:
    """An empty SQLite database in memory, not migrated (doctor builds its expected schema
    there)."""
    import sqlite3

    from ..domain.inputs import visible
    from .engines.sqlite import ENGINE

    raw = sqlite3.connect(":memory:", isolation_level=None)
    raw.row_factory = sqlite3.Row
    raw.create_function("visible", 1, visible, deterministic=True)
    return Database(ENGINE, raw, path=Path(":memory:"), known_schema=SCHEMA_VERSION)


def _open_file(path: Path, *, read: bool, make_folder: bool, create: bool = True) -> Database:
    from .. import files
    from ..domain.inputs import visible
    from .engines.sqlite import ENGINE

    if path.is_dir():
        raise ReturnsError(f"{path} is a folder: give the database file, "
                           f"such as {path / 'returns.db'}")
    readonly = False
    if not path.exists():
        if read or not create:
            raise ReturnsError(f"no database at {path}")
        files.create_private(path, make_folder=make_folder)
    elif not files.writable(path):
        if not read:
            raise ReturnsError(f"cannot write {path}: this account or filesystem may only read it "
                               "(read commands still work)")
        readonly = True
    return Database(ENGINE, ENGINE.connect(path, readonly=readonly, visible=visible), path=path,
                    readonly=readonly, known_schema=SCHEMA_VERSION)


def _open_server(url: str) -> Database:
    from .engines.postgres import ENGINE

    raw = ENGINE.connect(url)
    db = Database(ENGINE, raw, url=url, known_schema=SCHEMA_VERSION)
    try:
        # On a server the recorded agent is the database login: --agent cannot impersonate.
        db.login = db.scalar("SELECT session_user")
    except BaseException:
        db.close()
        raise
    return db
