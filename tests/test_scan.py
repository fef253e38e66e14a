"""`receive --scan` at the dock: one scanned code per line, one line per box."""

from __future__ import annotations

import pytest
from clihelpers import ok, query
from hypothesis import given
from hypothesis import strategies as st

from speco_returns.domain.slip import qr_payload, scanned_key

TODAY = "2026-11-10"


def seed(cli):
    for step in [
        ("catalog", "add", "O4B3", "--category", "camera", "--list-price", "249.99"),
        ("open", "-t", "standard", "-c", "Müller & Söhne", "-i", "O4B3", "--on", "2026-11-01", "-y"),
        ("open", "-t", "advanced", "-c", "Carol's CCTV", "-i", "O4B3", "-s", "SN-9", "--on", "2026-11-01", "-y"),
        ("link", "RA-000002", "--on", "2026-11-01"),
        ("hold", "RA-000002", "--ref", "AUTH-1", "--on", "2026-11-02", "--expires", "2027-12-31"),
        ("ship", "RA-000002", "--on", "2026-11-02"), ("deliver", "RA-000002", "--on", "2026-11-04"),
        ("open", "-t", "standard", "-c", "Closed Co", "-i", "O4B3", "--on", "2026-11-01", "-y"),
        ("cancel", "RA-000003", "--reason", "customer fixed it", "--on", "2026-11-02"),
        ("open", "-t", "counter", "-c", "Frank Co", "-i", "O4B3", "--ticket", "TT-9", "--distributor", "ADI", "-y"),
    ]:
        ok(cli(*step, today=TODAY))


def received_on(db_path, ra_no: int) -> str | None:
    return query(db_path, "SELECT received_on FROM returns WHERE ra_no = ?", [ra_no])[0][0]


def test_each_scanned_line_receives_its_box(cli, db_path):
    seed(cli)
    result = cli("receive", "--scan", input="]C0RA-000001\r\n\n*ra-000002*\n", today=TODAY)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("RA-000001  Müller & Söhne  received: now unit-received")
    assert "Next: Repair or replace the unit and ship it back" in lines[0]
    assert lines[1].startswith("RA-000002  Carol's CCTV  received: now completed; card hold $249.99 released (ref AUTH-1)")
    assert lines[2] == "2 boxes received."
    assert received_on(db_path, 1) == TODAY and received_on(db_path, 2) == TODAY


def test_a_code_matching_no_open_return_is_said_and_the_next_box_goes_on(cli, db_path):
    seed(cli)
    result = cli("receive", "--scan", input="RA-000999\nRA-000003\nTT-9\nhello\nRA-000001 standard\n", today=TODAY)
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert errors[0] == "error: RA-000999: no return has this RA number or ticket; not received"
    assert errors[1] == "error: RA-000003: RA-000003 is cancelled: no open return has this code; not received"
    assert "TT-9" in errors[2] and "not received" in errors[2]
    assert errors[3].startswith("error: hello: no return")
    assert "RA-000001  Müller & Söhne  received" in result.stdout and "1 box received, 4 not." in result.stdout
    assert received_on(db_path, 1) == TODAY and received_on(db_path, 3) is None


def test_a_box_scanned_twice_is_received_once(cli, db_path):
    seed(cli)
    result = cli("receive", "--scan", input="RA-000001\nRA-000001\n", today=TODAY)
    assert result.exit_code == 1
    assert result.stdout.count("received: now unit-received") == 1
    assert "RA-000001" in result.stderr and "not received" in result.stderr
    assert query(db_path, "SELECT count(*) FROM events WHERE event = 'receive'")[0][0] == 1


def test_done_stops_scanning_and_on_dates_the_arrivals(cli, db_path):
    seed(cli)
    ok(cli("receive", "--scan", "--on", "2026-11-09", input="RA-000001\ndone\nRA-000002\n", today=TODAY))
    assert received_on(db_path, 1) == "2026-11-09" and received_on(db_path, 2) is None


def test_the_shell_scans_too_and_goes_on_after_done(cli, db_path):
    seed(cli)
    result = cli("shell", input="receive --scan\nRA-000001\ndone\nshow RA-000001 --json\n", today=TODAY)
    assert result.exit_code == 0, result.output
    assert "RA-000001  Müller & Söhne  received: now unit-received" in result.stdout
    assert '"status": "unit-received"' in result.stdout


@pytest.mark.parametrize("args", [("receive", "RA-000001", "--scan"), ("receive", "--scan", "--json"), ("receive",)])
def test_usage(cli, args):
    assert cli(*args, today=TODAY).exit_code == 2


# --- what a scanner types ----------------------------------------------------------------------

RA_NUMBERS = st.integers(min_value=1, max_value=999_999_999)
NOISE = st.text(st.characters(blacklist_categories=("Nd", "Cs"), blacklist_characters="-"), max_size=6).filter(
    lambda s: "ra" not in s.lower())


@given(RA_NUMBERS, NOISE, NOISE)
def test_an_ra_is_found_whatever_the_scanner_puts_around_it(number, prefix, suffix):
    key = f"RA-{number:06d}"
    assert scanned_key(prefix + key + suffix) == key
    assert scanned_key(prefix + key.lower() + suffix) == key


@given(RA_NUMBERS, st.sampled_from(["standard", "advanced", "counter", "virtual"]))
def test_the_qr_payload_scans_as_its_ra(number, type_):
    key = f"RA-{number:06d}"
    assert scanned_key(qr_payload(key, type_)) == key
    assert scanned_key("]Q1" + qr_payload(key, type_) + "\r\n") == key


@pytest.mark.parametrize("line, key", [("]C0TT-9\n", "TT-9"), ("  TT-55012\t", "TT-55012"), ("\x02TT/1\x03", "TT/1"),
                                       ("\n", None), ("  \t", None)])
def test_tickets_and_blank_lines(line, key):
    assert scanned_key(line) == key
