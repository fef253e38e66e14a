"""A card hold's state, read from its dates (the processor's authorization lapses on its
expiry): plain values in, a word out. Light on purpose: `show` and `list` read it without the
lifecycle or the clock."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from .types import HOLD_WARNING_DAYS

HOLD_STATES = ("active", "lapsing", "lapsed", "released", "charged")


def hold_phase(expires: date | None, as_of: date) -> str:
    """A hold not released or charged, on `as_of`: `active`, `lapsing` (within HOLD_WARNING_DAYS
    of its expiry) or `lapsed` (past it: the hold is good through its expiry day)."""
    if expires is None:
        return "active"
    if as_of > expires:
        return "lapsed"
    return "lapsing" if (expires - as_of).days <= HOLD_WARNING_DAYS else "active"


def hold_state(ref: str | None, active: bool, expires: date | None, charged_on: date | None,
               settled_on: date | None, as_of: date) -> str | None:
    """The card hold as the processor has it on `as_of` (HOLD_STATES; None: no hold recorded).
    `settled_on`: the day the hold ended (charged, received or closed; None: not ended, or a
    charge reversed). Past its expiry a hold is `lapsed` (one released or charged only after
    its expiry lapsed first); within HOLD_WARNING_DAYS of it, `lapsing`."""
    if ref is None:
        return None
    if active:
        return hold_phase(expires, as_of)
    if expires is not None and settled_on is not None and settled_on > expires:
        return "lapsed"
    return "charged" if charged_on or settled_on is None else "released"


def _day(value) -> date | None:
    return date.fromisoformat(value) if value else None


def state_of_row(r: Mapping, as_of: date) -> str | None:
    """hold_state of a `returns` row (its stored columns, dates as ISO text)."""
    charged_on = _day(r["charged_on"])
    settled_on = charged_on or _day(r["received_on"]) or _day(r["closed_on"])
    return hold_state(r["hold_ref"], bool(r["hold_active"]), _day(r["hold_expires"]), charged_on,
                      settled_on, as_of)
