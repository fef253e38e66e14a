"""Moving a desk's SQLite database to the team's server (`admin copy --to URL`).

The desk's hash chains are verified first: a desk whose history or ledger was changed is
refused, nothing copied. Every table is copied row for row with its ids, so RA numbers,
history, agents and the ledger arrive as they were (the server's triggers that would stamp the
copier's login and audit each row are set aside for the copy, as its owner may), and the
chains' heads are carried across, so anchors kept for the desk (`doctor --anchor`) still hold;
ledger_days is rebuilt on the server by its trigger as the ledger arrives. All of it is one
transaction under the server's write lock: a copy that fails leaves the target as empty as it
was. Then counts and a checksum per table are compared on both sides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from ..db import transfer
from ..db.database import Database, open_database
from ..errors import ReturnsError

# In the order foreign keys need. ledger_days is not copied: the ledger's trigger makes it
# (and the checksum then proves it equal to the desk's). The codes replace those the server's
# migration seeded: the desk's lists, as its supervisors kept them, go whole.
TABLES = ("codes", "catalog", "returns", "items", "serials", "events", "ledger", "hold_lapses",
          "reviews", "notices")
CHECKED = (*TABLES, "ledger_days")
REPLACED = ("codes",)


def _row_digest(row) -> int:
    text = "\x1f".join("\x00" if v is None else str(v) for v in row)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], "big")


def checksum(rows) -> tuple[int, str]:
    """(count, checksum) of rows in any order: the sum of each row's hash, so both sides may
    read in their own order (collations differ) and still agree."""
    n, total = 0, 0
    for row in rows:
        n += 1
        total = (total + _row_digest(row)) % (1 << 128)
    return n, f"{total:032x}"


def copy(source: Database, target_url: str, on_total: Callable[[int], None] | None = None,
         on_rows: Callable[[int], None] | None = None) -> dict[str, dict]:
    """Copy `source` (SQLite) to the empty server database at `target_url`; returns, per table,
    {"rows": n, "checksum": hex}, as verified on both sides."""
    if source.is_server:
        raise ReturnsError("admin copy moves a SQLite database: give it with --db PATH (the file)")
    with source.read():
        heads = verified_heads(source)
    target = open_database(target_url)  # migrates an empty database to this version's schema
    try:
        if target.schema_version() != source.schema_version():
            raise ReturnsError(f"the server database is at schema {target.schema_version()} and the file at "
                               f"{source.schema_version()}: run both with this version first")
        for table in (t for t in CHECKED if t not in REPLACED):
            n = transfer.row_count(target, table)
            if n:
                raise ReturnsError(f"the target database is not empty ({n} row(s) in {table}): "
                                   "admin copy moves a desk to a new, empty server database; nothing was copied")
        columns = {}
        for table in TABLES:
            mine, theirs = source.columns(table), set(target.columns(table))
            if set(mine) - theirs:
                raise ReturnsError(f"the server's {table} lacks column(s) {', '.join(sorted(set(mine) - theirs))}")
            columns[table] = mine
        if on_total:
            on_total(sum(transfer.row_count(source, t) for t in TABLES))
        with source.read(), target.write():
            skipped = _set_aside(target, on=False)
            for table in TABLES:
                if table in REPLACED:
                    transfer.empty(target, table)
                transfer.copy_in(target, table, columns[table], transfer.rows(source, table, columns[table]), on_rows)
            from ..db.chain import record_catalog

            record_catalog(target)  # the catalog's digest, as the desk's own writes kept it
            transfer.put_heads(target, heads)
            _set_aside(target, on=True, names=skipped)
        transfer.analyze(target)
        return verify(source, target, columns)
    finally:
        target.close()


def verified_heads(source: Database) -> dict[str, tuple[int, int, str]]:
    """The desk's chains walked (as doctor walks them): their heads, or one line naming what
    breaks them."""
    from ..db import chain
    from ..integrity import chains

    for table in chain.CHAINED:
        bad, wrong = chains.verify(source, table)
        if bad or wrong:
            where = f"at row {bad[0]}" if bad else "at its end (rows removed or added)"
            raise ReturnsError(f"the desk's {table} chain breaks {where}: it was changed outside the tool; nothing was "
                               "copied (run `doctor` on it, restore it from a backup)")
    return {table: head for table, head in chain.heads(source).items() if head[1]}


def _set_aside(target: Database, *, on: bool, names: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """Switch off (or on again) the server's stamping, numbering and audit triggers inside the
    copy's transaction: ALTER TABLE is the owner's, so a copy runs as the database's owner."""
    from ..db import changes, guards

    if names is None:
        names = [(table, name) for skips in (guards.COPY_SKIPS, changes.COPY_SKIPS) for table, found in skips.items()
                 for name in found]
        present = transfer.triggers(target)
        names = [(t, n) for t, n in names if n in present]
        if names and not transfer.owns_tables(target):
            raise ReturnsError("admin copy runs as the server database's owner (the role that created it): "
                               "nothing was copied")
    for table, name in names:
        transfer.switch_trigger(target, table, name, on)
    return names


def verify(source: Database, target: Database, columns: dict[str, list[str]]) -> dict[str, dict]:
    """Counts and checksums per table, read from both sides; a difference is one line."""
    found = {}
    for table in CHECKED:
        names = columns.get(table) or list(source.columns(table))
        mine = checksum(transfer.rows(source, table, names))
        theirs = checksum(transfer.rows(target, table, names))
        if mine != theirs:
            raise ReturnsError(f"the copy of {table} differs ({mine[0]} row(s) here, {theirs[0]} on the server, "
                               "or a checksum): drop and re-create the server database, then copy again")
        found[table] = {"rows": mine[0], "checksum": mine[1]}
    return found
