"""Fault and finding codes (table `codes`, migration m020): the lists supervisors manage."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .connection import Database

COLUMNS = "kind, code, title, added_on, added_by, retired_on, retired_by"


def listing(db: Database, kind: str | None = None, *, retired: bool = False) -> list:
    """The codes of one kind (or both), in use first by kind and code; `retired`: those too."""
    where, args = [], []
    if kind:
        where.append("kind = ?")
        args.append(kind)
    if not retired:
        where.append("retired_on IS NULL")
    sql = f"SELECT {COLUMNS} FROM codes" + (" WHERE " + " AND ".join(where) if where else "")
    return db.all(sql + " ORDER BY kind, code", args)


def in_use(db: Database, kind: str) -> tuple[str, ...] | None:
    """The codes of `kind` in use; None on a database not yet upgraded (m020) that this account
    may only read."""
    if "fault" not in db.columns("returns"):
        return None
    return tuple(code for (code,) in db.all("SELECT code FROM codes WHERE kind = ? AND retired_on IS NULL "
                                            "ORDER BY code", [kind]))


def find(db: Database, kind: str, code: str):
    return db.one(f"SELECT {COLUMNS} FROM codes WHERE kind = ? AND code = ?", [kind, code])


def titles(db: Database) -> dict[tuple[str, str], str]:
    """{(kind, code): title} of every code, retired ones too (reports name what was recorded)."""
    return {(r[0], r[1]): r[2] for r in db.all("SELECT kind, code, title FROM codes")}


def add(db: Database, kind: str, code: str, title: str, on: str, by: str) -> None:
    db.execute("INSERT INTO codes (kind, code, title, added_on, added_by) VALUES (?, ?, ?, ?, ?)",
               [kind, code, title, on, by])


def revive(db: Database, kind: str, code: str, title: str, on: str, by: str) -> None:
    """A retired code back in use (its title as given now)."""
    db.execute("UPDATE codes SET title = ?, added_on = ?, added_by = ?, retired_on = NULL, retired_by = NULL "
               "WHERE kind = ? AND code = ?", [title, on, by, kind, code])


def retire(db: Database, kind: str, code: str, on: str, by: str) -> None:
    db.execute("UPDATE codes SET retired_on = ?, retired_by = ? WHERE kind = ? AND code = ?", [on, by, kind, code])
