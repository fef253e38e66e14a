"""`list`: the returns a set of filters picks, in the order asked for, read as the database
streams them (a million with --all in flat memory)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from ..domain import clock, holds, inputs, lifecycle
from ..domain.keys import customer_key
from .returns import OPEN_SQL, key

if TYPE_CHECKING:
    from .connection import Database

# --sort: the ORDER BY of each (the id breaks ties, newest first, so a page is stable).
SORTS = {
    "newest": "id DESC",
    "oldest": "id",
    "due": "due_on IS NULL, due_on, id",  # soonest due first; returns with no due date after them
    "customer": "customer_key, id DESC",
    "status": "status, id DESC",
    "type": "type, id DESC",
}
# ... and what holds.state_of_row reads of a return
COLUMNS = ("ra_no, type, ticket, status, customer, opened_on, opened_by, due_on, closed_on, "
           "hold_ref, hold_active, hold_expires, charged_on, received_on")


@dataclass(frozen=True)
class Filters:
    type: str | None = None
    status: str | None = None
    customer: str | None = None
    include_closed: bool = False
    search: str | None = None
    opened_from: date | None = None
    opened_to: date | None = None
    agent: str | None = None  # who opened them (`--agent me`: the one recording)


def where(db: Database, f: Filters, *,
          include_closed: bool | None = None) -> tuple[list[str], dict]:
    closed_too = f.include_closed if include_closed is None else include_closed
    parts, args = [], {}
    if ((not closed_too and f.status is None)
            or (f.status is not None and lifecycle.is_open(f.status))):
        parts.append(OPEN_SQL)  # an open state: the same condition lets the open index serve it
    for column, value in (("type", f.type), ("status", f.status), ("opened_by", f.agent)):
        if value:
            parts.append(f"{column} = :{column}")
            args[column] = value
    if f.opened_from is not None:
        parts.append("opened_on >= :opened_from")
        args["opened_from"] = f.opened_from.isoformat()
    if f.opened_to is not None:
        parts.append("opened_on <= :opened_to")
        args["opened_to"] = f.opened_to.isoformat()
    if f.customer:
        inputs.require_utf8("customer", f.customer)
        parts.append(db.engine.contains("customer_key", ":customer"))
        args["customer"] = customer_key(f.customer)
    if f.search is not None:
        from .search import where as search_where

        sql, search_args = search_where(db, f.search)
        parts.append(sql)
        args.update(search_args)
    return parts, args


def _where(parts: list[str]) -> str:
    return (" WHERE " + " AND ".join(parts)) if parts else ""


def row(r, today: date) -> dict:
    """A listed return: its key, type, state, customer, who opened it and when, the day its
    unit is due back (advanced returns, once delivered), its age in days, the fault reported,
    the finding on the unit examined and its card hold's state today (holds.hold_state; None:
    no hold)."""
    return {"ra": key(r), "type": r["type"], "status": r["status"], "customer": r["customer"],
            "opened_on": r["opened_on"], "opened_by": r["opened_by"],
            "due_on": r["due_on"] if r["type"] == "advanced" else None,
            "age_days": clock.age_days(
                date.fromisoformat(r["opened_on"]),
                date.fromisoformat(r["closed_on"]) if r["closed_on"] else None, today),
            "fault": r["fault"], "finding": r["finding"],
            "hold_state": holds.state_of_row(r, today)}


def listing(db: Database, f: Filters, today: date, *, sort: str = "newest",
            limit: int | None = None) -> Iterator[dict]:
    """Rows in the order `sort` names, as the database reads them."""
    parts, args = where(db, f)
    # the codes (m020): NULL on a database not yet upgraded that this account may only read
    codes = ("fault, finding" if "fault" in db.columns("returns")
             else "NULL AS fault, NULL AS finding")
    sql = f"SELECT {COLUMNS}, {codes} FROM returns{_where(parts)} ORDER BY {SORTS[sort]}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return (row(r, today) for r in db.execute(sql, args))


def count(db: Database, f: Filters, *, closed_only: bool = False) -> int:
    parts, args = where(db, f, include_closed=True if closed_only else None)
    if closed_only:
        parts.append(f"NOT ({OPEN_SQL})")
    return db.scalar("SELECT count(*) FROM returns" + _where(parts), args)
