"""The queries of `report quality`: each reads the returns of its period through an index
(opened_on, finding_on, closed_on; the open returns' partial index) and sums in the database,
so the cost follows the period, not the history (m020 adds the indexes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .returns import OPEN_SQL, key

if TYPE_CHECKING:
    from .connection import Database


def opened_by_day(db: Database, start: str, end: str) -> list:
    """(day, type, returns) opened in the range: the index (opened_on, type) alone."""
    return db.all("SELECT opened_on, type, count(*) FROM returns WHERE opened_on BETWEEN ? AND ? "
                  "GROUP BY opened_on, type", [start, end])


def faults(db: Database, start: str, end: str) -> list:
    """(fault or None, returns) of the returns opened in the range."""
    return db.all("SELECT fault, count(*) FROM returns WHERE opened_on BETWEEN ? AND ? GROUP BY fault",
                  [start, end])


def items_opened(db: Database, start: str, end: str) -> list:
    """(model, category, fault, returns, units) of the items of returns opened in the range."""
    return db.all("""SELECT i.model, i.category, r.fault, count(*), sum(i.qty)
                     FROM returns r JOIN items i ON i.return_id = r.id
                     WHERE r.opened_on BETWEEN ? AND ?
                     GROUP BY i.model, i.category, r.fault""", [start, end])


def findings(db: Database, start: str, end: str) -> list:
    """(finding, returns) recorded in the range (the latest finding of each return)."""
    return db.all("SELECT finding, count(*) FROM returns WHERE finding_on BETWEEN ? AND ? "
                  "AND finding_on IS NOT NULL GROUP BY finding", [start, end])


def findings_by_model(db: Database, start: str, end: str) -> list:
    """(model, finding, returns) of the units examined in the range."""
    return db.all("""SELECT i.model, r.finding, count(*)
                     FROM returns r JOIN items i ON i.return_id = r.id
                     WHERE r.finding_on BETWEEN ? AND ? AND r.finding_on IS NOT NULL
                     GROUP BY i.model, r.finding""", [start, end])


def days_to_close(db: Database, start: str, end: str) -> list:
    """(type, days from opened to closed, returns) of returns closed in the range, cancelled
    ones left out: a histogram the percentiles are read from."""
    days = db.engine.days_between("closed_on", "opened_on")
    return db.all(f"""SELECT type, {days} AS days, count(*) FROM returns
                      WHERE closed_on BETWEEN ? AND ? AND closed_on IS NOT NULL AND status != 'cancelled'
                      GROUP BY type, {days}""", [start, end])


def open_by_age(db: Database, end: str, bounds: list[str]) -> list:
    """(state, age bucket index, returns) of the returns open now that were opened by `end`;
    `bounds`: the oldest opening day of each bucket but the last, newest first."""
    cases = " ".join(f"WHEN opened_on >= '{day}' THEN {n}" for n, day in enumerate(bounds))
    bucket = f"CASE {cases} ELSE {len(bounds)} END"
    return db.all(f"""SELECT status, {bucket} AS bucket, count(*)
                      FROM returns{db.engine.indexed_by("returns_open_age")}
                      WHERE {OPEN_SQL} AND opened_on <= ? GROUP BY status, {bucket}""", [end])


def holds_expiring(db: Database, first: str, last: str) -> tuple[int, int]:
    """(count, cents) of card holds in force whose authorization expires in [first, last]."""
    n, cents = db.one(f"""SELECT count(*), coalesce(sum(hold_amount_cents), 0)
                          FROM returns{db.engine.indexed_by("returns_advanced_open")}
                          WHERE type = 'advanced' AND {OPEN_SQL} AND hold_active = 1
                            AND hold_expires BETWEEN ? AND ?""", [first, last])
    return int(n), int(cents)


def repeat_serials(db: Database, start: str, end: str) -> list[dict]:
    """Serials on returns opened in the range that were on an earlier return: each with how
    many returns have held it up to this one."""
    rows = db.all("""SELECT s.serial, i.model, r.ra_no, r.type, r.ticket, r.opened_on,
                            (SELECT count(*) FROM serials p WHERE p.serial = s.serial AND p.return_id < s.return_id)
                     FROM returns r JOIN serials s ON s.return_id = r.id JOIN items i ON i.id = s.item_id
                     WHERE r.opened_on BETWEEN ? AND ?
                       AND EXISTS (SELECT 1 FROM serials p WHERE p.serial = s.serial AND p.return_id < s.return_id)
                     ORDER BY r.id, s.id""", [start, end])
    return [{"serial": r[0], "model": r[1], "ra": key(r), "opened_on": r[5], "times": int(r[6]) + 1} for r in rows]
