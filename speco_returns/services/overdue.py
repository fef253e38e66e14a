"""`overdue`: the nightly check of advanced replacements (SPEC §4), as of a day."""

from __future__ import annotations

import json
from datetime import date

from ..db import returns
from ..db.database import Database
from ..domain import clock as domain_clock
from ..domain import holds, inputs, wording
from ..domain.keys import key_of
from ..domain.lifecycle import clock_from_events


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _unit_tracking(events: list) -> str | None:
    """The tracking number of the customer's latest return shipment (`unit-shipped`), if recorded."""
    shipped = [e for e in events if e["event"] == "unit-shipped"]
    return json.loads(shipped[-1]["detail"] or "{}").get("tracking") if shipped else None


def _exception(found) -> str | None:
    """A carrier's exception not yet resolved: `replacement returned-to-sender on 2026-11-26`."""
    return f"{found[0]} {found[1]} on {found[2].isoformat()}" if found else None


def rows(db: Database, as_of: date, within: int | None) -> list[dict]:
    """One row per (return, state), reading only events dated on or before `as_of`: every run
    reports everything due as of its date, so a missed or repeated night loses nothing."""
    day = as_of.isoformat()
    with db.read():
        found = returns.advanced_as_of(db, day)  # by RA number: rows keep this order within a state
        events = returns.events_upto(db, [r["id"] for r in found], day)
    out = []
    for r in found:
        history = events.get(r["id"], [])
        clock = clock_from_events(history)
        for state, days in domain_clock.overdue_states(clock, as_of, within):
            out.append({
                "ra": key_of("advanced", r["ra_no"], None), "customer": r["customer"], "state": state,
                "delivered_on": _iso(clock.delivered_on), "due_on": _iso(clock.due_on),
                "days_overdue": days,
                "hold_amount": None if r["hold_amount_cents"] is None else inputs.format_amount(r["hold_amount_cents"]),
                "email": r["email"], "phone": r["phone"],
                "shipped_on": _iso(clock.shipped_on), "unit_shipped_on": _iso(clock.unit_shipped_on),
                "hold_expires": _iso(clock.hold_expires), "unit_tracking": _unit_tracking(history),
                "carrier_exception": _exception(clock.carrier_exception),
                "hold_state": (holds.hold_phase(clock.hold_expires, as_of) if clock.hold_active
                               else None),
                "hold_expires_estimated": clock.hold_estimated,
                "declined_on": _iso(clock.declined_on),
                "action": wording.action(state, clock.shipped_on is not None),
            })
    order = {s: i for i, s in enumerate(domain_clock.OVERDUE_STATES)}
    out.sort(key=lambda row: order[row["state"]])  # stable: by RA number within a state
    return out
