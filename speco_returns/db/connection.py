"""One open database and its engine: the unit of work every query module and use case takes.

A `Database` is the unit of work: `write()` is one transaction that takes the write lock before
it reads (concurrent agents queue instead of failing, and a crash leaves a return recorded whole
or not at all), and asks "may this tool write here?" as it begins; `read()` is one consistent
snapshot. Driver errors become one line (ReturnsError) here, whichever engine raised them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import DatabaseBusy, ReturnsError
from .engines.base import Engine, Params
from .urls import shown

MIGRATION_SET = "speco-returns"


class Database:
    def __init__(self, engine: Engine, raw, *, path: Path | None = None, url: str | None = None,
                 readonly: bool = False, login: str | None = None, known_schema: int = 1 << 30):
        self.engine, self.raw = engine, raw
        self.path, self.url, self.readonly, self.login = path, url, readonly, login
        self.known_schema = known_schema  # the newest schema this tool knows (db/migrations)
        self._columns: dict[str, dict[str, str]] = {}

    @property
    def where(self) -> str:
        """The database as messages name it: its file, or its URL without a password."""
        return shown(self.url) if self.url else str(self.path)

    @property
    def is_server(self) -> bool:
        return self.url is not None

    def close(self) -> None:
        self.raw.close()

    # --- statements: every driver error becomes one line ----------------------------------

    def fail(self, error: BaseException) -> BaseException:
        """The one-line error a driver's error means (itself, where it is a bug)."""
        return self._fail(error)

    def _fail(self, error: BaseException, sql: str | None = None, params=None) -> BaseException:
        found = self.engine.classify(error, self.where, None if sql is None else (sql, params))
        return error if found is None else found

    def execute(self, sql: str, params: Params = None):
        try:
            return self.engine.execute(self.raw, sql, params)
        except self.engine.driver_errors as e:
            raise self._fail(e, sql, params) from None

    def one(self, sql: str, params: Params = None):
        return self.execute(sql, params).fetchone()

    def scalar(self, sql: str, params: Params = None):
        row = self.one(sql, params)
        return None if row is None else row[0]

    def all(self, sql: str, params: Params = None) -> list:
        try:
            return self.engine.execute(self.raw, sql, params).fetchall()
        except self.engine.driver_errors as e:
            raise self._fail(e, sql, params) from None

    def many(self, sql: str, rows: list) -> None:
        try:
            self.engine.executemany(self.raw, sql, rows)
        except self.engine.driver_errors as e:
            raise self._fail(e, sql, rows) from None

    def insert(self, sql: str, params: Params) -> int:
        """An INSERT of one row; the id the database gave it."""
        try:
            return self.engine.insert_id(self.raw, sql, params)
        except self.engine.driver_errors as e:
            raise self._fail(e, sql, params) from None

    def stream(self, sql: str, params: Params = None) -> Iterator:
        """Rows as the database reads them, in flat memory at a million (SQLite runs the query
        at once; a server's cursor is opened on the first row)."""
        try:
            rows = self.engine.stream(self.raw, sql, params)
        except self.engine.driver_errors as e:
            raise self._fail(e, sql, params) from None
        return self._guarded(rows)

    def tuples(self, sql: str, params: Params = None) -> Iterator:
        """`stream`, as plain tuples: the doctor reads millions of rows."""
        try:
            rows = self.engine.tuples(self.raw, sql, params)
        except self.engine.driver_errors as e:
            raise self._fail(e, sql, params) from None
        return self._guarded(rows)

    def _guarded(self, rows: Iterator) -> Iterator:
        try:
            while True:
                try:
                    row = next(rows)
                except StopIteration:
                    return
                except self.engine.driver_errors as e:
                    raise self._fail(e) from None
                yield row
        finally:  # left early (a full disk, a closed pipe): the cursor ends, quietly if it cannot
            close = getattr(rows, "close", None)
            if close is not None:
                try:
                    close()
                except self.engine.driver_errors:
                    pass

    def columns(self, table: str) -> list[str]:
        return list(self.kinds(table))

    def kinds(self, table: str) -> dict[str, str]:
        """A table's columns in their order, each `integer` or `text` as the table declares it."""
        if table not in self._columns:
            self._columns[table] = self.engine.columns(self.raw, table)
        return self._columns[table]

    def forget_columns(self) -> None:
        self._columns.clear()

    @property
    def in_transaction(self) -> bool:
        return self.engine.in_transaction(self.raw)

    # --- the unit of work -----------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[Database]:
        """One write transaction, committed or rolled back whole. It takes the write lock first,
        then checks that no newer tool has upgraded the database since it was opened (a shell
        keeps its connection for hours): a write is refused as it begins, never half done."""
        try:
            for statement in self.engine.begin_write:
                self.engine.execute(self.raw, statement)
        except self.engine.driver_errors as e:
            self.rollback()
            found = self._fail(e, statement)
            if isinstance(found, DatabaseBusy):  # say who, where the database can tell
                found = DatabaseBusy(self.engine.who_writes(self.raw))
            raise found from None
        try:
            if self.schema_version() > self.known_schema:
                raise ReturnsError(self.newer_message())
            yield self
            self.engine.execute(self.raw, "COMMIT")
        except self.engine.driver_errors as e:
            self.rollback()
            raise self._fail(e) from None
        except BaseException:
            self.rollback()
            raise

    @contextmanager
    def read(self) -> Iterator[Database]:
        """A consistent snapshot for reads that take several queries."""
        for statement in self.engine.begin_read:
            self.execute(statement)
        try:
            yield self
        finally:
            if self.in_transaction:
                self.engine.execute(self.raw, "COMMIT")

    def rollback(self) -> None:
        """End an open transaction, writing nothing (a no-op outside one)."""
        if self.in_transaction:
            self.engine.execute(self.raw, "ROLLBACK")

    # --- the schema -------------------------------------------------------------------------

    def schema_version(self) -> int:
        """How many of this tool's migrations were applied (0: a new database): one query when
        the table exists (every write asks)."""
        table = self.engine.migrations_table
        if not self.engine.table_exists(self.raw, table):
            return 0
        return self.scalar(f"SELECT count(*) FROM {table} WHERE migration_set = ?", [MIGRATION_SET])

    def schema_info(self) -> dict[str, str]:
        """What the newest tool that upgraded this database recorded for older ones (from m010)."""
        if not self.engine.table_exists(self.raw, "schema_info"):
            return {}
        return {k: v for k, v in self.all("SELECT key, value FROM schema_info")}

    def newer_message(self, info: dict | None = None) -> str:
        info = self.schema_info() if info is None else info
        by = (f"speco-returns {info['upgraded_by']} or later" if info.get("upgraded_by")
              else "a newer speco-returns")
        return f"this database was upgraded by {by}: upgrade the tool ({self.where})"
