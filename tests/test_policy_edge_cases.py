"""The policy's and the money's edge cases, through the command line.

Each section is one decision: back-dating around a re-authorization, lost parcels, serials
at ship, zero list prices, a late unit and SER-1, ambiguous dates, card numbers in any
disguise, `check --json` on bad input, a shifted catalog price and a pinned "today".
"""

from __future__ import annotations

import functools
import json
import re

import pytest
from builders import advanced, catalog
from clihelpers import counts, ok, query, refused
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CLI_SETTINGS = settings(max_examples=40, deadline=None,
                        suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(autouse=True)
def _catalog(cli):
    catalog(cli, "CAM-1=$1,299.00")


def show(cli, ra, today="2027-06-30") -> dict:
    return json.loads(ok(cli("show", ra, "--json", today=today)).stdout)


def ledger(db_path) -> list[tuple]:
    return query(db_path, "SELECT happened_on, event, hold_ref FROM ledger ORDER BY id")


held = functools.partial(advanced, step="held", expires="2026-10-05")  # linked and held 2026-10-01
# due 2026-11-02
delivered = functools.partial(held, step="delivered", ship="2026-10-02", deliver="2026-10-03")


# --- 1. back-dating around a re-authorization ------------------------------------------------


def test_ship_cannot_be_dated_on_a_lapsed_hold_before_the_re_authorization(cli, db_path):
    ra = held(cli, "SN-1", then=[("2026-10-20", "hold", "--ref", "AUTH-2", "--expires",
                                  "2026-10-27")])
    before = counts(db_path)
    lines = refused(cli("ship", ra, "--on", "2026-10-10", today="2026-10-21"))
    assert len(lines) == 1 and "2026-10-20" in lines[0], lines
    assert counts(db_path) == before
    ok(cli("ship", ra, "--on", "2026-10-20", today="2026-10-21"))


def test_ar_2_refuses_a_ship_dated_after_the_hold_in_force_lapsed(cli):
    ra = held(cli, "SN-1")
    lines = refused(cli("ship", ra, "--on", "2026-10-06", today="2026-10-06"))
    assert lines[0].startswith("error: AR-2") and "2026-10-05" in lines[0]


@pytest.mark.parametrize("event", [("receive",), ("cancel", "--reason", "changed mind"),
                                   ("charge",)])
def test_no_settling_event_is_dated_before_the_re_authorization(cli, db_path, event):
    at = held if event[0] == "cancel" else delivered
    reauth_on = "2026-10-04" if event[0] == "cancel" else "2026-11-20"
    ra = at(cli, "SN-1", then=[(reauth_on, "hold", "--ref", "AUTH-2")])
    before = ledger(db_path)
    back = "2026-10-02" if event[0] == "cancel" else "2026-11-10"
    lines = refused(cli(event[0], ra, *event[1:], "--on", back, today="2026-11-30"))
    assert len(lines) == 1 and reauth_on in lines[0], lines
    assert ledger(db_path) == before


def test_the_ledger_never_settles_a_hold_before_its_authorization(cli, db_path):
    ra = delivered(cli, "SN-1", then=[("2026-10-10", "hold", "--ref", "AUTH-2")])
    # refused: whatever happens, the ledger holds
    cli("receive", ra, "--on", "2026-10-08", today="2026-10-12")
    cli("receive", ra, "--on", "2026-10-12", today="2026-10-12")
    authorized: dict[str, str] = {}
    for day, event, ref in ledger(db_path):
        if event == "hold-authorized":
            authorized[ref] = day
        else:
            assert day >= authorized[ref], (day, event, ref)


def test_an_older_database_learns_its_re_authorizations_bound_later_dates(cli, tmp_path):
    from builders import older_database

    old = str(tmp_path / "old.db")
    db = older_database(old, "m006_policy_gaps")
    db.execute("""INSERT INTO returns (id, ra_no, type, status, customer, hold_amount_cents, """
               """hold_ref, hold_active,
                    opened_on, opened_at, opened_by, last_event_on)
                  VALUES (1, 1, 'advanced', 'replacement-delivered', 'Old Co', 129900, 'AUTH-2', 1,
                    '2026-10-01', '2026-10-01T09:00:00+00:00', 'ann', '2026-10-03')""")
    for n, (event, day, detail) in enumerate([("open", "2026-10-01", None),
                                              ("hold", "2026-10-01", '{"ref": "AUTH-1"}'),
                                              ("deliver", "2026-10-03", None),
                                              ("hold", "2026-10-20", '{"ref": "AUTH-2"}')]):
        db.execute("INSERT INTO events (id, return_id, event, happened_on, recorded_at, agent, "
                   "status, detail) VALUES (?, 1, ?, ?, '2026-10-20T09:00:00+00:00', 'ann', "
                   "'replacement-delivered', ?)",
                   [n + 1, event, day, detail])
    db.conn.commit()
    db.close()
    lines = refused(cli("--db", old, "receive", "RA-000001", "--on", "2026-10-10",
                        today="2026-10-21"))
    assert "2026-10-20" in lines[0]
    ok(cli("--db", old, "receive", "RA-000001", "--on", "2026-10-20", today="2026-10-21"))


# --- 2. lost parcels ---------------------------------------------------------------------------


def stalled(cli) -> str:
    """Delivered 2026-10-03 (due 2026-11-02), shipped back 2026-10-20: stalled from 2026-11-03."""
    return delivered(cli, "SN-1", then=[("2026-10-20", "unit-shipped", "--tracking", "1Z999")])


def test_a_stalled_parcel_past_its_due_date_can_be_charged_with_a_reason(cli, db_path):
    ra = stalled(cli)
    reason = "Dana Lee (supervisor): parcel lost, carrier claim 7781"
    ok(cli("charge", ra, "--reason", reason, "--ref", "CH-1", "--on", "2026-11-05",
           today="2026-11-05"))  # AUTH-1 lapsed
    doc = show(cli, ra)
    assert doc["status"] == "charged"
    assert doc["events"][-1]["event"] == "charge" and doc["events"][-1]["reason"] == reason
    assert query(db_path, "SELECT event, reason FROM ledger ORDER BY id DESC LIMIT 1")[0] == (
        "charged", reason)


def test_a_stalled_parcel_is_not_charged_without_a_reason_and_the_refusal_says_what_would_allow_it(
        cli, db_path):
    ra = stalled(cli)
    before = counts(db_path)
    lines = refused(cli("charge", ra, "--on", "2026-11-05", today="2026-11-05"))
    assert len(lines) == 1 and lines[0].startswith("error: AR-4") and "--reason" in lines[0], lines
    assert "stalled from 2026-11-03" in lines[0]
    assert counts(db_path) == before


@pytest.mark.parametrize("day", ["2026-10-30", "2026-11-02"])
def test_a_parcel_in_transit_is_not_charged_before_it_is_stalled_and_past_due(cli, day):
    ra = stalled(cli)
    lines = refused(cli("charge", ra, "--reason", "supervisor: lost", "--on", day, today=day))
    assert lines[0].startswith("error: AR-4") and "stalled from 2026-11-03" in lines[0], lines


def test_stalled_before_the_due_date_still_waits_for_the_due_date(cli):
    # shipped back 2026-10-05, stalled from 2026-10-19, but due 2026-11-02: charge from 2026-11-03
    ra = delivered(cli, "SN-1", then=[("2026-10-05", "unit-shipped")])
    lines = refused(cli("charge", ra, "--reason", "supervisor: lost", "--on", "2026-10-25",
                        today="2026-10-25"))
    assert lines[0].startswith("error: AR-4") and "2026-11-03" in lines[0], lines
    ok(cli("charge", ra, "--reason", "supervisor: lost", "--ref", "CH-1", "--on", "2026-11-03",
           today="2026-11-03"))


def test_charge_reason_is_free_text_checked_for_card_numbers(cli):
    ra = stalled(cli)
    lines = refused(cli("charge", ra, "--reason", "card 4111 1111 1111 1111", today="2026-11-05"))
    assert "card number" in lines[0] and "4111" not in lines[0]


# --- 3. serials at every step (AR-1, VR-4) -------------------------------------------------------


def test_an_advanced_return_missing_a_serial_does_not_ship(cli):
    ra = held(cli, "SN-1")
    ok(cli("serial", "remove", ra, "SN-1", today="2026-10-01"))
    lines = refused(cli("ship", ra, today="2026-10-02"))
    assert len(lines) == 1 and lines[0].startswith("error: AR-1") and "CAM-1" in lines[0]
    assert show(cli, ra)["status"] == "hold-authorized"
    ok(cli("serial", "add", ra, "SN-9", today="2026-10-02"))
    ok(cli("ship", ra, today="2026-10-02"))


def test_a_virtual_return_missing_a_serial_does_not_ship_or_complete(cli):
    ra = json.loads(ok(cli("open", "--type", "virtual", "--customer", "Vee", "--item", "CAM-1:2",
                           "--serial", "SN-V1", "--serial", "SN-V2", "--approved-by", "Dana",
                           "--reason", "site down", "--json", today="2026-10-01")).stdout)["ra"]
    ok(cli("serial", "remove", ra, "SN-V2", today="2026-10-01"))
    lines = refused(cli("ship", ra, today="2026-10-01"))
    assert lines[0].startswith("error: VR-4") and "CAM-1" in lines[0]
    assert show(cli, ra)["status"] == "authorized"


# --- 4. zero list price (AR-3) --------------------------------------------------------------------


def test_a_zero_list_price_is_kept_but_refused_for_an_advanced_return(cli, db_path):
    ok(cli("catalog", "add", "FREE-PART", "--category", "other", "--list-price", "0"))
    assert {"model": "FREE-PART", "list_price": "0.00"}.items() <= next(
        r for r in json.loads(ok(cli("catalog", "list", "--json")).stdout)
        if r["model"] == "FREE-PART").items()
    before = counts(db_path)
    lines = refused(cli("open", "--type", "ar", "--customer", "Acme", "--item", "FREE-PART",
                        "--serial", "SN-F1"))
    assert all(x.startswith("error: AR-3") for x in lines) and "FREE-PART" in lines[0]
    assert counts(db_path) == before
    result = cli("check", "--type", "ar", "--item", "FREE-PART", "--serial", "SN-F1", "--json")
    assert result.exit_code == 1
    assert [v["rule"] for v in json.loads(result.stdout)["violations"]] == ["AR-3"]
    ok(cli("open", "--type", "standard", "--customer", "Acme", "--item", "FREE-PART"))


# --- 5. a late unit and SER-1 ---------------------------------------------------------------------


def test_a_late_return_does_not_hold_its_serial_against_ser_1(cli):
    first = delivered(cli, "SN-LATE")
    ok(cli("charge", first, "--ref", "CH-1", "--on", "2026-11-03", today="2026-11-03"))
    # charged is closed: the serial is free
    second = advanced(cli, "SN-LATE", step="opened", on="2026-11-04")
    ok(cli("receive", first, "--on", "2026-11-05", today="2026-11-05"))  # never refused
    assert show(cli, first)["status"] == "late-return"
    ok(cli("cancel", second, "--reason", "opened by mistake", today="2026-11-05"))
    # the late unit is back: it holds nothing
    third = advanced(cli, "SN-LATE", step="opened", on="2026-11-06")
    found = {r["ra"] for r in json.loads(ok(cli("serial", "find", "SN-LATE", "--json")).stdout)}
    assert {first, second, third} == found
    lines = refused(cli("open", "--type", "standard", "--customer", "B", "--item", "CAM-1",
                        "--serial", "SN-LATE", today="2026-11-06"))
    assert lines[0].startswith("error: SER-1") and third in lines[0] and first not in lines[0]


# --- 6. ambiguous dates ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["13/01/2025", "12/01/25", "1/2/3", "2025/01/12", "01-12-2025",
                                  "12.01.2025"])
def test_an_ambiguous_date_is_refused_in_one_line_suggesting_iso(cli, db_path, text):
    ra = held(cli, "SN-1", step="shipped", ship="2026-10-02")
    before = counts(db_path)
    lines = refused(cli("deliver", ra, "--on", text, today="2027-01-20"))
    assert len(lines) == 1 and "YYYY-MM-DD" in lines[0], lines
    assert counts(db_path) == before


def test_slash_dates_are_month_first(cli):
    ra = held(cli, "SN-1", step="shipped", ship="2026-10-02")
    ok(cli("deliver", ra, "--on", "10/12/2026", today="2026-10-20"))
    assert show(cli, ra)["delivered_on"] == "2026-10-12"


@pytest.mark.parametrize("argv", [["deliver", "RA-000001", "--on", ""],
                                  ["note", "RA-000001", "hi", "--on", ""],
                                  ["overdue", "--as-of", ""], ["export", "ledger", "--from", ""],
                                  ["hold", "RA-000001", "--ref", "AUTH-2", "--expires", ""]])
def test_an_empty_date_is_refused_not_read_as_today(cli, db_path, argv):
    held(cli, "SN-1", step="shipped", ship="2026-10-02")
    before = counts(db_path)
    lines = refused(cli(*argv, today="2026-10-20"))
    assert len(lines) == 1 and "empty" in lines[0], lines
    assert counts(db_path) == before


@CLI_SETTINGS
@given(st.integers(13, 31), st.integers(1, 12), st.integers(2001, 2026))
def test_any_day_first_date_is_refused_by_the_command(cli, first, second, year):
    lines = refused(cli("overdue", "--as-of", f"{first}/{second}/{year}"))
    assert len(lines) == 1 and "YYYY-MM-DD" in lines[0]


# --- 7. card numbers in any disguise --------------------------------------------------------------

PAN = "4111111111111111"
DISGUISES = [
    "4111.1111.1111.1111", "4111/1111/1111/1111", "4111,1111,1111,1111", "4111_1111_1111_1111",
    "4111  1111  1111  1111", "4111\t1111\t1111\t1111", "4111\n1111\n1111\n1111",
    "4111\u00a01111\u00a01111\u00a01111", "4111\u200b1111\u200b1111\u200b1111",
    "4111\u20131111\u20131111\u20131111",
    "\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11",
    "41111111111111111227",  # PAN and expiry as one bare run
    "card: 4111 - 1111 - 1111 - 1111, exp 12/27",
]


def long_runs(text: str) -> list[str]:
    """Runs of digit groups joined by anything but letters and digits, 13 digits or more."""
    return [m for m in re.findall(r"\d+(?:[\W_]+\d+)*", text) if len(_digits(m)) >= 13]


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


@pytest.mark.parametrize("typed", DISGUISES, ids=range(len(DISGUISES)))
@pytest.mark.parametrize("argv", [
    ["open", "--type", "standard", "--customer", "{}", "--item", "CAM-1"],
    ["open", "--type", "counter", "--customer", "C", "--item", "CAM-1", "--ticket", "{}",
     "--distributor", "ADI"],
    ["note", "RA-000001", "{}"],
    ["hold", "RA-000001", "--ref", "{}"],
    ["check", "--type", "standard", "--item", "CAM-1", "--customer", "{}"],
], ids=["customer", "ticket", "note", "hold-ref", "check"])
def test_a_disguised_card_number_is_refused_everywhere_and_never_echoed(cli, db_path, argv, typed):
    advanced(cli, "SN-1", step="linked")
    before = counts(db_path)
    result = cli(*[a.replace("{}", typed) for a in argv])
    assert result.exit_code == 1, result.output
    shown = result.stdout + result.stderr
    assert "card number" in shown and PAN not in _digits(shown) and "1111" not in shown
    assert counts(db_path) == before


def test_the_agent_from_the_environment_is_checked_for_disguised_cards(cli, db_path, monkeypatch):
    for typed in DISGUISES:
        monkeypatch.setenv("SPECO_RETURNS_AGENT", typed)
        lines = refused(cli("catalog", "add", "CAM-2", "--category", "camera"))
        assert "card number" in lines[0] and "1111" not in lines[0]


def test_a_bare_digit_run_longer_than_19_points_to_tracking(cli, db_path):
    advanced(cli, "SN-1", step="linked")
    lines = refused(cli("note", "RA-000001", "parcel 12345678901234567890123 on its way"))
    assert len(lines) == 1 and "--tracking" in lines[0] and "1234567890123" not in lines[0]
    ok(cli("note", "RA-000001", "tracking sent by mail, order 4500012345"))


@pytest.mark.parametrize("argv", [
    ["overdue", "--as-of", "{}"], ["export", "ledger", "--from", "{}"], ["show", "{}"],
    ["open", "--type", "standard", "--customer", "A", "--item", "CAM-1:{}"],
    ["catalog", "add", "X", "--category", "camera", "--list-price", "{}"], ["list", "--type", "{}"],
    # AR-3 names the model
    ["open", "--type", "advanced", "--customer", "A", "--item", "{}", "--serial", "SN-1"],
    # VR-2 names the model, in the document
    ["check", "--type", "virtual", "--item", "{}", "--json"],
])
@pytest.mark.parametrize("number", ["4111.1111.1111.1112", "1234567890123",
                                    "1234 5678 9012 3456 7"])
def test_no_refusal_echoes_a_run_of_13_or_more_digits(cli, argv, number):
    result = cli(*[a.replace("{}", number) for a in argv])
    assert result.exit_code in (1, 2), result.output
    assert long_runs(result.stdout + result.stderr) == [], result.output


# --- 8. check --json on bad input ---------------------------------------------------------------


@pytest.mark.parametrize("argv, rules", [
    (["--type", "counter", "--item", "CAM-1", "--ticket", "RA-12", "--distributor", "ADI"],
     ["OTC-1"]),
    (["--type", "standard", "--item", "CAM-1:0"], [None]),
    (["--type", "advanced", "--item", "CAM-1", "--serial", "bad serial!"], [None, "AR-1"]),
    (["--type", "counter", "--item", "CAM-1:0", "--ticket", "RA-1"], [None, "OTC-1"]),
    (["--item", "CAM-1"], [None]),
    (["--type", "weird", "--item", "CAM-1"], [None]),
])
def test_check_json_answers_every_problem_in_its_document(cli, argv, rules):
    result = cli("check", *argv, "--json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["eligible"] is False
    got = [v["rule"] for v in doc["violations"]]
    assert set(got) == set(rules) and len(got) >= len(rules), doc
    assert all(v["message"] for v in doc["violations"])


def test_check_json_lists_format_and_rule_problems_together(cli):
    result = cli("check", "--type", "counter", "--item", "CAM-1:0", "--item", "CAM-1", "--ticket",
                 "RA-7", "--json")
    doc = json.loads(result.stdout)
    messages = [v["message"] for v in doc["violations"]]
    assert any("quantity" in m for m in messages) and any("RA-" in m for m in messages)
    assert any("distributor" in m for m in messages), messages


def test_check_json_never_echoes_a_card_number(cli):
    result = cli("check", "--type", "standard", "--item", "CAM-1", "--customer",
                 "4111.1111.1111.1111", "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["violations"] and "1111" not in result.stdout + result.stderr


# --- 9. a shifted catalog price ------------------------------------------------------------------


@pytest.mark.parametrize("text, line", [
    ("model,category,list_price\nCAM-9,camera,1,299.00\n", 2),
    ("model,category,list_price,description\nCAM-9,camera,99,ok\nCAM-8,camera\n", 3),
    ("model,category,list_price,list_price\nCAM-9,camera,1299,1\n", 1),
    ("model,category,list_price,colour\nCAM-9,camera,1299,red\n", 1),
])
def test_catalog_import_refuses_a_shifted_or_ambiguous_file_naming_the_line(
        cli, db_path, tmp_path, text, line):
    path = tmp_path / "models.csv"
    path.write_text(text, encoding="utf-8")
    before = json.loads(ok(cli("catalog", "list", "--json")).stdout)
    lines = refused(cli("catalog", "import", str(path)))
    assert any(f"line {line}" in line_ for line_ in lines), lines
    assert json.loads(ok(cli("catalog", "list", "--json")).stdout) == before


def test_catalog_import_reads_a_quoted_grouped_price(cli, tmp_path):
    path = tmp_path / "models.csv"
    path.write_text('model,category,list_price\nCAM-9,camera,"1,299.00"\n', encoding="utf-8")
    ok(cli("catalog", "import", str(path)))
    row = next(r for r in json.loads(ok(cli("catalog", "list", "--json")).stdout)
               if r["model"] == "CAM-9")
    assert row["list_price"] == "1299.00"


# --- 10. a pinned today ---------------------------------------------------------------------------


WRITES = [
    ["catalog", "add", "CAM-2", "--category", "camera"],
    ["open", "--type", "standard", "--customer", "A", "--item", "CAM-1"],
    ["note", "RA-000001", "hello"],
    ["serial", "remove", "RA-000001", "SN-0"],
    ["link", "RA-000001"],
]


@pytest.mark.parametrize("argv", WRITES, ids=lambda a: " ".join(a[:2]))
def test_every_write_command_notes_a_pinned_today(cli, argv):
    advanced(cli, "SN-0", step="opened")
    result = ok(cli(*argv, today="2026-10-02"))
    notes = [line_ for line_ in result.stderr.splitlines() if line_.startswith("note:")]
    assert (len(notes) == 1 and "2026-10-02" in notes[0]
            and "SPECO_RETURNS_TODAY" in notes[0]), result.stderr


def test_no_note_without_a_pinned_today_and_none_on_reads(cli):
    result = ok(cli("catalog", "add", "CAM-2", "--category", "camera"))
    assert result.stderr == ""
    assert ok(cli("catalog", "list", today="2026-10-02")).stderr == ""


def test_no_refusal_echoes_a_long_serial(cli):
    ok(cli("open", "--type", "standard", "--customer", "A", "--item", "CAM-1", "--serial",
           "1234567890123"))
    result = cli("open", "--type", "standard", "--customer", "B", "--item", "CAM-1", "--serial",
                 "1234567890123")
    lines = refused(result)
    assert (lines[0].startswith("error: SER-1") and "RA-000001" in lines[0]
            and long_runs(result.stderr) == [])


def test_check_without_json_lists_every_input_problem_one_line_each(cli, db_path):
    lines = refused(cli("check", "--type", "counter", "--item", "CAM-1:0", "--ticket", "RA-7"))
    assert (len(lines) == 2 and any("quantity" in x for x in lines)
            and any("OTC-1" in x for x in lines))


def test_catalog_import_skips_a_spreadsheet_s_empty_rows(cli, tmp_path):
    path = tmp_path / "models.csv"
    path.write_text("model,category,list_price\nCAM-9,camera,99\n,,\n\n", encoding="utf-8")
    assert ok(cli("catalog", "import", str(path))).stdout == "imported 1 model(s)\n"


@CLI_SETTINGS
@given(st.sampled_from(["4111111111111111", "378282246310005", "6011111111111117",
                        "5500000000000004"]),
       st.lists(st.sampled_from([" ", ".", "  ", "\t", "\u00a0", "\u200b", "\u2013", "/", "_",
                                 ", "]), min_size=3, max_size=3),
       st.booleans())
def test_a_card_number_in_any_disguise_never_reaches_the_database(
        cli, db_path, pan, joiners, full_width):
    parts = [pan[:4], pan[4:8], pan[8:12], pan[12:]]
    typed = parts[0] + "".join(j + p for j, p in zip(joiners, parts[1:], strict=True))
    if full_width:
        typed = typed.translate(str.maketrans(
            "0123456789", "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19"))
    result = cli("open", "--type", "standard", "--customer", "Acme", "--item", "CAM-1", "--note",
                 f"paid {typed}")
    assert result.exit_code == 1 and "card number" in result.stderr, (typed, result.output)
    assert pan not in _digits(result.stdout + result.stderr)
    assert counts(db_path)["returns"] == 0
