"""Advanced replacements through the CLI: the card hold, the 30-day clock and the nightly check.

SPEC §2 (AR-1..AR-4 and "The 30-day clock, exactly"), §3 (the advanced life) and §4
(`overdue`). Every event is recorded on the day it happened: `today=` is pinned to it.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import shutil

import pytest
import typer.main
import typer.testing
from builders import advanced as advanced_at
from builders import catalog
from clihelpers import cached_command, ok, query, raw, refused
from typer.testing import CliRunner

from speco_returns.cli import app

OVERDUE_KEYS = {"ra", "customer", "state", "delivered_on", "due_on", "days_overdue", "hold_amount"}
STATE_ORDER = ["overdue", "due-soon", "delivery-unknown", "return-stalled", "hold-expiring"]


# --- helpers ----------------------------------------------------------------------------


def ledger(db_path) -> list[tuple]:
    """(date, ra id, event, amount in cents, hold ref) as stored, oldest first."""
    return query(db_path, "SELECT happened_on, return_id, event, amount_cents, hold_ref FROM ledger ORDER BY id")


def ledger_csv(cli, today) -> list[dict]:
    result = ok(cli("export", "ledger", today=today))
    return list(csv.DictReader(io.StringIO(result.stdout_bytes.decode("utf-8"), newline="")))


def show(cli, ra, today) -> dict:
    return json.loads(ok(cli("show", ra, "--json", today=today)).stdout)


def overdue(cli, as_of, *extra, today="2027-06-30") -> list[dict]:
    rows = json.loads(ok(cli("overdue", "--as-of", as_of, *extra, "--json", today=today)).stdout)
    for row in rows:
        assert OVERDUE_KEYS <= set(row)
    return rows


def states(rows) -> list[tuple[str, str]]:
    return [(r["ra"], r["state"]) for r in rows]


def event(cli, ra, name, day, *args):
    """Record `name` on `day`, the agent's today."""
    return ok(cli(name, ra, *args, today=day))


advanced = functools.partial(advanced_at, email="ops@example.test", expires="2099-12-31")


def delivered(cli, serial, day, *, unit_shipped=None, **kw) -> str:
    """SERIAL-1 linked and held 2026-10-01, shipped 2026-10-02, delivered on `day` (and its unit
    shipped back on `unit_shipped`)."""
    if unit_shipped:
        kw.update(step="unit-shipped", unit_shipped=unit_shipped)
    return advanced(cli, f"{serial}-1", ship="2026-10-02", deliver=day, **kw)


@pytest.fixture(autouse=True)
def _catalog(cli):
    catalog(cli, "CAM-1=$1,299.00")


# --- the life of an advanced replacement ------------------------------------------------------


def test_advanced_replacement_end_to_end(cli, db_path):
    ra = advanced(cli, ["SN-1", "SN-2"], step="opened")
    doc = show(cli, ra, "2026-10-01")
    assert (doc["ra"], doc["status"], doc["hold_amount"], doc["due_on"]) == ("RA-000001", "authorized", "2598.00", None)

    lines = refused(cli("ship", ra, today="2026-10-01"))
    assert len(lines) == 1 and lines[0].startswith("error: AR-2")
    event(cli, ra, "link", "2026-10-02")
    assert show(cli, ra, "2026-10-02")["status"] == "link-sent"
    lines = refused(cli("ship", ra, today="2026-10-02"))
    assert len(lines) == 1 and lines[0].startswith("error: AR-2")
    assert show(cli, ra, "2026-10-02")["status"] == "link-sent"
    assert ledger(db_path) == []

    event(cli, ra, "hold", "2026-10-03", "--ref", "AUTH-778", "--expires", "2026-10-30")
    doc = show(cli, ra, "2026-10-03")
    assert doc["status"] == "hold-authorized"
    assert (doc["hold_ref"], doc["hold_active"], doc["hold_expires"]) == ("AUTH-778", True, "2026-10-30")

    event(cli, ra, "ship", "2026-10-04", "--tracking", "1Z999AA10123456784")
    assert show(cli, ra, "2026-10-04")["status"] == "replacement-shipped"
    event(cli, ra, "deliver", "2026-10-06")
    doc = show(cli, ra, "2026-10-06")
    assert (doc["status"], doc["due_on"]) == ("replacement-delivered", "2026-11-05")
    assert "2026-11-05" in ok(cli("show", ra, today="2026-10-06")).stdout
    event(cli, ra, "unit-shipped", "2026-10-20", "--tracking", "1Z999AA10123456785")
    assert show(cli, ra, "2026-10-20")["status"] == "unit-in-transit"
    event(cli, ra, "receive", "2026-10-24")

    doc = show(cli, ra, "2026-10-24")
    assert doc["status"] == "completed" and doc["hold_active"] is False
    assert [e["event"] for e in doc["events"]] == ["open", "link", "hold", "ship", "deliver", "unit-shipped", "receive"]
    assert ledger(db_path) == [("2026-10-03", 1, "hold-authorized", 259800, "AUTH-778"),
                               ("2026-10-24", 1, "hold-released", 259800, "AUTH-778")]
    assert [(r["date"], r["event"], r["amount"], r["hold_ref"]) for r in ledger_csv(cli, "2026-10-24")] == [
        ("2026-10-03", "hold-authorized", "2598.00", "AUTH-778"), ("2026-10-24", "hold-released", "2598.00", "AUTH-778")]
    assert overdue(cli, "2026-12-31") == []
    refused(cli("charge", ra, today="2026-12-31"))


def test_hold_needs_the_link_first(cli, db_path):
    ra = advanced(cli, "SN-1", step="opened")
    lines = refused(cli("hold", ra, "--ref", "AUTH-1", today="2026-10-01"))
    assert lines[0].startswith("error: AR-2")
    assert ledger(db_path) == [] and show(cli, ra, "2026-10-01")["status"] == "authorized"


def test_receive_is_allowed_once_the_replacement_ships(cli, db_path):
    ra = advanced(cli, "SN-1", step="shipped", ship="2026-10-02")
    event(cli, ra, "receive", "2026-10-05")
    doc = show(cli, ra, "2026-10-05")
    assert doc["status"] == "completed" and doc["hold_active"] is False
    assert [row[2] for row in ledger(db_path)] == ["hold-authorized", "hold-released"]


def test_receive_before_the_replacement_ships_is_refused(cli, db_path):
    ra = advanced(cli, "SN-1", step="held")
    assert len(refused(cli("receive", ra, today="2026-10-02"))) == 1
    assert show(cli, ra, "2026-10-02")["status"] == "hold-authorized"
    assert [row[2] for row in ledger(db_path)] == ["hold-authorized"]


# --- AR-4: charging -------------------------------------------------------------------------------


def test_charge_refused_on_the_due_date_allowed_the_day_after(cli, db_path):
    ra = delivered(cli, "SN", "2026-11-01")  # due 2026-12-01, overdue from 2026-12-02 (SPEC §2)
    assert show(cli, ra, "2026-11-01")["due_on"] == "2026-12-01"
    before = ledger(db_path)

    for day in ("2026-11-15", "2026-12-01"):
        lines = refused(cli("charge", ra, today=day))
        assert len(lines) == 1 and lines[0].startswith("error: AR-4")
        assert "2026-12-01" in lines[0]
    refused(cli("charge", ra, "--on", "2026-12-01", today="2026-12-05"))
    assert ledger(db_path) == before and show(cli, ra, "2026-12-01")["status"] == "replacement-delivered"

    doc = json.loads(ok(cli("charge", ra, "--json", today="2026-12-02")).stdout)
    assert doc["status"] == "charged" and doc["hold_active"] is False
    assert ledger(db_path)[-1] == ("2026-12-02", 1, "charged", 129900, "AUTH-1")
    assert [r["ra"] for r in json.loads(ok(cli("list", "--json")).stdout)] == []  # charged is closed
    assert [r["ra"] for r in json.loads(ok(cli("list", "--all", "--json")).stdout)] == [ra]


def test_charge_refused_before_delivery(cli, db_path):
    ra = advanced(cli, "SN-1", step="shipped", ship="2026-10-02")
    lines = refused(cli("charge", ra, today="2026-12-31"))
    assert len(lines) == 1 and lines[0].startswith("error: AR-4")
    assert show(cli, ra, "2026-12-31")["status"] == "replacement-shipped"


def test_receive_after_charge_is_a_late_return(cli, db_path):
    ra = delivered(cli, "SN", "2026-11-01")
    event(cli, ra, "charge", "2026-12-02")
    event(cli, ra, "receive", "2026-12-09")
    doc = show(cli, ra, "2026-12-09")
    assert doc["status"] == "late-return"
    assert [r["ra"] for r in json.loads(ok(cli("list", "--json")).stdout)] == [ra]  # late-return is open
    rows = ledger_csv(cli, "2026-12-09")
    assert [(r["date"], r["event"], r["amount"]) for r in rows] == [
        ("2026-10-01", "hold-authorized", "1299.00"), ("2026-12-02", "charged", "1299.00")]  # no money moved

    lines = refused(cli("complete", ra, today="2026-12-10"))
    assert len(lines) == 1 and "--note" in lines[0]
    assert show(cli, ra, "2026-12-10")["status"] == "late-return"
    event(cli, ra, "complete", "2026-12-10", "--note", "supervisor: refund in full")
    doc = show(cli, ra, "2026-12-10")
    assert doc["status"] == "completed"
    assert "supervisor: refund in full" in json.dumps(doc["events"][-1])
    assert len(ledger(db_path)) == 2  # `complete --note`: the charge stands, no ledger row


def test_unit_shipped_by_the_due_date_stops_the_clock(cli):
    ra = delivered(cli, "SN", "2026-11-01", unit_shipped="2026-12-01")
    assert overdue(cli, "2026-12-10") == []
    lines = refused(cli("charge", ra, today="2026-12-10"))
    assert lines[0].startswith("error: AR-4")
    assert states(overdue(cli, "2026-12-14")) == []
    assert states(overdue(cli, "2026-12-15")) == [(ra, "return-stalled")]  # 14 days in transit


def test_unit_shipped_after_the_due_date_is_still_overdue(cli):
    ra = delivered(cli, "SN", "2026-11-01", unit_shipped="2026-12-02")
    rows = overdue(cli, "2026-12-03")
    assert states(rows) == [(ra, "overdue")] and rows[0]["days_overdue"] == 2
    event(cli, ra, "charge", "2026-12-03")
    assert show(cli, ra, "2026-12-03")["status"] == "charged"


# --- cancel and re-hold -------------------------------------------------------------------------


def test_cancel_before_shipping_releases_the_hold(cli, db_path):
    ra = advanced(cli, "SN-1", step="held", hold="2026-10-02", ref="AUTH-9", expires="2026-10-09")
    event(cli, ra, "cancel", "2026-10-03", "--reason", "customer fixed it")
    doc = show(cli, ra, "2026-10-03")
    assert doc["status"] == "cancelled" and doc["hold_active"] is False
    assert ledger(db_path) == [("2026-10-02", 1, "hold-authorized", 129900, "AUTH-9"),
                               ("2026-10-03", 1, "hold-released", 129900, "AUTH-9")]
    assert overdue(cli, "2026-10-08") == []


def test_cancel_without_a_hold_writes_no_money(cli, db_path):
    ra = advanced(cli, "SN-1", step="linked")
    event(cli, ra, "cancel", "2026-10-02", "--reason", "changed mind")
    assert ledger(db_path) == []


def test_cancel_after_shipping_is_refused(cli, db_path):
    ra = advanced(cli, "SN-1", step="shipped", ship="2026-10-02")
    before = ledger(db_path)
    assert len(refused(cli("cancel", ra, "--reason", "too late", today="2026-10-03"))) == 1
    doc = show(cli, ra, "2026-10-03")
    assert doc["status"] == "replacement-shipped" and doc["hold_active"] is True
    assert ledger(db_path) == before


def test_rehold_replaces_the_expiry(cli, db_path):
    ra = delivered(cli, "SN", "2026-10-05", ref="AUTH-1", expires="2026-10-08")
    assert states(overdue(cli, "2026-10-06")) == [(ra, "hold-expiring")]

    event(cli, ra, "hold", "2026-10-07", "--ref", "AUTH-2", "--expires", "2026-11-06")
    doc = show(cli, ra, "2026-10-07")
    assert doc["status"] == "replacement-delivered"  # re-authorizing keeps the state
    assert (doc["hold_ref"], doc["hold_expires"], doc["hold_active"]) == ("AUTH-2", "2026-11-06", True)
    assert [(row[0], row[2], row[4]) for row in ledger(db_path)] == [
        ("2026-10-01", "hold-authorized", "AUTH-1"), ("2026-10-07", "hold-released", "AUTH-1"),
        ("2026-10-07", "hold-authorized", "AUTH-2")]
    held = sum(row[3] for row in ledger(db_path) if row[2] == "hold-authorized")
    released = sum(row[3] for row in ledger(db_path) if row[2] == "hold-released")
    assert held - released == 129900  # never counted twice

    assert overdue(cli, "2026-10-07") == []  # the new expiry is a month away
    assert states(overdue(cli, "2026-10-06")) == [(ra, "hold-expiring")]  # that night's answer
    assert overdue(cli, "2026-11-02") == []
    rows = overdue(cli, "2026-11-03")
    assert states(rows) == [(ra, "hold-expiring")]

    event(cli, ra, "receive", "2026-10-20")
    assert [row[2] for row in ledger(db_path)][-1] == "hold-released"
    assert ledger(db_path)[-1][4] == "AUTH-2"


@pytest.mark.parametrize("ref", ["4111 1111 1111 1111", "4111-1111-1111-1111", "card 4111111111111111 ok",
                                 "4111 1111 1111 1111 123", "AUTH 5500 0000 0000 0004"])
def test_hold_reference_with_a_card_number_is_refused(cli, db_path, ref):
    ra = advanced(cli, "SN-1", step="linked")
    result = cli("hold", ra, "--ref", ref, "--json", today="2026-10-02")
    lines = refused(result)
    assert len(lines) == 1
    assert result.stdout == ""
    digits = ref.replace(" ", "").replace("-", "")
    for text in (result.output, result.output.replace(" ", "").replace("-", "")):
        assert "1111" not in text and "0000" not in text and digits not in text
    assert ledger(db_path) == []
    assert show(cli, ra, "2026-10-02")["status"] == "link-sent"


def test_hold_reference_with_a_short_number_is_fine(cli, db_path):
    ra = advanced(cli, "SN-1", step="linked")
    event(cli, ra, "hold", "2026-10-02", "--ref", "TXN-411111111111")  # 12 digits: not a card number
    assert ledger(db_path)[0][4] == "TXN-411111111111"


# --- the nightly check ------------------------------------------------------------------------------


def test_overdue_row(cli):
    ra = delivered(cli, "SN", "2026-11-01", customer="Acme Security")
    assert overdue(cli, "2026-12-01") == []
    rows = overdue(cli, "2026-12-02")
    assert rows == [{**rows[0], "ra": ra, "customer": "Acme Security", "state": "overdue", "delivered_on": "2026-11-01",
                     "due_on": "2026-12-01", "days_overdue": 1, "hold_amount": "1299.00"}]
    assert isinstance(rows[0]["days_overdue"], int)
    assert overdue(cli, "2026-12-31")[0]["days_overdue"] == 30


def test_overdue_default_as_of_is_today(cli):
    ra = delivered(cli, "SN", "2026-11-01")
    assert json.loads(ok(cli("overdue", "--json", today="2026-12-01")).stdout) == []
    assert states(json.loads(ok(cli("overdue", "--json", today="2026-12-02")).stdout)) == [(ra, "overdue")]


def test_due_soon_only_with_within(cli):
    ra = delivered(cli, "SN", "2026-11-01")  # due 2026-12-01
    assert overdue(cli, "2026-11-28") == []
    assert overdue(cli, "2026-11-28", "--within", "2") == []
    rows = overdue(cli, "2026-11-28", "--within", "3")
    assert states(rows) == [(ra, "due-soon")]
    assert rows[0]["days_overdue"] is None and rows[0]["due_on"] == "2026-12-01"
    assert states(overdue(cli, "2026-12-01", "--within", "0")) == [(ra, "due-soon")]
    assert states(overdue(cli, "2026-12-02", "--within", "5")) == [(ra, "overdue")]


def test_delivery_unknown(cli):
    ra = advanced(cli, "SN-1", step="shipped", ship="2026-11-01")
    assert overdue(cli, "2026-11-11") == []
    rows = overdue(cli, "2026-11-12")
    assert states(rows) == [(ra, "delivery-unknown")]
    assert rows[0]["delivered_on"] is None and rows[0]["due_on"] is None and rows[0]["days_overdue"] is None


def test_return_stalled(cli):
    ra = delivered(cli, "SN", "2026-11-01", unit_shipped="2026-11-10")
    assert overdue(cli, "2026-11-23") == []
    rows = overdue(cli, "2026-11-24")
    assert states(rows) == [(ra, "return-stalled")] and rows[0]["days_overdue"] is None
    assert states(overdue(cli, "2026-12-20")) == [(ra, "return-stalled")]  # in time, so never overdue
    event(cli, ra, "receive", "2026-11-25")
    assert overdue(cli, "2026-12-20") == []


def test_hold_expiring(cli):
    soon = delivered(cli, "SN1", "2026-12-01", expires="2026-12-13")
    later = delivered(cli, "SN2", "2026-12-01", expires="2026-12-14")
    never = delivered(cli, "SN3", "2026-12-01")
    rows = overdue(cli, "2026-12-10")
    assert states(rows) == [(soon, "hold-expiring")]
    assert rows[0]["days_overdue"] is None
    assert states(overdue(cli, "2026-12-11")) == [(soon, "hold-expiring"), (later, "hold-expiring")]
    assert never not in {r["ra"] for r in overdue(cli, "2026-12-31")}


def test_hold_expiring_stops_when_the_unit_is_back(cli):
    ra = delivered(cli, "SN", "2026-12-01", expires="2026-12-05")
    assert states(overdue(cli, "2026-12-04")) == [(ra, "hold-expiring")]
    event(cli, ra, "receive", "2026-12-04")
    assert overdue(cli, "2026-12-04") == []


@pytest.fixture(scope="module")
def every_state_db(tmp_path_factory):
    """Built once, copied for each test: RA-000001 hold-expiring, 2 return-stalled, 3 delivery-unknown,
    4 due-soon (within 3), 5 and 6 overdue, 7 fine, as of 2026-12-10."""
    path = tmp_path_factory.mktemp("every-state") / "returns.db"
    runner = CliRunner()

    def cli(*args, today=None):
        env = {"SPECO_RETURNS_DB": str(path), "SPECO_RETURNS_AGENT": "tester", "SPECO_RETURNS_TODAY": today}
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(typer.testing, "_get_command", cached_command)
            return runner.invoke(app, list(args), env=env)

    _build_every_state(cli)
    assert not path.with_name("returns.db-wal").exists()  # closed whole: the file alone is the database
    return path


def _build_every_state(cli) -> None:
    catalog(cli, "CAM-1=$1,299.00")
    delivered(cli, "SN1", "2026-12-01", expires="2026-12-12")
    delivered(cli, "SN2", "2026-11-01", unit_shipped="2026-11-20")
    advanced(cli, "SN3-1", step="shipped", ship="2026-11-25")
    delivered(cli, "SN4", "2026-11-12")
    delivered(cli, "SN5", "2026-11-05")
    delivered(cli, "SN6", "2026-11-01")
    delivered(cli, "SN7", "2026-11-30")


@pytest.fixture
def every_state(request, db_path, cli):
    if isinstance(db_path, str):  # a server database: built in it (the file copy below is SQLite's)
        _build_every_state(cli)
        return
    every_state_db = request.getfixturevalue("every_state_db")
    for leftover in (db_path.with_name("returns.db-wal"), db_path.with_name("returns.db-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(every_state_db, db_path)


def test_overdue_orders_states_then_ra(cli, every_state):
    rows = overdue(cli, "2026-12-10", "--within", "3")
    assert states(rows) == [("RA-000005", "overdue"), ("RA-000006", "overdue"), ("RA-000004", "due-soon"),
                            ("RA-000003", "delivery-unknown"), ("RA-000002", "return-stalled"), ("RA-000001", "hold-expiring")]
    assert [r["days_overdue"] for r in rows] == [5, 9, None, None, None, None]
    assert [r["state"] for r in rows] == sorted((r["state"] for r in rows), key=STATE_ORDER.index)


def test_overdue_csv(cli, every_state):
    result = ok(cli("overdue", "--as-of", "2026-12-10", "--within", "3", "--csv"))
    rows = list(csv.DictReader(io.StringIO(result.stdout_bytes.decode("utf-8"), newline="")))
    assert OVERDUE_KEYS <= set(rows[0])
    assert [(r["ra"], r["state"], r["days_overdue"]) for r in rows] == [
        ("RA-000005", "overdue", "5"), ("RA-000006", "overdue", "9"), ("RA-000004", "due-soon", ""),
        ("RA-000003", "delivery-unknown", ""), ("RA-000002", "return-stalled", ""), ("RA-000001", "hold-expiring", "")]
    assert rows[0]["hold_amount"] == "1299.00" and rows[0]["due_on"] == "2026-12-05"
    assert cli("overdue", "--json", "--csv").exit_code == 2


def test_overdue_human(cli, every_state):
    out = ok(cli("overdue", "--as-of", "2026-12-10", "--within", "3")).stdout
    for ra in ("RA-000001", "RA-000002", "RA-000003", "RA-000004", "RA-000005", "RA-000006"):
        assert ra in out
    assert "RA-000007" not in out
    assert "$1,299.00" in out


def test_overdue_check_exit_codes(cli, every_state):
    assert cli("overdue", "--as-of", "2026-12-10", "--check").exit_code == 3
    result = cli("overdue", "--as-of", "2026-12-10", "--check", "--json")
    assert result.exit_code == 3 and states(json.loads(result.stdout))[0] == ("RA-000005", "overdue")
    # the night before anything is overdue: due-soon rows alone exit 0
    result = cli("overdue", "--as-of", "2026-12-01", "--within", "30", "--check", "--json")
    assert result.exit_code == 0, result.output
    assert {r["state"] for r in json.loads(result.stdout)} == {"due-soon"}
    assert cli("overdue", "--as-of", "2026-10-01", "--check").exit_code == 0


@pytest.mark.parametrize("build, as_of, state", [
    (lambda cli: delivered(cli, "SN", "2026-11-01", expires="2026-11-20"), "2026-11-18", "hold-expiring"),
    (lambda cli: delivered(cli, "SN", "2026-11-01", unit_shipped="2026-11-02"), "2026-12-20", "return-stalled"),
    (lambda cli: advanced(cli, "SN-1", step="shipped", ship="2026-10-02"), "2026-12-20", "delivery-unknown"),
    (lambda cli: delivered(cli, "SN", "2026-11-01"), "2026-11-30", "due-soon"),
])
def test_overdue_check_ignores_other_states(cli, build, as_of, state):
    build(cli)
    result = cli("overdue", "--as-of", as_of, "--within", "5", "--check", "--json")
    assert result.exit_code == 0, result.output
    assert [r["state"] for r in json.loads(result.stdout)] == [state]
    assert cli("overdue", "--as-of", as_of, "--within", "5", "--check").exit_code == 0


def test_overdue_orders_ra_numbers_by_number_past_999999(cli, db_path):
    """RA numbers grow wider past RA-999999 (SPEC §4); "then RA" still means RA-999999 before RA-1000000."""
    delivered(cli, "SN0", "2026-11-01")
    with raw(db_path) as conn:  # a database that has already issued 999,998 RA numbers
        conn.execute("UPDATE returns SET ra_no = 999998 WHERE ra_no = 1")
    assert show(cli, "RA-999998", "2026-12-10")["customer"]
    assert delivered(cli, "SN1", "2026-11-01") == "RA-999999"
    assert delivered(cli, "SN2", "2026-11-01") == "RA-1000000"
    assert show(cli, "ra-1000000", "2026-12-10")["ra"] == "RA-1000000"
    assert states(overdue(cli, "2026-12-10")) == [("RA-999998", "overdue"), ("RA-999999", "overdue"), ("RA-1000000", "overdue")]


def test_overdue_check_with_nothing_at_all(cli):
    result = cli("overdue", "--check", "--json", today="2026-12-10")
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_a_past_night_gives_that_nights_answer(cli):
    ra = advanced(cli, "SN-1", ship="2026-10-20", deliver="2026-11-01")
    charged = delivered(cli, "SN2", "2026-11-01")
    event(cli, ra, "receive", "2026-12-05")
    event(cli, charged, "charge", "2026-12-04")
    event(cli, charged, "receive", "2026-12-06")  # late-return now

    rows = overdue(cli, "2026-12-03")
    assert states(rows) == [(ra, "overdue"), (charged, "overdue")]
    assert [r["days_overdue"] for r in rows] == [2, 2]
    assert states(overdue(cli, "2026-12-04")) == [(ra, "overdue")]
    assert overdue(cli, "2026-12-05") == []
    # 11 and 29 days after shipping, with no delivery recorded yet that night
    assert states(overdue(cli, "2026-10-31")) == [(ra, "delivery-unknown"), (charged, "delivery-unknown")]
    assert cli("overdue", "--as-of", "2026-12-03", "--check").exit_code == 3
    assert cli("overdue", "--as-of", "2026-12-05", "--check").exit_code == 0
    assert overdue(cli, "2026-09-30") == []  # nothing opened yet


def test_overdue_ignores_cancelled_and_other_types(cli):
    ra = advanced(cli, "SN-1", step="held", expires="2026-10-02")
    event(cli, ra, "cancel", "2026-10-02", "--reason", "duplicate")
    ok(cli("open", "--type", "standard", "--customer", "B", "--item", "CAM-1", today="2026-10-01"))
    assert overdue(cli, "2026-12-31") == []
    assert states(overdue(cli, "2026-10-01")) == [(ra, "hold-expiring")]  # before the cancel


@pytest.mark.parametrize("args", [["--as-of", "someday"], ["--as-of", "2026-02-30"]])
def test_overdue_bad_as_of(cli, args):
    result = cli("overdue", *args, "--json")
    assert len(refused(result)) == 1 and result.stdout == ""


def test_overdue_as_of_may_be_in_the_future(cli):
    ra = delivered(cli, "SN", "2026-11-01")
    assert states(overdue(cli, "2027-01-01", today="2026-11-01")) == [(ra, "overdue")]


# --- the hold's dates ----------------------------------------------------------------------------


def test_a_re_authorized_hold_bounds_the_dates_of_later_events(cli):
    ra = delivered(cli, "SN", "2026-11-01")
    event(cli, ra, "hold", "2026-11-20", "--ref", "AUTH-2", "--expires", "2026-12-20")
    # A re-authorization is a money event: nothing after it is dated before it (SPEC §3, issue 10).
    lines = refused(cli("unit-shipped", ra, "--on", "2026-11-15", today="2026-11-21"))
    assert len(lines) == 1 and "2026-11-20" in lines[0]
    # Notes do not move the state or money: they are dated freely, but never before the floor either.
    refused(cli("note", ra, "called the customer", "--on", "2026-11-16", today="2026-11-21"))
    ok(cli("unit-shipped", ra, "--on", "2026-11-20", today="2026-11-21"))
    assert show(cli, ra, "2026-11-21")["unit_shipped_on"] == "2026-11-20"
    assert states(overdue(cli, "2026-12-10")) == [(ra, "return-stalled")]  # in time, but 20 days in transit


def test_a_re_authorization_is_not_dated_before_the_hold_it_replaces(cli):
    ra = delivered(cli, "SN", "2026-11-01")
    event(cli, ra, "hold", "2026-11-20", "--ref", "AUTH-2")
    lines = refused(cli("hold", ra, "--ref", "AUTH-3", "--on", "2026-11-10", today="2026-11-21"))
    assert "2026-11-20" in lines[0]


def test_a_hold_cannot_expire_before_it_is_authorized(cli, db_path):
    ra = advanced(cli, "SN-1", step="linked")
    refused(cli("hold", ra, "--ref", "AUTH-1", "--expires", "2026-09-30", "--on", "2026-10-01", today="2026-10-02"))
    assert show(cli, ra, "2026-10-02")["status"] == "link-sent"


def test_shipping_on_a_lapsed_hold_is_refused_until_it_is_re_authorized(cli):
    ra = advanced(cli, "SN-1", step="held", expires="2026-10-05")
    lines = refused(cli("ship", ra, "--on", "2026-10-06", today="2026-10-06"))
    assert lines[0].startswith("error: AR-2:") and "2026-10-05" in lines[0]
    ok(cli("ship", ra, "--on", "2026-10-05", today="2026-10-06"))  # on the expiry day itself the hold stands


def test_re_authorizing_a_lapsed_hold_lets_it_ship(cli):
    ra = advanced(cli, "SN-1", step="held", expires="2026-10-05")
    event(cli, ra, "hold", "2026-10-06", "--ref", "AUTH-2", "--expires", "2026-10-13")
    assert show(cli, ra, "2026-10-06")["status"] == "hold-authorized"
    event(cli, ra, "ship", "2026-10-06")
