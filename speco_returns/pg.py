"""The store's connection to a PostgreSQL server (issue 14), imported only when `--db` is a URL.

`connect()` returns a `Connection` that looks like the sqlite3 connection the store uses:
`execute(sql, params)` with `?` placeholders (rewritten by dialect.Postgres), rows readable
by index and by column name, `lastrowid` after an INSERT, `in_transaction`. Driver errors
become the same one-line ReturnsError / DatabaseBusy the SQLite path gives.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator, Sequence

from .dialect import MIGRATION_LOCK, Postgres, shown
from .errors import DatabaseBusy, ReturnsError, SerialTaken

try:
    import psycopg
    from psycopg import errors as pgerrors
    from psycopg.adapt import Loader
    from psycopg.pq import TransactionStatus
except ImportError:  # the optional extra is missing: one line saying what to install
    psycopg = None

CONNECT_TIMEOUT_S = 5
# A laptop that drops off the network mid-write must not hold the write lock for hours:
# the server ends a session idle inside a transaction, and keepalives find a dead peer.
IDLE_IN_TRANSACTION_MS = 60_000
# Tables whose INSERT reports the new row's id (SQLite's lastrowid).
_ID_TABLES = ("returns", "items", "serials", "events", "ledger", "reviews", "notices")

DIALECT = Postgres()
_streams = itertools.count()


def _need_driver() -> None:
    if psycopg is None:
        raise ReturnsError("a PostgreSQL database needs the driver: pip install 'speco-returns[postgres]'")


class Row(tuple):
    """A row as sqlite3.Row reads: by position (`(n,) = row` gives the value) and by name."""

    _index: dict[str, int] = {}

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor):
    names = [c.name for c in cursor.description or ()]
    cls = type("Row", (Row,), {"_index": {n: i for i, n in enumerate(names)}, "__slots__": ()})
    return lambda values: cls(values)


if psycopg is not None:

    class _IntegerNumeric(Loader):
        """sum() of integers is numeric on the server: integer cents stay Python ints."""

        def load(self, data):
            text = bytes(data).decode()
            if "." in text:
                from decimal import Decimal

                return Decimal(text)
            return int(text)


def translate_error(e: Exception, target: str) -> ReturnsError:
    """One line for a server error, as the SQLite path words its own."""
    if isinstance(e, pgerrors.LockNotAvailable):
        return DatabaseBusy()
    if isinstance(e, pgerrors.UniqueViolation) and e.diag.constraint_name == "serials_held":  # SER-1's backstop (m012)
        found = re.search(r"\(serial\)=\((.*)\) already exists", e.diag.message_detail or "")
        return SerialTaken(found.group(1) if found else None)
    if isinstance(e, pgerrors.InsufficientPrivilege):
        if "needs the speco_" in str(e):  # a supervisor's moment (roles.py): the trigger names the role
            return ReturnsError(_first_line(e))
        return ReturnsError(f"permission denied on the server ({_first_line(e)}): "
                            "this needs the speco_agent role (speco_accounting only reads and exports): ask the database's owner (speco-returns admin roles)")
    if isinstance(e, pgerrors.IdleInTransactionSessionTimeout):
        return ReturnsError("the server ended this session after it sat idle in a write; nothing was written: try again")
    if isinstance(e, (psycopg.OperationalError, psycopg.InterfaceError)):
        return ReturnsError(f"lost the connection to the database server {shown(target)} ({_first_line(e)}): "
                            "a command is written whole or not at all; check with `show` and try again")
    return ReturnsError(f"database error: {_first_line(e)}")


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0].strip() if text else type(e).__name__


class Result:
    def __init__(self, cursor, lastrowid: int | None = None):
        self._cursor = cursor
        self.lastrowid = lastrowid
        self.rowcount = cursor.rowcount

    def fetchone(self):
        return self._cursor.fetchone()

    def fetchall(self) -> list:
        return self._cursor.fetchall()

    @property
    def description(self):
        return self._cursor.description

    def __iter__(self) -> Iterator:
        return self

    def __next__(self):
        row = self._cursor.fetchone()
        if row is None:
            raise StopIteration
        return row


class Connection:
    def __init__(self, conn, target: str):
        self._conn = conn
        self.target = target

    @property
    def in_transaction(self) -> bool:
        status = self._conn.info.transaction_status
        return status in (TransactionStatus.INTRANS, TransactionStatus.INERROR, TransactionStatus.ACTIVE)

    def cursor(self) -> _Cursor:
        return _Cursor(self)

    def execute(self, sql: str, params: Sequence | dict | None = None) -> Result:
        params = params if params else None
        table = _TABLE_INFO.fullmatch(sql.strip())
        if table:  # SQLite's column list, as chain.columns() and admin copy read it: (cid, name, type)
            sql, params = _COLUMNS_SQL, [table.group(1)]
        text = DIALECT.sql(sql, params)
        returning = _wants_id(text)
        if returning:
            text += " RETURNING id"
        try:
            cur = self._conn.execute(text, params)
            lastrowid = cur.fetchone()[0] if returning else None
        except psycopg.Error as e:
            raise translate_error(e, self.target) from None
        return Result(cur, lastrowid)

    def executemany(self, sql: str, rows: list) -> None:
        if not rows:
            return
        text = DIALECT.sql(sql, rows[0])
        try:
            with self._conn.cursor() as cur:
                cur.executemany(text, rows)
        except psycopg.Error as e:
            raise translate_error(e, self.target) from None

    def stream(self, sql: str, params: Sequence | dict | None = None, size: int = 2000) -> Iterator:
        """Rows through a server-side cursor, `size` at a time: a million rows in flat memory.
        Inside its own read-only snapshot when none is open (a named cursor needs a transaction)."""
        params = params if params else None
        own = not self.in_transaction
        try:
            if own:
                self._conn.execute(DIALECT.begin_read[0])
            with self._conn.cursor(name=f"speco_stream_{next(_streams)}") as cur:
                cur.itersize = size
                cur.execute(DIALECT.sql(sql, params), params)
                yield from cur
            if own:
                self._conn.execute("COMMIT")
        except psycopg.Error as e:
            raise translate_error(e, self.target) from None
        finally:
            if own and self.in_transaction and not self._conn.closed:
                self._conn.execute("ROLLBACK")

    def alive(self) -> bool:
        """False once the server ended this session (a restart, an idle timeout)."""
        if self._conn.closed:
            return False
        try:
            self._conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def close(self) -> None:
        self._conn.close()


class _Cursor:
    """conn.cursor() as chain.py uses it: a row_factory it may set, execute()."""

    def __init__(self, conn: Connection):
        self._conn, self.row_factory = conn, None

    def execute(self, sql: str, params=None) -> Result:
        return self._conn.execute(sql, params)


_TABLE_INFO = re.compile(r"PRAGMA table_info\((\w+)\)", re.IGNORECASE)
_COLUMNS_SQL = ("SELECT ordinal_position - 1, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position")


def _wants_id(text: str) -> bool:
    head = text.lstrip()[:40].lower()
    if not head.startswith("insert into ") or "returning" in text.lower():
        return False
    table = head[len("insert into "):].split(None, 1)[0].split("(")[0]
    return table in _ID_TABLES and " values" in text.lower()


def connect(target: str) -> Connection:
    """Open a session on the server: 5 s to connect, keepalives, an idle-in-write limit."""
    _need_driver()
    options = f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"
    try:
        conn = psycopg.connect(
            target, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, row_factory=_row_factory,
            keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3,
            application_name=os.environ.get("PGAPPNAME", "speco-returns"), options=options,
        )
    except psycopg.Error as e:
        raise ReturnsError(f"cannot connect to the database server {shown(target)}: {_first_line(e)}") from None
    conn.adapters.register_loader("numeric", _IntegerNumeric)
    return Connection(conn, target)


def schema_version(conn: Connection, migration_set: str) -> int:
    (exists,) = conn.execute("SELECT to_regclass('speco_migrations') IS NOT NULL").fetchone()
    if not exists:
        return 0
    (n,) = conn.execute("SELECT count(*) FROM speco_migrations WHERE migration_set = ?", [migration_set]).fetchone()
    return n


def migrate(conn: Connection, migration_set: str, info: dict[str, str]) -> None:
    """Apply the pending migrations in one transaction under an advisory lock: when several
    agents start a new version together, one migrates and the others wait, then find it done."""
    from .migrations_pg import MIGRATIONS

    conn.execute("BEGIN")
    try:
        conn.execute(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        conn.execute("""CREATE TABLE IF NOT EXISTS speco_migrations (
                          migration_set TEXT NOT NULL, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                          PRIMARY KEY (migration_set, name))""")
        done = {r[0] for r in conn.execute("SELECT name FROM speco_migrations WHERE migration_set = ?", [migration_set])}
        for name, statements in MIGRATIONS:
            if name in done:
                continue
            for statement in statements:  # SQL, or a step in Python (a back-fill the server's SQL cannot compute)
                if callable(statement):
                    statement(conn)
                else:
                    conn.execute(statement)
            conn.execute("INSERT INTO speco_migrations (migration_set, name) VALUES (?, ?)", [migration_set, name])
        from . import __version__

        for key, value in {"upgraded_by": __version__, **info}.items():  # what an older tool reads
            conn.execute("INSERT INTO schema_info (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         [key, value])
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
