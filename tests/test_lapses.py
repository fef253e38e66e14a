"""Holds that lapse (SPEC §7): a hold past its expiry is `lapsed`, leaves the open holds on that
day (a derived `hold-lapsed`), a charge after it is a new charge with its own reference, and the
report, the ledger export and the holds export tell the processor's story to the cent, past
months unchanged. Through the CLI, on both engines."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal

import pytest
from clihelpers import counts, ok, query, raw, refused
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from speco_returns.cli import app

RA = "RA-000001"


def csv_rows(result) -> list[dict]:
    rows = list(csv.reader(io.StringIO(result.stdout_bytes.decode("utf-8"), newline="")))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def on(cli, day: str, *args: str):
    """A command recorded on its day (the agent's today)."""
    return cli(*args, "--on", day, today=day)


def show(cli, today: str, ra: str = RA) -> dict:
    return json.loads(ok(cli("show", ra, "--json", today=today)).stdout)


def report(cli, first: str, last: str, today: str = "2026-12-31") -> dict:
    done = ok(cli("report", "--json", "--from", first, "--to", last, today=today))
    return json.loads(done.stdout)


def overdue(cli, as_of: str) -> list[tuple[str, str]]:
    rows = json.loads(ok(cli("overdue", "--json", today=as_of)).stdout)
    return [(r["ra"], r["state"]) for r in rows]


@pytest.fixture(autouse=True)
def catalog(cli):
    ok(cli("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "249.99"))


def the_issues_return(cli, *, expires: str | None = "2026-10-08") -> None:
    """Opened Oct 1, hold AUTH-1 expiring Oct 8, shipped Oct 2, delivered Oct 5: due Nov 4."""
    ok(cli("open", "-t", "ar", "-c", "Acme", "--email", "a@example.com", "-i", "CAM-1",
           "-s", "SN-1", "--on", "2026-10-01", "-y", today="2026-10-01"))
    ok(on(cli, "2026-10-01", "link", RA))
    ok(on(cli, "2026-10-01", "hold", RA, "--ref", "AUTH-1",
          *(["--expires", expires] if expires else []), "--consent", "EBZ-1"))
    ok(on(cli, "2026-10-02", "ship", RA))
    ok(on(cli, "2026-10-05", "deliver", RA))


# --- the issue's dates --------------------------------------------------------------------------


def test_the_issues_dates_tell_the_processors_story(cli, db_path):
    the_issues_return(cli)
    assert show(cli, "2026-10-05")["hold_state"] == "lapsing"
    doc = show(cli, "2026-11-06")
    assert (doc["hold_state"], doc["hold_expires"], doc["hold_expires_estimated"]) == (
        "lapsed", "2026-10-08", False)
    assert (doc["hold_consent"], doc["hold_consent_on"]) == ("EBZ-1", "2026-10-01")
    human = ok(cli("show", RA, today="2026-11-06")).stdout
    assert "ref AUTH-1, lapsed 2026-10-08; consent EBZ-1 of 2026-10-01" in " ".join(human.split())
    listed = json.loads(ok(cli("list", "--json", today="2026-11-06")).stdout)
    assert [(r["ra"], r["hold_state"]) for r in listed] == [(RA, "lapsed")]
    assert ok(cli("list", "--csv", today="2026-11-06")).stdout.splitlines()[1].endswith(",lapsed")
    [row] = [line for line in ok(cli("list", today="2026-11-06")).stdout.splitlines() if RA in line]
    # the `hold` column, last on the row's line (its due date under its state)
    assert row.split()[-1] == "lapsed"

    # the nightly output: hold-expiring while it is in force, hold-lapsed once, then only overdue
    nights = {(date(2026, 10, 1) + timedelta(days=n)).isoformat() for n in range(40)}
    seen = {night: overdue(cli, night) for night in sorted(nights)}
    assert [n for n, rows in seen.items() if (RA, "hold-expiring") in rows] == [
        "2026-10-05", "2026-10-06", "2026-10-07", "2026-10-08"]
    assert [n for n, rows in seen.items() if (RA, "hold-lapsed") in rows] == ["2026-10-09"]
    assert seen["2026-11-06"] == [(RA, "overdue")]
    row = json.loads(ok(cli("overdue", "--json", today="2026-10-09")).stdout)[0]
    assert (row["state"], row["hold_amount"], row["hold_state"]) == (
        "hold-lapsed", "249.99", "lapsed")

    # the customer: one hold-expiring notice, which says no new authorization will be asked for
    notices = json.loads(ok(cli("notify", "--dry-run", "--json",
                                today="2026-10-05")).stdout)["notices"]
    assert [n["kind"] for n in notices] == ["delivered", "hold-expiring"]
    body = json.loads(ok(cli("show", RA, "--notice", "hold-expiring", "--json",
                             today="2026-10-05")).stdout)["body"]
    assert "will not ask you for a new authorization" in " ".join(body.split())

    # a charge after the lapse: said before asking, refused without the new charge's reference
    before = counts(db_path)
    [line] = refused(on(cli, "2026-11-06", "charge", RA, "--yes"))
    assert ("the authorization AUTH-1 lapsed on 2026-10-08: this is a new charge on the card, "
            "which may be declined") in line
    assert "--ref" in line and counts(db_path) == before
    asked = on(cli, "2026-11-06", "charge", RA, "--ref", "CH-2")  # no terminal: never asks
    assert "new charge on the card $249.99 (ref CH-2)" in ok(asked).stdout
    assert show(cli, "2026-11-06")["status"] == "charged"

    ledger = csv_rows(ok(cli("export", "ledger", today="2026-11-30")))
    assert [(r["date"], r["event"], r["hold_ref"], r["holds_change"], r["charges_change"])
            for r in ledger] == [
        ("2026-10-01", "hold-authorized", "AUTH-1", "249.99", "0.00"),
        ("2026-10-08", "hold-lapsed", "AUTH-1", "-249.99", "0.00"),
        ("2026-11-06", "hold-authorized", "CH-2", "249.99", "0.00"),
        ("2026-11-06", "charged", "CH-2", "-249.99", "249.99"),
    ]
    holds = csv_rows(ok(cli("export", "holds", today="2026-11-30")))
    assert [(h["hold_ref"], h["state"], h["settled_on"], h["expires_on"], h["expires_estimated"],
             h["consent"]) for h in holds] == [
        ("AUTH-1", "lapsed", "2026-10-08", "2026-10-08", "no", "EBZ-1"),
        ("CH-2", "charged", "2026-11-06", "", "", "EBZ-1")]  # the consent it rests on
    october = report(cli, "2026-10-01", "2026-10-31")
    november = report(cli, "2026-11-01", "2026-11-30")
    assert (october["lapsed"], october["closing_holds"]) == (
        {"count": 1, "amount": "249.99"}, {"count": 0, "amount": "0.00"})
    assert report(cli, "2026-10-01", "2026-10-07")["closing_holds"] == {"count": 1,
                                                                         "amount": "249.99"}
    assert report(cli, "2026-10-01", "2026-10-08")["closing_holds"] == {"count": 0,
                                                                         "amount": "0.00"}
    assert (november["charged"]["amount"], november["money_kept"]["closing"],
            november["closing_holds"]["amount"]) == ("249.99", "249.99", "0.00")
    assert october["balanced"] and november["balanced"]
    ok(cli("doctor", today="2026-11-30"))


def test_list_leaves_the_hold_out_at_80_columns_rather_than_squeeze_its_rows(cli, monkeypatch):
    """The hold column is spare, as the fault and finding are: at 80 columns (a pipe's) the
    table is left without it rather than cut; a wider one shows it, --json and --csv always."""
    ok(cli("open", "-t", "ar", "-c", "Acme Security", "-i", "CAM-1", "-s", "SN-1", "-y",
           today="2026-10-01"))
    for step in (["link"], ["hold", "--ref", "AUTH-1", "--expires", "2026-10-08"], ["ship"]):
        ok(cli(step[0], RA, *step[1:], today="2026-10-02"))
    monkeypatch.setenv("COLUMNS", "80")
    lines = ok(cli("list", today="2026-11-06")).stdout.splitlines()
    header = next(line for line in lines if "opened_on" in line)
    # the table whole: its customers and its last column, no hold cut after it
    assert "customer" in header and header.split()[-1] == "age", lines
    monkeypatch.setenv("COLUMNS", "160")
    [row] = [line for line in ok(cli("list", today="2026-11-06")).stdout.splitlines() if RA in line]
    assert row.split()[-1] == "lapsed"


def test_a_capture_on_the_expiry_day_settles_the_hold_and_nothing_lapses(cli):
    the_issues_return(cli, expires="2026-11-05")
    [line] = refused(on(cli, "2026-11-05", "charge", RA, "--ref", "CH-2", "--yes"))
    assert "--ref is the reference of a new charge" in line
    ok(on(cli, "2026-11-05", "charge", RA, "--yes"))
    ledger = csv_rows(ok(cli("export", "ledger", today="2026-12-31")))
    assert [(r["event"], r["hold_ref"]) for r in ledger] == [("hold-authorized", "AUTH-1"),
                                                            ("charged", "AUTH-1")]
    assert show(cli, "2026-12-31")["hold_state"] == "charged"


def test_a_hold_without_expires_is_estimated_from_the_window(cli, monkeypatch):
    monkeypatch.setenv("SPECO_RETURNS_HOLD_DAYS", "5")
    the_issues_return(cli, expires=None)
    doc = show(cli, "2026-10-07")
    assert (doc["hold_expires"], doc["hold_expires_estimated"], doc["hold_state"]) == (
        "2026-10-06", True, "lapsed")
    assert "(estimated)" in ok(cli("show", RA, today="2026-10-07")).stdout
    # an estimate is no date to tell the customer: no hold-expiring notice
    notices = json.loads(ok(cli("notify", "--dry-run", "--json",
                                today="2026-10-05")).stdout)["notices"]
    assert "hold-expiring" not in [n["kind"] for n in notices]
    monkeypatch.setenv("SPECO_RETURNS_HOLD_DAYS", "31")  # a later setting changes no hold recorded
    assert show(cli, "2026-10-07")["hold_expires"] == "2026-10-06"
    [line] = refused(cli("hold", RA, "--ref", "AUTH-2", today="2026-10-07"))
    assert line.startswith("error: SPECO_RETURNS_HOLD_DAYS '31' is not a number of days")


@pytest.mark.parametrize("value", ["0", "x", "-1", "7.5", "\u0667"])
def test_a_window_that_is_not_a_number_of_days_is_refused(cli, monkeypatch, db_path, value):
    ok(cli("open", "-t", "ar", "-c", "Acme", "-i", "CAM-1", "-s", "SN-1", "-y", today="2026-10-01"))
    ok(cli("link", RA, today="2026-10-01"))
    monkeypatch.setenv("SPECO_RETURNS_HOLD_DAYS", value)
    before = counts(db_path)
    [line] = refused(cli("hold", RA, "--ref", "AUTH-1", today="2026-10-01"))
    assert "SPECO_RETURNS_HOLD_DAYS" in line and counts(db_path) == before


def test_hold_and_ship_warn_once_when_the_hold_lapses_before_the_earliest_due_date(cli):
    ok(cli("open", "-t", "ar", "-c", "Acme", "-i", "CAM-1", "-s", "SN-1", "-y", today="2026-10-01"))
    ok(on(cli, "2026-10-01", "link", RA))
    held = ok(on(cli, "2026-10-01", "hold", RA, "--ref", "AUTH-1"))
    assert held.stdout.count("Warning: the hold lapses on 2026-10-08 (estimated), before the "
                             "earliest due date (2026-11-01)") == 1
    shipped = json.loads(ok(on(cli, "2026-10-02", "ship", RA, "--json")).stdout)
    assert [w["message"][:62] for w in shipped["warnings"]] == [
        "the hold lapses on 2026-10-08 (estimated), before the earliest"]
    assert "new charge on the card" in shipped["warnings"][0]["message"]
    assert "Warning" not in ok(on(cli, "2026-10-05", "deliver", RA)).stdout
    ok(cli("open", "-t", "ar", "-c", "Bo", "-i", "CAM-1", "-s", "SN-2", "-y", today="2026-10-01"))
    ok(on(cli, "2026-10-01", "link", "RA-000002"))
    assert "Warning" not in ok(on(cli, "2026-10-01", "hold", "RA-000002", "--ref", "AUTH-9",
                                  "--expires", "2026-11-30")).stdout


# --- a charge after the lapse -------------------------------------------------------------------


def test_a_new_charge_needs_a_reference_new_on_the_return(cli, db_path):
    the_issues_return(cli)
    for ref, says in (("AUTH-1", "reference AUTH-1 is already on RA-000001's ledger"),
                      ("auth-1", "reference auth-1 is already on"),
                      ("4111 1111 1111 1111", "card number")):
        before = counts(db_path)
        [line] = refused(on(cli, "2026-11-06", "charge", RA, "--ref", ref, "--yes"))
        assert says in line and counts(db_path) == before


def test_a_declined_charge_keeps_nothing_and_leaves_the_return_overdue_for_a_supervisor(cli,
                                                                                         db_path):
    the_issues_return(cli)
    kept = report(cli, "2026-11-01", "2026-11-30")["money_kept"]
    ledger = query(db_path, "SELECT count(*) FROM ledger")
    refused(on(cli, "2026-11-06", "charge", RA, "--declined"))  # why, and who decides next
    said = ok(on(cli, "2026-11-06", "charge", RA, "--declined",
                 "--reason", "Dana: declined, calling the customer", "--ref", "CH-D1"))
    assert ("charge declined on 2026-11-06: nothing charged; still replacement-delivered"
            in said.stdout)
    assert query(db_path, "SELECT count(*) FROM ledger") == ledger
    assert report(cli, "2026-11-01", "2026-11-30")["money_kept"] == kept == {
        "opening": "0.00", "change": "0.00", "closing": "0.00"}
    doc = show(cli, "2026-11-07")
    assert (doc["status"], doc["events"][-1]["event"], doc["events"][-1]["ref"]) == (
        "replacement-delivered", "charge-declined", "CH-D1")
    assert overdue(cli, "2026-11-07") == [(RA, "overdue"), (RA, "charge-declined")]
    rows = json.loads(ok(cli("overdue", "--json", today="2026-11-07")).stdout)
    assert rows[1]["declined_on"] == "2026-11-06"
    said = ok(cli("overdue", today="2026-11-07")).stdout
    assert "charge declined 2026-11-06: a supervisor decides" in said
    ok(on(cli, "2026-11-09", "charge", RA, "--ref", "CH-2", "--yes"))  # the retry went through
    assert overdue(cli, "2026-11-10") == []
    assert report(cli, "2026-11-01", "2026-11-30")["money_kept"]["closing"] == "249.99"


def test_a_declined_charge_is_refused_where_a_charge_would_be(cli, db_path):
    the_issues_return(cli)
    before = counts(db_path)
    [line] = refused(on(cli, "2026-11-04", "charge", RA, "--declined", "--reason", "x"))
    assert line.startswith("error: AR-4: the unit is due back by 2026-11-04")
    assert counts(db_path) == before


def test_voiding_a_new_charge_needs_its_reversal_and_gives_back_only_the_money(cli):
    the_issues_return(cli)
    ok(on(cli, "2026-11-06", "charge", RA, "--ref", "CH-2", "--yes"))
    refused(cli("void", RA, "--reason", "charged in error", "--yes", today="2026-11-07"))
    ok(cli("void", RA, "--reason", "charged in error", "--ref", "REV-2", "--yes",
           today="2026-11-07"))
    ledger = csv_rows(ok(cli("export", "ledger", today="2026-11-30")))
    moved = [(r["event"], r["hold_ref"], r["holds_change"], r["charges_change"]) for r in ledger]
    assert moved[-2:] == [
        ("charged", "CH-2", "-249.99", "249.99"), ("refunded", "REV-2", "0.00", "-249.99")]
    assert report(cli, "2026-11-01", "2026-11-30")["closing_holds"]["amount"] == "0.00"
    ok(cli("doctor", today="2026-11-30"))


# --- after the lapse nothing settles the hold again ---------------------------------------------


def test_receive_cancel_and_re_authorization_after_the_lapse_release_nothing(cli):
    the_issues_return(cli)
    ok(on(cli, "2026-10-20", "receive", RA, "--yes"))
    ok(cli("open", "-t", "ar", "-c", "Bo", "-i", "CAM-1", "-s", "SN-2", "-y", "--on", "2026-10-01",
           today="2026-10-01"))
    ok(on(cli, "2026-10-01", "link", "RA-000002"))
    ok(on(cli, "2026-10-01", "hold", "RA-000002", "--ref", "AUTH-2"))  # estimated: lapses 10-08
    ok(on(cli, "2026-10-12", "hold", "RA-000002", "--ref", "AUTH-3"))  # new: nothing to release
    # AUTH-3 lapsed 10-19
    ok(on(cli, "2026-10-25", "cancel", "RA-000002", "--reason", "changed mind", "--yes"))
    ledger = csv_rows(ok(cli("export", "ledger", today="2026-10-31")))
    assert [(r["date"], r["ra"], r["event"], r["hold_ref"]) for r in ledger] == [
        ("2026-10-01", RA, "hold-authorized", "AUTH-1"),
        ("2026-10-01", "RA-000002", "hold-authorized", "AUTH-2"),
        ("2026-10-08", RA, "hold-lapsed", "AUTH-1"),
        ("2026-10-08", "RA-000002", "hold-lapsed", "AUTH-2"),
        ("2026-10-12", "RA-000002", "hold-authorized", "AUTH-3"),
        ("2026-10-19", "RA-000002", "hold-lapsed", "AUTH-3")]
    doc = report(cli, "2026-10-01", "2026-10-31")
    assert (doc["authorized"]["count"], doc["released"]["count"], doc["lapsed"]["count"],
            doc["closing_holds"]) == (3, 0, 3, {"count": 0, "amount": "0.00"})
    assert (show(cli, "2026-10-31")["hold_state"],
            show(cli, "2026-10-31", "RA-000002")["hold_state"]) == ("lapsed", "lapsed")
    ok(cli("doctor", today="2026-10-31"))


def test_a_void_after_the_lapse_re_opens_no_hold(cli):
    the_issues_return(cli)
    ok(on(cli, "2026-10-06", "receive", RA, "--yes"))                       # released in time
    ok(cli("void", RA, "--reason", "received on the wrong RA", "--yes", today="2026-10-12"))
    ledger = csv_rows(ok(cli("export", "ledger", today="2026-10-31")))
    assert [(r["date"], r["event"]) for r in ledger] == [("2026-10-01", "hold-authorized"),
                                                        ("2026-10-06", "hold-released")]
    assert report(cli, "2026-10-01", "2026-10-31")["closing_holds"]["amount"] == "0.00"
    assert show(cli, "2026-10-31")["hold_state"] == "lapsed"
    ok(cli("doctor", today="2026-10-31"))


def test_a_void_in_time_re_opens_the_hold_which_then_lapses(cli):
    the_issues_return(cli)
    ok(on(cli, "2026-10-06", "receive", RA, "--yes"))
    ok(cli("void", RA, "--reason", "received on the wrong RA", "--yes", today="2026-10-07"))
    ledger = csv_rows(ok(cli("export", "ledger", today="2026-10-31")))
    assert [(r["date"], r["event"]) for r in ledger] == [
        ("2026-10-01", "hold-authorized"), ("2026-10-06", "hold-released"),
        ("2026-10-07", "hold-authorized"), ("2026-10-08", "hold-lapsed")]
    ok(cli("doctor", today="2026-10-31"))


# --- consent on record --------------------------------------------------------------------------


def test_consent_is_checked_and_exported(cli, db_path):
    ok(cli("open", "-t", "ar", "-c", "Acme", "-i", "CAM-1", "-s", "SN-1", "-y", today="2026-10-01"))
    ok(on(cli, "2026-10-01", "link", RA))
    before = counts(db_path)
    for args, says in ((["--consent-on", "2026-10-01"], "--consent-on is the day of a consent"),
                       (["--consent", "EBZ-1", "--consent-on", "2026-10-02"],
                        "is after the hold's date"),
                       (["--consent", "=cmd()"], "consent reference"),
                       (["--consent", "4111111111111111"], "card number")):
        [line] = refused(on(cli, "2026-10-01", "hold", RA, "--ref", "AUTH-1", *args))
        assert says in line and counts(db_path) == before, line
    ok(on(cli, "2026-10-01", "hold", RA, "--ref", "AUTH-1", "--consent", "EBZ-1",
          "--consent-on", "2026-09-30"))
    [h] = csv_rows(ok(cli("export", "holds", today="2026-10-01")))
    assert (h["consent"], h["consent_on"], h["state"]) == ("EBZ-1", "2026-09-30", "active")
    # a re-authorization: its own consent, none here
    ok(on(cli, "2026-10-02", "hold", RA, "--ref", "AUTH-2"))
    assert show(cli, "2026-10-02")["hold_consent"] is None


# --- doctor and an older database ---------------------------------------------------------------


def test_doctor_names_a_lapse_record_removed_or_changed(cli, db_path):
    the_issues_return(cli)
    ok(cli("doctor", today="2026-11-30"))
    with raw(db_path) as conn:
        conn.execute("UPDATE hold_lapses SET settled_on = '2026-10-07'")
    lines = refused(cli("doctor", today="2026-11-30"))
    assert any("lapse record says settled on 2026-10-07" in line for line in lines), lines
    with raw(db_path) as conn:
        conn.execute("DELETE FROM hold_lapses")
    lines = refused(cli("doctor", today="2026-11-30"))
    assert any("its hold AUTH-1 has no lapse record" in line for line in lines), lines


def _as_an_older_tool(target) -> None:
    """Two advanced returns as the tool left them before holds lapsed (every migration before
    m021_hold_lapses): RA-000001's hold with no expiry, RA-000002's with --expires 2026-09-08;
    both delivered 2026-09-02 and still out. Written through the query modules, as that tool
    wrote them."""
    from builders import migration_named

    from speco_returns.db import ledger, returns
    from speco_returns.db.database import open_database
    from speco_returns.db.migrations import migrate
    from speco_returns.domain import lifecycle
    from speco_returns.domain.clock import Now
    from speco_returns.domain.rules import Product

    db = open_database(target, migrate=False)
    migrate(db, stop_before=migration_named("_hold_lapses"))
    # a server records its login as the agent
    login = db.scalar("SELECT current_user") if db.is_server else "ann"
    now = Now(date(2026, 9, 2), "2026-09-02T10:00:00+00:00", login)
    with db.write():
        for n, expires in ((1, None), (2, "2026-09-08")):
            rid = returns.insert(db, {"type": "advanced", "status": "authorized",
                                      "customer": "Old Co", "ra_no": n,
                                      "hold_amount_cents": 24999, "opened_on": "2026-09-01",
                                      "customer_key": "old co", "opened_at": now.stamp,
                                      "opened_by": "ann", "last_event_on": "2026-09-01"})
            returns.insert_item(db, rid, "CAM-1", Product("CAM-1", "camera", 24999), 1)
            returns.insert_serials(db, [(rid, rid, f"SN-{n}")])
            returns.add_event(db, rid, "open", date(2026, 9, 1), now, "authorized", {})
            life = lifecycle.Life.opened("advanced", date(2026, 9, 1))
            hold = {"ref": f"AUTH-{n}", **({"expires": expires} if expires else {})}
            for event, day, detail in (("link", "2026-09-01", {}), ("hold", "2026-09-01", hold),
                                       ("ship", "2026-09-02", {}), ("deliver", "2026-09-02", {})):
                life, moves = lifecycle.step("advanced", life, event, date.fromisoformat(day),
                                             detail, 24999)
                returns.update(db, rid, {c: v for c, v in life.columns().items()
                                         if c != "hold_estimated"})
                for move in moves:
                    ledger.add(db, rid, move, date.fromisoformat(day), now)
                returns.add_event(db, rid, event, date.fromisoformat(day), now, life.status, detail)
    db.close()


def test_an_older_database_upgrades_and_its_past_months_stay_as_they_were(cli, db_path):
    target = str(db_path) if not isinstance(db_path, str) else db_path
    if not isinstance(db_path, str):
        if os.path.exists(db_path):
            os.remove(db_path)
    else:  # the test's server database is migrated already: start over, as the older tool did
        with raw(db_path) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
    _as_an_older_tool(target)
    ok(cli("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "249.99",
           today="2026-10-01"))  # upgrades
    september = report(cli, "2026-09-01", "2026-09-30")
    # as 0.2 counted them: nothing lapses
    assert september["closing_holds"] == {"count": 2, "amount": "499.98"}
    assert september["lapsed"] == {"count": 0, "amount": "0.00"}
    ok(cli("doctor", today="2026-10-05"))
    # what the processor did still shows, and a charge after the given expiry is a new charge
    assert (show(cli, "2026-10-05")["hold_state"],
            show(cli, "2026-10-05", "RA-000002")["hold_state"]) == ("active", "lapsed")
    ok(on(cli, "2026-10-05", "charge", RA, "--yes"))  # no expiry known: a capture
    refused(on(cli, "2026-10-05", "charge", "RA-000002", "--yes"))
    ok(on(cli, "2026-10-05", "charge", "RA-000002", "--ref", "CH-2", "--yes"))
    october = report(cli, "2026-10-01", "2026-10-31")
    assert (october["opening_holds"]["amount"], october["charged"]["amount"],
            october["closing_holds"]["amount"], october["money_kept"]["closing"]) == (
        "499.98", "499.98", "0.00", "499.98")
    assert report(cli, "2026-09-01", "2026-09-30") == september
    ok(cli("doctor", today="2026-10-31"))


# --- the books reconcile, over generated histories ----------------------------------------------


STEP = st.sampled_from(["ship", "deliver", "receive", "charge", "charge", "rehold", "cancel",
                        "unit-shipped", "void", "declined"])
LIFE = st.tuples(st.integers(0, 20), st.one_of(st.none(), st.integers(0, 40)),
                 st.lists(st.tuples(STEP, st.integers(0, 25)), min_size=1, max_size=7))


@contextmanager
def fresh_database(backend: str, request):
    """A new database for one generated example: a file, or a server database from the template."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield os.path.join(folder, "returns.db")
        return
    from pgserver import with_dbname

    url, conn = request.getfixturevalue("pg_admin")
    template = request.getfixturevalue("pg_template")
    name = f"speco_lapse_{os.getpid()}_{next(_examples)}"
    conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    try:
        yield with_dbname(url, name)
    finally:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


_examples = iter(range(10**9))


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lives=st.lists(LIFE, min_size=1, max_size=4),
       cuts=st.lists(st.integers(1, 110), min_size=1, max_size=3))
def test_the_books_reconcile_to_the_cent_and_past_months_never_change(backend, request, lives,
                                                                      cuts):
    """Any histories of holds (given or estimated expiries), shipments, receipts, charges (new
    ones after a lapse, declined ones), re-authorizations, cancels and voids, recorded day by day:
    at the end of each period the report's closing holds are the authorizations not released,
    charged or lapsed, to the cent, as the ledger export's SUM(holds_change) and the holds
    export's held rows give them; and each period reads the same when read again at the end."""
    runner = CliRunner()
    start = date(2026, 1, 1)
    with fresh_database(backend, request) as db:

        def run(*args, day: date):
            result = runner.invoke(app, ["--db", db, *args],
                                   env={"SPECO_RETURNS_TODAY": day.isoformat()})
            assert "Traceback" not in result.output and result.exit_code in (0, 1), result.output
            return result

        assert run("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "123.45",
                   day=start).exit_code == 0
        plan = []  # (day, order, return number, step) in the order they happen
        for n, (offset, expires, steps) in enumerate(lives):
            day = start + timedelta(days=offset)
            plan += [(day, 0, n, ("open", expires)), (day, 1, n, ("hold", expires))]
            for i, (step, gap) in enumerate(steps):
                day += timedelta(days=gap)
                plan.append((day, 2 + i, n, (step, i)))
        plan.sort(key=lambda p: (p[0], p[2], p[1]))
        bounds = sorted({start + timedelta(days=c) for c in cuts})
        lasts = [b - timedelta(days=1) for b in bounds] + [start + timedelta(days=150)]
        periods = list(zip([start, *bounds], lasts, strict=True))
        closed: dict[date, tuple] = {}

        def read(first: date, last: date, today: date) -> tuple:
            doc = json.loads(run("report", "--json", "--from", first.isoformat(),
                                 "--to", last.isoformat(), day=today).stdout)
            # not money: a later void of a close or a delivery changes them
            del doc["closed"], doc["overdue"]
            ledger = run("export", "ledger", "--to", last.isoformat(), day=today).stdout
            holds = run("export", "holds", "--from", start.isoformat(), "--to", last.isoformat(),
                        day=today).stdout
            return doc, ledger, holds

        def close_periods_before(day: date) -> None:
            for first, last in periods:
                if last < day and last not in closed:
                    closed[last] = read(first, last, last)  # the month closed on its last day

        ras: dict[int, str] = {}
        for day, _, n, (step, arg) in plan:
            close_periods_before(day)
            if step == "open":
                opened = run("open", "--type", "ar", "--customer", f"C{n}", "--item", "CAM-1",
                             "--serial", f"SN-{n}", "--json", day=day)
                ras[n] = json.loads(opened.stdout)["ra"]
                assert run("link", ras[n], day=day).exit_code == 0
                continue
            ra = ras[n]
            if step in ("hold", "rehold"):
                expires = ([] if arg is None or step == "rehold"
                           else ["--expires", (day + timedelta(days=arg)).isoformat()])
                run("hold", ra, "--ref", f"AUTH-{n}-{step}-{arg}", *expires, day=day)
            elif step == "charge":
                if run("charge", ra, "--yes", day=day).exit_code == 1:
                    run("charge", ra, "--ref", f"CH-{n}-{arg}", "--yes", day=day)
            elif step == "declined":
                run("charge", ra, "--declined", "--reason", "declined", day=day)
            elif step == "void":
                if run("void", ra, "--reason", "slip", "--yes", day=day).exit_code == 1:
                    run("void", ra, "--reason", "slip", "--ref", f"REV-{n}-{arg}", "--yes", day=day)
            elif step == "cancel":
                run("cancel", ra, "--reason", "r", "--yes", day=day)
            else:
                run(step, ra, "--yes", day=day) if step == "receive" else run(step, ra, day=day)
        end = periods[-1][1]
        close_periods_before(end + timedelta(days=1))

        previous = None
        for first, last in periods:
            doc, ledger, holds = read(first, last, end + timedelta(days=30))
            assert (doc, ledger, holds) == closed[last], f"{first}..{last} changed after it closed"
            assert doc["balanced"] is True
            money = [dict(r) for r in csv.DictReader(io.StringIO(ledger))]
            held = [dict(r) for r in csv.DictReader(io.StringIO(holds))
                    if r["state"] in ("active", "lapsing")]
            closing = Decimal(doc["closing_holds"]["amount"])
            assert closing == sum((Decimal(r["holds_change"]) for r in money), Decimal("0.00"))
            assert (doc["closing_holds"]["count"], closing) == (
                len(held), sum((Decimal(h["hold_amount"]) for h in held), Decimal("0.00")))
            lapsed = [r for r in money
                      if r["event"] == "hold-lapsed" and r["date"] >= first.isoformat()]
            lapsed_amount = sum((Decimal(r["amount"]) for r in lapsed), Decimal("0.00"))
            assert doc["lapsed"] == {"count": len(lapsed), "amount": f"{lapsed_amount:.2f}"}
            kept = sum((Decimal(r["charges_change"]) for r in money), Decimal("0.00"))
            assert Decimal(doc["money_kept"]["closing"]) == kept
            if previous is not None:
                assert doc["opening_holds"] == previous["closing_holds"]
            previous = doc
        doctor = runner.invoke(app, ["--db", db, "doctor", "--json"],
                               env={"SPECO_RETURNS_TODAY": end.isoformat()})
        assert json.loads(doctor.stdout)["problems"] == [], doctor.stdout
