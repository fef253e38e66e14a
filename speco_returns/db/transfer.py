"""The SQL of `admin copy` (admin/copy.py): a desk's rows read from its file, written into an
empty server database with the server's COPY, and read back from both for the checksums.

What is the server's own is named so: COPY ... FROM STDIN, the id sequences, the triggers a copy
sets aside (ALTER TABLE ... DISABLE TRIGGER, the owner's), ANALYZE.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .connection import Database

BATCH = 5000  # rows between two calls of on_rows


def row_count(db: Database, table: str) -> int:
    return db.scalar(f"SELECT count(*) FROM {table}")


def rows(db: Database, table: str, names: list[str]) -> Iterator:
    """Every row of `table`, its `names` columns, as the database reads them."""
    return db.stream(f"SELECT {', '.join(names)} FROM {table}")


def copy_in(target: Database, table: str, names: list[str], source_rows, on_rows: Callable[[int], None] | None) -> None:
    """The server's COPY FROM STDIN of `source_rows` into `table`, then its id sequence set past
    the copied ids, so new rows continue after them."""
    with target.raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as pipe:
        batch = 0
        for row in source_rows:
            pipe.write_row(tuple(row))
            batch += 1
            if batch == BATCH and on_rows:
                on_rows(batch)
                batch = 0
        if on_rows:
            on_rows(batch)
    if "id" in names:
        target.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) "
                       f"FROM {table}")


def put_heads(target: Database, heads: dict[str, tuple[int, int, str]]) -> None:
    """The chains' heads as the desk recorded them."""
    target.many("INSERT INTO chain_heads (name, last_id, rows, hash) VALUES (?, ?, ?, ?)",
                [(name, *head) for name, head in heads.items()])


def triggers(target: Database) -> set[str]:
    """The server's triggers by name (not the internal ones of foreign keys)."""
    return {n for (n,) in target.all("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")}


def owns_tables(target: Database) -> bool:
    """Whether this login is (a member of) the owner of the tables: ALTER TABLE is the owner's."""
    return bool(target.scalar("SELECT pg_has_role(current_user, relowner, 'MEMBER') FROM pg_class "
                              "WHERE oid = to_regclass('returns')"))


def switch_trigger(target: Database, table: str, name: str, on: bool) -> None:
    """ENABLE or DISABLE one trigger, inside the caller's transaction (undone with it)."""
    target.execute(f"ALTER TABLE {table} {'ENABLE' if on else 'DISABLE'} TRIGGER {name}")


def analyze(target: Database) -> None:
    """The planner's statistics for the rows just loaded, before anyone reads them."""
    target.execute("ANALYZE")


def empty(db: Database, table: str) -> None:
    """Every row of `table` goes (the server's seeded codes, replaced by the desk's lists)."""
    db.execute(f"DELETE FROM {table}")
