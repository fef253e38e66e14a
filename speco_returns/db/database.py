"""One database, opened once per command: a SQLite file (the default) or a PostgreSQL server.

`open_database` chooses the engine once, from what names the database. A `Database` is the unit
of work: `write()` is one transaction that takes the write lock before it reads (concurrent
agents queue instead of failing, and a crash leaves a return recorded whole or not at all), and
asks "may this tool write here?" as it begins; `read()` is one consistent snapshot. Driver
errors become one line (ReturnsError) here, whichever engine raised them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ReturnsError
from .engines.base import Engine, Params
from .urls import is_url, shown

MIGRATION_SET = "speco-returns"


class Database:
    def __init__(self, engine: Engine, raw, *, path: Path | None = None, url: str | None = None,
                 readonly: bool = False, login: str | None = None):
        self.engine, self.raw = engine, raw
        self.path, self.url, self.readonly, self.login = path, url, readonly, login
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

    def _fail(self, error: BaseException) -> BaseException:
        found = self.engine.classify(error, self.where)
        return error if found is None else found

    def execute(self, sql: str, params: Params = None):
        try:
            return self.engine.execute(self.raw, sql, params)
        except self.engine.driver_errors as e:
            raise self._fail(e) from None

    def one(self, sql: str, params: Params = None):
        return self.execute(sql, params).fetchone()

    def scalar(self, sql: str, params: Params = None):
        row = self.one(sql, params)
        return None if row is None else row[0]

    def all(self, sql: str, params: Params = None) -> list:
        try:
            return self.engine.execute(self.raw, sql, params).fetchall()
        except self.engine.driver_errors as e:
            raise self._fail(e) from None

    def many(self, sql: str, rows: list) -> None:
        try:
            self.engine.executemany(self.raw, sql, rows)
        except self.engine.driver_errors as e:
            raise self._fail(e) from None

    def insert(self, sql: str, params: Params) -> int:
        """An INSERT of one row; the id the database gave it."""
        try:
            return self.engine.insert_id(self.raw, sql, params)
        except self.engine.driver_errors as e:
            raise self._fail(e) from None

    def stream(self, sql: str, params: Params = None) -> Iterator:
        """Rows as the database reads them, in flat memory at a million (SQLite runs the query
        at once; a server's cursor is opened on the first row)."""
        try:
            rows = self.engine.stream(self.raw, sql, params)
        except self.engine.driver_errors as e:
            raise self._fail(e) from None
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
        from .migrations import SCHEMA_VERSION

        try:
            for statement in self.engine.begin_write:
                self.engine.execute(self.raw, statement)
        except self.engine.driver_errors as e:
            self._rollback()
            raise self._fail(e) from None
        try:
            if self.schema_version() > SCHEMA_VERSION:
                raise ReturnsError(self.newer_message())
            yield self
            self.engine.execute(self.raw, "COMMIT")
        except self.engine.driver_errors as e:
            self._rollback()
            raise self._fail(e) from None
        except BaseException:
            self._rollback()
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

    def _rollback(self) -> None:
        if self.in_transaction:
            self.engine.execute(self.raw, "ROLLBACK")

    # --- the schema -------------------------------------------------------------------------

    def schema_version(self) -> int:
        """How many of this tool's migrations were applied (0: a new database)."""
        from .migrations import applied_count

        return applied_count(self)

    def schema_info(self) -> dict[str, str]:
        from .migrations import schema_info

        return schema_info(self)

    def newer_message(self, info: dict | None = None) -> str:
        info = self.schema_info() if info is None else info
        by = f"speco-returns {info['upgraded_by']} or later" if info.get("upgraded_by") else "a newer speco-returns"
        return f"this database was upgraded by {by}: upgrade the tool ({self.where})"

    def check_version(self, *, read: bool) -> None:
        """A database upgraded by a newer tool: no writes at all; reads only where that tool
        recorded that this schema can still read it."""
        from .migrations import READS_NEED_SCHEMA, SCHEMA_VERSION

        version = self.schema_version()
        if version <= SCHEMA_VERSION:
            if self.readonly and version < READS_NEED_SCHEMA:
                raise ReturnsError(f"{self.where} is at schema {version} and needs an upgrade, which this "
                                   "account cannot write: run any command once as an account that can write it")
            return
        info = self.schema_info()
        if read and int(info.get("reads_need_schema", version)) <= SCHEMA_VERSION:
            return
        raise ReturnsError(self.newer_message(info))


def open_database(target: str | Path, *, read: bool = False, make_folder: bool = False,
                  diagnose: bool = False, migrate: bool = True, create: bool = True) -> Database:
    """`read`: a read command. It never creates a database, and it reads one it cannot write (a
    reporting account, a read-only mount, a backup) without leaving a file behind. Otherwise a
    write: a new database only in a folder that exists (`make_folder`: the default folder),
    never world-accessible; `create=False` for a write that adds nothing but to returns already
    there (`notify`): no database, no write. `diagnose` (doctor): reports a newer schema instead of refusing it,
    and migrates nothing."""
    db = _open_server(str(target)) if is_url(target) else _open_file(Path(target), read=read or diagnose,
                                                                     make_folder=make_folder, create=create)
    try:
        if not diagnose:
            db.check_version(read=read)
        if migrate and not diagnose and not db.readonly:
            from .migrations import migrate as run_migrations

            run_migrations(db)
    except BaseException:
        db.close()
        raise
    return db


def _open_file(path: Path, *, read: bool, make_folder: bool, create: bool = True) -> Database:
    from .. import files
    from ..policy import visible
    from .engines.sqlite import ENGINE

    if path.is_dir():
        raise ReturnsError(f"{path} is a folder: give the database file, such as {path / 'returns.db'}")
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
    return Database(ENGINE, ENGINE.connect(path, readonly=readonly, visible=visible), path=path, readonly=readonly)


def _open_server(url: str) -> Database:
    from .engines.postgres import ENGINE

    raw = ENGINE.connect(url)
    db = Database(ENGINE, raw, url=url)
    try:
        # On a server the recorded agent is the database login: --agent cannot impersonate.
        db.login = db.scalar("SELECT current_user")
    except BaseException:
        db.close()
        raise
    return db
