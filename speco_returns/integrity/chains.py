"""The hash chains over the history and the ledger (db/chain.py writes them), verified row by
row on either engine: a changed row breaks at itself, a removed or inserted one at the row
after it, and the heads kept outside the rows say when the newest rows were removed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from ..db import audit, chain
from ..db.connection import Database
from ..db.schema import SQLITE_CHAIN_TRIGGERS

Progress = Callable[[str, int, int], None]
MAX_NAMED = 20


def _bytes(value) -> bytes:
    return (bytes(value) if isinstance(value, (bytes, memoryview))
            else str(value).encode("utf-8", "surrogatepass"))


def verify(db: Database, table: str,
           progress: Progress | None = None) -> tuple[list[int], list[str]]:
    """(row ids whose hash does not follow from the previous row's, what is wrong with the
    head)."""
    total = audit.chain_count(db, table)
    bad: list[int] = []
    prev, count, last_id = b"", 0, 0
    sha = hashlib.sha256
    for row_id, stored, canon in audit.chain_rows(db, table):
        if stored != sha(prev + _bytes(canon)).hexdigest():
            bad.append(row_id)
        prev, count, last_id = (stored.encode() if isinstance(stored, str) else b"",
                                count + 1, row_id)
        if progress and count % 100_000 == 0:
            progress(f"{table} chain", count, total)
    head = audit.chain_head(db, table)
    problems = []
    if head is None:
        if count:
            problems.append(f"the {table} chain has no recorded head")
    elif (head[0], head[1], head[2] or "") != (last_id, count, prev.decode()):
        problems.append(f"the {table} chain ends at row {last_id} of {count}, "
                        f"but its head records row {head[0]} "
                        f"of {head[1]}: rows were removed or added at the end")
    return bad, problems


def verify_all(db: Database,
               progress: Progress | None = None) -> dict[str, tuple[list[int], list[str]]]:
    return {table: verify(db, table, progress) for table in chain.CHAINED}


def heads(db: Database) -> dict[str, tuple[int, int, str]]:
    """The chains' heads as recorded: {table: (last id, rows, hash)}."""
    return {table: tuple(h) for table in chain.CHAINED
            if (h := audit.chain_head(db, table)) is not None}


def sqlite_trigger_problems(db: Database) -> list[str]:
    """SQLite's append-only and no-REPLACE triggers present and unchanged (a server's triggers
    are compared with its schema: integrity/schema.py)."""
    have = audit.chain_triggers(db)
    missing = [name for name, sql in SQLITE_CHAIN_TRIGGERS.items()
               if " ".join((have.get(name) or "").split()) != " ".join(sql.split())]
    return missing


def problem_lines(chains: dict[str, tuple[list[int], list[str]]]) -> list[str]:
    lines = []
    for table, (bad, head) in chains.items():
        lines += head
        if bad:
            ids = ", ".join(map(str, bad[:MAX_NAMED]))
            lines.append(f"the {table} chain breaks at {len(bad)} row(s) "
                         f"(id {ids}{', ...' if len(bad) > MAX_NAMED else ''}): "
                         "rows were changed, added or removed outside the tool")
    return lines
