"""Big lists, search and the overdue rows an agent acts on."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import string

import pytest
from clihelpers import ok
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ptyhelpers import screen

from speco_returns.db import listing as db_listing
from speco_returns.db.database import open_database as Store
from speco_returns.domain import inputs, rules
from speco_returns.domain.clock import Now
from speco_returns.domain.keys import customer_key
from speco_returns.services import returns as returns_service

NOW = Now(today=inputs.parse_date("2026-11-26"), stamp="2026-11-26T12:00:00+00:00", agent="tester")


def _many(db_path, n: int, closed: int = 0) -> None:
    """n open standard returns (and `closed` cancelled ones), straight through the store."""
    store = Store(db_path)
    for i in range(n + closed):
        req = rules.Request(type="standard", items=(("CAM-1", 1),), customer=f"Customer {i:03d}")
        key, _ = returns_service.open_return(store, req, {"phone": f"555-{i:04d}"}, None,
                                             NOW.today, NOW)
        if i >= n:
            returns_service.record(store, key, "cancel", NOW.today, NOW, reason="duplicate")
    store.close()


def _env(db_path) -> dict[str, str]:
    return dict(os.environ, SPECO_RETURNS_DB=str(db_path), SPECO_RETURNS_TODAY="2026-11-26",
                NO_COLOR="1")


def _ras(lines) -> list[str]:
    return re.findall(r"RA-\d{6}", "\n".join(lines))


# --- item 2: --limit, a page at a terminal, complete elsewhere --------------------------


@pytest.mark.slow
def test_a_terminal_shows_a_page_of_50_with_a_footer(db_path):
    _many(db_path, 61)
    code, lines = screen(["list"], 120, _env(db_path), rows=100)
    assert code == 0
    assert len(_ras(lines)) == 50 and _ras(lines)[0] == "RA-000061"  # newest first
    assert "50 of 61 shown: --limit 0 for all, --csv for a file" in lines


@pytest.mark.slow
def test_limit_0_at_a_terminal_shows_all_and_limit_n_shows_n(db_path):
    _many(db_path, 61)
    _, lines = screen(["list", "--limit", "0"], 120, _env(db_path), rows=100)
    assert len(_ras(lines)) == 61 and not any("shown" in line for line in lines)
    _, lines = screen(["list", "--limit", "3"], 120, _env(db_path))
    assert _ras(lines) == ["RA-000061", "RA-000060", "RA-000059"]
    assert "3 of 61 shown: --limit 0 for all, --csv for a file" in lines


def test_json_csv_and_pipes_are_complete_unless_limit_is_given(db_path, cli):
    _many(db_path, 61)
    assert len(json.loads(ok(cli("list", "--json")).stdout)) == 61
    assert len(list(csv.DictReader(io.StringIO(ok(cli("list", "--csv")).stdout)))) == 61
    piped = ok(cli("list")).stdout
    assert len(_ras(piped.splitlines())) == 61 and "shown" not in piped
    assert ([r["ra"] for r in json.loads(ok(cli("list", "--json", "--limit", "2")).stdout)]
            == ["RA-000061", "RA-000060"])
    assert len(list(csv.DictReader(io.StringIO(
        ok(cli("list", "--csv", "--limit", "2")).stdout)))) == 2
    assert "2 of 61 shown" in ok(cli("list", "--limit", "2")).stdout


def test_limit_on_overdue_serial_find_and_catalog_list(cli):
    for model in ("A1", "B2", "C3"):
        ok(cli("catalog", "add", model, "--category", "camera", "--list-price", "10"))
    for n in range(3):
        ok(cli("open", "--type", "standard", "--customer", "C", "--item", "A1", "--serial",
               "SN-SHARED"))
        ok(cli("cancel", f"RA-00000{n + 1}", "--reason", "wrong unit"))
    assert [r["model"] for r in json.loads(
        ok(cli("catalog", "list", "--json", "--limit", "2")).stdout)] == ["A1", "B2"]
    assert ("2 of 3 shown: --limit 0 for all, --csv for a file"
            in ok(cli("catalog", "list", "--limit", "2")).stdout)
    found = ok(cli("serial", "find", "SN-SHARED", "--limit", "1")).stdout
    assert _ras(found.splitlines()) == ["RA-000003"] and "1 of 3 shown: --limit 0 for all" in found
    assert len(json.loads(ok(cli("serial", "find", "SN-SHARED", "--json")).stdout)) == 3
    assert json.loads(ok(cli("overdue", "--json", "--limit", "1")).stdout) == []
    assert cli("list", "--limit", "-1").exit_code == 2


def test_no_open_returns_but_closed_ones_match_says_so(db_path, cli):
    _many(db_path, 1, closed=3)
    out = ok(cli("list", "--customer", "customer 00")).stdout
    assert "RA-000001" in out and "closed" not in out
    out = ok(cli("list", "--customer", "customer 002")).stdout
    assert out.strip() == "No open returns; 1 closed: add --all."
    assert ok(cli("list", "--search", "555-000")).stdout.count("RA-") == 1  # the open one
    assert (ok(cli("list", "--search", "customer 003")).stdout.strip()
            == "No open returns; 1 closed: add --all.")
    assert ok(cli("list", "--customer", "nobody")).stdout.strip() == "No returns."
    assert json.loads(ok(cli("list", "--customer", "customer 002", "--json")).stdout) == []


# --- item 10: --search -------------------------------------------------------------------


@pytest.fixture
def searchable(cli):
    ok(cli("catalog", "add", "O4B3", "--category", "camera", "--list-price", "249.99"))
    ok(cli("open", "--type", "advanced", "--customer", "Carol's CCTV", "--email",
           "Carol@Example.com", "--phone", "(201) 555-0100", "--item", "O4B3", "--serial",
           "SN-3001"))
    ok(cli("link", "RA-000001"))
    ok(cli("hold", "RA-000001", "--ref", "AUTH-88231"))
    # re-authorized: the old reference still finds it
    ok(cli("hold", "RA-000001", "--ref", "AUTH-90417"))
    ok(cli("ship", "RA-000001", "--tracking", "1Z999AA10123456784"))
    ok(cli("deliver", "RA-000001"))
    ok(cli("unit-shipped", "RA-000001", "--tracking", "9400111899223100001234"))
    ok(cli("open", "--type", "counter", "--customer", "Bob's Alarm", "--item", "DVR-8", "--ticket",
           "TT-55012", "--distributor", "ADI"))
    ok(cli("open", "--type", "standard", "--customer", "Acme Security", "--item", "X", "--phone",
           "201.555.0199"))


@pytest.mark.parametrize("text,found", [
    ("carol", ["RA-000001"]),                    # customer, any case
    ("CAROL@EX", ["RA-000001"]),                 # e-mail
    ("201-555", ["RA-000002", "RA-000001"]),     # phone digits, whatever the layout typed or stored
    ("(201) 555 01", ["RA-000002", "RA-000001"]),
    ("tt-550", ["TT-55012"]),                    # ticket
    ("1z999aa1012", ["RA-000001"]),              # Speco's shipment
    ("94001118", ["RA-000001"]),                 # the customer's return shipment
    ("auth-8823", ["RA-000001"]),                # a hold reference since replaced
    ("auth-90417", ["RA-000001"]),
    ("sn-30", ["RA-000001"]),                    # serial
    ("acme", ["RA-000002"]),
    ("security", ["RA-000002"]),                 # anywhere in a field: the middle of a name
    ("CCTV", ["RA-000001"]),
    ("example.COM", ["RA-000001"]),              # the end of an e-mail
    ("0199", ["RA-000002"]),                     # the last digits of a phone
    ("3001", ["RA-000001"]),                     # the last digits of a serial
    ("5012", ["TT-55012"]),
    ("23456784", ["RA-000001"]),                 # the end of a tracking number
    ("zzz", []),
])
def test_search_finds_a_piece_of_any_field_in_any_case(searchable, cli, text, found):
    rows = json.loads(ok(cli("list", "--all", "--search", text, "--json")).stdout)
    assert [r["ra"] for r in rows] == found


def test_search_combines_with_the_other_filters_and_refuses_empty_text(searchable, cli):
    assert [r["ra"] for r in json.loads(ok(cli("list", "--all", "--search", "201", "--type",
                                               "standard", "--json")).stdout)] \
        == ["RA-000002"]
    assert cli("list", "--search", "  ").exit_code == 1


@pytest.mark.sqlite_only("SQLite's planner")
def test_search_reads_indexes_never_a_whole_table(db):
    captured = []
    db.raw.set_trace_callback(captured.append)
    list(db_listing.listing(db, db_listing.Filters(include_closed=True, search="(201) 555"),
                            NOW.today, limit=50))
    db.raw.set_trace_callback(None)
    # FTS5 traces its own statements too
    (sql,) = [s for s in captured if s.startswith("SELECT ra_no")]
    plan = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql)]
    scans = [p for p in plan if p.startswith("SCAN") and "USING" not in p and "SUBQUERY" not in p
             and "VIRTUAL" not in p]
    assert not scans, plan
    matches = [p for p in plan if "search_terms VIRTUAL TABLE INDEX 0:M" in p]
    # the text as typed, and its digits: each a look-up in the trigram index
    assert len(matches) == 2, plan


_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " -.@()'", min_size=1, max_size=12)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(customers=st.lists(_TEXT.filter(str.strip), min_size=1, max_size=4),
       query=_TEXT.filter(str.strip))
def test_search_agrees_with_contains_ignoring_case(tmp_path_factory, customers, query):
    """Whatever the text (3 characters or more), --search of customers is 'the name holds it,
    case ignored', as --customer compares it."""
    assume(len(query.strip()) >= 3)
    store = Store(tmp_path_factory.mktemp("search") / "r.db")
    expected = []
    for customer in customers:
        req = rules.Request(type="standard", items=(("CAM-1", 1),), customer=customer.strip())
        key, _ = returns_service.open_return(store, req, {}, None, NOW.today, NOW)
        if customer_key(query.strip()) in customer_key(customer.strip()):
            expected.append(key)
    digits = "".join(c for c in query if c.isdigit())
    got = [r["ra"] for r in db_listing.listing(
        store, db_listing.Filters(include_closed=True, search=query), NOW.today)]
    if not (len(digits) >= 3 and all(c.isdigit() or c in " -().+" for c in query.strip())):
        assert sorted(got) == sorted(expected)
    else:
        assert set(expected) <= set(got)
    store.close()


# --- item 7: overdue rows that say what to do ------------------------------------------------


def test_overdue_rows_state_the_fact_each_needs_and_the_contact(cli):
    def run(*args, today):
        return ok(cli(*args, today=today))

    run("catalog", "add", "O4B3", "--category", "camera", "--list-price", "249.99",
        today="2026-11-01")
    contacts = ["a@example.com", "555-0102", "c@example.com 555-0103", None]
    for n, contact in enumerate(contacts, 1):
        extra = []
        for part in (contact or "").split():
            extra += ["--email" if "@" in part else "--phone", part]
        run("open", "--type", "advanced", "--customer", f"Customer {n}", "--item", "O4B3",
            "--serial", f"SN-000{n}", *extra, today="2026-11-01")
        run("link", f"RA-00000{n}", today="2026-11-01")
        run("hold", f"RA-00000{n}", "--ref", f"AUTH-{n}", "--expires", "2026-12-04",
            today="2026-11-01")
        run("ship", f"RA-00000{n}", today="2026-11-01")
    run("deliver", "RA-000001", today="2026-11-01")                      # due 2026-12-01: overdue
    # due 2026-12-03: due soon
    run("deliver", "RA-000004", "--on", "2026-11-03", today="2026-11-03")
    run("deliver", "RA-000003", today="2026-11-01")
    run("unit-shipped", "RA-000003", "--tracking", "1ZBACK42", "--on", "2026-11-05",
        today="2026-11-05")  # stalled
    # RA-000002: shipped, never delivered
    out = ok(cli("overdue", "--within", "5", today="2026-12-02")).stdout
    lines = [line.rstrip() for line in out.splitlines()]
    assert lines[0] == "Returns to chase as of 2026-12-02"

    def row(ra, state):
        at = next(i for i, line in enumerate(lines) if ra in line and state in line)
        block = [lines[at]]
        for line in lines[at + 1:]:
            if re.match(r"\s+RA-", line) or not line.strip():
                break
            block.append(line)
        return " ".join(" ".join(block).split())

    assert "due 2026-12-01, 1 day late; hold $249.99" in row("RA-000001", "overdue")
    assert "a@example.com" in row("RA-000001", "overdue")
    assert "due 2026-12-03, in 1 day" in row("RA-000004", "due-soon")
    assert "no e-mail or phone recorded" in row("RA-000004", "due-soon")
    assert ("shipped 2026-11-01, 31 days ago, no delivery recorded"
            in row("RA-000002", "delivery-unknown"))
    assert "555-0102" in row("RA-000002", "delivery-unknown")
    assert ("unit shipped 2026-11-05 (27 days ago), tracking 1ZBACK42"
            in row("RA-000003", "return-stalled"))
    assert "c@example.com 555-0103" in row("RA-000003", "return-stalled")
    for n in range(1, 5):
        assert "hold expires 2026-12-04" in row(f"RA-00000{n}", "hold-expiring")
    assert json.loads(ok(cli("overdue", "--json", "--within", "5",
                             today="2026-12-02")).stdout)[3]["unit_tracking"] == "1ZBACK42"
    assert (ok(cli("overdue", today="2026-11-02")).stdout.strip()
            == "Nothing overdue as of 2026-11-02.")
