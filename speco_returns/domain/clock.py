"""The clock, read once at the command line and passed down: nothing below the CLI reads it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..policy import Clock


@dataclass(frozen=True)
class Now:
    """The CLI's clock reading for a write: the day, the moment (ISO 8601 UTC) and who."""

    today: date
    stamp: str
    agent: str


def clock_from_events(events) -> Clock:
    """The 30-day clock as the given events say (the overdue check passes only those up to its
    as-of date). A voided event never happened, for the clock too."""
    import json

    from ..history import effective

    f: dict = {"hold_active": False}
    for e in effective(events):
        name, on = e["event"], date.fromisoformat(e["happened_on"])
        if name in _DATES:
            f[_DATES[name]] = on
        if name == "receive":
            f.setdefault("received_on", on)
        if name == "hold":
            expires = json.loads(e["detail"] or "{}").get("expires")
            f["hold_active"], f["hold_expires"] = True, date.fromisoformat(expires) if expires else None
        if name in ("receive", "charge", "cancel", "void"):  # a void kept here: a charge reversed at the processor
            f["hold_active"] = False
    return Clock(**f)


_DATES = {"ship": "shipped_on", "deliver": "delivered_on", "unit-shipped": "unit_shipped_on",
          "charge": "charged_on", "cancel": "cancelled_on"}
