"""Tamper evidence: hash chains over the history (events) and the ledger, and a digest of
each return's record in the event that last changed it.

- Each events and ledger row carries `hash` = SHA-256 of the previous row's hash and of
  every other column of the row (`canon`: SQLite's quote() of each, comma-separated, in
  the table's column order, so columns added later are covered too). The last hash of each
  table, its row count and last id are kept in `chain_heads`, outside the rows they cover,
  so removing the newest rows shows too.
- Each event also carries `digest`: SHA-256 of the return's row, items and serials as the
  event left them. `doctor` recomputes it for the latest event: an edit to a return, an
  item or a serial made outside the tool shows as a mismatch.

This detects edits made with any SQLite tool. It cannot stop someone who has the file and
this source from rewriting the whole chain consistently: keep backups elsewhere (README).
Rows are appended in one place (`append`), so every new kind of event is chained.
"""

from __future__ import annotations

import hashlib
import itertools
import sqlite3
from collections.abc import Callable, Iterator

CHAINED = ("events", "ledger")
REBUILD_SLICE = 50_000
# Append-only (m002) and no REPLACE (m010): REPLACE deletes without firing a DELETE trigger.
TRIGGERS = {
    "events_no_update": "CREATE TRIGGER events_no_update BEFORE UPDATE ON events\n"
                        "            BEGIN SELECT RAISE(ABORT, 'history is append-only'); END",
    "events_no_delete": "CREATE TRIGGER events_no_delete BEFORE DELETE ON events\n"
                        "            BEGIN SELECT RAISE(ABORT, 'history is append-only'); END",
    "ledger_no_update": "CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger\n"
                        "            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END",
    "ledger_no_delete": "CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger\n"
                        "            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END",
    "events_no_replace": "CREATE TRIGGER events_no_replace BEFORE INSERT ON events\n"
                         "            WHEN EXISTS (SELECT 1 FROM events WHERE id = NEW.id)\n"
                         "            BEGIN SELECT RAISE(ABORT, 'history is append-only'); END",
    "ledger_no_replace": "CREATE TRIGGER ledger_no_replace BEFORE INSERT ON ledger\n"
                         "            WHEN EXISTS (SELECT 1 FROM ledger WHERE id = NEW.id)\n"
                         "            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END",
}

# The record a digest covers, as it is at m010 (a column added later is not covered, so a
# later migration need not recompute digests).
RETURN_COLUMNS = ("id", "ra_no", "type", "status", "customer", "email", "phone", "ticket", "distributor",
                  "approved_by", "reason", "hold_amount_cents", "hold_ref", "hold_expires", "hold_active",
                  "opened_on", "opened_at", "opened_by", "last_event_on", "shipped_on", "delivered_on", "due_on",
                  "unit_shipped_on", "received_on", "charged_on", "closed_on")
ITEM_COLUMNS = ("id", "model", "description", "category", "qty", "list_price_cents")
SERIAL_COLUMNS = ("id", "item_id", "serial")


def _sql_canon(columns, prefix: str = "") -> str:
    return "||','||".join(f"quote({prefix}{c})" for c in columns)


def _affinity(declared: str) -> str:
    """SQLite's column affinity from a declared type (its documented rules, in order)."""
    t = declared.upper()
    if "INT" in t:
        return "integer"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "text"
    return "blob" if "BLOB" in t or not t else "real" if any(w in t for w in ("REAL", "FLOA", "DOUB")) else "numeric"


def fast_canon(conn: sqlite3.Connection, table: str, cols=None, prefix: str = "") -> str:
    """An SQL expression giving exactly `_sql_canon`'s text (quote() of each column, comma-
    separated) in one printf: `doctor` builds it for every chained row and every return, and
    quote() || ',' || ... costs twice as much. printf's %Q is quote() for text and NULL; a
    column of TEXT affinity holds only text, NULL or a blob (numbers are stored as text), and
    a row holding a blob there, which %Q would print as text, falls back to quote() itself.
    The rowid (INTEGER PRIMARY KEY) is always an integer: %d. Other columns go through quote()."""
    info = {row[1]: row for row in conn.execute(f"PRAGMA table_info({table})")}
    cols = cols or [c for c in info if c != "hash"]
    formats, args, texts = [], [], []
    for c in cols:
        _, _, declared, _, _, pk = info[c]
        if pk == 1 and declared.upper() == "INTEGER" and sum(r[5] > 0 for r in info.values()) == 1:
            formats.append("%d")
            args.append(prefix + c)
        elif _affinity(declared) == "text":
            formats.append("%Q")
            args.append(prefix + c)
            texts.append(f"typeof({prefix}{c})")
        else:
            formats.append("%s")
            args.append(f"quote({prefix}{c})")
    fast = f"printf('{','.join(formats)}', {', '.join(args)})"
    if not texts:
        return fast
    kinds = texts[0] if len(texts) == 1 else f"min({', '.join(texts)})"  # 'blob' sorts first of the five
    return f"(CASE WHEN {kinds} = 'blob' THEN {_sql_canon(cols, prefix)} ELSE {fast} END)"


def _plain(conn: sqlite3.Connection, sql: str, args=()) -> sqlite3.Cursor:
    """Tuples, not sqlite3.Row: these loops read millions of rows."""
    cursor = conn.cursor()
    cursor.row_factory = None
    return cursor.execute(sql, args)


def records(conn: sqlite3.Connection, after: int = 0, upto: int | None = None) -> Iterator[tuple[int, str]]:
    """(return id, canonical text of its row, items and serials) for returns after..upto, in
    id order: three streams in return order side by side (no correlated subquery per return)."""
    upto = (1 << 62) if upto is None else upto
    returns = _plain(conn, f"SELECT id, {_sql_canon(RETURN_COLUMNS)} FROM returns WHERE id > ? AND id <= ? ORDER BY id",
                     [after, upto])
    parts = [itertools.groupby(_plain(conn, f"SELECT return_id, {_sql_canon(columns)} FROM {table} "
                                            "WHERE return_id > ? AND return_id <= ? ORDER BY return_id, id", [after, upto]),
                               key=lambda row: row[0])
             for table, columns in (("items", ITEM_COLUMNS), ("serials", SERIAL_COLUMNS))]
    pending = [next(p, None) for p in parts]
    for rid, text in returns:
        out = [text]
        for n, part in enumerate(parts):
            found = ""
            while pending[n] is not None and pending[n][0] <= rid:
                if pending[n][0] == rid:
                    found = ";".join(row[1] for row in pending[n][1])
                pending[n] = next(part, None)
            out.append(found)
        yield rid, "|".join(out)


def sql_quote(value: object) -> str:
    """SQLite's quote() in Python, for the values this tool writes (text, integers, NULL)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no canonical form for {type(value).__name__}")


def link(prev: str, canon: str) -> str:
    return hashlib.sha256(f"{prev}\n{canon}".encode("utf-8", "surrogatepass")).hexdigest()


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    """Every column but `hash`, in the table's order: what the chain covers."""
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})") if row[1] != "hash"]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def digest(conn: sqlite3.Connection, return_id: int) -> str:
    ((_, canon),) = records(conn, return_id - 1, return_id)
    return sha(canon)


def append(conn: sqlite3.Connection, table: str, values: dict, cols: list[str] | None = None) -> int:
    """Insert one row into a chained table, linked to the head; returns its id. Runs inside
    the caller's write transaction, so the head and the row change together."""
    cols = cols or columns(conn, table)
    (last_id,) = conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()
    head = conn.execute("SELECT hash FROM chain_heads WHERE name = ?", [table]).fetchone()
    row = {**values, "id": last_id + 1}
    h = link(head[0] if head else "", ",".join(sql_quote(row.get(c)) for c in cols))
    names = [*cols, "hash"]
    conn.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                 [*(row.get(c) for c in cols), h])
    conn.execute("""INSERT INTO chain_heads (name, last_id, rows, hash) VALUES (?, ?, 1, ?)
                    ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id, rows = chain_heads.rows + 1, hash = excluded.hash""",
                 [table, row["id"], h])
    return row["id"]


# The catalog is not a history: each model's row is replaced by `catalog add` and `import`. A
# digest of the whole catalog is kept beside the chains' heads (chain_heads, name 'catalog'),
# written in the same transaction as every catalog write (m014 for one written before): list
# prices and categories decide holds and VR-3, so `doctor` recomputes it.
CATALOG_COLUMNS = ("model", "description", "category", "list_price_cents", "updated_at")


def _canon_or_repr(value: object) -> str:
    try:
        return sql_quote(value)
    except TypeError:  # a value the tool never writes (a float, a blob): never equal to its text
        return repr(value)


def catalog_digest(conn) -> tuple[int, str]:
    """(rows, SHA-256 over every catalog row's canonical text, sorted): the same on either
    backend, whatever order or collation its database reads them in."""
    rows = sorted(",".join(_canon_or_repr(v) for v in row)
                  for row in conn.execute(f"SELECT {', '.join(CATALOG_COLUMNS)} FROM catalog"))
    return len(rows), sha("\n".join(rows))


def record_catalog(conn) -> None:
    """Keep the catalog's digest (inside the caller's write transaction; either backend)."""
    rows, digest_ = catalog_digest(conn)
    conn.execute("""INSERT INTO chain_heads (name, last_id, rows, hash) VALUES ('catalog', 0, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET rows = excluded.rows, hash = excluded.hash""", [rows, digest_])


def catalog_problems(conn) -> list[str]:
    """Doctor (both backends, from m014): the catalog against its recorded digest."""
    head = conn.execute("SELECT rows, hash FROM chain_heads WHERE name = 'catalog'").fetchone()
    rows, digest_ = catalog_digest(conn)
    if head is not None and (head[0], head[1]) == (rows, digest_):
        return []
    return [f"the catalog was changed outside the tool ({rows} model(s); its digest was recorded with "
            f"{'no' if head is None else head[0]} row(s) and does not match): list prices and categories decide holds "
            "and VR-3; compare `catalog list` with the price list, then enter it again (`catalog import`)"]


def _stream(conn: sqlite3.Connection, table: str) -> Iterator[tuple]:
    """(id, stored hash, the bytes its hash covers after the previous row's hash: a newline and
    the row's canonical text). Bytes straight from SQLite: no text decoded and encoded again."""
    return _plain(conn, f"SELECT id, hash, CAST(char(10) || {fast_canon(conn, table)} AS BLOB) FROM {table} ORDER BY id")


def rebuild(conn: sqlite3.Connection) -> None:
    """Digests for each return's latest event, then both chains and their heads, computed from
    the rows as they are: for a migration (m010, and any later one that changes a chained
    table's shape) and the benchmark generator. Runs inside the caller's transaction."""
    for name in TRIGGERS:
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    (top,) = conn.execute("SELECT coalesce(max(id), 0) FROM returns").fetchone()
    for start in range(0, top, REBUILD_SLICE):
        last = dict(conn.execute("SELECT return_id, max(id) FROM events WHERE return_id > ? AND return_id <= ? "
                                 "GROUP BY return_id", [start, start + REBUILD_SLICE]))
        updates = [(sha(text), last[rid]) for rid, text in records(conn, start, start + REBUILD_SLICE) if rid in last]
        conn.executemany("UPDATE events SET digest = ? WHERE id = ?", updates)
    conn.execute(f"DELETE FROM chain_heads WHERE name IN ({', '.join(repr(t) for t in CHAINED)})")
    for table in CHAINED:
        prev, count, last_id = "", 0, 0
        canon = _sql_canon(columns(conn, table))
        while True:  # in slices, so memory stays flat at any size
            rows = conn.execute(f"SELECT id, {canon} FROM {table} WHERE id > ? ORDER BY id LIMIT {REBUILD_SLICE}",
                                [last_id]).fetchall()
            if not rows:
                break
            updates = []
            for row_id, text in rows:
                prev = link(prev, text)
                updates.append((prev, row_id))
            conn.executemany(f"UPDATE {table} SET hash = ? WHERE id = ?", updates)
            count, last_id = count + len(rows), rows[-1][0]
        conn.execute("INSERT INTO chain_heads (name, last_id, rows, hash) VALUES (?, ?, ?, ?)",
                     [table, last_id, count, prev])
    for sql in TRIGGERS.values():
        conn.execute(sql)


Progress = Callable[[str, int, int], None]


def verify(conn: sqlite3.Connection, table: str, progress: Progress | None = None) -> tuple[list[int], list[str]]:
    """Row ids whose hash does not follow from the previous row's, and what is wrong with the
    head. A changed row breaks at itself; a removed or inserted one at the row after it."""
    (total,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    bad: list[int] = []
    prev, count, last_id = b"", 0, 0
    sha = hashlib.sha256
    for row_id, stored, canon in _stream(conn, table):
        if stored != sha(prev + canon).hexdigest():
            bad.append(row_id)
        prev, count, last_id = stored.encode() if isinstance(stored, str) else b"", count + 1, row_id
        if progress and count % 100_000 == 0:
            progress(f"{table} chain", count, total)
    prev = prev.decode()
    head = conn.execute("SELECT last_id, rows, hash FROM chain_heads WHERE name = ?", [table]).fetchone()
    problems = []
    if head is None:
        if count:
            problems.append(f"the {table} chain has no recorded head")
    elif (head[0], head[1], head[2] or "") != (last_id, count, prev):
        problems.append(f"the {table} chain ends at row {last_id} of {count}, but its head records row {head[0]} "
                        f"of {head[1]}: rows were removed or added at the end")
    return bad, problems


def missing_triggers(conn: sqlite3.Connection) -> list[str]:
    have = {name: sql for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")}
    return [name for name, sql in TRIGGERS.items() if " ".join((have.get(name) or "").split()) != " ".join(sql.split())]


def integrity_check(conn: sqlite3.Connection) -> list[str]:
    """SQLite's full integrity check (every page, record and index entry): ["ok"] or what is wrong."""
    return [row[0] for row in conn.execute("PRAGMA integrity_check")]
