"""Opening, finding and moving returns through the CLI (SPEC §2, §3, §4).

The clock is pinned with `today=` everywhere a date matters.
"""

from __future__ import annotations

import csv
import functools
import io
import json

import pytest
from builders import advanced, catalog
from clihelpers import counts, ok, refused

TODAY = "2026-12-10"
VIRTUAL_OK = ("--approved-by", "Sue Supervisor", "--reason", "dead on arrival")


# --- helpers ----------------------------------------------------------------------------


def open_json(cli, *args, today=TODAY) -> dict:
    return json.loads(ok(cli("open", *args, "--json", today=today)).stdout)


def show(cli, ra, today=TODAY) -> dict:
    return json.loads(ok(cli("show", ra, "--json", today=today)).stdout)


def listing(cli, *args) -> list[dict]:
    return json.loads(ok(cli("list", *args, "--json", today=TODAY)).stdout)


def standard(cli, customer="Acme", *extra, today=TODAY) -> str:
    return open_json(cli, "--type", "standard", "--customer", customer, "--item", "CAM-1", *extra, today=today)["ra"]


def counter(cli, ticket, customer="Acme", today=TODAY) -> str:
    return open_json(cli, "--type", "otc", "--customer", customer, "--item", "CAM-1", "--ticket", ticket,
                     "--distributor", "ADI Global", today=today)["ra"]


def virtual(cli, customer, *serials, today=TODAY) -> dict:
    return open_json(cli, "--type", "virtual", "--customer", customer, "--item", f"CAM-1:{len(serials)}",
                     *(f"--serial={s}" for s in serials), *VIRTUAL_OK, today=today)


advanced_opened = functools.partial(advanced, step="opened", on=TODAY)


@pytest.fixture(autouse=True)
def _catalog(cli):
    catalog(cli, "CAM-1", "CAM-2", "PTZ-1", "NVR-1")


# --- open: each type, RA numbers, JSON keys ------------------------------------------------------

ITEM_KEYS = {"model", "category", "qty", "list_price", "serials"}
DOC_KEYS = {"ra", "type", "status", "customer", "hold_amount", "due_on", "items", "events"}


def assert_document(doc: dict) -> None:
    assert DOC_KEYS <= set(doc)
    for item in doc["items"]:
        assert ITEM_KEYS <= set(item)
        assert isinstance(item["qty"], int) and isinstance(item["serials"], list)
    for event in doc["events"]:
        assert {"event", "on", "agent"} <= set(event)


def test_open_standard(cli):
    doc = open_json(cli, "--type", "standard", "--customer", "  Acme Security  ", "--email", "ops@acme.test",
                    "--phone", "555-0100", "--item", "cam-1:2", "--item", "any-model", "--note", "called in")
    assert_document(doc)
    assert doc["ra"] == "RA-000001"
    assert (doc["type"], doc["status"], doc["customer"]) == ("standard", "authorized", "Acme Security")
    assert doc["hold_amount"] is None and doc["due_on"] is None
    assert doc["items"] == [
        {**doc["items"][0], "model": "CAM-1", "category": "camera", "qty": 2, "list_price": "100.00", "serials": []},
        {**doc["items"][1], "model": "ANY-MODEL", "category": None, "qty": 1, "list_price": None, "serials": []},
    ]
    assert [(e["event"], e["on"], e["agent"]) for e in doc["events"]] == [("open", TODAY, "tester")]
    assert "called in" in json.dumps(doc["events"])
    assert show(cli, "RA-000001") == doc


def test_open_human_prints_ra_and_next_steps(cli):
    out = ok(cli("open", "--type", "standard", "--customer", "Acme", "--item", "CAM-1", today=TODAY)).stdout
    assert "RA-000001" in out
    assert "ship" in out and "Speco" in out  # the next steps: the customer ships the unit to Speco


def test_ra_numbers_are_a_zero_padded_sequence(cli):
    ras = [standard(cli), advanced_opened(cli, "AR-0001"), virtual(cli, "Bob", "V-0001")["ra"], standard(cli)]
    assert ras == ["RA-000001", "RA-000002", "RA-000003", "RA-000004"]


def test_open_counter_is_keyed_by_ticket(cli):
    doc = open_json(cli, "--type", "otc", "--customer", "Acme", "--item", "CAM-1", "--ticket", "  TT-4471 ",
                    "--distributor", "ADI Global")
    assert_document(doc)
    assert (doc["ra"], doc["type"], doc["status"]) == ("TT-4471", "counter", "ticket-issued")
    assert doc["hold_amount"] is None
    assert show(cli, "tt-4471")["ra"] == "TT-4471"
    # no RA number is issued for a counter return
    assert "RA-" not in json.dumps(doc)
    refused(cli("show", "RA-000001", today=TODAY))


def test_open_counter_human_says_the_distributor_governs(cli):
    out = ok(cli("open", "--type", "counter", "--customer", "Acme", "--item", "X", "--ticket", "TT-1",
                 "--distributor", "ADI", today=TODAY)).stdout
    assert "TT-1" in out
    assert "RA-0" not in out
    assert "distributor" in out.lower() and "take time" in out.lower()  # OTC-2


@pytest.mark.parametrize("ticket", ["RA-000009", "ra-55"])
def test_ticket_may_not_look_like_an_ra(cli, db_path, ticket):
    before = counts(db_path)
    lines = refused(cli("open", "--type", "counter", "--customer", "A", "--item", "X", "--ticket", ticket,
                        "--distributor", "ADI", today=TODAY))
    assert len(lines) == 1 and "OTC-1" in lines[0]
    assert counts(db_path) == before


def test_ticket_is_unique_ignoring_case(cli, db_path):
    counter(cli, "TT-100")
    before = counts(db_path)
    lines = refused(cli("open", "--type", "counter", "--customer", "B", "--item", "X", "--ticket", "tt-100",
                        "--distributor", "ADI", today=TODAY))
    assert len(lines) == 1 and lines[0].startswith("error: OTC-1")
    assert counts(db_path) == before


def test_open_virtual(cli):
    doc = open_json(cli, "--type", "virtual", "--customer", "Acme", "--item", "CAM-1:2", "--serial", "v-0001",
                    "--serial", " V-0002 ", *VIRTUAL_OK)
    assert_document(doc)
    assert (doc["ra"], doc["type"], doc["status"]) == ("RA-000001", "virtual", "authorized")
    assert doc["items"][0]["serials"] == ["V-0001", "V-0002"]
    assert doc["hold_amount"] is None
    assert "Sue Supervisor" in json.dumps(doc) and "dead on arrival" in json.dumps(doc)


def test_open_advanced_snapshots_the_hold(cli):
    doc = open_json(cli, "--type", "advanced", "--customer", "Acme", "--item", "CAM-1:2", "--item", "cam-2",
                    "--serial", "CAM-1=A-0001", "--serial", "cam-1=A-0002", "--serial", "CAM-2=A-0003")
    assert_document(doc)
    assert (doc["type"], doc["status"]) == ("advanced", "authorized")
    assert doc["hold_amount"] == "1499.99"  # 2 x 100.00 + 1 x 1,299.99: list price x qty, summed (AR-3)
    assert doc["due_on"] is None
    assert [(i["model"], i["qty"], i["list_price"], i["serials"]) for i in doc["items"]] == [
        ("CAM-1", 2, "100.00", ["A-0001", "A-0002"]), ("CAM-2", 1, "1299.99", ["A-0003"])]


def test_open_advanced_human_warns_the_hold_may_exceed_what_was_paid(cli):
    out = ok(cli("open", "--type", "advanced", "--customer", "Acme", "--item", "CAM-2", "--serial", "A-0001", today=TODAY)).stdout
    assert "RA-000001" in out and "$1,299.99" in out
    assert "more than" in out  # AR-3: the hold may exceed what the customer paid


def test_open_advanced_without_list_price_is_refused(cli, db_path):
    ok(cli("catalog", "add", "NOPRICE", "--category", "camera"))
    before = counts(db_path)
    lines = refused(cli("open", "--type", "advanced", "--customer", "A", "--item", "NOPRICE", "--serial", "A-0001", today=TODAY))
    assert lines == [line for line in lines if "AR-3" in line]
    assert counts(db_path) == before


def test_open_refuses_every_broken_rule(cli, db_path):
    before = counts(db_path)
    result = cli("open", "--type", "virtual", "--customer", "A", "--item", "PTZ-1", "--item", "NVR-1:3",
                 "--serial", "PTZ-1=P-0001", *(f"--serial=NVR-1=N-000{i}" for i in range(3)), *VIRTUAL_OK, "--json", today=TODAY)
    lines = refused(result)
    assert result.stdout == ""
    assert any("VR-3" in line for line in lines) and any("VR-2" in line for line in lines)
    assert counts(db_path) == before


def test_snapshot_prices_survive_catalog_changes(cli):
    ra = advanced_opened(cli, "A-0001")
    before = show(cli, ra)
    ok(cli("catalog", "add", "CAM-1", "--category", "ptz", "--list-price", "5,000"))
    after = show(cli, ra)
    assert after["hold_amount"] == before["hold_amount"] == "100.00"
    assert after["items"] == before["items"]
    assert after["items"][0]["category"] == "camera"
    assert advanced_opened(cli, "A-0002") == "RA-000002"
    assert show(cli, "RA-000002")["hold_amount"] == "5000.00"


@pytest.mark.parametrize("on, stored", [("2026-12-09", "2026-12-09"), ("12/01/2026", "2026-12-01"),
                                        ("Nov 26 2026", "2026-11-26"), (TODAY, TODAY)])
def test_open_on_a_past_date(cli, on, stored):
    doc = open_json(cli, "--type", "standard", "--customer", "A", "--item", "X", "--on", on)
    assert doc["events"][0]["on"] == stored
    assert listing(cli)[0]["opened_on"] == stored


@pytest.mark.parametrize("on", ["2026-12-11", "2027-01-01", "not a date", "2026-02-30"])
def test_open_on_a_future_or_bad_date_is_refused(cli, db_path, on):
    before = counts(db_path)
    result = cli("open", "--type", "standard", "--customer", "A", "--item", "X", "--on", on, "--json", today=TODAY)
    assert len(refused(result)) == 1
    assert result.stdout == ""
    assert counts(db_path) == before


# --- open with no terminal: never asks ---------------------------------------------------------

MISSING = [
    ("standard", ["--type", "standard"], [(None, "--customer"), (None, "--item")]),
    ("counter", ["--type", "counter", "--customer", "A", "--item", "X"], [("OTC-1", "--ticket"), ("OTC-1", "--distributor")]),
    ("counter, everything", ["--type", "otc"],
     [(None, "--customer"), (None, "--item"), ("OTC-1", "--ticket"), ("OTC-1", "--distributor")]),
    ("virtual", ["--type", "virtual", "--customer", "A", "--item", "CAM-1"],
     [("VR-1", "--approved-by"), ("VR-1", "--reason"), ("VR-4", "--serial")]),
    ("advanced", ["--type", "advanced", "--customer", "A", "--item", "CAM-1:2", "--serial", "A-0001"], [("AR-1", "--serial")]),
    ("no type", ["--customer", "A", "--item", "X"], [(None, "--type")]),
    ("nothing", [], [(None, "--type"), (None, "--customer"), (None, "--item")]),
]


@pytest.mark.parametrize("args, expected", [m[1:] for m in MISSING], ids=[m[0] for m in MISSING])
@pytest.mark.parametrize("as_json", [False, True])
def test_open_without_terminal_lists_every_missing_field(cli, db_path, args, expected, as_json):
    before = counts(db_path)
    # Answers wait on stdin; with no terminal the tool must not read them.
    result = cli("open", *args, *(["--json"] if as_json else []), input="standard\nAcme\nCAM-1\nT-1\nADI\ny\n", today=TODAY)
    lines = refused(result)
    assert len(lines) == len(expected), lines
    for line, (rule, option) in zip(lines, expected, strict=True):
        assert option in line, (line, option)
        if rule:
            assert line.startswith(f"error: {rule}"), line
    assert result.stdout == ""
    assert counts(db_path) == before


# --- open at a terminal: asks ---------------------------------------------------------------


@pytest.fixture
def terminal(monkeypatch):
    monkeypatch.setattr("speco_returns.cli.prompts.interactive", lambda *args, **kwargs: True)


def test_terminal_asks_for_everything_a_virtual_return_needs(cli, terminal):
    answers = "virtual\nAcme\nCAM-1:2\nno-video\nSue\nlightning strike\nV-0001\nv-0002\n\n\ny\n"  # Enter: no e-mail, no phone
    result = ok(cli("open", input=answers, today=TODAY))
    assert "RA-000001" in result.stdout
    doc = show(cli, "RA-000001")
    assert (doc["type"], doc["customer"], doc["approved_by"], doc["reason"]) == ("virtual", "Acme", "Sue", "lightning strike")
    assert doc["items"][0]["qty"] == 2 and doc["items"][0]["serials"] == ["V-0001", "V-0002"]


def test_terminal_asks_for_ticket_and_distributor(cli, terminal):
    ok(cli("open", "--type", "otc", "--customer", "Acme", "--item", "X", input="\nTT-9\nADI Global\n\n\n\ny\n", today=TODAY))
    doc = show(cli, "tt-9")
    assert (doc["type"], doc["ticket"], doc["distributor"]) == ("counter", "TT-9", "ADI Global")


def test_terminal_asks_for_serials_only_where_missing(cli, terminal):
    ok(cli("open", "--type", "ar", "--customer", "Acme", "--item", "CAM-1:2", "--serial", "A-0001",
           input="no-video\nnot ok!\nA-0002\n\n\ny\n", today=TODAY))
    assert show(cli, "RA-000001")["items"][0]["serials"] == ["A-0001", "A-0002"]


def test_terminal_asks_again_for_a_serial_already_given(cli, terminal):
    result = ok(cli("open", "--type", "ar", "--customer", "Acme", "--item", "CAM-1:2", "--serial", "A-0001",
                    input="no-video\na-0001\nA-0002\n\n\ny\n", today=TODAY))
    assert "already given" in result.output
    assert show(cli, "RA-000001")["items"][0]["serials"] == ["A-0001", "A-0002"]


def test_terminal_answer_no_writes_nothing(cli, terminal, db_path):
    before = counts(db_path)
    result = cli("open", input="standard\nAcme\nCAM-1, X:2\nno-video\n\n\n\nn\ndiscard\n", today=TODAY)  # no, then discard
    assert ok(result).stderr.splitlines() == ["discarded a standard return for Acme: nothing was written"]
    assert counts(db_path) == before


def test_terminal_yes_skips_the_confirmation(cli, terminal):
    # No answer is given for a confirmation: asking for one would run out of input and fail.
    result = ok(cli("open", "--yes", input="standard\nAcme\nCAM-1, X:2\n", today=TODAY))
    assert "RA-000001" in result.stdout
    assert [(i["model"], i["qty"]) for i in show(cli, "RA-000001")["items"]] == [("CAM-1", 1), ("X", 2)]


def test_terminal_confirms_a_complete_command_too(cli, terminal, db_path):
    before = counts(db_path)
    ok(cli("open", "--type", "standard", "--customer", "A", "--item", "X", input="no-video\n\n\n\nn\ndiscard\n", today=TODAY))
    assert counts(db_path) == before
    ok(cli("open", "--type", "standard", "--customer", "A", "--item", "X", input="no-video\n\n\n\ny\n", today=TODAY))
    assert counts(db_path)["returns"] == 1


# --- SER-1 -----------------------------------------------------------------------------------


def test_ser1_refuses_a_serial_on_another_open_return(cli, db_path):
    ra = standard(cli, "Acme", "--serial", "SN-1234")
    before = counts(db_path)
    result = cli("open", "--type", "advanced", "--customer", "B", "--item", "CAM-1", "--serial", "sn-1234", today=TODAY)
    lines = refused(result)
    assert len(lines) == 1
    assert lines[0].startswith("error: SER-1") and ra in lines[0] and "SN-1234" in lines[0]
    assert counts(db_path) == before


def test_ser1_names_a_counter_return_by_its_ticket(cli):
    open_json(cli, "--type", "otc", "--customer", "A", "--item", "X", "--ticket", "TT-5", "--distributor", "D",
              "--serial", "SN-5555")
    lines = refused(cli("open", "--type", "standard", "--customer", "B", "--item", "X", "--serial", "SN-5555", today=TODAY))
    assert "TT-5" in lines[0] and "SER-1" in lines[0]


@pytest.mark.parametrize("close", [["receive"], ["cancel", "--reason", "duplicate"]])
def test_ser1_allows_a_serial_on_a_closed_return(cli, close):
    ra = standard(cli, "Acme", "--serial", "SN-1234")
    ok(cli(close[0], ra, *close[1:], today=TODAY))
    if close[0] == "receive":
        ok(cli("ship", ra, today=TODAY))
    assert show(cli, ra)["status"] in ("completed", "cancelled")
    assert advanced_opened(cli, "SN-1234", customer="B") == "RA-000002"


def test_ser1_on_serial_add(cli, db_path):
    first = standard(cli, "Acme", "--serial", "SN-1234")
    second = standard(cli, "B")
    before = counts(db_path)
    lines = refused(cli("serial", "add", second, "sn-1234", today=TODAY))
    assert lines[0].startswith("error: SER-1") and first in lines[0]
    assert counts(db_path) == before


# --- VR-2 split warning ------------------------------------------------------------------------


def test_vr2_split_warns_on_check_and_open(cli):
    virtual(cli, "Acme Security", "V-0001", "V-0002", today="2026-12-01")

    check = cli("check", "--type", "virtual", "--customer", "acme security", "--item", "CAM-1:2", "--serial", "V-0003",
                "--serial", "V-0004", *VIRTUAL_OK, "--json", today=TODAY)
    assert check.exit_code == 0, check.output
    doc = json.loads(check.stdout)
    assert doc["eligible"] is True and doc["violations"] == []
    assert [w["rule"] for w in doc["warnings"]] == ["VR-2"]

    human = ok(cli("check", "--type", "virtual", "--customer", "ACME SECURITY", "--item", "CAM-1:2", "--serial", "V-0003",
                   "--serial", "V-0004", *VIRTUAL_OK, today=TODAY))
    assert "VR-2" in human.stdout

    opened = virtual(cli, "Acme Security", "V-0003", "V-0004")
    assert opened["ra"] == "RA-000002"
    assert "VR-2" in [w["rule"] for w in opened["warnings"]]

    human_open = ok(cli("open", "--type", "virtual", "--customer", "acme security", "--item", "CAM-1", "--serial", "V-0005",
                        *VIRTUAL_OK, today=TODAY))
    assert "RA-000003" in human_open.stdout and "VR-2" in human_open.output


def test_vr2_no_warning_without_customer_or_for_others(cli):
    virtual(cli, "Acme", "V-0001", "V-0002", "V-0003")
    base = ("check", "--type", "virtual", "--item", "CAM-1", "--serial", "V-0009", *VIRTUAL_OK, "--json")
    for extra in ([], ["--customer", "Someone Else"]):
        doc = json.loads(ok(cli(*base, *extra, today=TODAY)).stdout)
        assert doc["violations"] == [] and not doc.get("warnings")
    assert not virtual(cli, "Someone Else", "V-0009")["warnings"]


def test_vr2_and_list_customer_casefold_as_python_does_on_both_backends(cli):
    """The stored customer_key (m013): 'Straße' is 'STRASSE' and a final sigma is a sigma, on a
    server too (its lower() keeps 'ß' and 'ς' as they are)."""
    virtual(cli, "Müller Straße GmbH", "V-0001", "V-0002", today="2026-12-01")
    virtual(cli, "Οδυσσέας Κάμερες", "V-0003", "V-0004", today="2026-12-01")
    for customer in ("MÜLLER STRASSE GMBH", "ΟΔΥΣΣΈΑΣ ΚΆΜΕΡΕΣ"):
        doc = json.loads(ok(cli("check", "--type", "virtual", "--customer", customer, "--item", "CAM-1:2",
                                "--serial", "V-0009", "--serial", "V-0010", *VIRTUAL_OK, "--json", today=TODAY)).stdout)
        assert [w["rule"] for w in doc["warnings"]] == ["VR-2"], customer
    assert [r["ra"] for r in listing(cli, "--customer", "strasse")] == ["RA-000001"]
    assert [r["ra"] for r in listing(cli, "--customer", "ΟΔΥΣΣΈΑΣ")] == ["RA-000002"]
    ok(cli("edit", "RA-000001", "--customer", "Weiß Video", today=TODAY))  # the key follows an edit of the name
    assert listing(cli, "--customer", "strasse") == [] and len(listing(cli, "--customer", "WEISS")) == 1


def test_vr2_counts_only_the_last_30_days(cli):
    virtual(cli, "Acme", "V-0001", "V-0002", "V-0003", today="2026-10-01")
    assert not [w for w in virtual(cli, "Acme", "V-0004")["warnings"] if w["rule"] == "VR-2"]


# --- serials ---------------------------------------------------------------------------------


def test_serial_add_remove(cli):
    ra = open_json(cli, "--type", "standard", "--customer", "A", "--item", "CAM-1:2", "--item", "NVR-1")["ra"]
    refused(cli("serial", "add", ra, "S-0001", today=TODAY))  # several models: MODEL=SERIAL needed
    ok(cli("serial", "add", ra, "cam-1=s-0001", "CAM-1=S-0002", today=TODAY))
    ok(cli("serial", "add", ra, " n-0003 ", "--model", "nvr-1", today=TODAY))
    doc = show(cli, ra)
    assert {i["model"]: i["serials"] for i in doc["items"]} == {"CAM-1": ["S-0001", "S-0002"], "NVR-1": ["N-0003"]}
    ok(cli("serial", "remove", ra, "s-0002", today=TODAY))
    assert show(cli, ra)["items"][0]["serials"] == ["S-0001"]
    assert len(refused(cli("serial", "remove", ra, "S-0002", today=TODAY))) == 1
    assert [e["event"] for e in show(cli, ra)["events"]][0] == "open"


def test_serial_add_refuses_too_many(cli, db_path):
    ra = standard(cli, "A", "--serial", "S-0001")
    before = counts(db_path)
    assert len(refused(cli("serial", "add", ra, "S-0002", today=TODAY))) == 1
    assert counts(db_path) == before
    other = open_json(cli, "--type", "standard", "--customer", "A", "--item", "CAM-1:2")["ra"]
    before = counts(db_path)
    refused(cli("serial", "add", other, "S-1001", "S-1002", "S-1003", today=TODAY))
    assert counts(db_path) == before  # none of the three is written
    assert show(cli, other)["items"][0]["serials"] == []


@pytest.mark.parametrize("serial", ["abc", "S" * 33, "S 0001", "S_0001", "SÉRIE-01"])
def test_serial_add_refuses_bad_serials(cli, db_path, serial):
    ra = standard(cli)
    before = counts(db_path)
    assert len(refused(cli("serial", "add", ra, serial, today=TODAY))) == 1
    assert counts(db_path) == before


def test_serial_add_refused_on_a_closed_return(cli, db_path):
    ra = standard(cli)
    ok(cli("cancel", ra, "--reason", "customer fixed it", today=TODAY))
    before = counts(db_path)
    assert len(refused(cli("serial", "add", ra, "S-0001", today=TODAY))) == 1
    assert counts(db_path) == before


def test_serial_find_shows_open_and_closed_returns(cli):
    closed = standard(cli, "Acme", "--serial", "SN-42")
    ok(cli("receive", closed, today=TODAY))
    ok(cli("ship", closed, today=TODAY))
    opened = advanced_opened(cli, "SN-42", customer="Bob")
    standard(cli, "Carl", "--serial", "SN-43")

    rows = json.loads(ok(cli("serial", "find", "sn-42", "--json", today=TODAY)).stdout)
    assert {r["ra"]: r["status"] for r in rows} == {closed: "completed", opened: "authorized"}
    human = ok(cli("serial", "find", "SN-42", today=TODAY)).stdout
    assert closed in human and opened in human and "RA-000003" not in human
    assert json.loads(ok(cli("serial", "find", "SN-99", "--json", today=TODAY)).stdout) == []


# --- show ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["RA-000001", "ra-000001", "Ra-000001", " RA-000001 "])
def test_show_by_ra_any_case(cli, key):
    standard(cli)
    assert show(cli, key)["ra"] == "RA-000001"
    assert "RA-000001" in ok(cli("show", key, today=TODAY)).stdout


@pytest.mark.parametrize("key", ["TT-abc-9", "tt-ABC-9", "TT-ABC-9"])
def test_show_by_ticket_any_case(cli, key):
    counter(cli, "TT-Abc-9")
    assert show(cli, key)["ra"] == "TT-Abc-9"


def test_show_human(cli):
    ra = advanced_opened(cli, "A-0001")
    out = ok(cli("show", ra, today=TODAY)).stdout
    assert ra in out and "CAM-1" in out and "A-0001" in out and "$100.00" in out and "authorized" in out


@pytest.mark.parametrize("key", ["RA-000404", "TT-404", "nothing"])
def test_show_unknown(cli, key):
    standard(cli)
    result = cli("show", key, "--json", today=TODAY)
    assert len(refused(result)) == 1
    assert result.stdout == ""


# --- list ------------------------------------------------------------------------------------


@pytest.fixture
def several(cli):
    """RA-000001 standard completed, RA-000002 advanced, TT-1 counter (no RA number), RA-000003 virtual
    cancelled, RA-000004 standard."""
    a = standard(cli, "Acme Security", today="2026-12-01")
    ok(cli("receive", a, today="2026-12-02"))
    ok(cli("ship", a, today="2026-12-03"))
    advanced_opened(cli, "A-0001", customer="Bob's Cameras", on="2026-12-04")
    counter(cli, "TT-1", customer="ACME west", today="2026-12-05")
    v = virtual(cli, "Carl", "V-0001", today="2026-12-06")["ra"]
    ok(cli("cancel", v, "--reason", "not needed", today="2026-12-07"))
    standard(cli, "Dana", today="2026-12-08")


def test_list_open_returns_newest_first(cli, several):
    rows = listing(cli)
    assert [r["ra"] for r in rows] == ["RA-000004", "TT-1", "RA-000002"]
    assert set(rows[0]) >= {"ra", "type", "status", "customer", "opened_on"}
    assert rows[0] == {**rows[0], "ra": "RA-000004", "type": "standard", "status": "authorized", "customer": "Dana",
                       "opened_on": "2026-12-08"}


def test_list_all(cli, several):
    assert [r["ra"] for r in listing(cli, "--all")] == ["RA-000004", "RA-000003", "TT-1", "RA-000002", "RA-000001"]


LIST_FILTERS = [
    (["--type", "standard"], ["RA-000004"]),
    (["--type", "standard", "--all"], ["RA-000004", "RA-000001"]),
    (["--type", "otc"], ["TT-1"]),
    (["--type", "AR"], ["RA-000002"]),
    (["--status", "completed"], ["RA-000001"]),
    (["--status", "cancelled"], ["RA-000003"]),
    (["--status", "authorized"], ["RA-000004", "RA-000002"]),
    (["--customer", "acme"], ["TT-1"]),
    (["--customer", "ACME", "--all"], ["TT-1", "RA-000001"]),
    (["--customer", "'s cam"], ["RA-000002"]),
    (["--customer", "nobody"], []),
    (["--type", "virtual", "--status", "cancelled"], ["RA-000003"]),
]


def test_list_filters(cli, several):
    # One database for every filter: building it is the slow part.
    for args, expected in LIST_FILTERS:
        assert [r["ra"] for r in listing(cli, *args)] == expected, args


def test_list_customer_ignores_case_beyond_ascii(cli):
    standard(cli, "Émile Müller GmbH")
    for text in ("müller", "MÜLLER", "émile", "ÉMILE"):
        assert [r["ra"] for r in listing(cli, "--customer", text)] == ["RA-000001"], text


def test_list_human_and_csv(cli, several):
    human = ok(cli("list", today=TODAY)).stdout
    assert "RA-000004" in human and "TT-1" in human and "RA-000001" not in human
    result = ok(cli("list", "--all", "--csv", today=TODAY))
    rows = list(csv.DictReader(io.StringIO(result.stdout_bytes.decode("utf-8"), newline="")))
    assert list(rows[0])[:5] == ["ra", "type", "status", "customer", "opened_on"]
    assert [r["ra"] for r in rows] == ["RA-000004", "RA-000003", "TT-1", "RA-000002", "RA-000001"]
    assert rows[3]["customer"] == "Bob's Cameras" and rows[3]["opened_on"] == "2026-12-04"


def test_list_json_with_csv_is_a_usage_error(cli):
    result = cli("list", "--json", "--csv", today=TODAY)
    assert result.exit_code == 2
    assert result.stdout == ""


@pytest.mark.parametrize("args", [["--type", "refund"], ["--status", "lost"]])
def test_list_bad_filter(cli, args):
    result = cli("list", *args, "--json", today=TODAY)
    assert len(refused(result)) == 1 and result.stdout == ""


# --- life of a return ----------------------------------------------------------------------------


def status(cli, ra) -> str:
    return show(cli, ra)["status"]


def test_standard_life(cli, db_path):
    ra = standard(cli, today="2026-12-01")
    before = counts(db_path)
    lines = refused(cli("ship", ra, today="2026-12-02"))
    assert len(lines) == 1 and lines[0].startswith("error: STD-1")
    assert counts(db_path) == before and status(cli, ra) == "authorized"

    assert json.loads(ok(cli("unit-shipped", ra, "--tracking", "1Z999AA10123456784", "--json", today="2026-12-03")).stdout)["status"] == "unit-in-transit"
    refused(cli("ship", ra, today="2026-12-03"))
    assert status(cli, ra) == "unit-in-transit"
    ok(cli("receive", ra, today="2026-12-05"))
    assert status(cli, ra) == "unit-received"
    ok(cli("ship", ra, "--tracking", "1Z999AA10123456785", today="2026-12-06"))
    doc = show(cli, ra)
    assert doc["status"] == "completed"
    assert [(e["event"], e["on"]) for e in doc["events"]] == [
        ("open", "2026-12-01"), ("unit-shipped", "2026-12-03"), ("receive", "2026-12-05"), ("ship", "2026-12-06")]
    assert "1Z999AA10123456784" in json.dumps(doc["events"])
    assert [r["ra"] for r in listing(cli)] == []
    refused(cli("ship", ra, today="2026-12-07"))  # nothing moves a completed return


def test_standard_receive_without_unit_shipped(cli):
    ra = standard(cli)
    ok(cli("receive", ra, today=TODAY))
    ok(cli("ship", ra, today=TODAY))
    assert status(cli, ra) == "completed"


def test_counter_life(cli, db_path):
    ticket = counter(cli, "TT-77")
    for event in ("ship", "receive", "unit-shipped"):
        before = counts(db_path)
        assert len(refused(cli(event, ticket, today=TODAY))) == 1
        assert counts(db_path) == before
    doc = json.loads(ok(cli("complete", "tt-77", "--json", today=TODAY)).stdout)
    assert (doc["ra"], doc["status"]) == ("TT-77", "completed")


def test_virtual_life(cli, db_path):
    ra = virtual(cli, "Acme", "V-0001")["ra"]
    for event in ("receive", "unit-shipped"):
        before = counts(db_path)
        lines = refused(cli(event, ra, today=TODAY))
        assert len(lines) == 1 and lines[0].startswith("error: VR-5")
        assert counts(db_path) == before
    ok(cli("ship", ra, today=TODAY))
    assert status(cli, ra) == "completed"


def test_complete_serves_only_counter_and_late_returns(cli):
    for ra in (standard(cli), advanced_opened(cli, "A-0001"), virtual(cli, "B", "V-0001")["ra"]):
        assert len(refused(cli("complete", ra, "--note", "done", today=TODAY))) == 1
        assert status(cli, ra) == "authorized"


def advance(cli, ra, *events):
    for event in events:
        args = {"hold": ["--ref", "AUTH-1"], "cancel": ["--reason", "first"]}.get(event, [])
        ok(cli(event, ra, *args, today=TODAY))


CANCEL_ALLOWED = [
    ("standard", []), ("counter", []), ("virtual", []),
    ("advanced", []), ("advanced", ["link"]), ("advanced", ["link", "hold"]),
]
CANCEL_REFUSED = [
    ("standard", ["unit-shipped"]), ("standard", ["receive"]), ("standard", ["receive", "ship"]),
    ("counter", ["complete"]), ("virtual", ["ship"]),
    ("advanced", ["link", "hold", "ship"]), ("advanced", ["link", "hold", "ship", "deliver"]),
    ("advanced", ["link", "hold", "ship", "receive"]), ("standard", ["cancel"]),
]


def new_return(cli, type_) -> str:
    return {"standard": lambda: standard(cli), "counter": lambda: counter(cli, "TT-1"),
            "virtual": lambda: virtual(cli, "A", "V-0001")["ra"], "advanced": lambda: advanced_opened(cli, "A-0001")}[type_]()


@pytest.mark.parametrize("type_, events", CANCEL_ALLOWED)
def test_cancel_allowed(cli, type_, events):
    ra = new_return(cli, type_)
    advance(cli, ra, *events)
    doc = json.loads(ok(cli("cancel", ra, "--reason", "customer found the fault", "--json", today=TODAY)).stdout)
    assert doc["status"] == "cancelled"
    assert doc["events"][-1]["event"] == "cancel"
    assert "customer found the fault" in json.dumps(doc["events"][-1])


@pytest.mark.parametrize("type_, events", CANCEL_REFUSED)
def test_cancel_refused(cli, db_path, type_, events):
    ra = new_return(cli, type_)
    advance(cli, ra, *events)
    was = status(cli, ra)
    before = counts(db_path)
    assert len(refused(cli("cancel", ra, "--reason", "too late", today=TODAY))) == 1
    assert counts(db_path) == before and status(cli, ra) == was


def test_cancel_needs_a_reason(cli, db_path):
    ra = standard(cli)
    assert cli("cancel", ra, today=TODAY).exit_code == 2
    before = counts(db_path)
    assert len(refused(cli("cancel", ra, "--reason", "   ", today=TODAY))) == 1
    assert counts(db_path) == before


def test_note(cli):
    ra = standard(cli)
    ok(cli("note", ra, "customer will ship Monday", today=TODAY))
    doc = show(cli, ra)
    assert doc["status"] == "authorized"
    assert doc["events"][-1] == {**doc["events"][-1], "event": "note", "on": TODAY, "agent": "tester"}
    assert "customer will ship Monday" in json.dumps(doc["events"][-1])
    assert len(refused(cli("note", ra, "  ", today=TODAY))) == 1
    assert len(refused(cli("note", "RA-000404", "x", today=TODAY))) == 1


@pytest.mark.parametrize("field", [
    ["open", "--type", "standard", "--customer", "Card 4111 1111 1111 1111", "--item", "X"],
    ["open", "--type", "standard", "--customer", "A", "--email", "4111111111111111@x.test", "--item", "X"],
    ["open", "--type", "standard", "--customer", "A", "--phone", "4111-1111-1111-1111", "--item", "X"],
    ["open", "--type", "standard", "--customer", "A", "--item", "X", "--note", "cc 4111 1111 1111 1111 123"],
    ["open", "--type", "counter", "--customer", "A", "--item", "X", "--ticket", "4111111111111111", "--distributor", "D"],
    ["open", "--type", "counter", "--customer", "A", "--item", "X", "--ticket", "T-1", "--distributor", "4111111111111111"],
    ["open", "--type", "virtual", "--customer", "A", "--item", "CAM-1", "--serial", "V-0001", "--approved-by", "4111111111111111",
     "--reason", "r"],
    ["note", "RA-000001", "card is 4111 1111 1111 1111"],
    ["cancel", "RA-000001", "--reason", "4111 1111 1111 1111"],
])
def test_card_numbers_are_refused_and_never_echoed(cli, db_path, field):
    standard(cli)
    before = counts(db_path)
    result = cli(*field, today=TODAY)
    assert len(refused(result)) == 1
    assert "4111" not in result.output
    assert counts(db_path) == before


def test_serials_and_tracking_numbers_are_exempt_from_the_card_check(cli):
    ra = standard(cli, "Acme", "--serial", "4111111111111111")  # SPEC §6: about one in ten long numbers passes Luhn
    ok(cli("unit-shipped", ra, "--tracking", "4111 1111 1111 1111", today=TODAY))
    doc = show(cli, ra)
    assert doc["items"][0]["serials"] == ["4111111111111111"]
    assert "4111 1111 1111 1111" in json.dumps(doc["events"])


# --- event dates -------------------------------------------------------------------------------


def test_event_dates_never_before_the_last_state_change_nor_in_the_future(cli, db_path):
    ra = standard(cli, "Acme", "--on", "2026-12-01")
    before = counts(db_path)
    for event, on in (("unit-shipped", "2026-11-30"), ("unit-shipped", "2026-12-11"), ("receive", "2027-01-01")):
        assert len(refused(cli(event, ra, "--on", on, today=TODAY))) == 1
    assert len(refused(cli("note", ra, "early", "--on", "2026-11-30", today=TODAY))) == 1
    assert len(refused(cli("note", ra, "late", "--on", "2026-12-11", today=TODAY))) == 1
    assert counts(db_path) == before

    ok(cli("unit-shipped", ra, "--on", "2026-12-01", today=TODAY))  # the same day is fine
    ok(cli("receive", ra, "--on", "12/05/2026", today=TODAY))
    refused(cli("ship", ra, "--on", "2026-12-04", today=TODAY))
    # notes and serial edits do not move the floor
    ok(cli("note", ra, "called the customer", "--on", "2026-12-09", today=TODAY))
    ok(cli("serial", "add", ra, "S-0001", today=TODAY))
    ok(cli("ship", ra, "--on", "2026-12-06", today=TODAY))
    events = show(cli, ra)["events"]
    assert [(e["event"], e["on"]) for e in events] == [
        ("open", "2026-12-01"), ("unit-shipped", "2026-12-01"), ("receive", "2026-12-05"), ("note", "2026-12-09"),
        ("serial-add", TODAY), ("ship", "2026-12-06")]


def test_history_records_agent_and_dates(cli, backend):
    ra = standard(cli, "Acme", "--on", "2026-12-01")
    ok(cli("--agent", "alice", "unit-shipped", ra, "--on", "2026-12-02", today=TODAY))
    ok(cli("--agent", "bob", "note", ra, "arrived damaged", today=TODAY))
    ok(cli("receive", ra, today=TODAY))
    events = show(cli, ra)["events"]
    # On a server the recorded agent is the database login (here `tester`): --agent cannot impersonate.
    alice, bob = ("tester", "tester") if backend == "postgres" else ("alice", "bob")
    assert [(e["event"], e["on"], e["agent"]) for e in events] == [
        ("open", "2026-12-01", "tester"), ("unit-shipped", "2026-12-02", alice),
        ("note", TODAY, bob), ("receive", TODAY, "tester")]
    assert all(e.get("recorded_at") for e in events)


def test_events_on_unknown_returns(cli):
    for args in (["link", "RA-000404"], ["ship", "TT-404"], ["cancel", "RA-000404", "--reason", "x"]):
        result = cli(*args, "--json", today=TODAY)
        assert len(refused(result)) == 1 and result.stdout == ""
