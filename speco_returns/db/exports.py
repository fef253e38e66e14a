"""The accounting exports' rows (SPEC §5), streamed as the database reads them.

Text cells are made safe while the database reads (a formula prefix guarded, a stored control
character written as a visible escape), and amounts leave it already formatted (`1299.00`:
integer cents, never a float), so rows go straight from the cursor to the CSV writer.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING

from ..domain import lifecycle, types
from ..domain.keys import NO_RA_NUMBER
from .ledger import has_lapses

if TYPE_CHECKING:
    from .connection import Database

LEDGER_COLUMNS = ["date", "ra", "customer", "type", "event", "amount", "currency", "hold_ref", "agent",
                  "holds_change", "charges_change", "reason"]
HOLDS_COLUMNS = ["ra", "customer", "email", "hold_amount", "hold_ref", "authorized_on",
                 "expires_on", "state", "settled_on", "charged", "refunded", "in_review",
                 "expires_estimated", "consent", "consent_on"]
RETURNS_COLUMNS = [
    "ra", "type", "status", "customer", "opened_on", "model", "category", "qty", "list_price",
    "serials", "due_on", "closed_on", "fault", "finding",
]
# A text cell a spreadsheet would run as a formula starts with one of these (SPEC §5).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _range(start: date | None, end: date | None) -> list[str]:
    return [(start or types.MIN_DATE).isoformat(), (end or types.MAX_DATE).isoformat()]


class _Cells:
    """SQL for the exports' cells on one engine."""

    def __init__(self, db: Database):
        self.engine = db.engine

    def text(self, column: str) -> str:
        """Free text: the formula guard, then control characters made visible."""
        starts = ", ".join(f"'{c}'" for c in FORMULA_STARTS)
        guarded = f"CASE WHEN substr({column}, 1, 1) IN ({starts}) THEN '''' || {column} ELSE {column} END"
        return f"CASE WHEN {self.engine.has_control(column)} THEN visible({guarded}) ELSE {guarded} END"

    def amount(self, column: str) -> str:
        return self.engine.amount_text(column)

    @property
    def key(self) -> str:
        """A return's key as domain.keys.key_of gives it."""
        return self.text(f"CASE WHEN r.type = 'counter' THEN r.ticket WHEN r.ra_no IS NULL THEN '{NO_RA_NUMBER}' "
                         f"ELSE {self.engine.ra_text('r.ra_no')} END")


def ledger_rows(db: Database, start: date | None, end: date | None) -> Iterator[tuple]:
    """The ledger's rows dated in the range and the derived `hold-lapsed` movements: each hold
    not released or charged by its expiry, dated on it, after that day's rows (SPEC §7)."""
    c = _Cells(db)
    rows = f"""SELECT l.happened_on AS day, 0 AS derived, l.id AS n, {c.key} AS ra,
                      {c.text("r.customer")} AS customer, r.type AS type, l.event AS event,
                      {c.amount("l.amount_cents")} AS amount, 'USD' AS currency,
                      {c.text("l.hold_ref")} AS hold_ref, {c.text("l.agent")} AS agent,
                      {c.amount("l.holds_change")} AS holds_change,
                      {c.amount("l.charges_change")} AS charges_change,
                      {c.text("l.reason")} AS reason
               FROM ledger l JOIN returns r ON r.id = l.return_id
               WHERE l.happened_on BETWEEN :start AND :end"""
    if not has_lapses(db):
        plain = rows.replace(" AS day, 0 AS derived, l.id AS n", "")
        return db.stream(f"{plain} ORDER BY l.happened_on, l.id", _named(start, end))
    lapses = f"""SELECT h.lapses_on, 1, h.ledger_id, {c.key}, {c.text("r.customer")}, r.type,
                        'hold-lapsed', {c.amount("h.amount_cents")}, 'USD', {c.text("a.hold_ref")},
                        NULL, {c.amount("0 - h.amount_cents")}, {c.amount("0")}, NULL
                 FROM hold_lapses h JOIN ledger a ON a.id = h.ledger_id
                      JOIN returns r ON r.id = h.return_id
                 WHERE h.settled_on IS NULL AND h.lapses_on BETWEEN :start AND :end"""
    return db.stream(f"SELECT {_LEDGER_OUT} FROM ({rows} UNION ALL {lapses}) AS x "
                     "ORDER BY day, derived, n", _named(start, end))


_LEDGER_OUT = ("day, ra, customer, type, event, amount, currency, hold_ref, agent, holds_change, "
               "charges_change, reason")


def _named(start: date | None, end: date | None) -> dict:
    return dict(zip(("start", "end"), _range(start, end), strict=True))


def holds_rows(db: Database, start: date | None, end: date | None) -> Iterator[tuple]:
    """One row per authorization of a return touched in the range (authorized, settled, lapsed or
    refunded in it), its state as of the range's end."""
    c, engine = _Cells(db), db.engine
    lapses = has_lapses(db)
    # An authorization is settled by the first release or charge after it under its reference.
    # A hold recorded before the lapse rule (no hold_lapses row) by the first after it at all:
    # then a re-authorization always released the hold before, and a charge after its expiry
    # (under the new charge's reference) settled it. A hold under the rule not settled by its
    # expiry lapsed on it (`hold-lapsed`, derived: db/ledger.py).
    same_ref = ("AND (s.hold_ref = a.hold_ref "
                "OR NOT EXISTS (SELECT 1 FROM hold_lapses x WHERE x.ledger_id = a.id))"
                if lapses else "")
    lapse_day = ("(SELECT x.lapses_on FROM hold_lapses x WHERE x.ledger_id = hs.id)" if lapses
                 else "NULL")
    lapsed_returns = ("OR a.return_id IN (SELECT return_id FROM hold_lapses "
                      "WHERE settled_on IS NULL AND lapses_on BETWEEN :start AND :end)"
                      if lapses else "")
    hold_event = ("(SELECT {value} FROM events e "
                  "WHERE e.return_id = hs.return_id AND e.event = 'hold' "
                  "AND e.happened_on = hs.authorized_on AND "
                  + engine.json_text("e.detail", "ref") +
                  " = hs.hold_ref ORDER BY e.id DESC LIMIT 1)")
    # A new charge after a lapse (authorized and captured at once under its own reference) rests
    # on the consent of the return's hold before it.
    consent = ("coalesce(" + hold_event + ", CASE WHEN hs.settle_event = 'charged' "
               "AND hs.settled_on = hs.authorized_on "
               "THEN (SELECT {value} FROM events e "
               "WHERE e.return_id = hs.return_id AND e.event = 'hold' "
               "AND e.happened_on <= hs.authorized_on ORDER BY e.id DESC LIMIT 1) END)")
    estimated = ("CASE CAST(" + engine.json_text("e.detail", "estimated") + " AS TEXT) "
                 "WHEN '1' THEN 'yes' WHEN 'true' THEN 'yes' "
                 "WHEN '0' THEN 'no' WHEN 'false' THEN 'no' END")
    return db.stream(
        f"""WITH h AS (
              SELECT a.id, a.return_id, a.happened_on AS authorized_on, a.amount_cents, a.hold_ref,
                     (SELECT s.id FROM ledger s WHERE s.return_id = a.return_id AND s.id > a.id
                        AND s.event IN ('hold-released', 'charged') AND s.happened_on <= :end
                        {same_ref}
                      ORDER BY s.id LIMIT 1) AS settle_id
              FROM ledger a{engine.indexed_by("ledger_happened_on")}
              WHERE a.event = 'hold-authorized' AND a.happened_on <= :end
                AND (a.return_id IN (SELECT return_id FROM ledger
                                     WHERE happened_on BETWEEN :start AND :end)
                     {lapsed_returns})
            ), hs AS (
              SELECT h.*, s.event AS settle_event, s.happened_on AS settled_on,
                     (SELECT sum(f.amount_cents) FROM ledger f WHERE f.return_id = h.return_id AND s.event = 'charged'
                        AND f.event = 'refunded' AND f.id > s.id AND f.happened_on <= :end) AS refunded_cents,
                     (SELECT max(f.happened_on) FROM ledger f WHERE f.return_id = h.return_id AND s.event = 'charged'
                        AND f.event = 'refunded' AND f.id > s.id AND f.happened_on <= :end) AS refunded_on
              FROM h LEFT JOIN ledger s ON s.id = h.settle_id
            ), hl AS (
              SELECT hs.*, CASE WHEN hs.settle_event IS NULL THEN {lapse_day} END AS lapses_on
              FROM hs
            )
            SELECT {c.key}, {c.text("r.customer")}, {c.text("r.email")}, {c.amount("hs.amount_cents")},
                   {c.text("hs.hold_ref")}, hs.authorized_on,
                   {hold_event.format(value=engine.json_text("e.detail", "expires"))},
                   CASE WHEN hs.settle_event IS NULL THEN
                          CASE WHEN hs.lapses_on <= :end THEN 'lapsed'
                               WHEN hs.lapses_on <= :warn THEN 'lapsing'
                               ELSE 'active' END
                        WHEN hs.settle_event = 'charged' THEN
                          CASE WHEN hs.refunded_cents IS NULL THEN 'charged' ELSE 'refunded' END
                        WHEN EXISTS (SELECT 1 FROM events e WHERE e.return_id = hs.return_id AND e.event = 'cancel'
                                       AND e.happened_on = hs.settled_on) THEN 'cancelled'
                        ELSE 'released' END,
                   CASE WHEN hs.lapses_on <= :end THEN hs.lapses_on ELSE hs.settled_on END,
                   {c.amount("CASE hs.settle_event WHEN 'charged' THEN hs.amount_cents ELSE 0 END")},
                   {c.amount("coalesce(hs.refunded_cents, 0)")},
                   CASE WHEN hs.settle_event = 'charged' AND EXISTS (
                          SELECT 1 FROM reviews v WHERE v.return_id = hs.return_id AND v.happened_on <= :end
                            AND (v.decided_on IS NULL OR v.decided_on > :end))
                        THEN 'yes' ELSE 'no' END,
                   {hold_event.format(value=estimated)},
                   {consent.format(value=engine.json_text("e.detail", "consent"))},
                   {consent.format(value=engine.json_text("e.detail", "consent_on"))}
            FROM hl AS hs JOIN returns r ON r.id = hs.return_id
            WHERE hs.authorized_on >= :start OR hs.settled_on >= :start OR hs.refunded_on >= :start
               OR (hs.lapses_on >= :start AND hs.lapses_on <= :end)
            ORDER BY hs.authorized_on, hs.id""",
        {**_named(start, end), "warn": _warn_until(end)})


def _warn_until(end: date | None) -> str:
    """The last expiry that is `lapsing` as of `end` (within HOLD_WARNING_DAYS of it)."""
    return ((end or types.MAX_DATE) + timedelta(days=types.HOLD_WARNING_DAYS)).isoformat()


def return_rows(db: Database, start: date | None, end: date | None) -> Iterator[tuple]:
    c, engine = _Cells(db), db.engine
    # Each item's serials are read once: guarded inside the subquery, not around it (an
    # expression around it would run it once per mention). Aliases: PostgreSQL needs them.
    serials = (f"(SELECT {c.text('s')} FROM (SELECT {engine.joined('serial', ';')} AS s "
               "FROM (SELECT serial FROM serials WHERE item_id = i.id ORDER BY id) AS o) AS c)")
    # Everything: the returns in id order, the order wanted, with no sort and no temporary files
    # (288 MB at a million). A range: the opened_on index, then a small sort.
    where = "WHERE r.opened_on BETWEEN :start AND :end" if start or end else ""
    status, due, closed, as_of = "r.status", "r.due_on", "r.closed_on", ""
    if end:  # as of --to (SPEC §7), so a past month's file never changes: see _RETURNS_AS_OF
        status, due, closed, as_of = "coalesce(x.status, r.status)", _DUE_AS_OF, _CLOSED_AS_OF, _RETURNS_AS_OF
    return db.stream(
        f"""SELECT {c.key}, r.type, {status}, {c.text("r.customer")}, r.opened_on,
                   {c.text("i.model")}, i.category, i.qty, {c.amount("i.list_price_cents")},
                   {serials}, {due}, {closed}, {_codes(db, end, c)}
            FROM returns r {as_of} JOIN items i ON i.return_id = r.id
            {where} ORDER BY r.id, i.id""",
        dict(zip(("start", "end"), _range(start, end), strict=True)) if where else {})


def _codes(db: Database, end: date | None, c: _Cells) -> str:
    """The fault and finding cells, guarded like free text (the tool writes plain slugs, a hand
    in the database may not); a finding recorded after --to is not in a file as of --to. NULL on
    a database not yet upgraded (m020) that this account may only read."""
    if "fault" not in db.columns("returns"):
        return "NULL, NULL"
    finding = c.text("r.finding")
    return f"{c.text('r.fault')}, " + (f"CASE WHEN r.finding_on <= :end THEN {finding} END" if end else finding)


# `export returns --to END`: each return as its history stood at the end of END. Every event
# records the state it left (events.status), so the state then is that of the return's last
# event (by id: the order recorded) dated on or before END, found through events_return; a
# void counts from its own date, like the ledger's reversing rows. closed_on then: the stored
# one when it is on or before END (the closing event still in force), else the date of the
# last event of its life on or before END (the one that closed it then: a charged return
# completed after END, a close voided after END). due_on: once delivered on or before END.
_RETURNS_AS_OF = ("LEFT JOIN events x ON x.id = (SELECT max(a.id) FROM events a "
                  "WHERE a.return_id = r.id AND a.happened_on <= :end)")
_CLOSED_AS_OF = (
    "CASE WHEN coalesce(x.status, r.status) IN ({closed}) THEN CASE WHEN r.closed_on <= :end THEN r.closed_on "
    "ELSE (SELECT c.happened_on FROM events c WHERE c.return_id = r.id AND c.happened_on <= :end "
    "AND c.event IN ({life}) ORDER BY c.id DESC LIMIT 1) END END"
).format(closed=", ".join(f"'{s}'" for s in lifecycle.CLOSED), life=", ".join(f"'{e}'" for e in lifecycle.EVENTS))
_DUE_AS_OF = "CASE WHEN r.delivered_on <= :end THEN r.due_on END"
