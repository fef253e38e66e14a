"""What an agent sees at a real terminal of 60, 80 and 120 columns (issue 13, items 1, 2 and 7).

The installed `speco-returns` runs on a pseudo-terminal whose size is set with TIOCSWINSZ
(tests/ptyhelpers.py); the assertions read the screen: every key (RA number, ticket, serial,
date, amount, state) whole on one line, no line past the right edge, no ellipsis.
"""

from __future__ import annotations

import os
import re

import pytest
from clihelpers import ok
from ptyhelpers import screen

WIDTHS = (60, 80, 120)
# Two serials that differ only at the end, both 32 characters: a cut one reads like the other.
SERIAL_A = "SN-2024-" + "0" * 22 + "A1"
SERIAL_B = "SN-2024-" + "0" * 22 + "B2"
TODAY = "2026-12-02"


@pytest.fixture
def agent_day(cli, db_path):
    """One return in each overdue state, long names, long e-mails, 32-character serials, big
    amounts."""

    def run(*args, today="2026-11-01"):
        return ok(cli(*args, today=today))

    run("catalog", "add", "O4B3", "--category", "camera", "--list-price", "13249.47",
        "--description",
        "4MP bullet camera, 2.8 mm lens, the model most returned this year by a wide margin")

    def advanced(customer, serial, *contact, hold_expires="2026-12-04", deliver=None):
        run("open", "--type", "advanced", "--customer", customer, "--item", "O4B3", "--serial",
            serial, *contact)
        ra = [r for r in cli("list", "--json").stdout.split('"') if r.startswith("RA-")][0]
        run("link", ra)
        run("hold", ra, "--ref", f"AUTH-{serial[-6:]}", "--expires", hold_expires)
        run("ship", ra, "--tracking", "1Z999AA10123456784")
        if deliver:
            run("deliver", ra, "--on", deliver, today=deliver)
        return ra

    ras = {
        "overdue": advanced("Northwind Security Integrators of Greater Springfield", SERIAL_A,
                            "--email", "operations.desk@northwind-security.example.com", "--phone",
                            "(201) 555-0100", deliver="2026-11-01"),
        "delivery-unknown": advanced("Acme Alarm", SERIAL_B, "--phone", "555-0101"),
        "return-stalled": advanced("Bob's Alarm", "SN-B3-0001", "--email", "bob@example.com",
                                   deliver="2026-11-01"),
        "due-soon": advanced("Dan's Doors", "SN-D4-0001", "--email", "dan@example.com",
                             deliver="2026-11-03"),
    }
    run("unit-shipped", ras["return-stalled"], "--tracking", "1ZRETURN0000000042", "--on",
        "2026-11-05", today="2026-11-05")
    return ras


def _env(db_path, **extra) -> dict[str, str]:
    env = dict(os.environ, SPECO_RETURNS_DB=str(db_path), SPECO_RETURNS_TODAY=TODAY, NO_COLOR="1")
    env.update(extra)
    return env


def assert_whole(lines: list[str], width: int, keys: list[str]) -> None:
    text = "\n".join(lines)
    assert "…" not in text, text
    too_long = [line for line in lines if len(line.rstrip()) > width]
    assert not too_long, too_long
    for key in keys:
        assert any(key in line for line in lines), (f"{key} is cut or folded at {width} "
                                                     f"columns:\n{text}")


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_show_keeps_every_key_whole(agent_day, db_path, width):
    ra = agent_day["overdue"]
    code, lines = screen(["show", ra], width, _env(db_path))
    assert code == 0
    dates = sorted(set(re.findall(r"\d{4}-\d\d-\d\d", "\n".join(lines))))
    # opened and events, due, hold expiry
    assert {"2026-11-01", "2026-12-01", "2026-12-04"} <= set(dates)
    assert_whole(lines, width, [ra, SERIAL_A, "$13,249.47", "replacement-delivered", "AUTH-0000A1",
                                "1Z999AA10123456784"])


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_list_keeps_every_key_whole(agent_day, db_path, width):
    code, lines = screen(["list"], width, _env(db_path))
    assert code == 0
    assert_whole(lines, width, [*agent_day.values(), "replacement-delivered", "unit-in-transit",
                                "replacement-shipped", "2026-11-01"])


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_overdue_keeps_every_key_whole(agent_day, db_path, width):
    code, lines = screen(["overdue", "--within", "5"], width, _env(db_path))
    assert code == 0
    assert_whole(lines, width, [*agent_day.values(), *agent_day.keys(), "hold-expiring",
                                "$13,249.47", "2026-12-01", "2026-12-03", "2026-12-04",
                                "1ZRETURN0000000042"])


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_serial_find_keeps_every_key_whole(agent_day, db_path, width):
    code, lines = screen(["serial", "find", SERIAL_A.lower()], width, _env(db_path))
    assert code == 0
    assert_whole(lines, width, [SERIAL_A, agent_day["overdue"], "replacement-delivered",
                                "2026-11-01"])


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_catalog_list_keeps_every_key_whole(agent_day, db_path, width):
    code, lines = screen(["catalog", "list"], width, _env(db_path))
    assert code == 0
    assert_whole(lines, width, ["O4B3", "camera", "$13,249.47"])


@pytest.mark.slow
def test_a_table_where_it_fits_stacked_where_it_cannot(agent_day, db_path):
    """80 columns hold the overdue table; 60 do not, and each row becomes `key: value` lines."""
    _, wide = screen(["overdue", "--within", "5"], 80, _env(db_path))
    _, narrow = screen(["overdue", "--within", "5"], 60, _env(db_path))
    header = [line for line in wide if line.split()[:2] == ["ra", "state"]]
    assert header, wide
    assert not any(line.startswith("ra:") for line in wide)
    stacked = [line.split()[1] for line in narrow if line.startswith("ra:")]
    # every row, in the order of the table (worst first, then hold-expiring)
    assert (stacked == [agent_day[s] for s in ("overdue", "due-soon", "delivery-unknown",
                                               "return-stalled")]
            + sorted(agent_day.values())), narrow


@pytest.mark.parametrize("columns", ["60", "200"])
def test_piped_output_stays_a_table_at_any_columns(agent_day, cli, monkeypatch, columns):
    """No terminal: the same table as ever, never stacked, never a page."""
    monkeypatch.setenv("COLUMNS", columns)
    out = ok(cli("overdue", "--within", "5", today=TODAY)).stdout.splitlines()
    assert not any(line.startswith("ra:") for line in out), out
    assert any(line.split()[:2] == ["ra", "state"] for line in out), out
    assert sum(1 for line in out if re.match(r"\s+RA-\d{6}", line)) == 8  # every row
