"""What `doctor` must see on both backends: tables that change what the tool does, edited
outside it (each edit made as an attacker would, straight into the database), and rows the
tool never writes, which every view must still show without a traceback."""

from __future__ import annotations

import json

import pytest
from clihelpers import ok, raw

TODAY = "2026-11-26"


@pytest.fixture
def returns(cli):
    """RA-000001 standard; RA-000002 advanced, delivered, overdue; T-1 a counter return."""
    for args in [
        ("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "499.99"),
        ("open", "-t", "standard", "-c", "Ann", "-i", "CAM-1", "-s", "SN0001", "--on", "2026-10-01"),
        ("open", "-t", "advanced", "-c", "Bob", "--email", "bob@example.com", "-i", "CAM-1", "-s", "SN0002",
         "--on", "2026-10-01", "-y"),
        ("link", "RA-000002", "--on", "2026-10-01"),
        ("hold", "RA-000002", "--ref", "AUTH-2", "--on", "2026-10-02"),
        ("ship", "RA-000002", "--on", "2026-10-03"),
        ("deliver", "RA-000002", "--on", "2026-10-05"),
        ("open", "-t", "counter", "-c", "Gus", "-i", "CAM-1", "--ticket", "T-1", "--distributor", "ADI",
         "--on", "2026-10-10"),
    ]:
        ok(cli(*args, today=TODAY))


def doctor(cli) -> tuple[int, dict, str]:
    result = cli("doctor", "--json")
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, json.loads(result.stdout), result.stderr


def named(report: dict, text: str) -> bool:
    return any(text in p for p in report["problems"])


def test_the_fixture_is_healthy(cli, returns):
    code, report, err = doctor(cli)
    assert (code, report["problems"], err) == (0, [], "")


@pytest.mark.parametrize("ra_no", [1, 2])
def test_a_return_whose_ra_number_was_erased_is_named_and_every_view_still_shows(cli, returns, db_path, ra_no):
    with raw(db_path) as conn:
        conn.execute("UPDATE returns SET ra_no = NULL WHERE ra_no = ?", [ra_no])
    code, report, err = doctor(cli)
    assert code == 1 and named(report, "1 return(s) have no RA number (changed outside the tool): id"), report["problems"]
    assert all("Traceback" not in line for line in err.splitlines())
    for args in [("list",), ("list", "--all"), ("list", "--json"), ("list", "--search", "CAM"), ("overdue",),
                 ("overdue", "--json"), ("export", "returns"), ("export", "holds"), ("export", "ledger"), ("report",),
                 ("show", "T-1"), ("show", f"RA-00000{3 - ra_no}")]:
        result = cli(*args, today=TODAY)
        assert result.exit_code == 0 and result.exception is None, (args, result.stderr, result.exception)
    listed = json.loads(ok(cli("list", "--all", "--json", today=TODAY)).stdout)
    assert "(no RA number)" in [r["ra"] for r in listed]
    assert "(no RA number)," in ok(cli("export", "returns", today=TODAY)).stdout
