"""Money: the ledger (chained, append-only), late-return reviews, and the sums `report` reads."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from ..domain import lifecycle, types
from . import chain

if TYPE_CHECKING:
    from ..domain.clock import Now
    from ..domain.lifecycle import Move
    from .connection import Database


def add(db: Database, return_id: int, move: Move, on: date, now: Now) -> None:
    """The one place ledger rows are written, chained: the signed columns follow from the event
    and the amount (lifecycle.LEDGER_SIGNS)."""
    holds, charges = lifecycle.ledger_changes(move.event, move.amount)
    row_id = chain.append(db, "ledger", {
        "return_id": return_id, "happened_on": on.isoformat(), "event": move.event, "amount_cents": move.amount,
        "hold_ref": move.ref, "agent": now.agent, "recorded_at": now.stamp, "holds_change": holds,
        "charges_change": charges, "reason": move.reason})
    if move.lapses_on is None:
        return
    if move.event == "hold-authorized":  # it lapses on its expiry unless released or charged first
        db.execute("INSERT INTO hold_lapses (ledger_id, return_id, lapses_on, amount_cents) "
                   "VALUES (?, ?, ?, ?)",
                   [row_id, return_id, move.lapses_on.isoformat(), move.amount])
    else:  # released or charged on or before it (lifecycle.step settles nothing after)
        db.execute("""UPDATE hold_lapses SET settled_on = ?
                      WHERE return_id = ? AND settled_on IS NULL
                        AND ledger_id IN (SELECT id FROM ledger
                                          WHERE return_id = ? AND hold_ref = ?)""",
                   [on.isoformat(), return_id, return_id, move.ref])


def has_lapses(db: Database) -> bool:
    """Whether the database keeps hold_lapses (m021): a read-only one from before cannot hold a
    hold under the lapse rule, so it has none."""
    return db.engine.table_exists(db.raw, "hold_lapses")


def lapsed(db: Database, where: str, args: list) -> tuple[int, int]:
    """(count, cents) of the holds that lapsed on the days `where` selects (`lapses_on`): the
    derived `hold-lapsed` movements, each an authorization not released or charged by its expiry."""
    if not has_lapses(db):
        return 0, 0
    n, cents = db.one(f"""SELECT count(*), coalesce(sum(amount_cents), 0) FROM hold_lapses
                          WHERE settled_on IS NULL AND {where}""", args)
    return int(n), int(cents)


def charged_and_refunded(db: Database, return_id: int) -> tuple[int, int]:
    """Cents charged and cents refunded on a return, so far."""
    charged, refunded = db.one(
        """SELECT coalesce(sum(CASE event WHEN 'charged' THEN amount_cents END), 0),
                  coalesce(sum(CASE event WHEN 'refunded' THEN amount_cents END), 0)
           FROM ledger WHERE return_id = ?""", [return_id])
    return int(charged), int(refunded)


def reference_used(db: Database, return_id: int, ref: str):
    """(event, day) of the first ledger row of this return under `ref` (any letter case), or None."""
    return db.one("SELECT event, happened_on FROM ledger WHERE return_id = ? AND lower(hold_ref) = lower(?) "
                  "ORDER BY id LIMIT 1", [return_id, ref])


def open_review(db: Database, return_id: int, on: date, now: Now) -> None:
    """A late return's unit arrived after the charge: the charge goes to a supervisor's review."""
    db.execute("""INSERT INTO reviews (return_id, happened_on, amount_cents, hold_ref, agent, recorded_at)
                  SELECT return_id, ?, amount_cents, hold_ref, ?, ? FROM ledger
                  WHERE return_id = ? AND event = 'charged' ORDER BY id DESC LIMIT 1""",
               [on.isoformat(), now.agent, now.stamp, return_id])


def decide_review(db: Database, return_id: int, on: date, decision: str) -> None:
    db.execute("UPDATE reviews SET decided_on = ?, decision = ? WHERE return_id = ? AND decided_on IS NULL",
               [on.isoformat(), decision, return_id])


def day_sums(db: Database, where: str, args: list) -> dict[str, tuple[int, int, int, int]]:
    """event -> (rows, amount, holds_change, charges_change) over the days `where` selects, read
    from ledger_days (the ledger summed per day and event by a trigger): cheap at any size."""
    rows = db.all(f"""SELECT event, sum(rows), sum(amount_cents), sum(holds_change), sum(charges_change)
                      FROM ledger_days WHERE {where} GROUP BY event""", args)
    return {r[0]: tuple(int(v) for v in r[1:]) for r in rows}


def in_review(db: Database, end: str) -> tuple[int, int]:
    """(count, cents) of charges awaiting a supervisor's decision at the end of `end`."""
    n, cents = db.one(
        """SELECT count(*), coalesce(sum(amount_cents), 0) FROM (
             SELECT amount_cents FROM reviews WHERE decided_on IS NULL AND happened_on <= :end
             UNION ALL
             SELECT amount_cents FROM reviews WHERE decided_on > :end AND happened_on <= :end) AS pending""",
        {"end": end})
    return int(n), int(cents)


def counts_by_type(db: Database, column: str, start: str, end: str) -> dict[str, int]:
    """Returns opened (or closed) in the range, by type: from the indexes m008 adds."""
    counts = dict.fromkeys(types.TYPES, 0)
    for type_, n in db.all(f"SELECT type, count(*) FROM returns WHERE {column} BETWEEN ? AND ? GROUP BY type",
                           [start, end]):
        counts[type_] = int(n)
    counts["total"] = sum(counts.values())
    return counts
