"""CSV for accounting and scripts (SPEC §5): RFC 4180, UTF-8, streamed, formula-safe."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .files import write_whole
from .policy import visible

LEDGER_COLUMNS = ["date", "ra", "customer", "type", "event", "amount", "currency", "hold_ref", "agent",
                  "holds_change", "charges_change", "reason"]
HOLDS_COLUMNS = ["ra", "customer", "email", "hold_amount", "hold_ref", "authorized_on", "expires_on", "state",
                 "settled_on", "charged", "refunded", "in_review"]
RETURNS_COLUMNS = [
    "ra", "type", "status", "customer", "opened_on", "model", "category", "qty", "list_price",
    "serials", "due_on", "closed_on",
]
# The exports' text cells are defused in SQL (`sql_defuse`, used by store.py) so rows stream
# straight from the cursor to the writer; amounts, dates and fixed words never need it.
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def defuse(cell: object) -> object:
    """A text cell a spreadsheet would run as a formula is prefixed with `'`; a control
    character already stored is written as a visible escape, never raw."""
    if isinstance(cell, str):
        cell = "'" + cell if cell.startswith(TRIGGERS) else cell
        return visible(cell)
    return cell


_SQL_TRIGGERS = ", ".join(f"char({ord(t)})" for t in TRIGGERS)


def sql_defuse(column: str) -> str:
    """`defuse` as an SQL expression, so SQLite does the work while it reads."""
    return f"CASE WHEN substr({column}, 1, 1) IN ({_SQL_TRIGGERS}) THEN '''' || {column} ELSE {column} END"


# GLOB runs in C: the Python `visible` (registered by Store) is called only for a cell that
# holds a control character, so the export keeps its speed.
_SQL_CONTROL = "'*[' || char(1) || '-' || char(31) || char(127) || '-' || char(159) || ']*'"


def sql_visible(column: str) -> str:
    """Free text (customer, reference, agent, ticket) with any stored control character
    written as a visible escape: never raw in a CSV."""
    return f"CASE WHEN {column} GLOB {_SQL_CONTROL} THEN visible({column}) ELSE {column} END"


def write_csv(stream: IO[str], header: list[str], rows: Iterable[Iterable]) -> int:
    """Header always, then the rows as they come; returns how many rows were written."""
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(header)
    count = 0
    for count, row in enumerate(rows, 1):  # noqa: B007 - count is the result
        writer.writerow(row)
    return count


def write_dicts(stream: IO[str], header: list[str], rows: Iterable[dict]) -> int:
    """Listings (`list --csv`, `overdue --csv`): every text cell defused."""
    return write_csv(stream, header, ([defuse(r.get(c)) for c in header] for r in rows))


@contextmanager
def output(path: Path | None, *, force: bool, bom: bool, protected: list[Path] = ()) -> Iterator[IO[str]]:
    """stdout, or a temporary file beside `path` renamed into place only when complete."""
    if path is None:
        stream = sys.stdout
        if bom:
            stream.write("\ufeff")
        yield stream
        stream.flush()
        return
    with write_whole(path, force=force, protected=protected) as tmp, open(tmp, "w", encoding="utf-8", newline="") as stream:
        if bom:
            stream.write("\ufeff")
        yield stream
