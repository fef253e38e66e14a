"""`report`: a period's holds and charges, balanced in cents, for an accountant closing a month.

For the period [start, end]:

    closing holds = opening holds + authorized - released - charged - lapsed
    money kept    = charged - refunded

Every money figure is a sum of ledger rows (`export ledger` of the same range gives the same
sums); the opening balance is the ledger before `start`, so next month's opening is this
month's closing. The ledger is read through `ledger_days` (the ledger summed per day and
event, kept by a trigger), so the cost does not grow with the history. `lapsed` are the
derived `hold-lapsed` movements (db/ledger.lapsed): holds not released or charged by their
expiry, each dated on it, read from hold_lapses' index of the holds not settled.
"""

from __future__ import annotations

from datetime import date

from ..db import ledger
from ..db.database import Database
from ..domain import inputs, lifecycle
from . import overdue as overdue_service

MOVEMENTS = ("authorized", "released", "charged", "refunded")
_EVENT = {"authorized": "hold-authorized", "released": "hold-released", "charged": "charged", "refunded": "refunded"}


def _money(count: int, cents: int) -> dict:
    return {"count": count, "amount": inputs.format_amount(cents)}


def _holds(sums: dict) -> tuple[int, int]:
    """(count, amount) of outstanding holds that ledger sums add up to."""
    count = sum(rows * lifecycle.LEDGER_SIGNS[event][0] for event, (rows, _, _, _) in sums.items())
    return count, sum(holds for _, _, holds, _ in sums.values())


def build(db: Database, start: date, end: date) -> dict:
    """The `report --json` document (keys in docs/accounting.md)."""
    first, last = start.isoformat(), end.isoformat()
    with db.read():
        before = ledger.day_sums(db, "day < ?", [first])
        during = ledger.day_sums(db, "day BETWEEN ? AND ?", [first, last])
        lapsed_before = ledger.lapsed(db, "lapses_on < ?", [first])
        lapsed = ledger.lapsed(db, "lapses_on BETWEEN ? AND ?", [first, last])
        review = ledger.in_review(db, last)  # charges awaiting a supervisor's decision at the end
        opened = ledger.counts_by_type(db, "opened_on", first, last)
        closed = ledger.counts_by_type(db, "closed_on", first, last)
    overdue = [r for r in overdue_service.rows(db, end, None) if r["state"] == "overdue"]

    opening_count, opening = _holds(before)
    opening_count, opening = opening_count - lapsed_before[0], opening - lapsed_before[1]
    closing_count, closing = _holds({e: tuple(a + b for a, b in zip(before.get(e, (0,) * 4), during.get(e, (0,) * 4),
                                                                     strict=True))
                                     for e in before.keys() | during.keys()})
    closing_count -= lapsed_before[0] + lapsed[0]
    closing -= lapsed_before[1] + lapsed[1]
    moved = {name: during.get(_EVENT[name], (0, 0, 0, 0)) for name in MOVEMENTS}
    kept_before = sum(s[3] for s in before.values())
    kept_during = sum(s[3] for s in during.values())
    doc = {
        "from": first,
        "to": last,
        "currency": "USD",
        "opening_holds": _money(opening_count, opening),
        **{name: _money(rows, amount) for name, (rows, amount, _, _) in moved.items()},
        "lapsed": _money(*lapsed),
        "closing_holds": _money(closing_count, closing),
        "money_kept": {"opening": inputs.format_amount(kept_before), "change": inputs.format_amount(kept_during),
                       "closing": inputs.format_amount(kept_before + kept_during)},
        "in_review": _money(*review),
        "opened": opened,
        "closed": closed,
        "overdue": {"as_of": last, **_money(len(overdue), sum(inputs.parse_money(r["hold_amount"]) for r in overdue))},
    }
    # The identity the report exists for; it holds by construction, and says so.
    doc["balanced"] = closing == (opening + moved["authorized"][1] - moved["released"][1]
                                  - moved["charged"][1] - lapsed[1])
    return doc


CSV_COLUMNS = ["from", "to", "figure", "count", "amount"]
_MONEY_ROWS = ("opening_holds", "authorized", "released", "charged", "lapsed", "closing_holds",
               "refunded", "in_review", "overdue")


def csv_rows(doc: dict) -> list[dict]:
    """`report --csv`: one figure a line, each with its period (months append into one sheet).
    Amounts are numbers (Decimal, so negative ones are never taken for formulas and guarded)."""
    from decimal import Decimal

    rows = [{"figure": k, "count": doc[k]["count"], "amount": Decimal(doc[k]["amount"])} for k in _MONEY_ROWS]
    rows += [{"figure": f"money_kept_{k}", "amount": Decimal(v)} for k, v in doc["money_kept"].items()]
    for kind in ("opened", "closed"):
        rows += [{"figure": f"{kind}_{t}", "count": n} for t, n in doc[kind].items()]
    return [{"from": doc["from"], "to": doc["to"], **row} for row in rows]
