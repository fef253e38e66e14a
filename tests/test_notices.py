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
    clock = Clock(shipped_on=delivered - timedelta(days=2), delivered_on=delivered,
                  unit_shipped_on=back, hold_active=True)
    status = "unit-in-transit" if back else "replacement-delivered"
    return ReturnFacts(key="RA-000001", type="advanced", status=status, customer="Carol",
                       email="carol@example.com", phone=None, opened_on=OPENED,
                       items=(Item("O4B3", 1, 24999, ("SN-1",)),), clock=clock, hold_amount=24999)


def run_nightly(delivered: date, unit_shipped: date | None, remind: tuple[int, ...],
                skip: frozenset[int] = frozenset()):
    """A nightly job from delivery to 45 days later (nights in `skip` missed): what goes out, and
    when."""
    sent: dict[tuple, date] = {}
    for offset in range(46):
        if offset in skip:
            continue
        day = delivered + timedelta(days=offset)
        for n in notices.due(facts_as_of(day, delivered, unit_shipped), day, remind):
            sent.setdefault((n.kind, n.days, n.about), day)
    return sent


DAYS = st.lists(st.integers(min_value=1, max_value=29), min_size=1, max_size=4,
                unique=True).map(lambda d: tuple(sorted(d, reverse=True)))
DELIVERED = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))


@given(delivered=DELIVERED, remind=DAYS,
       back_after=st.one_of(st.none(), st.integers(min_value=0, max_value=45)))
def test_reminders_fall_exactly_n_days_before_the_due_date_and_never_once_the_unit_is_on_its_way(
        delivered, remind, back_after):
    unit_shipped = None if back_after is None else delivered + timedelta(days=back_after)
    due_on = delivered + timedelta(days=30)
    sent = run_nightly(delivered, unit_shipped, remind)
    reminders = {k: day for k, day in sent.items() if k[0] == "reminder"}
    expected = {n for n in remind if unit_shipped is None
                or unit_shipped > due_on - timedelta(days=n)}
    assert {k[1] for k in reminders} == expected
    for (_, n, about), day in reminders.items():
        assert about == due_on and day == due_on - timedelta(days=n)
        assert unit_shipped is None or day < unit_shipped
    # the overdue notice: the day after the due date, only if the unit was not sent back by then
    overdue = [day for k, day in sent.items() if k[0] == "overdue"]
    late = unit_shipped is None or unit_shipped > due_on
    assert overdue == ([due_on + timedelta(days=1)] if late else [])


@given(delivered=DELIVERED, remind=DAYS,
       skip=st.frozensets(st.integers(min_value=0, max_value=45), max_size=20))
def test_missed_nights_send_each_reminder_at_most_once_and_never_after_the_due_date(
        delivered, remind, skip):
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
    f = ReturnFacts(key="RA-000009", type="standard", status="authorized", customer="A",
                    email="a@b.example", phone=None, opened_on=date(2026, 11, 1),
                    items=(Item("X", 1, None),))
    assert notices.due(f, date(2026, 11, 15)) == [notices.Notice("opened", date(2026, 11, 1))]
    assert notices.due(f, date(2026, 11, 16)) == []


def test_closed_and_late_returns_get_nothing():
    for status in ("completed", "cancelled", "charged", "late-return", "unit-received"):
        f = ReturnFacts(key="RA-000009", type="standard", status=status, customer="A",
                        email="a@b.example", phone=None, opened_on=date(2026, 11, 1), items=())
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
    decoded = re.sub(rb"_([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]),
                     plain.encode()).decode()
    assert decoded == key


# --- received: the story's end ------------------------------------------------------------------


@given(received=DELIVERED, offset=st.integers(min_value=-3, max_value=30),
       type_=st.sampled_from(["standard", "advanced"]), charged=st.booleans())
def test_received_is_due_within_14_days_of_the_arrival_and_never_after_a_charge(
        received, offset, type_, charged):
    as_of = received + timedelta(days=offset)
    charged_on = received - timedelta(days=1) if charged else None
    status = ("late-return" if charged else "completed") if type_ == "advanced" else "unit-received"
    f = ReturnFacts(key="RA-000001", type=type_, status=status, customer="C", email="c@example.com",
                    phone=None, opened_on=received - timedelta(days=40),
                    items=(Item("O4B3", 1, 24999, ("SN-1",)),),
                    clock=Clock(received_on=received, charged_on=charged_on), hold_amount=24999)
    got = [n for n in notices.due(f, as_of) if n.kind == "received"]
    assert got == ([notices.Notice("received", received)] if 0 <= offset <= 14 and not charged
                   else [])


def test_a_received_notice_goes_out_only_in_the_states_a_receipt_leads_to():
    assert (notices.sendable("received", "completed")
            and notices.sendable("received", "unit-received"))
    for status in ("replacement-delivered", "unit-in-transit", "late-return", "cancelled",
                   "charged", "authorized"):
        assert not notices.sendable("received", status), status  # e.g. the receipt was voided since
    assert (notices.sendable("reminder", "unit-in-transit")
            and not notices.sendable("reminder", "completed"))


# --- what every notice says, for any facts --------------------------------------------------------

ADDRESS = "Speco Technologies\nAttn: Returns\n200 New Highway"
SHIPPING = {"standard": ("opened",),
            "advanced": ("opened", "shipped", "delivered", "reminder", "overdue", "hold-expiring")}


@st.composite
def facts(draw):
    type_ = draw(st.sampled_from(["standard", "advanced", "counter", "virtual"]))
    day = draw(st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)))
    serials = tuple(draw(st.lists(
        st.text(st.characters(categories=["L", "N", "Pd"]), min_size=1, max_size=20), max_size=3)))
    clock = Clock(shipped_on=day, delivered_on=day + timedelta(days=2),
                  received_on=day + timedelta(days=9), hold_active=True,
                  hold_expires=day + timedelta(days=7))
    return ReturnFacts(key=draw(st.sampled_from(["RA-000001", "RA-1234567", "TT-9"])), type=type_,
                       status="authorized", customer=draw(st.text(min_size=1, max_size=60)),
                       email="c@example.com", phone=None, opened_on=day,
                       items=(Item("O4B3", 1, 24999, serials),), clock=clock, hold_amount=24999,
                       tracking=draw(st.one_of(st.none(), st.sampled_from(
                           ["1Z999AA10123456784", "986578788855", "9400111201080805483016",
                            "PRO 1234"]))))


@settings(max_examples=200, deadline=None)
@given(f=facts(), phone=st.sampled_from([None, "1-800-645-5516"]),
       hours=st.sampled_from([None, "Monday to Friday, 8 am to 5 pm ET"]),
       address=st.sampled_from([None, ADDRESS]))
def test_every_notice_asking_for_the_unit_says_where_and_the_ra_on_the_box_in_lines_of_72(
        f, phone, hours, address):
    contact = notices.Contact(return_address=address, phone=phone, hours=hours)
    for kind in notices.KINDS:
        if not notices.applies(kind, f.type):
            continue
        n = notices.Notice(kind, f.clock.delivered_on
                           if kind in ("delivered", "reminder", "overdue") else f.opened_on, 2)
        subject, body = notices.compose(f, n, contact)
        flat = " ".join(body.split())
        asks = kind in SHIPPING.get(f.type, ())
        assert ((f"Write the RA number {f.key} on the outside of the box." in flat)
                == asks), (f.type, kind)
        assert (address is not None and asks) == ("    200 New Highway\n" in body), (f.type, kind)
        assert "\u00a0" not in body + subject and "\n" not in subject
        lines = body.split("\n")
        assert all(len(line) <= 72 or line.startswith(("    ", "  - ", "Hello "))
                   or " " not in line.strip() for line in lines)
        signature = ["Speco Technical Support"] + (
            [f"Phone {phone}" + (f", {hours}" if hours else "")] if phone else
            [f"Hours: {hours}"] if hours else [])
        assert lines[-len(signature) - 1:-1] == signature


def test_the_readme_documents_the_carrier_table_row_for_row():
    """One table in code (tracking.FORMS), the same rows in the docs."""
    from pathlib import Path

    from speco_returns.domain import tracking

    root = Path(__file__).resolve().parent.parent
    docs = "\n".join(p.read_text()
                     for p in [root / "README.md", *sorted((root / "docs").glob("*.md"))]
                     if p.exists())
    rows = [line for line in docs.splitlines()
            if line.startswith(("| UPS |", "| FedEx |", "| USPS |"))]
    assert ([tuple(c.strip() for c in row.strip("|").split("|")[:2]) for row in rows]
            == [(f.carrier, f.form) for f in tracking.FORMS])
    for carrier, page in tracking.PAGES.items():
        assert f"`{page.format('NUMBER')}`" in docs, carrier


@st.composite
def carrier_numbers(draw):
    """A number of each form with its check digit computed by brute force over 0-9 (the
    form's own check accepts exactly one), then one digit of it changed."""
    from speco_returns.domain import tracking

    form = draw(st.sampled_from(tracking.FORMS))
    digits = st.text("0123456789", min_size=1, max_size=1)
    if form.carrier == "UPS":
        body = "1Z" + draw(st.text("0123456789ABCDEFGHJKLMNPRSTUVWXYZ", min_size=15, max_size=15))
        return form, body, ""
    if "S10" in form.form:
        return form, draw(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)) + "".join(
            draw(digits) for _ in range(8)), "US"
    size = {"12 digits": 12, "15 digits": 15}.get(form.form[:9]) or (
        22 if form.carrier == "FedEx" else draw(st.sampled_from([22, 26])))
    start = "96" if form.carrier == "FedEx" and size == 22 else \
        draw(st.sampled_from(["91", "92", "93", "94", "95"])) if form.carrier == "USPS" else ""
    return form, start + "".join(draw(digits) for _ in range(size - len(start) - 1)), ""


@settings(max_examples=300, deadline=None)
@given(case=carrier_numbers(), where=st.integers(min_value=0),
       step=st.integers(min_value=1, max_value=9))
def test_each_form_takes_one_check_digit_and_a_mistyped_digit_its_check_covers_loses_it(
        case, where, step):
    from speco_returns.domain import tracking

    form, body, tail = case
    valid = [d for d in "0123456789" if form.check(body + d + tail)]
    assert len(valid) == 1
    number = body + valid[0] + tail
    assert tracking.carrier_of(number) is form
    assert (tracking.carrier_of(" ".join(number[i:i + 4] for i in range(0, len(number), 4)).lower())
            is form)
    # What each scheme guarantees for one mistyped digit: mod 10 weighted 3 and 1 always sees
    # it; UPS's 1 and 2 misses a doubled digit off by 5; the mod 11 schemes (FedEx Express,
    # S10) fold two remainders into one check digit, so they are left out here.
    covered = {"UPS": range(2, 17),
               "FedEx": range(7, 21) if number.startswith("96") and len(number) == 22
               else range(len(number) - 1),
               "USPS": range(len(number) - 1)}[form.carrier]
    if "mod 11" in form.form:
        return
    i = list(covered)[where % len(covered)]
    if not number[i].isdigit() or form.carrier == "UPS" and (i - 2) % 2 == 1 and step == 5:
        return
    typo = number[:i] + str((int(number[i]) + step) % 10) + number[i + 1:]
    assert tracking.carrier_of(typo) is not form
