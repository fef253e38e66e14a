"""Accounting that reconciles (SPEC §5): the signed ledger, refunds, the holds export, `report`,
processor references, and the upgrade of 0.1 ledgers. Driven through the CLI; the reconciliation
is also a hypothesis property over generated months."""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import sqlite3
import tempfile
from datetime import date, timedelta
from decimal import Decimal

import pytest
from builders import advanced, catalog, migration_named, older_database
from clihelpers import counts, ok, query, raw, refused
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from speco_returns.cli import app
from speco_returns.errors import ReturnsError

HOLDS_COLUMNS = ["ra", "customer", "email", "hold_amount", "hold_ref", "authorized_on",
                 "expires_on", "state", "settled_on", "charged", "refunded", "in_review",
                 "expires_estimated", "consent", "consent_on"]
MONEY = ("opening_holds", "authorized", "released", "charged", "lapsed", "refunded",
         "closing_holds", "in_review", "overdue")


def csv_rows(result) -> list[dict]:
    rows = list(csv.reader(io.StringIO(result.stdout_bytes.decode("utf-8"), newline="")))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def export(cli, kind: str, *args: str, today: str = "2026-12-31") -> list[dict]:
    return csv_rows(ok(cli("export", kind, *args, today=today)))


def report(cli, *args: str, today: str = "2026-12-31") -> dict:
    return json.loads(ok(cli("report", "--json", *args, today=today)).stdout)


def ev(cli, ra: str, name: str, day: str, *args: str):
    return ok(cli(name, ra, *args, "--on", day, today=day))


# linked, held on the day opened
held = functools.partial(advanced, step="held", email="a@example.com", expires="2099-12-31")


def charged(cli, serial: str, opened: str = "2026-09-01", *, deliver: str = "2026-09-02", charge: str = "2026-10-05",
            ref: str = "AUTH-1") -> str:
    ra = advanced(cli, f"{serial}-000", on=opened, email="a@example.com", ref=ref, ship=deliver,
                  expires="2099-12-31")
    ev(cli, ra, "charge", charge)
    return ra


def ledger_rows(db_path) -> list[tuple]:
    return query(db_path, "SELECT event, amount_cents, holds_change, charges_change, hold_ref, reason FROM ledger ORDER BY id")


@pytest.fixture(autouse=True)
def _catalog(cli):
    catalog(cli, "CAM-1=250.00")


# --- 1. the signed ledger -----------------------------------------------------------------------


def test_every_movement_is_signed_so_sums_are_balances(cli, db_path):
    ra = charged(cli, "A")
    ok(cli("hold", held(cli, "B-000", on="2026-09-03", ref="AUTH-2"), "--ref", "AUTH-3",
           "--expires", "2099-12-31", "--on", "2026-09-04", today="2026-09-04"))
    ev(cli, ra, "receive", "2026-10-09")
    ev(cli, ra, "refund", "2026-10-10", "--ref", "RF-1", "--amount", "100")
    assert [r[:4] for r in ledger_rows(db_path)] == [
        ("hold-authorized", 25000, 25000, 0),
        ("charged", 25000, -25000, 25000),     # a hold converted into money kept
        ("hold-authorized", 25000, 25000, 0),
        ("hold-released", 25000, -25000, 0),  # the re-authorization: the old hold released...
        ("hold-authorized", 25000, 25000, 0),  # ...and the new one authorized
        ("refunded", 10000, 0, -10000),
    ]
    rows = export(cli, "ledger")
    assert [(r["event"], r["amount"], r["holds_change"], r["charges_change"]) for r in rows][-2:] == [
        ("charged", "250.00", "-250.00", "250.00"), ("refunded", "100.00", "0.00", "-100.00")]
    # outstanding: RA-000002's second hold; kept: the charge less the refund
    assert sum(Decimal(r["holds_change"]) for r in rows) == Decimal("250.00")
    assert sum(Decimal(r["charges_change"]) for r in rows) == Decimal("150.00")


def test_negative_amounts_stay_plain_numbers_in_every_csv(cli):
    """The formula guard is for text: `-250.00` is a number, not a formula, and is never prefixed."""
    ra = charged(cli, "A")
    ev(cli, ra, "receive", "2026-10-09")
    ev(cli, ra, "refund", "2026-10-10", "--ref", "RF-1")
    rows = export(cli, "ledger")
    negatives = [r[c] for r in rows for c in ("holds_change", "charges_change") if r[c].startswith("-")]
    assert negatives == ["-250.00", "-250.00"]
    figures = csv_rows(ok(cli("report", "--csv", "--from", "2026-10-01", "--to", "2026-10-31", today="2026-12-31")))
    kept = {r["figure"]: r["amount"] for r in figures}
    assert kept["money_kept_change"] == "0.00" and kept["closing_holds"] == "0.00"
    later = csv_rows(ok(cli("report", "--csv", "--from", "2026-10-10", "--to", "2026-10-10", today="2026-12-31")))
    assert {r["figure"]: r["amount"] for r in later}["money_kept_change"] == "-250.00"


def test_a_late_return_is_not_a_money_movement(cli, db_path):
    ra = charged(cli, "A")
    before = ledger_rows(db_path)
    ev(cli, ra, "receive", "2026-10-09")
    assert ledger_rows(db_path) == before
    assert report(cli, "--from", "2026-10-01", "--to", "2026-10-31")["in_review"] == {"count": 1, "amount": "250.00"}


# --- 2. refunds ------------------------------------------------------------------------------------


def test_refund_in_full_by_default_writes_a_refunded_row_and_completes(cli, db_path):
    ra = charged(cli, "A")
    ev(cli, ra, "receive", "2026-10-09")
    result = ev(cli, ra, "refund", "2026-10-12", "--ref", "RF-77", "--reason", "supervisor K. Alvarez: unit fine")
    assert "completed" in result.stdout
    assert ledger_rows(db_path)[-1] == ("refunded", 25000, 0, -25000, "RF-77", "supervisor K. Alvarez: unit fine")
    doc = json.loads(ok(cli("show", ra, "--json")).stdout)
    assert doc["status"] == "completed" and doc["closed_on"] == "2026-10-12"
    assert doc["events"][-1].items() >= {"event": "refund", "ref": "RF-77", "amount": "250.00",
                                         "reason": "supervisor K. Alvarez: unit fine"}.items()
    rows = export(cli, "ledger", "--from", "2026-10-12")
    assert [(r["date"], r["event"], r["amount"], r["hold_ref"]) for r in rows] == [
        ("2026-10-12", "refunded", "250.00", "RF-77")]


def test_partial_refund(cli, db_path):
    ra = charged(cli, "A")
    ev(cli, ra, "receive", "2026-10-09")
    ev(cli, ra, "refund", "2026-10-10", "--ref", "RF-1", "--amount", "$199.99")
    assert ledger_rows(db_path)[-1][:4] == ("refunded", 19999, 0, -19999)


@pytest.mark.parametrize("amount, why", [("250.01", "more than was charged"), ("1,000", "more than was charged"),
                                         ("0", "refunds nothing"), ("-5", "negative"), ("ten", "not money")])
def test_refund_never_more_than_charged_and_never_nothing(cli, db_path, amount, why):
    ra = charged(cli, "A")
    ev(cli, ra, "receive", "2026-10-09")
    before = counts(db_path)
    lines = refused(cli("refund", ra, "--ref", "RF-1", f"--amount={amount}", today="2026-10-10"))
    assert len(lines) == 1 and why in lines[0]
    assert counts(db_path) == before
    assert json.loads(ok(cli("show", ra, "--json")).stdout)["status"] == "late-return"


@pytest.mark.parametrize("stage", ["hold-authorized", "charged", "completed"])
def test_refund_only_on_a_late_return(cli, db_path, stage):
    ra = held(cli, "A-000", on="2026-09-01")
    if stage != "hold-authorized":
        ev(cli, ra, "ship", "2026-09-02")
        ev(cli, ra, "deliver", "2026-09-02")
        ev(cli, ra, "charge" if stage == "charged" else "receive", "2026-10-05")
    before = counts(db_path)
    lines = refused(cli("refund", ra, "--ref", "RF-1", today="2026-10-10"))
    assert len(lines) == 1 and "late return" in lines[0]
    assert counts(db_path) == before


def test_refund_needs_a_processor_reference(cli, db_path):
    ra = charged(cli, "A")
    ev(cli, ra, "receive", "2026-10-09")
    before = counts(db_path)
    assert cli("refund", ra, today="2026-10-10").exit_code == 2  # --ref is required
    for bad in ("", "  ", "=1+1", "RF 1"):
        assert len(refused(cli("refund", ra, "--ref", bad, today="2026-10-10"))) == 1
    assert counts(db_path) == before


def test_complete_note_on_a_late_return_lets_the_charge_stand(cli, db_path):
    ra = charged(cli, "A")
    ev(cli, ra, "receive", "2026-10-09")
    before = ledger_rows(db_path)
    ev(cli, ra, "complete", "2026-10-20", "--note", "supervisor: charge stands, unit damaged")
    assert ledger_rows(db_path) == before
    assert report(cli, "--from", "2026-10-01", "--to", "2026-10-31")["in_review"]["count"] == 0
    assert report(cli, "--from", "2026-10-01", "--to", "2026-10-19")["in_review"]["count"] == 1  # as of the 19th
    refused(cli("refund", ra, "--ref", "RF-1", today="2026-10-21"))  # decided


# --- 3. the holds export ----------------------------------------------------------------------------


@pytest.fixture
def month(cli):
    """November 2026 with every kind of hold; one hold from October still open."""
    old = held(cli, "OLD-000", on="2026-10-20", ref="AUTH-OLD")                        # RA-000001, active throughout
    rel = held(cli, "REL-000", on="2026-11-02", ref="AUTH-REL", customer="=HYPERLINK(\"http://x\",\"y\")")  # RA-000002
    ev(cli, rel, "ship", "2026-11-03")
    ev(cli, rel, "receive", "2026-11-09")                                           # released
    can = held(cli, "CAN-000", on="2026-11-03", ref="AUTH-CAN")                        # RA-000003
    ev(cli, can, "cancel", "2026-11-04", "--reason", "fixed by phone")              # cancelled after a hold
    re_ = held(cli, "RE-000", on="2026-11-05", ref="AUTH-RE1")                         # RA-000004
    ok(cli("hold", re_, "--ref", "AUTH-RE2", "--expires", "2026-12-05", "--on", "2026-11-06", today="2026-11-06"))
    late = charged(cli, "LATE", "2026-09-01", ref="AUTH-LATE", charge="2026-11-02")  # RA-000005, charged in Nov
    ev(cli, late, "receive", "2026-11-10")
    ev(cli, late, "refund", "2026-11-12", "--ref", "RF-LATE", "--amount", "200")
    rev = charged(cli, "REV", "2026-09-01", ref="AUTH-REV", charge="2026-11-03")    # RA-000006, in review
    ev(cli, rev, "receive", "2026-11-20")
    return {"old": old, "rel": rel, "can": can, "re": re_, "late": late, "rev": rev}


def test_holds_export_one_row_per_authorization_with_its_state(cli, month):
    result = ok(cli("export", "holds", "--from", "2026-11-01", "--to", "2026-11-30", today="2026-12-31"))
    assert result.stdout_bytes.startswith((",".join(HOLDS_COLUMNS) + "\r\n").encode())
    rows = csv_rows(result)
    got = [(r["ra"], r["hold_ref"], r["authorized_on"], r["state"], r["settled_on"], r["charged"], r["refunded"],
            r["in_review"]) for r in rows]
    assert got == [
        ("RA-000005", "AUTH-LATE", "2026-09-01", "refunded", "2026-11-02", "250.00", "200.00", "no"),
        ("RA-000006", "AUTH-REV", "2026-09-01", "charged", "2026-11-03", "250.00", "0.00", "yes"),
        ("RA-000002", "AUTH-REL", "2026-11-02", "released", "2026-11-09", "0.00", "0.00", "no"),
        ("RA-000003", "AUTH-CAN", "2026-11-03", "cancelled", "2026-11-04", "0.00", "0.00", "no"),
        ("RA-000004", "AUTH-RE1", "2026-11-05", "released", "2026-11-06", "0.00", "0.00", "no"),
        ("RA-000004", "AUTH-RE2", "2026-11-06", "active", "", "0.00", "0.00", "no"),
    ]  # RA-000001's hold was neither authorized nor settled in November
    by_ref = {r["hold_ref"]: r for r in rows}
    assert by_ref["AUTH-RE2"]["expires_on"] == "2026-12-05"
    assert by_ref["AUTH-RE1"]["expires_on"] == "2099-12-31"
    assert by_ref["AUTH-REL"]["customer"] == "'=HYPERLINK(\"http://x\",\"y\")" and by_ref["AUTH-REL"]["email"] == "a@example.com"
    assert {r["hold_amount"] for r in rows} == {"250.00"}


def test_holds_export_states_are_as_of_the_end_of_the_range(cli, month):
    rows = {r["hold_ref"]: r for r in export(cli, "holds", "--from", "2026-11-01", "--to", "2026-11-10")}
    assert (rows["AUTH-LATE"]["state"], rows["AUTH-LATE"]["in_review"], rows["AUTH-LATE"]["refunded"]) == ("charged", "yes", "0.00")
    assert "AUTH-REV" in rows and rows["AUTH-REV"]["in_review"] == "no"  # its unit arrived on the 20th
    early = {r["hold_ref"]: r for r in export(cli, "holds", "--from", "2026-11-01", "--to", "2026-11-05")}
    assert (early["AUTH-REL"]["state"], early["AUTH-REL"]["settled_on"]) == ("active", "")
    assert "AUTH-RE2" not in early
    assert [r["hold_ref"] for r in export(cli, "holds", "--from", "2026-10-01", "--to", "2026-10-31")] == ["AUTH-OLD"]
    assert export(cli, "holds", "--from", "2027-01-01") == []


# --- 4. the report ---------------------------------------------------------------------------------


def sums(rows: list[dict]) -> dict:
    """What an accountant computes from `export ledger` of a range: SUMIF per event, SUM of the signed columns."""
    out = {}
    for name, event in (("authorized", "hold-authorized"), ("released", "hold-released"), ("charged", "charged"),
                        ("refunded", "refunded")):
        picked = [Decimal(r["amount"]) for r in rows if r["event"] == event]
        out[name] = {"count": len(picked), "amount": f"{sum(picked, Decimal('0.00')):.2f}"}
    out["holds_change"] = sum((Decimal(r["holds_change"]) for r in rows), Decimal("0.00"))
    out["charges_change"] = sum((Decimal(r["charges_change"]) for r in rows), Decimal("0.00"))
    return out


def test_report_balances_and_equals_the_ledger_export(cli, month):
    doc = report(cli, "--from", "2026-11-01", "--to", "2026-11-30")
    assert (doc["from"], doc["to"], doc["currency"], doc["balanced"]) == ("2026-11-01", "2026-11-30", "USD", True)
    ledger = sums(export(cli, "ledger", "--from", "2026-11-01", "--to", "2026-11-30"))
    for name in ("authorized", "released", "charged", "refunded"):
        assert doc[name] == ledger[name], name
    assert doc["opening_holds"] == {"count": 3, "amount": "750.00"}  # OLD, LATE, REV held on Oct 31
    assert doc["authorized"] == {"count": 4, "amount": "1000.00"}
    assert doc["released"] == {"count": 3, "amount": "750.00"}
    assert doc["charged"] == {"count": 2, "amount": "500.00"}
    assert doc["closing_holds"] == {"count": 2, "amount": "500.00"}  # OLD and RE2
    assert Decimal(doc["closing_holds"]["amount"]) - Decimal(doc["opening_holds"]["amount"]) == ledger["holds_change"]
    assert Decimal(doc["money_kept"]["change"]) == ledger["charges_change"] == Decimal("300.00")
    assert doc["refunded"] == {"count": 1, "amount": "200.00"}
    assert doc["in_review"] == {"count": 1, "amount": "250.00"}
    assert doc["opened"] == {"standard": 0, "counter": 0, "advanced": 3, "virtual": 0, "total": 3}
    # REL, CAN and LATE (refunded); REV was charged in November but its late unit reopened it
    assert doc["closed"] == {"standard": 0, "counter": 0, "advanced": 3, "virtual": 0, "total": 3}
    assert doc["overdue"] == {"as_of": "2026-11-30", "count": 0, "amount": "0.00"}


def test_next_months_opening_is_this_months_closing(cli, month):
    oct_, nov, dec = (report(cli, "--from", a, "--to", b) for a, b in
                      (("2026-10-01", "2026-10-31"), ("2026-11-01", "2026-11-30"), ("2026-12-01", "2026-12-31")))
    assert oct_["closing_holds"] == nov["opening_holds"] and nov["closing_holds"] == dec["opening_holds"]
    assert oct_["money_kept"]["closing"] == nov["money_kept"]["opening"]


def test_report_defaults_to_this_month_to_date(cli, month):
    doc = report(cli, today="2026-11-10")
    assert (doc["from"], doc["to"]) == ("2026-11-01", "2026-11-10")
    assert report(cli, "--to", "2026-10-15")["from"] == "2026-10-01"
    assert report(cli, "--from", "2026-11-05", today="2026-11-10")["to"] == "2026-11-10"


def test_report_counts_overdue_as_of_the_end(cli):
    ra = held(cli, "A-000", on="2026-09-01")
    ev(cli, ra, "ship", "2026-09-02")
    ev(cli, ra, "deliver", "2026-09-02")  # due 2026-10-02
    assert report(cli, "--from", "2026-10-01", "--to", "2026-10-02")["overdue"]["count"] == 0
    assert report(cli, "--from", "2026-10-01", "--to", "2026-10-03")["overdue"] == {
        "as_of": "2026-10-03", "count": 1, "amount": "250.00"}


def test_report_human_and_csv(cli, month):
    text = ok(cli("report", "--from", "2026-11-01", "--to", "2026-11-30", today="2026-12-31")).stdout
    for words in ("opening holds", "closing holds", "authorized", "released", "charged", "refunds paid",
                  "charges in review on 2026-11-30", "$750.00", "$1,000.00", "opened", "closed"):
        assert words in text, words
    rows = csv_rows(ok(cli("report", "--csv", "--from", "2026-11-01", "--to", "2026-11-30", today="2026-12-31")))
    doc = report(cli, "--from", "2026-11-01", "--to", "2026-11-30")
    assert {r["figure"]: (int(r["count"]), r["amount"]) for r in rows if r["figure"] in MONEY} == {
        k: (doc[k]["count"], doc[k]["amount"]) for k in MONEY}
    assert {(r["from"], r["to"]) for r in rows} == {("2026-11-01", "2026-11-30")}


@pytest.mark.parametrize("args", [["--from", "2026-12-02", "--to", "2026-12-01"], ["--from", "soon"], ["--json", "--csv"]])
def test_report_bad_input(cli, args):
    result = cli("report", *args, today="2026-12-31")
    if "--csv" in args:
        assert result.exit_code == 2
    else:
        assert len(refused(result)) == 1
    assert result.stdout == ""


def test_month_is_its_first_to_its_last_day_for_the_report_and_every_export(cli, month):
    assert report(cli, "--month", "2026-11") == report(cli, "--from", "2026-11-01", "--to", "2026-11-30")
    assert (report(cli, "--month", "2028-02")["from"], report(cli, "--month", "2028-02")["to"]) == ("2028-02-01", "2028-02-29")
    for kind in ("ledger", "holds", "returns"):
        whole = ok(cli("export", kind, "--month", "2026-11", today="2026-12-31")).stdout
        assert whole == ok(cli("export", kind, "--from", "2026-11-01", "--to", "2026-11-30", today="2026-12-31")).stdout
        assert len(csv_rows(ok(cli("export", kind, "--month", "2026-11", today="2026-12-31")))) > 0, kind


@pytest.mark.parametrize("command", [["report"], ["export", "ledger"], ["export", "holds"], ["export", "returns"]])
@pytest.mark.parametrize("period", [["--from", "2026-11-01"], ["--to", "2026-11-30"], ["--from", "2026-11-01", "--to", "2026-11-30"]])
def test_month_with_from_or_to_is_one_usage_line(cli, command, period):
    result = cli(*command, "--month", "2026-11", *period, today="2026-12-31")
    [line] = refused(result, code=2)
    assert "--month" in line and period[0] in line and result.stdout == ""


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "11/2026", "2026-11-01", "", "1999-12", "3000-01", "２０２６-１１"])
def test_a_month_that_is_not_yyyy_mm_is_refused(cli, text):
    [line] = refused(cli("report", "--month", text, today="2026-12-31"))
    assert "--month" in line


# --- 5. processor references -----------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["+AUTH-1", "-AUTH", "=1+1", "@SUM(1)", "'AUTH", "AUTH 1", "AUTH,1", "AUTH;1", "AUTH\"1",
                                 "_AUTH", ".AUTH", "/AUTH", ":AUTH", "AUTH|1", "AUTHÉ", "ＡＵＴＨ", "A" * 65])
def test_a_reference_a_processor_would_not_issue_is_refused(cli, db_path, ref):
    ra = json.loads(ok(cli("open", "--type", "ar", "--customer", "C", "--item", "CAM-1", "--serial", "SN-0001",
                           "--json", today="2026-10-01")).stdout)["ra"]
    ev(cli, ra, "link", "2026-10-01")
    before = counts(db_path)
    lines = refused(cli("hold", ra, "--ref", ref, today="2026-10-01"))
    assert len(lines) == 1 and "letters, digits" in lines[0]
    assert counts(db_path) == before


@pytest.mark.parametrize("ref", ["AUTH-1", "ch_3N4x5Y2eZvKYlo2C1", "pi_1/2026:11.a", "0A", "9", "txn.2026-11-26"])
def test_processor_references_are_accepted_and_exported_exactly(cli, ref):
    ra = held(cli, "A-000", on="2026-10-01", ref=ref)
    assert [r["hold_ref"] for r in export(cli, "ledger")] == [ref]
    assert [r["hold_ref"] for r in export(cli, "holds")] == [ref]
    assert json.loads(ok(cli("show", ra, "--json")).stdout)["hold_ref"] == ref


# --- upgrading a 0.1 database ------------------------------------------------------------------------


def test_a_01_ledger_upgrades_its_late_returns_into_review_facts(cli, tmp_path, monkeypatch):
    """A database as 0.1 left it: late-return ledger rows, one decided by `complete --note`, one open."""
    db_path = tmp_path / "old" / "returns.db"
    db_path.parent.mkdir()
    monkeypatch.setenv("SPECO_RETURNS_DB", str(db_path))
    db = older_database(db_path, migration_named("_signed_ledger"))
    conn = db.conn
    conn.execute("INSERT INTO catalog VALUES ('CAM-9', NULL, 'camera', 10000, '2025-01-01T00:00:00+00:00')")
    for rid, status in ((1, "completed"), (2, "late-return"), (3, "completed")):
        conn.execute("""INSERT INTO returns (id, ra_no, type, status, customer, hold_amount_cents, hold_ref, opened_on,
                        opened_at, opened_by, last_event_on) VALUES (?, ?, 'advanced', ?, 'Old Co', 10000, ?, '2025-01-01',
                        '2025-01-01T00:00:00+00:00', 'ann', '2025-03-01')""", [rid, rid, status, f"AUTH-{rid}"])
    events = [(1, "complete", "2025-03-10", "completed")] + [(r, "receive", "2025-03-01", "late-return") for r in (1, 2)]
    conn.executemany("INSERT INTO events (return_id, event, happened_on, recorded_at, agent, status) "
                     "VALUES (?, ?, ?, '2025-03-01T10:00:00+00:00', 'ann', ?)", events)
    ledger = []
    for rid in (1, 2, 3):
        ledger += [(rid, "2025-01-01", "hold-authorized"), (rid, "2025-02-05", "charged" if rid < 3 else "hold-released")]
    ledger += [(1, "2025-03-01", "late-return"), (2, "2025-03-02", "late-return")]
    conn.executemany("INSERT INTO ledger (return_id, happened_on, event, amount_cents, hold_ref, agent, recorded_at, reason) "
                     "VALUES (?, ?, ?, 10000, 'AUTH-' || ?, 'bob', '2025-03-01T10:00:00+00:00', ?)",
                     [(r, d, e, r, "lost parcel: K. Alvarez" if (r, e) == (2, "charged") else None) for r, d, e in ledger])
    conn.commit()
    columns = "id, return_id, happened_on, event, amount_cents, hold_ref, agent, recorded_at, reason"
    old = conn.execute(f"SELECT {columns} FROM ledger ORDER BY id").fetchall()
    db.close()

    doc = report(cli, "--from", "2025-03-01", "--to", "2025-03-31")  # the CLI upgrades the file
    conn = sqlite3.connect(db_path)
    try:
        kept = conn.execute(f"SELECT {columns} FROM ledger ORDER BY id").fetchall()
        reviews = conn.execute("SELECT ledger_id, return_id, happened_on, amount_cents, hold_ref, agent, recorded_at, "
                               "decided_on, decision FROM reviews ORDER BY id").fetchall()
        signed = conn.execute("SELECT event, holds_change, charges_change FROM ledger ORDER BY id").fetchall()
    finally:
        conn.close()
    assert kept == [row for row in old if row[3] != "late-return"]  # money rows: every column, same ids
    assert ("lost parcel: K. Alvarez",) in {row[8:] for row in kept}  # a lost parcel's reason (issue 10) survives
    moved = [row for row in old if row[3] == "late-return"]
    assert [r[:7] for r in reviews] == [(row[0], row[1], row[2], row[4], row[5], row[6], row[7]) for row in moved]
    assert [r[7:] for r in reviews] == [("2025-03-10", "charge stands"), (None, None)]
    assert {s: (h, c) for s, h, c in signed} == {"hold-authorized": (10000, 0), "hold-released": (-10000, 0),
                                                  "charged": (-10000, 10000)}
    assert doc["in_review"] == {"count": 1, "amount": "100.00"}
    assert report(cli, "--from", "2025-03-01", "--to", "2025-03-09")["in_review"]["count"] == 2
    feb = report(cli, "--from", "2025-02-01", "--to", "2025-02-28")
    assert (feb["opening_holds"], feb["closing_holds"]) == ({"count": 3, "amount": "300.00"}, {"count": 0, "amount": "0.00"})
    assert feb["charged"] == {"count": 2, "amount": "200.00"}
    # the open one is decided now, through the tool
    ok(cli("refund", "RA-000002", "--ref", "RF-2", "--on", "2025-04-01", today="2025-04-02"))
    assert report(cli, "--from", "2025-04-01", "--to", "2025-04-30")["refunded"] == {"count": 1, "amount": "100.00"}


def test_ledger_and_reviews_stay_append_only(cli, db_path):
    ra = charged(cli, "A")
    ev(cli, ra, "receive", "2026-10-09")
    ev(cli, ra, "complete", "2026-10-10", "--note", "charge stands")
    with raw(db_path) as conn:
        for sql in ("UPDATE ledger SET holds_change = 0", "DELETE FROM ledger", "DELETE FROM reviews",
                    "UPDATE reviews SET decision = 'refunded'", "UPDATE reviews SET amount_cents = 1"):
            with pytest.raises((sqlite3.IntegrityError, ReturnsError), match="append-only|decided once"):
                conn.execute(sql)


# --- the reconciliation, over generated months ---------------------------------------------------------

# One advanced return's life as a list of steps; each is tried through the CLI on its day,
# and a refused step (a rule says no) is simply skipped, as an agent would be refused.
STEPS = st.one_of(
    st.lists(st.sampled_from(["hold", "hold", "ship", "deliver", "receive", "charge", "cancel", "refund",
                              "refund-part", "complete"]), min_size=1, max_size=8),
    # the paths with money at their end, so every run has some (a generated path seldom gets there)
    st.sampled_from([["hold", "ship", "deliver", "charge", "receive", "refund"],
                     ["hold", "hold", "ship", "deliver", "charge", "receive", "refund-part"],
                     ["hold", "ship", "deliver", "charge", "receive", "complete"],
                     ["hold", "cancel"], ["hold", "ship", "deliver", "receive"]]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lives=st.lists(st.tuples(st.integers(0, 60), STEPS, st.lists(st.integers(0, 40), min_size=8, max_size=8)),
                   min_size=1, max_size=5),
    cuts=st.lists(st.integers(0, 130), min_size=2, max_size=4),
)
def test_any_month_reconciles(lives, cuts):
    """Any sequence of events over any range: closing = opening + movements, every figure equals
    the ledger export's sums for that range, and each range's closing is the next one's opening."""
    runner = CliRunner()
    start = date(2026, 1, 1)
    with tempfile.TemporaryDirectory() as folder:
        db = os.path.join(folder, "returns.db")

        def run(*args, day: date):
            return runner.invoke(app, ["--db", db, *args], env={"SPECO_RETURNS_TODAY": day.isoformat()})

        assert run("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "123.45", day=start).exit_code == 0
        for n, (offset, steps, gaps) in enumerate(lives):
            day = start + timedelta(days=offset)
            opened = run("open", "--type", "ar", "--customer", f"C{n}", "--item", "CAM-1", "--serial", f"SN-{n:04d}",
                         "--json", day=day)
            assert opened.exit_code == 0, opened.output
            ra = json.loads(opened.stdout)["ra"]
            assert run("link", ra, day=day).exit_code == 0
            for i, (step, gap) in enumerate(zip(steps, gaps, strict=False)):
                day += timedelta(days=gap)
                args = {"hold": ["hold", ra, "--ref", f"AUTH-{n}-{i}", "--expires", "2099-12-31"],
                        "refund": ["refund", ra, "--ref", f"RF-{n}"],
                        "refund-part": ["refund", ra, "--ref", f"RF-{n}", "--amount", "0.45"],
                        "cancel": ["cancel", ra, "--reason", "r"], "complete": ["complete", ra, "--note", "stands"],
                        }.get(step, [step, ra])
                result = run(*args, day=day)
                assert result.exit_code in (0, 1), result.output
                assert "Traceback" not in result.output

        end = start + timedelta(days=200)
        bounds = sorted({start + timedelta(days=c) for c in cuts})
        periods = list(zip(bounds, [b - timedelta(days=1) for b in bounds[1:]] + [end], strict=True))
        previous = None
        for first, last in periods:
            r = run("report", "--json", "--from", first.isoformat(), "--to", last.isoformat(), day=end)
            assert r.exit_code == 0, r.output
            doc = json.loads(r.stdout)
            e = run("export", "ledger", "--from", first.isoformat(), "--to", last.isoformat(), day=end)
            rows = csv_rows(e)
            ledger = sums(rows)
            before = sums(csv_rows(run("export", "ledger", "--to", (first - timedelta(days=1)).isoformat(), day=end)))
            assert doc["balanced"] is True
            opening, closing = Decimal(doc["opening_holds"]["amount"]), Decimal(doc["closing_holds"]["amount"])
            assert opening == before["holds_change"]
            assert closing == opening + Decimal(doc["authorized"]["amount"]) - Decimal(doc["released"]["amount"]) \
                - Decimal(doc["charged"]["amount"])
            assert closing - opening == ledger["holds_change"]
            assert doc["closing_holds"]["count"] == doc["opening_holds"]["count"] + doc["authorized"]["count"] \
                - doc["released"]["count"] - doc["charged"]["count"]
            for name in ("authorized", "released", "charged", "refunded"):
                assert doc[name] == ledger[name], name
            assert Decimal(doc["money_kept"]["change"]) == ledger["charges_change"] \
                == Decimal(doc["charged"]["amount"]) - Decimal(doc["refunded"]["amount"])
            assert Decimal(doc["money_kept"]["opening"]) == before["charges_change"]
            if previous is not None:
                assert doc["opening_holds"] == previous["closing_holds"]
                assert doc["money_kept"]["opening"] == previous["money_kept"]["closing"]
            previous = doc
            # the holds export of the range: its active holds are the range's closing holds when
            # every hold is touched in it (the first range starts before any money moved)
            if first == bounds[0] and first == start:
                holds = csv_rows(run("export", "holds", "--from", first.isoformat(), "--to", last.isoformat(), day=end))
                active = [Decimal(h["hold_amount"]) for h in holds if h["state"] == "active"]
                assert (len(active), sum(active, Decimal("0.00"))) == (doc["closing_holds"]["count"], closing)
                assert sum((Decimal(h["hold_amount"]) for h in holds if h["authorized_on"] >= first.isoformat()),
                           Decimal("0.00")) == Decimal(doc["authorized"]["amount"])


def test_doctor_checks_the_daily_totals_against_the_ledger(cli, db_path):
    ra = charged(cli, "A")
    ev(cli, ra, "receive", "2026-10-09")
    ev(cli, ra, "refund", "2026-10-10", "--ref", "RF-1", "--amount", "10")
    ok(cli("doctor"))
    with raw(db_path) as conn:
        conn.execute("UPDATE ledger_days SET holds_change = holds_change + 1 WHERE event = 'charged'")
    lines = refused(cli("doctor"))
    assert any("ledger_days" in line and "1 day" in line for line in lines), lines
