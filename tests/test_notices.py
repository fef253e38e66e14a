"""The notices' timing as pure functions of a return's facts and a day (notices.py)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from speco_returns.domain import notices
from speco_returns.domain.clock import Clock
from speco_returns.domain.notices import Item, ReturnFacts

OPENED = date(2026, 1, 1)


def facts_as_of(day: date, delivered: date, unit_shipped: date | None) -> ReturnFacts:
    """What the store reads as of `day`: only the events dated on or before it."""
    back = unit_shipped if unit_shipped is not None and unit_shipped <= day else None
    clock = Clock(shipped_on=delivered - timedelta(days=2), delivered_on=delivered, unit_shipped_on=back,
                  hold_active=True)
    status = "unit-in-transit" if back else "replacement-delivered"
    return ReturnFacts(key="RA-000001", type="advanced", status=status, customer="Carol", email="carol@example.com",
                       phone=None, opened_on=OPENED, items=(Item("O4B3", 1, 24999, ("SN-1",)),), clock=clock,
                       hold_amount=24999)


def run_nightly(delivered: date, unit_shipped: date | None, remind: tuple[int, ...], skip: frozenset[int] = frozenset()):
    """A nightly job from delivery to 45 days later (nights in `skip` missed): what goes out, and when."""
    sent: dict[tuple, date] = {}
    for offset in range(46):
        if offset in skip:
            continue
        day = delivered + timedelta(days=offset)
        for n in notices.due(facts_as_of(day, delivered, unit_shipped), day, remind):
            sent.setdefault((n.kind, n.days, n.about), day)
    return sent


DAYS = st.lists(st.integers(min_value=1, max_value=29), min_size=1, max_size=4, unique=True).map(lambda d: tuple(sorted(d, reverse=True)))
DELIVERED = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))


@given(delivered=DELIVERED, remind=DAYS, back_after=st.one_of(st.none(), st.integers(min_value=0, max_value=45)))
def test_reminders_fall_exactly_n_days_before_the_due_date_and_never_once_the_unit_is_on_its_way(delivered, remind, back_after):
    unit_shipped = None if back_after is None else delivered + timedelta(days=back_after)
    due_on = delivered + timedelta(days=30)
    sent = run_nightly(delivered, unit_shipped, remind)
    reminders = {k: day for k, day in sent.items() if k[0] == "reminder"}
    expected = {n for n in remind if unit_shipped is None or unit_shipped > due_on - timedelta(days=n)}
    assert {k[1] for k in reminders} == expected
    for (_, n, about), day in reminders.items():
        assert about == due_on and day == due_on - timedelta(days=n)
        assert unit_shipped is None or day < unit_shipped
    # the overdue notice: the day after the due date, only if the unit was not sent back by then
    overdue = [day for k, day in sent.items() if k[0] == "overdue"]
    late = unit_shipped is None or unit_shipped > due_on
    assert overdue == ([due_on + timedelta(days=1)] if late else [])


@given(delivered=DELIVERED, remind=DAYS, skip=st.frozensets(st.integers(min_value=0, max_value=45), max_size=20))
def test_missed_nights_send_each_reminder_at_most_once_and_never_after_the_due_date(delivered, remind, skip):
    due_on = delivered + timedelta(days=30)
    sent = run_nightly(delivered, None, remind, skip)
    for (kind, n, _), day in sent.items():
        if kind == "reminder":
            assert due_on - timedelta(days=n) <= day <= due_on
            assert day not in skip
    # the nearest reminder whose day has come is never skipped for a farther one
    nights = [delivered + timedelta(days=o) for o in range(46) if o not in skip]
    for night in nights:
        passed = [n for n in remind if due_on - timedelta(days=n) <= night <= due_on]
        if passed:
            assert ("reminder", min(passed), due_on) in sent


def test_delivered_notice_then_reminders_then_overdue_on_their_days():
    delivered = date(2026, 11, 1)
    sent = run_nightly(delivered, None, (7, 2))
    assert sent == {
        ("delivered", 0, date(2026, 12, 1)): date(2026, 11, 1),
        ("reminder", 7, date(2026, 12, 1)): date(2026, 11, 24),
        ("reminder", 2, date(2026, 12, 1)): date(2026, 11, 29),
        ("overdue", 0, date(2026, 12, 1)): date(2026, 12, 2),
    }


def test_news_is_sent_within_14_days_of_the_event_only():
    f = ReturnFacts(key="RA-000009", type="standard", status="authorized", customer="A", email="a@b.example", phone=None,
                    opened_on=date(2026, 11, 1), items=(Item("X", 1, None),))
    assert notices.due(f, date(2026, 11, 15)) == [notices.Notice("opened", date(2026, 11, 1))]
    assert notices.due(f, date(2026, 11, 16)) == []


def test_closed_and_late_returns_get_nothing():
    for status in ("completed", "cancelled", "charged", "late-return", "unit-received"):
        f = ReturnFacts(key="RA-000009", type="standard", status=status, customer="A", email="a@b.example", phone=None,
                        opened_on=date(2026, 11, 1), items=())
        assert notices.due(f, date(2026, 11, 2)) == []


def test_parse_remind():
    assert notices.parse_remind("7,2") == (7, 2)
    assert notices.parse_remind(" 2, 7 ,7") == (7, 2)
    assert notices.parse_remind("") == ()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_plain_keys_of_two_tickets_never_meet(key):
    """The outbox's file names and the Message-IDs carry a key one to one (it decodes back), in
    characters both keep: two tickets never share a file."""
    import re

    from speco_returns.mailer import plain_key

    plain = plain_key(key)
    assert re.fullmatch(r"[A-Za-z0-9_-]*", plain)
    decoded = re.sub(rb"_([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), plain.encode()).decode()
    assert decoded == key
