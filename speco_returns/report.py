"""`report`: a period's holds and charges, balanced in cents, for an accountant closing a month.

For the period [start, end]:

    closing holds = opening holds + authorized - released - charged
    money kept    = charged - refunded

Every money figure is a sum of ledger rows (`export ledger` of the same range gives the same
sums: SUM(holds_change), SUMIF(event, ...)); the opening balance is the ledger before
`start`, so next month's opening is this month's closing. The ledger is read through
`ledger_days` (the ledger summed per day and event, kept by a trigger, migration m008),
so the cost does not grow with the history.
"""

from __future__ import annotations

from datetime import date

from . import policy
from .store import Store

MOVEMENTS = ("authorized", "released", "charged", "refunded")
_EVENT = {"authorized": "hold-authorized", "released": "hold-released", "charged": "charged", "refunded": "refunded"}


def _money(count: int, cents: int) -> dict:
    return {"count": count, "amount": policy.format_amount(cents)}


def _ledger_sums(store: Store, where: str, args: list) -> dict[str, tuple[int, int, int, int]]:
    """event -> (rows, amount, holds_change, charges_change) over the days `where` selects."""
    rows = store.conn.execute(
        f"""SELECT event, sum(rows), sum(amount_cents), sum(holds_change), sum(charges_change)
            FROM ledger_days WHERE {where} GROUP BY event""", args)
    return {r[0]: tuple(r[1:]) for r in rows}


def _holds(sums: dict) -> tuple[int, int]:
    """(count, amount) of outstanding holds that ledger sums add up to."""
    count = sum(rows * policy.LEDGER_SIGNS[event][0] for event, (rows, _, _, _) in sums.items())
    return count, sum(holds for _, _, holds, _ in sums.values())


def _by_type(store: Store, column: str, start: str, end: str) -> dict[str, int]:
    counts = dict.fromkeys(policy.TYPES, 0)
    for type_, n in store.conn.execute(
        f"SELECT type, count(*) FROM returns WHERE {column} BETWEEN ? AND ? GROUP BY type", [start, end]
    ):
        counts[type_] = n
    counts["total"] = sum(counts.values())
    return counts


def build(store: Store, start: date, end: date) -> dict:
    """The `report --json` document (keys in the README)."""
    first, last = start.isoformat(), end.isoformat()
    with store.read() as conn:
        before = _ledger_sums(store, "day < ?", [first])
        during = _ledger_sums(store, "day BETWEEN ? AND ?", [first, last])
        # Charges awaiting a supervisor's decision at the end of the period.
        review = conn.execute(
            """SELECT count(*), coalesce(sum(amount_cents), 0) FROM (
                 SELECT amount_cents FROM reviews WHERE decided_on IS NULL AND happened_on <= :end
                 UNION ALL
                 SELECT amount_cents FROM reviews WHERE decided_on > :end AND happened_on <= :end) AS pending""",
            {"end": last},
        ).fetchone()
        opened = _by_type(store, "opened_on", first, last)
        closed = _by_type(store, "closed_on", first, last)
    overdue = [r for r in store.overdue(end, None) if r["state"] == "overdue"]

    opening_count, opening = _holds(before)
    closing_count, closing = _holds({e: tuple(a + b for a, b in zip(before.get(e, (0,) * 4), during.get(e, (0,) * 4), strict=True))
                                     for e in before.keys() | during.keys()})
    moved = {name: during.get(_EVENT[name], (0, 0, 0, 0)) for name in MOVEMENTS}
    kept_before = sum(s[3] for s in before.values())
    kept_during = sum(s[3] for s in during.values())
    doc = {
        "from": first,
        "to": last,
        "currency": "USD",
        "opening_holds": _money(opening_count, opening),
        **{name: _money(rows, amount) for name, (rows, amount, _, _) in moved.items()},
        "closing_holds": _money(closing_count, closing),
        "money_kept": {"opening": policy.format_amount(kept_before), "change": policy.format_amount(kept_during),
                       "closing": policy.format_amount(kept_before + kept_during)},
        "in_review": _money(review[0], review[1]),
        "opened": opened,
        "closed": closed,
        "overdue": {"as_of": last, **_money(len(overdue), sum(policy.parse_money(r["hold_amount"]) for r in overdue))},
    }
    # The identity the report exists for; it holds by construction, and says so.
    doc["balanced"] = closing == opening + moved["authorized"][1] - moved["released"][1] - moved["charged"][1]
    return doc


# --- output --------------------------------------------------------------------------------

CSV_COLUMNS = ["from", "to", "figure", "count", "amount"]
_MONEY_ROWS = ("opening_holds", "authorized", "released", "charged", "closing_holds", "refunded", "in_review", "overdue")


def csv_rows(doc: dict) -> list[dict]:
    """`report --csv`: one figure a line, each with its period (months append into one sheet).
    Amounts are numbers (Decimal, so negative ones are never taken for formulas and guarded)."""
    from decimal import Decimal

    rows = [{"figure": k, "count": doc[k]["count"], "amount": Decimal(doc[k]["amount"])} for k in _MONEY_ROWS]
    rows += [{"figure": f"money_kept_{k}", "amount": Decimal(v)} for k, v in doc["money_kept"].items()]
    for kind in ("opened", "closed"):
        rows += [{"figure": f"{kind}_{t}", "count": n} for t, n in doc[kind].items()]
    return [{"from": doc["from"], "to": doc["to"], **row} for row in rows]


def view(doc: dict) -> None:
    """A rich table at a terminal (plain text in a pipe)."""
    from decimal import Decimal

    from rich.text import Text

    from .render import _table, console

    money = _table("", "count", "amount", title=f"Holds and charges, {doc['from']} to {doc['to']} (USD)")
    money.columns[1].justify = money.columns[2].justify = "right"

    def line(label: str, count: object, amount: str, bold: bool = False) -> None:
        style = "bold" if bold else None
        money.add_row(Text(label, style=style), str(count), Text(policy.format_usd(int(Decimal(amount) * 100)), style=style))

    line("opening holds", doc["opening_holds"]["count"], doc["opening_holds"]["amount"], True)
    line("  + authorized", doc["authorized"]["count"], doc["authorized"]["amount"])
    line("  - released", doc["released"]["count"], doc["released"]["amount"])
    line("  - charged", doc["charged"]["count"], doc["charged"]["amount"])
    line("closing holds", doc["closing_holds"]["count"], doc["closing_holds"]["amount"], True)
    money.add_section()
    kept = doc["money_kept"]
    line("money kept, opening", "", kept["opening"], True)
    line("  + charged", doc["charged"]["count"], doc["charged"]["amount"])
    line("  - refunds paid", doc["refunded"]["count"], doc["refunded"]["amount"])
    line("money kept, closing", "", kept["closing"], True)
    money.add_section()
    line(f"charges in review on {doc['to']}", doc["in_review"]["count"], doc["in_review"]["amount"])
    line(f"overdue on {doc['overdue']['as_of']}", doc["overdue"]["count"], doc["overdue"]["amount"])
    returns = _table("returns", *policy.TYPES, "total", title="Returns opened and closed")
    for column in returns.columns[1:]:
        column.justify = "right"
    for kind in ("opened", "closed"):
        returns.add_row(kind, *(str(doc[kind][t]) for t in (*policy.TYPES, "total")))
    console.print(money)
    console.print(returns)
    if not doc["balanced"]:  # never expected: the sums are of one ledger
        console.print(Text("The period does not balance: run `doctor`.", style="bold red"))
