"""PostgreSQL: a team's shared server, reached with psycopg 3 (the `postgres` extra), imported
only when `--db` is a URL: SQLite users never pay its import."""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterator
from contextlib import closing
from functools import lru_cache

from ...errors import DatabaseBusy, ReturnsError, SerialTaken
from .. import changes, guards, roles
from ..urls import shown
from .base import Engine, Params

try:
    import psycopg
    from psycopg import errors as pgerrors
    from psycopg.adapt import Loader
    from psycopg.pq import TransactionStatus
except ImportError:  # the optional extra is missing: one line saying what to install
    psycopg = None

CONNECT_TIMEOUT_S = 5
# A laptop that drops off the network mid-write must not hold the write lock for hours: the
# server ends a session idle inside a transaction, and keepalives find a dead peer.
IDLE_IN_TRANSACTION_MS = 60_000
MIGRATION_LOCK = 0x5EC0_0002
_streams = itertools.count()
_LITERAL = re.compile(r"'(?:[^']|'')*'")
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@lru_cache(maxsize=512)
def placeholders(sql: str) -> str:
    """`?` -> `%s` and `:name` -> `%(name)s` outside string literals, and a literal `%` doubled
    (psycopg reads `%` as a placeholder). Placeholders only: the SQL is otherwise as written."""
    parts, last = [], 0
    for m in _LITERAL.finditer(sql):
        parts.append(_code(sql[last:m.start()]))
        parts.append(m.group().replace("%", "%%"))
        last = m.end()
    parts.append(_code(sql[last:]))
    return "".join(parts)


def _code(code: str) -> str:
    return _NAMED.sub(r"%(\1)s", code.replace("%", "%%").replace("?", "%s"))


class Row(tuple):
    """A row read by position (`(n,) = row`) and by column name, as sqlite3.Row reads."""

    __slots__ = ()
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
    return cls


if psycopg is not None:

    class _IntegerNumeric(Loader):
        """sum() of integers is numeric on the server: integer cents stay Python ints."""

        def load(self, data):
            text = bytes(data).decode()
            if "." in text:
                from decimal import Decimal

                return Decimal(text)
            return int(text)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0].strip() if text else type(e).__name__


def _tls(target: str) -> dict[str, str]:
    """sslmode=verify-full for a server reached over TCP, unless the URL, its service file or
    PGSSLMODE says otherwise (db/urls.tls_default); nothing for a unix socket."""
    from psycopg.conninfo import conninfo_to_dict

    from ..urls import service_settings, tls_default

    try:
        params = {k: str(v) for k, v in conninfo_to_dict(target).items()}
    except psycopg.Error:
        return {}  # libpq names what is wrong with it when it connects
    env = dict(os.environ)
    name = params.get("service") or env.get("PGSERVICE")
    mode = tls_default(params, service_settings(name, env) if name else {}, env)
    return {"sslmode": mode} if mode else {}


class PostgresEngine(Engine):
    name = "postgres"
    migrations_table = "speco_migrations"
    # The lock row's lock per write (db/guards.py), held to COMMIT: the server's BEGIN IMMEDIATE,
    # which only a writing role can take. Writers queue on it; past lock_timeout the waiting one
    # fails (the "database busy" line, naming who holds it). The write is marked as the tool's
    # (db/changes.py reads the mark).
    begin_write = ("BEGIN ISOLATION LEVEL READ COMMITTED", "SET LOCAL lock_timeout = '5s'",
                   f"SELECT set_config('{changes.WRITER}', 'speco-returns', true)", guards.TAKE_LOCK)
    heads_kept_by_trigger = True  # chain_heads follows each history and ledger row (db/guards.py)
    begin_read = ("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",)  # one snapshot
    stream_batch = 2000  # rows a server-side cursor fetches at a time

    def __init__(self) -> None:
        self.driver_errors = (psycopg.Error,) if psycopg is not None else ()

    def connect(self, target: str):
        """A session on the server: 5 s to connect, keepalives, an idle-in-write limit."""
        if psycopg is None:
            raise ReturnsError("a PostgreSQL database needs the driver: pip install 'speco-returns[postgres]' "
                              "(from the checkout: pip install '.[postgres]')")
        options = f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"
        try:
            raw = psycopg.connect(
                target, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, row_factory=_row_factory,
                keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3,
                application_name=os.environ.get("PGAPPNAME", "speco-returns"), options=options, **_tls(target),
            )
        except psycopg.Error as e:
            raise ReturnsError(f"cannot connect to the database server {shown(target)}: {_first_line(e)}") from None
        raw.adapters.register_loader("numeric", _IntegerNumeric)
        return raw

    def notes(self, raw) -> list[str]:
        """What the one-line warnings say about this session: a server over TCP without TLS."""
        host = raw.info.host or ""
        if host.startswith("/") or raw.pgconn.ssl_in_use:
            return []
        return [f"the connection to {host} is not encrypted (TCP without TLS): logins and returns cross the network "
                "in clear; give sslmode=verify-full (the default) and the server's certificate"]

    def execute(self, raw, sql: str, params: Params = None):
        return raw.execute(placeholders(sql), params or ())

    def executemany(self, raw, sql: str, rows: list) -> None:
        if rows:
            with raw.cursor() as cur:
                cur.executemany(placeholders(sql), rows)

    def insert_id(self, raw, sql: str, params: Params) -> int:
        return raw.execute(placeholders(sql + " RETURNING id"), params or ()).fetchone()[0]

    def stream(self, raw, sql: str, params: Params = None) -> Iterator:
        """Through a server-side cursor, a few thousand rows at a time; inside its own
        read-only snapshot when no transaction is open (a named cursor needs one). Several
        streams read side by side only inside the caller's `Database.read()`: a stream's own
        snapshot ends with its last row, and with it every other cursor opened in it."""
        own = not self.in_transaction(raw)
        try:
            if own:
                raw.execute(self.begin_read[0])
            with raw.cursor(name=f"speco_stream_{next(_streams)}") as cur:
                cur.itersize = self.stream_batch
                cur.execute(placeholders(sql), params or ())
                yield from cur
            if own:
                raw.execute("COMMIT")
        finally:
            if own and self.in_transaction(raw) and not raw.closed:
                raw.execute("ROLLBACK")

    def columns(self, raw, table: str) -> dict[str, str]:
        return {name: "integer" if kind in ("bigint", "integer", "smallint") else "text" for name, kind in raw.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = %s ORDER BY ordinal_position", [table])}

    def table_exists(self, raw, table: str) -> bool:
        return raw.execute("SELECT to_regclass(%s) IS NOT NULL", [table]).fetchone()[0]

    def in_transaction(self, raw) -> bool:
        return raw.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR,
                                               TransactionStatus.ACTIVE)

    def classify(self, error: BaseException, where: str, statement=None):
        if not isinstance(error, psycopg.Error):
            return None
        if isinstance(error, pgerrors.LockNotAvailable):
            return DatabaseBusy()
        if isinstance(error, pgerrors.UniqueViolation) and error.diag.constraint_name == "serials_held":
            found = re.search(r"\(serial\)=\((.*)\) already exists", error.diag.message_detail or "")
            return SerialTaken(found.group(1) if found else None)  # SER-1's backstop
        if isinstance(error, pgerrors.InsufficientPrivilege):
            if "needs the speco_" in str(error) or "(you are " in str(error):  # the server's own triggers say why
                return ReturnsError(_first_line(error))
            return ReturnsError(roles.refusal(_first_line(error), statement))
        if isinstance(error, pgerrors.IdleInTransactionSessionTimeout):
            return ReturnsError("the server ended this session after it sat idle in a write; nothing was "
                                "written: try again")
        if isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError)):
            return ReturnsError(f"lost the connection to the database server {where} ({_first_line(error)}): "
                                "a command is written whole or not at all; check with `show` and try again")
        return ReturnsError(f"database error: {_first_line(error)}")

    def details_not_objects(self, raw, limit: int) -> list[int]:
        """The server parses every detail in one statement; it stops at the first text that is not
        JSON at all (m018 refuses such rows, but not those written before it), and only then are
        the details read and parsed here, one by one."""
        try:
            with raw.transaction():  # a savepoint inside doctor's snapshot
                return [i for (i,) in raw.execute(
                    """SELECT id FROM events WHERE detail IS NOT NULL AND detail <> ''
                       AND jsonb_typeof(detail::jsonb) <> 'object' ORDER BY id LIMIT %s""", [limit])]
        except (pgerrors.InvalidTextRepresentation, pgerrors.UntranslatableCharacter):
            pass
        found = []
        with closing(self.stream(raw, "SELECT id, detail FROM events WHERE detail IS NOT NULL AND detail <> '' ORDER BY id")) as rows:
            for i, text in rows:
                try:
                    ok = isinstance(json.loads(text), dict)
                except ValueError:
                    ok = False
                if not ok:
                    found.append(i)
                    if len(found) == limit:
                        break
        return found

    def remove_serial(self, raw, return_id: int, serial: str) -> bool:
        return raw.execute("SELECT speco_remove_serial(%s, %s)", [return_id, serial]).fetchone()[0]

    def who_writes(self, raw) -> str | None:
        """Who holds the write lock, as far as the server tells any login."""
        try:
            return guards.holder_text(raw.execute(guards.LOCK_HOLDER).fetchone())
        except psycopg.Error:
            return None

    def alive(self, raw) -> bool:
        """False once the server ended this session (a restart, an idle timeout)."""
        if raw.closed:
            return False
        try:
            raw.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def ra_text(self, column: str) -> str:
        # lpad() cuts a longer value: past 999999 the number stays whole.
        return f"('RA-' || CASE WHEN {column} < 1000000 THEN lpad({column}::text, 6, '0') ELSE {column}::text END)"

    def amount_text(self, column: str) -> str:
        return (f"CASE WHEN {column} IS NULL THEN NULL WHEN {column} < 0 "
                f"THEN '-' || div(-({column})::numeric, 100)::text || '.' || lpad(mod(-({column})::numeric, 100)::text, 2, '0') "
                f"ELSE div(({column})::numeric, 100)::text || '.' || lpad(mod(({column})::numeric, 100)::text, 2, '0') END")

    def json_text(self, column: str, key: str) -> str:
        return f"(({column})::jsonb ->> '{key}')"

    def joined(self, expr: str, separator: str) -> str:
        return f"string_agg({expr}, '{separator}')"

    def contains(self, haystack: str, needle: str) -> str:
        return f"strpos({haystack}, {needle}) > 0"

    def substring_match(self, column: str, param: str) -> str:
        return f"{column} ILIKE {param}"  # pg_trgm's GIN index serves it

    def substring_term(self, text: str) -> str:
        return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

    def has_control(self, column: str) -> str:
        return rf"{column} ~ '[\x01-\x1f\x7f-\x9f]'"

    def as_bytes(self, expr: str) -> str:
        return f"convert_to({expr}, 'UTF8')"

    def days_between(self, later: str, earlier: str) -> str:
        return f"(({later})::date - ({earlier})::date)"

    def quoted(self, column: str, kind: str) -> str:
        if kind in ("integer", "rowid"):
            return f"coalesce(({column})::text, 'NULL')"
        return f"CASE WHEN {column} IS NULL THEN 'NULL' ELSE '''' || replace({column}, '''', '''''') || '''' END"


ENGINE = PostgresEngine()
