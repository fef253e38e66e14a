"""SQLite: one desk's database, a file beside the tool (the default)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from ...errors import DatabaseBusy, ReturnsError, SerialTaken
from .base import Engine, Params

BUSY_TIMEOUT_MS = 5000
MMAP_BYTES = 1 << 31  # SQLite's own ceiling
# SQLite's text of a control character class, in GLOB (C, fast: the Python `visible` is called
# only for a cell that holds one).
_CONTROL_GLOB = "'*[' || char(1) || '-' || char(31) || char(127) || '-' || char(159) || ']*'"


def damaged(where: str) -> ReturnsError:
    return ReturnsError(f"the database {where} is damaged (unreadable text or pages): run "
                        "`speco-returns doctor`, and restore the latest `speco-returns backup` copy")


class SQLiteEngine(Engine):
    name = "sqlite"
    migrations_table = "_sqlite_migrations"  # sqlite-utils' table, as 0.1 and 0.2 kept it
    begin_write = ("BEGIN IMMEDIATE",)  # the write lock first: writers queue on the busy timeout
    begin_read = ("BEGIN",)
    driver_errors = (sqlite3.Error,)

    def connect(self, path: Path, *, readonly: bool, visible) -> sqlite3.Connection:
        """The connection every command uses: busy timeout, full sync, foreign keys, WAL."""
        try:
            raw = sqlite3.connect(_uri(path, readonly), uri=True, isolation_level=None,
                                  timeout=BUSY_TIMEOUT_MS / 1000)
        except (OSError, sqlite3.Error) as e:
            raise ReturnsError(f"cannot open database {path}: {e}") from None
        raw.row_factory = sqlite3.Row
        raw.create_function("visible", 1, visible, deterministic=True)
        try:
            for pragma in (
                f"busy_timeout = {BUSY_TIMEOUT_MS}",  # first: the others may wait on a lock
                "synchronous = FULL",
                "foreign_keys = ON",
                "secure_delete = ON",
            ):
                raw.execute(f"PRAGMA {pragma}")
            if not readonly:
                _use_wal(raw)
        except sqlite3.Error as e:  # not a database, a locked or damaged file: one line
            raw.close()
            raise (self.classify(e, str(path)) or e) from None
        except BaseException:
            raw.close()
            raise
        return raw

    def execute(self, raw, sql: str, params: Params = None):
        return raw.execute(sql, params or ())

    def executemany(self, raw, sql: str, rows: list) -> None:
        raw.executemany(sql, rows)

    def insert_id(self, raw, sql: str, params: Params) -> int:
        return raw.execute(sql, params or ()).lastrowid

    def stream(self, raw, sql: str, params: Params = None) -> Iterator:
        return iter(raw.execute(sql, params or ()))  # SQLite's cursor steps through the file

    def tuples(self, raw, sql: str, params: Params = None) -> Iterator:
        cursor = raw.cursor()
        cursor.row_factory = None  # tuples, not sqlite3.Row: these loops read millions of rows
        return iter(cursor.execute(sql, params or ()))

    def columns(self, raw, table: str) -> dict[str, str]:
        """Each column's affinity; the one INTEGER PRIMARY KEY (the rowid itself) as `rowid`."""
        info = raw.execute(f"PRAGMA table_info({table})").fetchall()
        keys = sum(row[5] > 0 for row in info)
        return {row[1]: "rowid" if row[5] == 1 and keys == 1 and row[2].upper() == "INTEGER" else _affinity(row[2])
                for row in info}

    def in_transaction(self, raw) -> bool:
        return raw.in_transaction

    def table_exists(self, raw, table: str) -> bool:
        return raw.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", [table]).fetchone()[0] > 0

    def details_not_objects(self, raw, limit: int) -> list[int]:
        return [i for (i,) in raw.execute(
            """SELECT id FROM events WHERE detail IS NOT NULL AND detail != ''
               AND CASE WHEN json_valid(detail) THEN json_type(detail) != 'object' ELSE 1 END ORDER BY id LIMIT ?""",
            [limit])]

    def remove_serial(self, raw, return_id: int, serial: str) -> bool:
        return raw.execute("DELETE FROM serials WHERE return_id = ? AND serial = ?", [return_id, serial]).rowcount > 0

    def classify(self, error: BaseException, where: str, statement=None):
        text = str(error)
        if isinstance(error, sqlite3.IntegrityError) and text == "UNIQUE constraint failed: serials.serial":
            return SerialTaken()  # SER-1's backstop: the partial unique index over held serials
        if isinstance(error, sqlite3.OperationalError):
            if "locked" in text or "busy" in text:
                return DatabaseBusy()
            if "decode" in text or "user-defined function raised" in text:  # stored text that is not UTF-8
                return damaged(where)
            return ReturnsError(f"database error: {text}")
        if isinstance(error, sqlite3.DatabaseError):
            if "malformed" in text or "not a database" in text:
                return damaged(where)
            return ReturnsError(f"database error: {text} ({where})")
        return None

    def ra_text(self, column: str) -> str:
        return f"printf('RA-%06d', {column})"

    def amount_text(self, column: str) -> str:
        return (f"CASE WHEN {column} IS NULL THEN NULL WHEN {column} < 0 "
                f"THEN printf('-%d.%02d', -({column}) / 100, -({column}) % 100) "
                f"ELSE printf('%d.%02d', {column} / 100, {column} % 100) END")

    def json_text(self, column: str, key: str) -> str:
        return f"json_extract({column}, '$.{key}')"

    def joined(self, expr: str, separator: str) -> str:
        return f"group_concat({expr}, '{separator}')"

    def contains(self, haystack: str, needle: str) -> str:
        return f"instr({haystack}, {needle}) > 0"

    def substring_match(self, column: str, param: str) -> str:
        return f"{column} MATCH {param}"  # FTS5, trigram tokenizer: a phrase of the text's trigrams

    def substring_term(self, text: str) -> str:
        return '"' + text.replace('"', '""') + '"'

    def has_control(self, column: str) -> str:
        return f"{column} GLOB {_CONTROL_GLOB}"

    def quoted(self, column: str, kind: str) -> str:
        return f"quote({column})"

    def canonical(self, kinds: dict[str, str], columns, prefix: str = "") -> str:
        """The canonical text in one printf, twice as fast as quote() || ',' || ... (doctor
        builds it for every chained row and every return): %Q is quote() for text and NULL; a
        column of TEXT affinity holds only text, NULL or a blob, and a row holding a blob there
        (which %Q would print as text) falls back to quote() itself; the rowid is always an
        integer (%d); other columns go through quote()."""
        formats, args, texts = [], [], []
        for c in columns:
            if kinds[c] == "rowid":
                formats.append("%d")
                args.append(prefix + c)
            elif kinds[c] == "text":
                formats.append("%Q")
                args.append(prefix + c)
                texts.append(f"typeof({prefix}{c})")
            else:
                formats.append("%s")
                args.append(f"quote({prefix}{c})")
        fast = f"printf('{','.join(formats)}', {', '.join(args)})"
        if not texts:
            return fast
        slow = "||','||".join(f"quote({prefix}{c})" for c in columns)
        blob = texts[0] if len(texts) == 1 else f"min({', '.join(texts)})"  # 'blob' sorts first of the five
        return f"(CASE WHEN {blob} = 'blob' THEN {slow} ELSE {fast} END)"

    def as_bytes(self, expr: str) -> str:
        return f"CAST({expr} AS BLOB)"

    def fast_reads(self, raw) -> None:
        raw.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")  # the whole file mapped, not copied page by page

    def days_between(self, later: str, earlier: str) -> str:
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"

    def indexed_by(self, index: str) -> str:
        return f" INDEXED BY {index}"


def _affinity(declared: str) -> str:
    """SQLite's column affinity from a declared type (its documented rules, in order)."""
    t = declared.upper()
    if "INT" in t:
        return "integer"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "text"
    return "blob" if "BLOB" in t or not t else "real" if any(w in t for w in ("REAL", "FLOA", "DOUB")) else "numeric"


def _uri(path: Path, readonly: bool) -> str:
    """A file we may not write is opened read-only; without a WAL to read, as immutable, so
    SQLite creates no -wal/-shm (owned by us, in someone else's folder)."""
    uri = "file:" + quote(str(path.absolute()))
    if not readonly:
        return uri
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    if wal.exists() and shm.exists():
        return uri + "?mode=ro"
    if wal.exists() and wal.stat().st_size > 0:
        raise ReturnsError(f"{path} has unfinished writes in {wal} that only an account that can "
                           "write the database can finish: run any command as that account first")
    return uri + "?immutable=1"


def _use_wal(raw: sqlite3.Connection) -> None:
    """WAL is kept in the file, so this is a read once a file has it. Switching a new file can
    fail at once with "locked" while another process opens it too (SQLite does not wait on the
    busy handler there): retry within the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if raw.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                raw.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


ENGINE = SQLiteEngine()
