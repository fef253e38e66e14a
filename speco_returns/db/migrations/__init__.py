"""The schema: ONE numbered list of migrations for both engines, and one runner.

Each step is applied once and recorded, in one transaction with the others pending, under a
lock (several agents may start a new version at once: one migrates, the others find it done).
A step is shared SQL, or SQL written for each engine where they spell it differently
(`Step(name, sqlite=..., postgres=...)`), or a Python function of the Database (a back-fill
SQL cannot compute). An applied step is never edited: a schema change is a new step, and
SCHEMA_VERSION is the length of the list. Each engine records its steps where 0.1 and 0.2
did (`_sqlite_migrations`, sqlite-utils' table; `speco_migrations` on a server), under the
same names, so databases made by 0.2 open unchanged.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..connection import MIGRATION_SET

if TYPE_CHECKING:
    from ..connection import Database
from . import v01, v02, v03
from .step import Step

STEPS: list[Step] = [*v01.STEPS, *v02.STEPS, *v03.STEPS]
SCHEMA_VERSION = len(STEPS)
# The oldest schema this tool can read without migrating it (a read-only database cannot be
# migrated), and what is recorded for newer tools: a database at SCHEMA_VERSION is readable by
# any tool that knows schema READS_NEED_SCHEMA (later steps only added columns and tables).
READS_NEED_SCHEMA = 9
# What is recorded for older tools, per engine: a 0.2 tool reads a desk at this schema, but a
# server's from m015 on (its SQL called functions m015 drops).
RECORDED_READS_NEED = {"sqlite": READS_NEED_SCHEMA, "postgres": 15}


def migrate(db: Database, *, stop_before: str | None = None, only: set[str] | None = None) -> None:
    """Apply every pending step (the common case, none pending, costs one query).
    `stop_before`: stop at that step, leaving the schema of an older tool (tests of upgrades);
    `only`: apply just these steps (doctor rebuilds what a database's recorded steps make)."""
    if db.schema_version() >= SCHEMA_VERSION:
        return
    from ... import __version__

    with _migrating(db):
        table = db.engine.migrations_table
        done = {name for (name,) in db.all(f"SELECT name FROM {table} WHERE migration_set = ?",
                                           [MIGRATION_SET])}
        for step in STEPS:
            if step.name == stop_before:
                return
            if step.name in done or (only is not None and step.name not in only):
                continue
            for statement in step.statements(db.engine.name):
                if callable(statement):
                    statement(db)
                else:
                    db.execute(statement)
                db.forget_columns()  # a step changes tables: what they hold is read again after it
            db.execute(f"INSERT INTO {table} (migration_set, name, applied_at) VALUES (?, ?, ?)",
                       [MIGRATION_SET, step.name, str(datetime.now(timezone.utc))])
        if only is None:  # what an older tool reads
            for key, value in (("upgraded_by", __version__), ("schema", str(SCHEMA_VERSION)),
                               ("reads_need_schema", str(RECORDED_READS_NEED[db.engine.name]))):
                db.execute("INSERT INTO schema_info (key, value) VALUES (?, ?) "
                           "ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, value])


class _migrating:
    """The migrations' transaction and lock, each engine's own: SQLite's write lock
    (BEGIN IMMEDIATE), a server's advisory lock for migrations."""

    def __init__(self, db: Database):
        self.db = db

    def __enter__(self) -> None:
        db = self.db
        if db.is_server:
            from ..changes import WRITER
            from ..engines.postgres import MIGRATION_LOCK

            db.execute("BEGIN")
            # the audit's mark (db/changes.py)
            db.execute(f"SELECT set_config('{WRITER}', 'migration', true)")
            # a new database: first opens race
            if not db.engine.table_exists(db.raw, "speco_migrations"):
                db.execute(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                db.execute("""CREATE TABLE IF NOT EXISTS speco_migrations (
                                migration_set TEXT NOT NULL, name TEXT NOT NULL,
                                applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), """
                           """PRIMARY KEY (migration_set, name))""")
            # Then the table's own lock, which only its owner can take (a reader's session holding
            # an advisory lock cannot stop an upgrade).
            db.execute("LOCK TABLE speco_migrations IN SHARE ROW EXCLUSIVE MODE")
        else:
            db.execute("BEGIN IMMEDIATE")
            from sqlite_utils import Database as Tables
            from sqlite_utils import Migrations

            Migrations(MIGRATION_SET).ensure_migrations_table(Tables(db.raw, execute_plugins=False))

    def __exit__(self, kind, error, trace) -> None:
        self.db.forget_columns()  # the steps changed tables: their columns are read again
        if not self.db.in_transaction:
            return
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
