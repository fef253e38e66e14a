"""Tamper evidence: hash chains over the history (events) and the ledger, and a digest of each
return's record in the event that last changed it.

- Each events and ledger row carries `hash` = SHA-256 of the previous row's hash and of every
  other column of the row (the canonical text: SQLite's quote() of each value, comma-separated,
  in the table's column order, so columns added later are covered too; the same bytes on both
  engines). The last hash of each table, its row count and last id are kept in `chain_heads`,
  outside the rows they cover, so removing the newest rows shows too.
- Each event also carries `digest`: SHA-256 of the return's row, items and serials as the event
  left them. `doctor` recomputes it for the latest event: an edit to a return, an item or a
  serial made outside the tool shows as a mismatch.

Rows are appended in one place (`append`), so every new kind of event is chained. Anyone who
can write the database can recompute a chain: `doctor --anchor` keeps heads elsewhere.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .connection import Database

CHAINED = ("events", "ledger")
REBUILD_SLICE = 50_000
# The record a digest covers, as it is at m010 (a column added later is not covered, so a later
# migration need not recompute digests).
RETURN_COLUMNS = ("id", "ra_no", "type", "status", "customer", "email", "phone", "ticket",
                  "distributor", "approved_by", "reason", "hold_amount_cents", "hold_ref",
                  "hold_expires", "hold_active", "opened_on", "opened_at", "opened_by",
                  "last_event_on", "shipped_on", "delivered_on", "due_on", "unit_shipped_on",
                  "received_on", "charged_on", "closed_on")
ITEM_COLUMNS = ("id", "model", "description", "category", "qty", "list_price_cents")
SERIAL_COLUMNS = ("id", "item_id", "serial")

Progress = Callable[[str, int, int], None]


def canon_sql(db: Database, table: str, columns, prefix: str = "") -> str:
    """SQL for a row's canonical text: quote() of each column, comma-separated (each column
    quoted as what the table declares it: integer or text)."""
    return db.engine.canonical(db.kinds(table), columns, prefix)


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
    import hashlib  # here, not at the top: a read command never hashes (startup)

    return hashlib.sha256(f"{prev}\n{canon}".encode("utf-8", "surrogatepass")).hexdigest()


def sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def covered(db: Database, table: str) -> list[str]:
    """Every column but `hash`, in the table's order: what the chain covers."""
    return [c for c in db.columns(table) if c != "hash"]


def records(db: Database, after: int = 0, upto: int | None = None) -> Iterator[tuple[int, str]]:
    """(return id, canonical text of its row, items and serials) for returns after..upto, in id
    order: three streams in return order side by side (no correlated subquery per return)."""
    upto = (1 << 62) if upto is None else upto
    returns = db.all(f"SELECT id, {canon_sql(db, 'returns', RETURN_COLUMNS)} FROM returns "
                     "WHERE id > ? AND id <= ? ORDER BY id",
                     [after, upto])
    parts = [itertools.groupby(db.all(f"SELECT return_id, {canon_sql(db, table, columns)} "
                                      f"FROM {table} "
                                      "WHERE return_id > ? AND return_id <= ? "
                                      "ORDER BY return_id, id", [after, upto]),
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


def digest(db: Database, return_id: int) -> str:
    ((_, canon),) = records(db, return_id - 1, return_id)
    return sha(canon)


def append(db: Database, table: str, values: dict) -> int:
    """Insert one row into a chained table, linked to the head; returns its id. Runs inside the
    caller's write transaction, so the head and the row change together."""
    cols = covered(db, table)
    last_id = db.scalar(f"SELECT coalesce(max(id), 0) FROM {table}")
    head = db.one("SELECT hash FROM chain_heads WHERE name = ?", [table])
    row = {**values, "id": last_id + 1}
    h = link(head[0] if head else "", ",".join(sql_quote(row.get(c)) for c in cols))
    names = [*cols, "hash"]
    db.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
               [*(row.get(c) for c in cols), h])
    if db.engine.heads_kept_by_trigger:  # a server's own trigger moves the head (db/guards.py)
        return row["id"]
    db.execute("""INSERT INTO chain_heads (name, last_id, rows, hash) VALUES (?, ?, 1, ?)
                  ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id, """
               """rows = chain_heads.rows + 1,
                  hash = excluded.hash""", [table, row["id"], h])
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


def catalog_digest(db: Database) -> tuple[int, str]:
    """(rows, SHA-256 over every catalog row's canonical text, sorted): the same on either
    engine, whatever order or collation its database reads them in."""
    rows = sorted(",".join(_canon_or_repr(v) for v in row)
                  for row in db.all(f"SELECT {', '.join(CATALOG_COLUMNS)} FROM catalog"))
    return len(rows), sha("\n".join(rows))


def record_catalog(db: Database) -> None:
    """Keep the catalog's digest (inside the caller's write transaction; either engine)."""
    rows, digest_ = catalog_digest(db)
    db.execute("""INSERT INTO chain_heads (name, last_id, rows, hash) VALUES ('catalog', 0, ?, ?)
                  ON CONFLICT (name) DO UPDATE SET rows = excluded.rows, hash = excluded.hash""",
               [rows, digest_])


def rebuild(db: Database, triggers: dict[str, str] | None = None) -> None:
    """Digests for each return's latest event, then both chains and their heads, computed from
    the rows as they are: for a migration (m010) and the benchmark generator. Runs inside the
    caller's transaction. `triggers`: SQLite's append-only triggers, dropped while the hashes
    are written and made again after (db/schema.py)."""
    from .schema import SQLITE_CHAIN_TRIGGERS

    triggers = SQLITE_CHAIN_TRIGGERS if triggers is None and not db.is_server else (triggers or {})
    for name in triggers:
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
    top = db.scalar("SELECT coalesce(max(id), 0) FROM returns")
    for start in range(0, top, REBUILD_SLICE):
        last = {rid: eid for rid, eid in db.all(
            "SELECT return_id, max(id) FROM events WHERE return_id > ? "
            "AND return_id <= ? GROUP BY return_id", [start, start + REBUILD_SLICE])}
        updates = [(sha(text), last[rid])
                   for rid, text in records(db, start, start + REBUILD_SLICE) if rid in last]
        db.many("UPDATE events SET digest = ? WHERE id = ?", updates)
    db.execute(f"DELETE FROM chain_heads WHERE name IN ({', '.join(repr(t) for t in CHAINED)})")
    for table in CHAINED:
        prev, count, last_id = "", 0, 0
        canon = canon_sql(db, table, covered(db, table))
        while True:  # in slices, so memory stays flat at any size
            rows = db.all(f"SELECT id, {canon} FROM {table} WHERE id > ? "
                          f"ORDER BY id LIMIT {REBUILD_SLICE}", [last_id])
            if not rows:
                break
            updates = []
            for row_id, text in rows:
                prev = link(prev, text)
                updates.append((prev, row_id))
            db.many(f"UPDATE {table} SET hash = ? WHERE id = ?", updates)
            count, last_id = count + len(rows), rows[-1][0]
        db.execute("INSERT INTO chain_heads (name, last_id, rows, hash) VALUES (?, ?, ?, ?)",
                   [table, last_id, count, prev])
    for sql in triggers.values():
        db.execute(sql)


def heads(db: Database) -> dict[str, tuple[int, int, str]]:
    """The recorded heads of both chains: {table: (last id, rows, hash)}."""
    return {name: (last_id, rows, hash_ or "") for name, last_id, rows, hash_ in
            db.all("SELECT name, last_id, rows, hash FROM chain_heads "
                   f"WHERE name IN ({', '.join(repr(t) for t in CHAINED)})")}


def anchored_row(db: Database, table: str, row_id: int) -> tuple[str | None, int]:
    """(the hash of row `row_id`, or None where it is gone; the rows up to it): what an anchor
    kept outside the database is checked against."""
    return (db.scalar(f"SELECT hash FROM {table} WHERE id = ?", [row_id]),
            db.scalar(f"SELECT count(*) FROM {table} WHERE id <= ?", [row_id]))
