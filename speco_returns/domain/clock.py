"""The 30-day clock (AR-4) as a view of a return's events on a day, and the clock reading the
command line passes down (nothing below it reads the time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ..errors import Violation
from .types import (
    DELIVERY_MIN_DAYS,
    DELIVERY_UNKNOWN_DAYS,
    HOLD_WARNING_DAYS,
    RETURN_WINDOW_DAYS,
    STALLED_DAYS,
)


@dataclass(frozen=True)
class Now:
    """The CLI's clock reading for a write: the day, the moment (ISO 8601 UTC) and who."""

    today: date
    stamp: str
    agent: str


# --- the 30-day clock (AR-4) -----------------------------------------------------------


def age_days(opened_on: date, closed_on: date | None, today: date) -> int:
    """How long a return has been (or was) open, in days: to today, or to the day it closed."""
    return max(0, ((closed_on or today) - opened_on).days)


def due_date(delivered_on: date) -> date:
    return delivered_on + timedelta(days=RETURN_WINDOW_DAYS)


@dataclass(frozen=True)
class Clock:
    """What an advanced replacement's events dated on or before a day say."""

    shipped_on: date | None = None
    delivered_on: date | None = None
    unit_shipped_on: date | None = None
    received_on: date | None = None
    charged_on: date | None = None
    cancelled_on: date | None = None
    hold_active: bool = False
    hold_expires: date | None = None
    unit_arrived_on: date | None = None  # the carrier delivered the unit to Speco (not yet `receive`d)
    carrier_exception: tuple[str, str, date] | None = None  # (parcel, kind, date) not yet resolved
    hold_estimated: bool | None = None  # as Life.hold_estimated
    declined_on: date | None = None  # the latest charge declined (`charge --declined`)

    @property
    def due_on(self) -> date | None:
        return due_date(self.delivered_on) if self.delivered_on else None

    def returned_in_time(self) -> bool:
        """Received, shipped back or delivered to Speco on or before the due date (in transit is not late)."""
        due = self.due_on
        return due is not None and any(
            d is not None and d <= due for d in (self.received_on, self.unit_shipped_on, self.unit_arrived_on)
        )

    def is_overdue(self, as_of: date) -> bool:
        due = self.due_on
        return due is not None and as_of > due and not self.returned_in_time() and self.received_on is None


def lapsed_on(clock: Clock, on: date) -> date | None:
    """The day the hold in force lapsed, when that is before `on` (its expiry: the hold is good
    through that day), else None."""
    if clock.hold_active and clock.hold_expires is not None and clock.hold_expires < on:
        return clock.hold_expires
    return None


def lapse_warning(hold_expires: date | None, estimated: bool | None,
                  shipped_on: date) -> str | None:
    """Said once at `hold` and at `ship`: the hold lapses before the earliest day the card could
    be charged (the earliest due date: ship date, the quickest delivery, 30 days), so a charge
    then would be a new charge on the card, resting on the customer's consent, and may be
    declined."""
    if hold_expires is None:
        return None
    earliest_due = shipped_on + timedelta(days=DELIVERY_MIN_DAYS + RETURN_WINDOW_DAYS)
    if hold_expires >= earliest_due:
        return None
    kind = " (estimated)" if estimated else ""
    return (f"the hold lapses on {hold_expires}{kind}, before the earliest due date "
            f"({earliest_due}): if the unit is not back in time, the charge will be a new charge "
            "on the card under the customer's consent (`hold --consent`), which may be declined")


def stalled_from(clock: Clock) -> date | None:
    """The day a unit shipped back but not received becomes `return-stalled` (SPEC §2)."""
    if clock.unit_shipped_on is None or clock.received_on is not None or clock.unit_arrived_on is not None:
        return None  # a unit the carrier delivered to Speco is not lost, received or not
    return clock.unit_shipped_on + timedelta(days=STALLED_DAYS)


def ship_refusal(clock: Clock, on: date) -> Violation | None:
    """AR-2: a replacement ships only on a hold in force on its date. `clock` holds the
    events dated on or before `on`."""
    if not clock.hold_active:
        return Violation("AR-2", f"no card hold is in force on {on}: record the authorized hold (`hold --ref`) first")
    if clock.hold_expires and clock.hold_expires < on:
        return Violation("AR-2", f"the card hold expired on {clock.hold_expires}: re-authorize it "
                                 "(`hold --ref ... --expires ...`) before shipping")
    return None


def charge_refusal(clock: Clock, on: date, reason: str | None = None) -> Violation | None:
    """AR-4: None when the card may be charged on `on`, else why not.

    A unit sent back in time but never received (a lost parcel) may be charged once it is
    `return-stalled` and past its due date, with the supervisor's reason (SPEC §2)."""
    if clock.delivered_on is None:
        return Violation("AR-4", "no delivery is recorded, so the 30-day clock has not started; record `deliver` first")
    if clock.returned_in_time():
        back = clock.unit_shipped_on or clock.received_on
        stalled = stalled_from(clock)
        if stalled is None:
            return Violation("AR-4", f"the unit was sent back on {back}, within {RETURN_WINDOW_DAYS} days of delivery: the card is not charged")
        allowed = max(stalled, clock.due_on + timedelta(days=1))
        if on < allowed:
            return Violation("AR-4", f"the unit was sent back on {back}, within {RETURN_WINDOW_DAYS} days of delivery: "
                                     f"the card is not charged; if it never arrives (stalled from {stalled}) a supervisor "
                                     f"may charge it from {allowed} with `charge --reason`")
        if not reason:
            return Violation("AR-4", f"the unit was sent back on {back} and never received (stalled from {stalled}): "
                                     "charging it is a supervisor's decision: `charge RA --reason TEXT` naming who decided and why")
        return None
    if not clock.is_overdue(on):
        return Violation("AR-4", f"the unit is due back by {clock.due_on}; the card can be charged from {clock.due_on + timedelta(days=1)}")
    return None


OVERDUE_STATES = ("overdue", "charge-declined", "due-soon", "delivery-unknown", "return-stalled",
                  "hold-expiring", "hold-lapsed", "carrier-exception")


def overdue_states(clock: Clock, as_of: date, within: int | None = None) -> list[tuple[str, int | None]]:
    """The nightly check's rows for one advanced replacement: (state, days overdue or None)."""
    if clock.cancelled_on or clock.received_on or clock.charged_on:
        return []
    rows: list[tuple[str, int | None]] = []
    due = clock.due_on
    if due is not None:
        if clock.is_overdue(as_of):
            rows.append(("overdue", (as_of - due).days))
        elif within is not None and not clock.returned_in_time() and (due - as_of).days <= within:
            rows.append(("due-soon", None))
    elif clock.shipped_on and (as_of - clock.shipped_on).days > DELIVERY_UNKNOWN_DAYS:
        rows.append(("delivery-unknown", None))
    if stalled_from(clock) is not None and (as_of - clock.unit_shipped_on).days >= STALLED_DAYS:
        rows.append(("return-stalled", None))
    if clock.declined_on is not None:  # the processor declined the charge: a supervisor's to decide
        rows.append(("charge-declined", None))
    expires = clock.hold_expires if clock.hold_active else None
    if expires is not None and as_of <= expires <= as_of + timedelta(days=HOLD_WARNING_DAYS):
        rows.append(("hold-expiring", None))
    elif expires is not None and as_of == expires + timedelta(days=1):  # once: its first lapsed day
        rows.append(("hold-lapsed", None))
    if clock.carrier_exception:  # a parcel returned to sender, a failed attempt, damage: a person acts
        rows.append(("carrier-exception", None))
    return rows
