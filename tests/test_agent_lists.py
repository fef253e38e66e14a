"""Lists an agent can steer: --sort, --opened FROM..TO, --agent NAME|me, the due date and age of
each return, and `show 2` for RA-000002 (on both engines)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from clihelpers import ok, query, raw, refused

from speco_returns.domain import inputs
from speco_returns.errors import ReturnsError

TODAY = "2026-11-26"


@pytest.fixture
def three(cli, db_path, backend):
    """RA-000001 advanced (due back 2026-12-04) by ann, RA-000002 standard by bob (cancelled), a
    counter return ticket 3 by ann, RA-000003 standard by ann."""
    def run(*args, agent="ann", today=TODAY):
        return ok(cli("--agent", agent, *args, today=today))

    run("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "100")
    run("open", "-t", "advanced", "-c", "Zeta Co", "-i", "CAM-1", "-s", "SN-0001", "--on",
        "2026-11-01", "-y")
    for event in (["link"], ["hold", "--ref", "AUTH-1"], ["ship"]):
        run(event[0], "RA-000001", *event[1:], "--on", "2026-11-02")
    run("deliver", "RA-000001", "--on", "2026-11-04")
    run("open", "-t", "standard", "-c", "Alpha Co", "-i", "CAM-1", "--on", "2026-11-10", "-y",
        agent="bob")
    run("cancel", "RA-000002", "--reason", "changed mind", "--on", "2026-11-12", agent="bob")
    run("open", "-t", "counter", "-c", "Mid Co", "-i", "CAM-1", "--ticket", "3", "--distributor",
        "ADI", "--on", "2026-11-20", "-y")
    run("open", "-t", "standard", "-c", "Beta Co", "-i", "CAM-1", "--on", "2026-11-25", "-y")
    # a server records its login, whatever --agent says: bob's return made his
    if backend == "postgres":
        (login,) = query(db_path, "SELECT opened_by FROM returns WHERE ra_no = 1")[0]
        with raw(db_path) as conn:
            conn.execute("UPDATE returns SET opened_by = 'bob' WHERE ra_no = 2")
        return login
    return "ann"


def keys(cli, *args, agent="ann"):
    return [r["ra"] for r in json.loads(ok(cli("--agent", agent, "list", *args, "--json",
                                               today=TODAY)).stdout)]


def test_each_row_carries_who_opened_it_its_due_date_and_age(cli, three):
    rows = {r["ra"]: r for r in json.loads(ok(cli("list", "--all", "--json", today=TODAY)).stdout)}
    assert rows["RA-000001"]["due_on"] == "2026-12-04" and rows["RA-000001"]["age_days"] == 25
    assert rows["RA-000002"]["age_days"] == 2  # closed: its age stopped the day it closed
    assert rows["RA-000002"]["opened_by"] == "bob" and rows["RA-000002"]["due_on"] is None
    assert rows["RA-000003"]["age_days"] == 1
    header = next(csv.reader(io.StringIO(ok(cli("list", "--csv", today=TODAY)).stdout)))
    # new ones last
    assert header[-6:] == ["opened_by", "due_on", "age_days", "fault", "finding", "hold_state"]


def test_sort_orders_by_what_the_agent_names(cli, three):
    assert keys(cli) == ["RA-000003", "3", "RA-000001"]  # newest first, as before
    assert keys(cli, "--sort", "oldest") == ["RA-000001", "3", "RA-000003"]
    assert keys(cli, "--sort", "due") == ["RA-000001", "3", "RA-000003"]  # the one due back first
    assert keys(cli, "--all", "--sort", "customer") == ["RA-000002", "RA-000003", "3", "RA-000001"]
    # by the state's name
    assert keys(cli, "--all", "--sort", "STATUS") == ["RA-000003", "RA-000002", "RA-000001", "3"]
    (line,) = refused(cli("list", "--sort", "sideways"))
    assert "newest, oldest, due, customer, status, type" in line


def test_opened_takes_a_range_either_end_open_or_one_day(cli, three):
    assert keys(cli, "--all", "--opened", "2026-11-10..2026-11-20") == ["3", "RA-000002"]
    assert keys(cli, "--all", "--opened", "11/20/2026..") == ["RA-000003", "3"]
    assert keys(cli, "--all", "--opened", "..2026-11-01") == ["RA-000001"]
    assert keys(cli, "--all", "--opened", "2026-11-25") == ["RA-000003"]
    for bad, says in (("2026-11-20..2026-11-10", "from 2026-11-20 to 2026-11-10 ends before it "
                                                 "starts: put the earlier day first"),
                      ("11/20/2026..Nov 10 2026", "from 2026-11-20 to 2026-11-10 ends before it "
                                                  "starts"),
                      ("..", "has no end"), ("2026-11-31..", "not a date")):
        (line,) = refused(cli("list", "--opened", bad))
        assert says in line


def test_agent_me_is_the_one_recording(cli, three, backend):
    assert keys(cli, "--all", "--agent", "me") == ["RA-000003", "3", "RA-000001"]
    if backend == "sqlite":  # on a server `me` is the login, whatever --agent says
        assert keys(cli, "--all", "--agent", "me", agent="bob") == ["RA-000002"]
    assert keys(cli, "--all", "--agent", three) == ["RA-000003", "3", "RA-000001"]
    assert keys(cli, "--all", "--agent", "bob") == ["RA-000002"]
    assert keys(cli, "--all", "--agent", "nobody") == []


def test_show_takes_a_bare_number_and_a_ticket_of_digits_still_wins(cli, three):
    assert json.loads(ok(cli("show", "2", "--json")).stdout)["ra"] == "RA-000002"
    assert json.loads(ok(cli("show", "000001", "--json")).stdout)["ra"] == "RA-000001"
    # the counter return's ticket
    assert json.loads(ok(cli("show", "3", "--json")).stdout)["ra"] == "3"
    assert json.loads(ok(cli("show", "RA-3", "--json")).stdout)["ra"] == "RA-000003"
    (line,) = refused(cli("show", "9"))
    assert "no return 9" in line
    ok(cli("note", "1", "called the customer"))  # every command that names a return


def test_a_date_range_parses_as_written():
    d = inputs.parse_date
    assert inputs.parse_date_range("2026-11-01..2026-11-30") == (d("2026-11-01"), d("2026-11-30"))
    assert inputs.parse_date_range(" Nov 1 2026 .. ") == (d("2026-11-01"), None)
    with pytest.raises(ReturnsError):
        inputs.parse_date_range("2026-11-01...2026-11-30")
