"""`void RA --reason`: a slip undone (SPEC §3).

Every voidable state of every type is reached by a path of events; the last event is
voided, and the return must then equal a twin that never had that event: same state,
same dates, same hold, and the same money outstanding in the ledger. The history keeps
both the event and the void.
"""

from __future__ import annotations

import json

import pytest
from builders import catalog
from clihelpers import counts, ok, query, raw, refused

TODAY = "2026-03-31"
OPENED = "2026-01-01"
# event -> (date, extra arguments). Charge paths deliver on 01-05: due 02-04, chargeable from 02-05.
EVENTS = {
    "link": ("2026-01-02", ()),
    "hold": ("2026-01-03", ("--ref", "H-1", "--expires", "2026-12-31")),
    "rehold": ("2026-01-04", ("--ref", "H-2", "--expires", "2026-12-31")),
    "ship": ("2026-01-04", ()),
    "ship-back": ("2026-01-09", ()),  # standard: after the unit is received (STD-1)
    "deliver": ("2026-01-05", ()),
    "unit-shipped": ("2026-01-06", ()),
    "receive": ("2026-01-07", ()),
    "charge": ("2026-02-10", ()),
    "late-receive": ("2026-02-12", ()),
    "complete": ("2026-02-13", ("--note", "charge stands")),
    "refund": ("2026-02-13", ("--ref", "RF-1", "--amount", "100")),
    "cancel": ("2026-01-08", ("--reason", "customer changed mind")),
}
PATHS = {
    "standard": [["unit-shipped", "receive", "ship-back"], ["receive"], ["cancel"]],
    "counter": [["complete"], ["cancel"]],
    "advanced": [
        ["link", "hold", "ship", "deliver", "unit-shipped", "receive"],
        ["link", "hold", "ship", "receive"],
        ["link", "hold", "ship", "deliver", "receive"],
        ["link", "hold", "rehold"],
        ["link", "hold", "cancel"],
        ["link", "cancel"],
        ["cancel"],
        ["link", "hold", "ship", "deliver", "charge"],
    ],
    "virtual": [["ship"], ["cancel"]],
}
# A charge is not voided as a slip (test_money.py: only with the processor's reversal reference).
CASES = sorted({(t, tuple(path[:k])) for t, paths in PATHS.items() for path in paths
                for k in range(1, len(path) + 1) if path[k - 1] != "charge"})
COMPARED = ("status", "hold_amount", "hold_ref", "hold_active", "hold_expires", "shipped_on",
            "delivered_on", "due_on", "unit_shipped_on", "received_on", "charged_on", "closed_on",
            "next_step", "warnings")
# Signed effect of a ledger row on (outstanding holds, money kept): SPEC §5.
SIGNS = {"hold-authorized": (1, 0), "hold-released": (-1, 0), "charged": (-1, 1),
         "refunded": (0, -1)}


@pytest.fixture(autouse=True)
def _catalog(cli):
    catalog(cli, "CAM-1=1,299.99")


_serial = iter(range(1, 10_000))


def open_return(cli, type_: str, customer: str = "Acme") -> str:
    args = {"standard": [], "counter": ["--ticket", f"TT-{next(_serial)}", "--distributor", "ADI"],
            "advanced": ["--serial", f"SN-{next(_serial):05d}"],
            "virtual": ["--serial", f"SN-{next(_serial):05d}", "--approved-by", "Sue", "--reason",
                        "DOA"]}[type_]
    result = ok(cli("open", "--type", type_, "--customer", customer, "--item", "CAM-1", *args,
                    "--on", OPENED, "--json", today=TODAY))
    return json.loads(result.stdout)["ra"]


def apply(cli, ra: str, names) -> None:
    for name in names:
        day, extra = EVENTS[name]
        command = {"rehold": "hold", "late-receive": "receive", "ship-back": "ship"}.get(name, name)
        ok(cli(command, ra, "--on", day, *extra, today=TODAY))


def show(cli, ra) -> dict:
    return json.loads(ok(cli("show", ra, "--json", today=TODAY)).stdout)


def money(db_path, ra_key_id: int) -> tuple[int, int]:
    """(outstanding holds, money kept) of one return, summed from its ledger rows."""
    rows = query(db_path, "SELECT event, amount_cents FROM ledger WHERE return_id = ?", [ra_key_id])
    return (sum(SIGNS[e][0] * a for e, a in rows), sum(SIGNS[e][1] * a for e, a in rows))


def return_id(db_path, doc: dict) -> int:
    column, value = (("ticket", doc["ra"]) if doc["type"] == "counter"
                     else ("ra_no", int(doc["ra"][3:])))
    return query(db_path, f"SELECT id FROM returns WHERE {column} = ?", [value])[0][0]


@pytest.mark.parametrize("type_, path", CASES, ids=[f"{t}:{'>'.join(p)}" for t, p in CASES])
def test_void_restores_the_state_and_the_money_before_the_event(cli, db_path, type_, path):
    ra = open_return(cli, type_)
    apply(cli, ra, path)
    twin = open_return(cli, type_)
    apply(cli, twin, path[:-1])
    before = show(cli, ra)
    result = ok(cli("void", ra, "--reason", "typed on the wrong RA", today=TODAY))
    assert result.stdout.startswith(f"{ra}: voided "), result.stdout
    after, expected = show(cli, ra), show(cli, twin)
    assert {k: after[k] for k in COMPARED} == {k: expected[k] for k in COMPARED}
    assert money(db_path, return_id(db_path, after)) == money(db_path, return_id(db_path, expected))
    # append-only: every earlier event is still there, then the void naming what it undid
    assert after["events"][:-1] == before["events"]
    last = after["events"][-1]
    assert (last["event"], last["on"], last["reason"]) == ("void", TODAY, "typed on the wrong RA")
    assert ((last["voided"], last["voided_on"])
            == (before["events"][-1]["event"], before["events"][-1]["on"]))
    assert ok(cli("doctor", today=TODAY)).exit_code == 0  # the replay agrees with the columns


def test_voiding_a_receive_that_released_a_hold_re_authorizes_it(cli, db_path):
    ra = open_return(cli, "advanced")
    apply(cli, ra, ["link", "hold", "ship", "deliver", "receive"])
    result = ok(cli("void", ra, "--reason", "wrong RA", today=TODAY))
    assert "card hold $1,299.99 authorized (ref H-1)" in result.stdout
    rows = query(db_path,
                 "SELECT happened_on, event, amount_cents, hold_ref FROM ledger ORDER BY id")
    assert rows[-2:] == [("2026-01-07", "hold-released", 129999, "H-1"),
                         (TODAY, "hold-authorized", 129999, "H-1")]
    doc = show(cli, ra)
    assert ((doc["status"], doc["hold_active"], doc["received_on"], doc["closed_on"])
            == ("replacement-delivered", True, None, None))


def test_a_charge_is_not_voided_as_a_slip_the_refusal_names_refund_ref(cli, db_path):
    ra = open_return(cli, "advanced")
    apply(cli, ra, ["link", "hold", "ship", "deliver", "charge"])
    before = counts(db_path)
    lines = refused(cli("void", ra, "--reason", "charged too early", today=TODAY))
    assert (len(lines) == 1 and "`refund --ref REF`" in lines[0]
            and "`void --reason TEXT --ref REF`" in lines[0])
    assert counts(db_path) == before
    assert show(cli, ra)["status"] == "charged"


@pytest.mark.parametrize("path, message", [
    (["late-receive"], "of a late return is a supervisor's record and cannot be voided"),
    (["late-receive", "complete"],
     "of a late return is a supervisor's record and cannot be voided"),
    (["late-receive", "refund"],
     "a refund is money paid back to the customer: it cannot be voided"),
])
def test_a_late_return_s_events_and_a_refund_are_not_voided(cli, db_path, path, message):
    ra = open_return(cli, "advanced")
    apply(cli, ra, ["link", "hold", "ship", "deliver", "charge", *path])
    before = counts(db_path)
    lines = refused(cli("void", ra, "--reason", "undo", today=TODAY))
    assert message in lines[0]
    assert counts(db_path) == before
    ok(cli("doctor", today=TODAY))


def test_voids_stack_back_to_the_opening_and_no_further(cli, db_path):
    ra = open_return(cli, "advanced")
    apply(cli, ra, ["link", "hold", "ship"])
    for expected in ("hold-authorized", "link-sent", "authorized"):
        ok(cli("void", ra, "--reason", "undo", today=TODAY))
        assert show(cli, ra)["status"] == expected
    assert money(db_path, return_id(db_path, show(cli, ra))) == (0, 0)
    before = counts(db_path)
    lines = refused(cli("void", ra, "--reason", "undo", today=TODAY))
    assert lines == ["error: nothing to void: only the opening is recorded "
                     "(to close the return, `cancel` it)"]
    assert counts(db_path) == before


def test_notes_serial_edits_and_edits_do_not_stand_in_the_way(cli):
    ra = open_return(cli, "standard")
    apply(cli, ra, ["receive"])
    ok(cli("note", ra, "unit arrived, wrong box?", today=TODAY))
    ok(cli("edit", ra, "--phone", "555-0100", today=TODAY))
    ok(cli("void", ra, "--reason", "it was for another RA", today=TODAY))
    assert show(cli, ra)["status"] == "authorized"


def test_a_voided_event_can_be_recorded_again_at_its_true_date(cli):
    # deliver typed with the wrong date: void it, record the right one; the clock follows.
    ra = open_return(cli, "advanced")
    apply(cli, ra, ["link", "hold", "ship"])
    ok(cli("deliver", ra, "--on", "2026-01-05", today=TODAY))
    ok(cli("void", ra, "--reason", "wrong date", today=TODAY))
    ok(cli("deliver", ra, "--on", "2026-01-20", today=TODAY))
    assert show(cli, ra)["due_on"] == "2026-02-19"
    rows = json.loads(ok(cli("overdue", "--as-of", "2026-02-19", "--json", today=TODAY)).stdout)
    # due that day, not overdue (the void is honoured)
    assert [r["state"] for r in rows if r["ra"] == ra] == []


def test_a_void_that_moved_money_bounds_later_dates(cli):
    ra = open_return(cli, "advanced")
    apply(cli, ra, ["link", "hold", "ship", "deliver", "receive"])
    ok(cli("void", ra, "--reason", "wrong RA", "--on", "2026-03-01", today=TODAY))
    lines = refused(cli("receive", ra, "--on", "2026-02-01", today=TODAY))
    assert "(2026-03-01)" in lines[0] and "before" in lines[0]
    ok(cli("receive", ra, "--on", "2026-03-02", today=TODAY))


def test_void_refuses_a_date_before_the_event_or_in_the_future(cli, db_path):
    ra = open_return(cli, "standard")
    apply(cli, ra, ["receive"])  # 2026-01-07
    before = counts(db_path)
    assert ("before the event it voids (2026-01-07)"
            in refused(cli("void", ra, "--reason", "x", "--on", "2026-01-06", today=TODAY))[0])
    assert ("in the future"
            in refused(cli("void", ra, "--reason", "x", "--on", "2026-04-01", today=TODAY))[0])
    assert counts(db_path) == before


def test_void_needs_a_reason_free_of_card_numbers(cli, db_path):
    ra = open_return(cli, "standard")
    apply(cli, ra, ["receive"])
    before = counts(db_path)
    assert "--reason is empty" in refused(cli("void", ra, "--reason", "  ", today=TODAY))[0]
    assert ("card number"
            in refused(cli("void", ra, "--reason", "card 4111 1111 1111 1111", today=TODAY))[0])
    assert counts(db_path) == before


def test_reopening_by_void_refuses_a_serial_now_on_another_open_return(cli, db_path):
    ra = open_return(cli, "advanced")
    apply(cli, ra, ["cancel"])
    serial = show(cli, ra)["items"][0]["serials"][0]
    ok(cli("open", "--type", "standard", "--customer", "B", "--item", "CAM-1", "--serial", serial,
           today=TODAY))
    before = counts(db_path)
    lines = refused(cli("void", ra, "--reason", "cancelled by mistake", today=TODAY))
    assert lines[0].startswith(f"error: SER-1: serial {serial} is now on open return RA-")
    assert counts(db_path) == before


def test_void_with_json_prints_the_return(cli):
    ra = open_return(cli, "virtual")
    apply(cli, ra, ["ship"])
    doc = json.loads(ok(cli("void", ra, "--reason", "not shipped yet", "--json",
                            today=TODAY)).stdout)
    assert (doc["ra"], doc["status"], doc["closed_on"]) == (ra, "authorized", None)


def test_doctor_names_a_return_whose_state_disagrees_with_its_history(cli, db_path):
    ra = open_return(cli, "standard")
    apply(cli, ra, ["receive"])
    ok(cli("void", ra, "--reason", "wrong RA", today=TODAY))
    with raw(db_path) as conn:
        conn.execute("UPDATE returns SET status = 'unit-received'")
    result = cli("doctor", today=TODAY)
    assert result.exit_code == 1
    assert f"{ra}: status is unit-received, history says authorized" in result.stderr
