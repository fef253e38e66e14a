"""The 30-day clock of an advanced replacement (SPEC §2 "The 30-day clock (AR-4), exactly").

Through domain_clock.Clock, domain_clock.overdue_states and domain_clock.charge_refusal only: pure, no store.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speco_returns.domain import clock as domain_clock
from speco_returns.domain import holds
from speco_returns.domain.clock import Clock

DAY = timedelta(days=1)
DELIVERED = date(2026, 11, 1)
DUE = date(2026, 12, 1)


def delivered(on: date = DELIVERED, **kw) -> Clock:
    return Clock(shipped_on=on - 3 * DAY, delivered_on=on, **kw)


def states(clock: Clock, as_of: date, within: int | None = None) -> list[str]:
    return [state for state, _ in domain_clock.overdue_states(clock, as_of, within)]


# --- the due date ---------------------------------------------------------------------------


def test_due_date_is_delivery_plus_30_calendar_days():
    assert domain_clock.due_date(DELIVERED) == DUE
    assert delivered().due_on == DUE


@pytest.mark.parametrize(
    "delivered_on, due_on",
    [
        (date(2027, 1, 31), date(2027, 3, 2)),  # February of a common year
        (date(2028, 1, 31), date(2028, 3, 1)),  # leap year: February 29 counts
        (date(2026, 12, 15), date(2027, 1, 14)),  # across the new year
        (date(2026, 3, 31), date(2026, 4, 30)),
        (date(2028, 2, 29), date(2028, 3, 30)),
    ],
)
def test_due_date_across_month_ends_and_leap_years(delivered_on, due_on):
    assert domain_clock.due_date(delivered_on) == due_on
    clock = delivered(delivered_on)
    assert states(clock, due_on) == []
    assert domain_clock.overdue_states(clock, due_on + DAY) == [("overdue", 1)]


def test_the_clock_starts_at_delivery_not_at_shipping():
    clock = Clock(shipped_on=date(2026, 10, 1), delivered_on=DELIVERED)
    assert clock.due_on == DUE
    assert states(clock, date(2026, 11, 15)) == []


def test_no_delivery_no_due_date():
    assert Clock(shipped_on=DELIVERED).due_on is None
    assert not Clock(shipped_on=DELIVERED).is_overdue(date(2027, 6, 1))


# --- overdue -----------------------------------------------------------------------------------


@pytest.mark.parametrize("as_of", [DELIVERED, date(2026, 11, 20), date(2026, 11, 30), DUE])
def test_not_overdue_up_to_and_including_the_due_date(as_of):
    assert states(delivered(), as_of) == []
    assert not delivered().is_overdue(as_of)


def test_overdue_from_the_day_after_the_due_date():
    assert domain_clock.overdue_states(delivered(), date(2026, 12, 2)) == [("overdue", 1)]
    assert domain_clock.overdue_states(delivered(), date(2026, 12, 31)) == [("overdue", 30)]
    assert delivered().is_overdue(date(2026, 12, 2))


def test_in_transit_before_the_due_date_is_not_overdue():
    clock = delivered(unit_shipped_on=date(2026, 11, 20))
    assert clock.returned_in_time()
    assert "overdue" not in states(clock, date(2026, 12, 2))
    assert "overdue" not in states(clock, date(2027, 1, 1))


def test_shipped_back_on_the_due_date_is_on_time():
    clock = delivered(unit_shipped_on=DUE)
    assert clock.returned_in_time()
    assert states(clock, date(2026, 12, 2)) == []


def test_shipped_back_after_the_due_date_is_still_overdue():
    clock = delivered(unit_shipped_on=date(2026, 12, 2))
    assert not clock.returned_in_time()
    assert domain_clock.overdue_states(clock, date(2026, 12, 3)) == [("overdue", 2)]


# --- return-stalled ----------------------------------------------------------------------------


def test_return_stalled_14_days_after_the_unit_shipped_and_not_received():
    shipped_back = date(2026, 11, 10)
    clock = delivered(unit_shipped_on=shipped_back)
    assert states(clock, shipped_back + 13 * DAY) == []
    assert states(clock, shipped_back + 14 * DAY) == ["return-stalled"]
    assert states(clock, shipped_back + 40 * DAY) == ["return-stalled"]  # never overdue: shipped in time


def test_return_stalled_and_overdue_together_when_shipped_late():
    shipped_back = date(2026, 12, 5)
    clock = delivered(unit_shipped_on=shipped_back)
    assert domain_clock.overdue_states(clock, shipped_back + 14 * DAY) == [("overdue", 18), ("return-stalled", None)]


def test_received_unit_is_never_stalled():
    clock = delivered(unit_shipped_on=date(2026, 11, 10), received_on=date(2026, 11, 30))
    assert states(clock, date(2027, 1, 1)) == []


# --- delivery-unknown --------------------------------------------------------------------------


def test_delivery_unknown_when_shipped_more_than_10_days_ago_without_delivery():
    shipped = date(2026, 11, 1)
    clock = Clock(shipped_on=shipped, hold_active=True)
    assert states(clock, shipped + 10 * DAY) == []
    assert states(clock, shipped + 11 * DAY) == ["delivery-unknown"]
    assert states(clock, shipped + 100 * DAY) == ["delivery-unknown"]


def test_delivery_recorded_is_never_delivery_unknown():
    clock = Clock(shipped_on=date(2026, 11, 1), delivered_on=date(2026, 11, 3))
    assert "delivery-unknown" not in states(clock, date(2026, 11, 30))


def test_not_shipped_yet_is_never_listed():
    assert domain_clock.overdue_states(Clock(), date(2027, 1, 1)) == []
    assert domain_clock.overdue_states(Clock(), date(2027, 1, 1), within=10_000) == []


# --- hold-expiring ------------------------------------------------------------------------------

AS_OF = date(2026, 11, 20)


@pytest.mark.parametrize(
    "expires, listed",
    [
        (AS_OF - 5 * DAY, []),  # lapsed before: listed once, its first day lapsed, not nightly
        (AS_OF - DAY, ["hold-lapsed"]),  # lapsed yesterday, unit still out: listed this once
        (AS_OF, ["hold-expiring"]),  # good through today
        (AS_OF + 3 * DAY, ["hold-expiring"]),
        (AS_OF + 4 * DAY, []),
        (AS_OF + 30 * DAY, []),
    ],
)
def test_hold_expiring_while_lapsing_and_hold_lapsed_once(expires, listed):
    clock = delivered(hold_active=True, hold_expires=expires)
    assert states(clock, AS_OF) == listed


@given(expires=st.dates(date(2026, 9, 1), date(2027, 3, 1)))
def test_a_lapse_is_listed_on_one_night_only(expires):
    """Every night from the delivery on: `hold-lapsed` once in all, `hold-expiring` only while it
    is in force (never after its expiry)."""
    clock = delivered(hold_active=True, hold_expires=expires)
    nights = [AS_OF + n * DAY for n in range(-90, 120)]
    lapsed = [d for d in nights if "hold-lapsed" in states(clock, d)]
    assert lapsed == ([expires + DAY] if nights[0] <= expires + DAY <= nights[-1] else [])
    assert all(d <= expires for d in nights if "hold-expiring" in states(clock, d))


def test_hold_without_expiry_is_never_listed():
    clock = delivered(hold_active=True, hold_expires=None)
    assert "hold-expiring" not in states(clock, AS_OF)
    assert "hold-expiring" not in states(clock, date(2027, 6, 1))


def test_hold_not_active_is_never_listed():
    clock = delivered(hold_active=False, hold_expires=AS_OF - DAY)
    assert states(clock, AS_OF) == []


def test_hold_expiring_before_the_replacement_ships():
    clock = Clock(hold_active=True, hold_expires=AS_OF + DAY)
    assert states(clock, AS_OF) == ["hold-expiring"]


def test_hold_expiring_comes_after_overdue():
    clock = delivered(hold_active=True, hold_expires=date(2026, 12, 5))
    assert domain_clock.overdue_states(clock, date(2026, 12, 5)) == [("overdue", 4), ("hold-expiring", None)]
    assert domain_clock.overdue_states(clock, date(2026, 12, 6)) == [("overdue", 5),
                                                                      ("hold-lapsed", None)]
    assert domain_clock.overdue_states(clock, date(2026, 12, 7)) == [("overdue", 6)]


# --- due-soon -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "as_of, within, listed",
    [
        (date(2026, 11, 24), 7, True),  # 7 days to go
        (date(2026, 11, 23), 7, False),  # 8 days to go
        (DUE, 0, True),  # due today
        (date(2026, 11, 30), 0, False),
        (DELIVERED, 30, True),
        (DELIVERED, 29, False),
    ],
)
def test_due_soon_within_days(as_of, within, listed):
    assert states(delivered(), as_of, within) == (["due-soon"] if listed else [])


def test_due_soon_only_when_asked():
    assert states(delivered(), date(2026, 11, 30)) == []


def test_due_soon_not_listed_once_shipped_back():
    clock = delivered(unit_shipped_on=date(2026, 11, 25))
    assert states(clock, date(2026, 11, 28), within=7) == []


def test_overdue_is_not_also_due_soon():
    assert states(delivered(), date(2026, 12, 2), within=30) == ["overdue"]


# --- charge (AR-4) ---------------------------------------------------------------------------------


def test_charge_refused_on_the_due_date_allowed_the_day_after():
    clock = delivered(hold_active=True)
    for day in (DELIVERED, date(2026, 11, 15), DUE):
        refusal = domain_clock.charge_refusal(clock, day)
        assert refusal is not None and refusal.rule == "AR-4", day
        assert "2026-12-01" in refusal.message and "2026-12-02" in refusal.message
    assert domain_clock.charge_refusal(clock, date(2026, 12, 2)) is None
    assert domain_clock.charge_refusal(clock, date(2027, 3, 1)) is None


def test_charge_refused_without_delivery():
    refusal = domain_clock.charge_refusal(Clock(shipped_on=DELIVERED, hold_active=True), date(2027, 6, 1))
    assert refusal is not None and refusal.rule == "AR-4"
    assert "deliver" in refusal.message


def test_charge_refused_when_shipped_back_in_time():
    clock = delivered(unit_shipped_on=date(2026, 11, 28), hold_active=True)
    refusal = domain_clock.charge_refusal(clock, date(2026, 12, 20))
    assert refusal is not None and refusal.rule == "AR-4"
    assert "2026-11-28" in refusal.message


def test_charge_allowed_when_shipped_back_after_the_due_date():
    clock = delivered(unit_shipped_on=date(2026, 12, 3), hold_active=True)
    assert domain_clock.charge_refusal(clock, date(2026, 12, 4)) is None


# --- closed returns ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "closing",
    [
        {"received_on": date(2026, 11, 20)},
        {"received_on": date(2026, 12, 20)},  # received late: still nothing to chase
        {"charged_on": date(2026, 12, 2)},
        {"cancelled_on": date(2026, 10, 30)},
    ],
)
def test_received_charged_or_cancelled_gives_no_rows(closing):
    clock = Clock(shipped_on=date(2026, 10, 29), delivered_on=DELIVERED, unit_shipped_on=date(2026, 11, 10),
                  hold_active=True, hold_expires=date(2026, 11, 5), **closing)
    for as_of in (date(2026, 12, 2), date(2026, 12, 25), date(2027, 6, 1)):
        assert domain_clock.overdue_states(clock, as_of, within=60) == []


def test_cancelled_before_shipping_gives_no_rows():
    clock = Clock(hold_active=True, hold_expires=date(2026, 11, 1), cancelled_on=date(2026, 10, 20))
    assert domain_clock.overdue_states(clock, date(2026, 11, 1)) == []


# --- property: overdue_states agrees with a direct reading of the rule ---------------------------------


def expected_rows(delivered_on, shipped_on, unit_shipped_on, received_on, hold_expires, as_of, within):
    """SPEC §2 read directly, with timedelta(days=30)."""
    if received_on is not None:
        return []
    rows = []
    if delivered_on is not None:
        due = delivered_on + timedelta(days=30)
        sent_in_time = unit_shipped_on is not None and unit_shipped_on <= due
        if as_of >= due + timedelta(days=1) and not sent_in_time:
            rows.append(("overdue", (as_of - due).days))
        elif within is not None and not sent_in_time and as_of <= due and due <= as_of + timedelta(days=within):
            rows.append(("due-soon", None))
    elif shipped_on is not None and shipped_on + timedelta(days=10) < as_of:
        rows.append(("delivery-unknown", None))
    if unit_shipped_on is not None and unit_shipped_on + timedelta(days=14) <= as_of:
        rows.append(("return-stalled", None))
    if hold_expires is not None and as_of <= hold_expires <= as_of + timedelta(days=3):
        rows.append(("hold-expiring", None))  # while it is in force, its last 3 days and its day
    elif hold_expires is not None and as_of == hold_expires + timedelta(days=1):
        rows.append(("hold-lapsed", None))  # the first day it is lapsed, once
    return rows


@st.composite
def clocks(draw):
    """A replacement's events up to as-of, in their only possible order."""
    shipped_on = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2990, 12, 31)))
    as_of = shipped_on + timedelta(days=draw(st.integers(min_value=0, max_value=150)))
    delivered_on = unit_shipped_on = received_on = None
    if draw(st.booleans()):
        delivered_on = shipped_on + timedelta(days=draw(st.integers(min_value=0, max_value=(as_of - shipped_on).days)))
        if draw(st.booleans()):
            unit_shipped_on = delivered_on + timedelta(days=draw(st.integers(min_value=0, max_value=(as_of - delivered_on).days)))
        if draw(st.integers(min_value=0, max_value=3)) == 0:
            start = unit_shipped_on or delivered_on
            received_on = start + timedelta(days=draw(st.integers(min_value=0, max_value=(as_of - start).days)))
    hold_expires = draw(st.none() | st.dates(min_value=shipped_on - timedelta(days=10), max_value=as_of + timedelta(days=40)))
    within = draw(st.none() | st.integers(min_value=0, max_value=45))
    return shipped_on, delivered_on, unit_shipped_on, received_on, hold_expires, as_of, within


@settings(max_examples=400, deadline=None)
@given(clocks())
def test_overdue_states_agree_with_the_rule(case):
    shipped_on, delivered_on, unit_shipped_on, received_on, hold_expires, as_of, within = case
    clock = Clock(shipped_on=shipped_on, delivered_on=delivered_on, unit_shipped_on=unit_shipped_on,
                  received_on=received_on, hold_active=received_on is None and hold_expires is not None,
                  hold_expires=hold_expires)
    expected = expected_rows(delivered_on, shipped_on, unit_shipped_on, received_on, hold_expires, as_of, within)
    assert domain_clock.overdue_states(clock, as_of, within) == expected
    overdue = any(state == "overdue" for state, _ in expected)
    assert clock.is_overdue(as_of) is overdue
    if delivered_on is not None and received_on is None:
        # AR-4: the card may be charged exactly when the unit is overdue
        assert (domain_clock.charge_refusal(clock, as_of) is None) is overdue


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2990, 12, 31)), st.integers(min_value=-5, max_value=80))
def test_due_date_is_thirty_days_later_and_overdue_only_after_it(delivered_on, offset):
    as_of = delivered_on + timedelta(days=offset)
    clock = Clock(shipped_on=delivered_on, delivered_on=delivered_on)
    assert clock.due_on == delivered_on + timedelta(days=30)
    assert clock.due_on.toordinal() - delivered_on.toordinal() == 30
    assert clock.is_overdue(as_of) is (offset > 30)


# --- the hold's state, read from its dates (domain/holds.py: what show and list read) ----------

DAYS = st.dates(date(2026, 1, 1), date(2027, 12, 31))


@given(expires=DAYS, as_of=DAYS)
def test_a_hold_in_force_is_lapsed_exactly_after_its_expiry(expires, as_of):
    state = holds.hold_state("AUTH-1", True, expires, None, None, as_of)
    assert (state == "lapsed") == (as_of > expires)
    warned_from = expires - timedelta(days=domain_clock.HOLD_WARNING_DAYS)
    assert (state == "lapsing") == (warned_from <= as_of <= expires)
    assert holds.hold_state("AUTH-1", True, None, None, None, as_of) == "active"  # no expiry known
    assert holds.hold_state(None, False, expires, None, None, as_of) is None  # no hold recorded


@given(expires=DAYS, settled=DAYS, charged=st.booleans(), as_of=DAYS)
def test_a_hold_ended_after_its_expiry_had_lapsed_first(expires, settled, charged, as_of):
    state = holds.hold_state("AUTH-1", False, expires, settled if charged else None, settled, as_of)
    if settled > expires:
        assert state == "lapsed"
    else:
        assert state == ("charged" if charged else "released")


def test_state_of_row_reads_the_stored_columns():
    row = {"hold_ref": "AUTH-1", "hold_active": 0, "hold_expires": "2026-10-08",
           "charged_on": None, "received_on": "2026-10-06", "closed_on": "2026-10-06"}
    assert holds.state_of_row(row, date(2026, 11, 1)) == "released"
    assert holds.state_of_row({**row, "received_on": "2026-10-20", "closed_on": None},
                              date(2026, 11, 1)) == "lapsed"
    assert holds.state_of_row({**row, "hold_active": 1, "received_on": None, "closed_on": None},
                              date(2026, 10, 5)) == "lapsing"
