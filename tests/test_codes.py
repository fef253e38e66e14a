"""Fault and finding codes, kept as data: the lists (`codes list|add|retire`), `open --fault`,
`receive --finding`, `finding RA CODE`, and where they show: show, list, JSON, export returns,
history. On both engines."""

from __future__ import annotations

import csv
import io
import json

import pytest
from builders import older_database
from clihelpers import counts, ok, query, refused
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from speco_returns.domain import codes
from speco_returns.errors import ReturnsError

TODAY = "2026-12-10"
FAULTS = ["no-video", "no-power", "ir-night", "network", "ptz-motion", "recording", "physical-damage", "other"]
FINDINGS = ["hardware-fault", "no-fault-found", "configuration", "physical-damage", "missing-parts"]


@pytest.fixture(autouse=True)
def catalog(cli):
    ok(cli("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "100"))


def listed(cli, *args) -> list[dict]:
    return json.loads(ok(cli("codes", "list", *args, "--json", today=TODAY)).stdout)


def show(cli, ra) -> dict:
    return json.loads(ok(cli("show", ra, "--json", today=TODAY)).stdout)


def standard(cli, *extra, customer="Acme", on="2026-12-01") -> str:
    doc = json.loads(ok(cli("open", "-t", "standard", "-c", customer, "-i", "CAM-1", "--on", on, *extra, "--json",
                            today=TODAY)).stdout)
    return doc["ra"]


# --- the lists ----------------------------------------------------------------------------------


def test_every_database_starts_with_the_codes_the_issue_names(cli):
    ok(cli("catalog", "list"))
    found = listed(cli)
    assert {c["code"] for c in found if c["kind"] == "fault"} == set(FAULTS)
    assert {c["code"] for c in found if c["kind"] == "finding"} == set(FINDINGS)
    assert all(c["title"] and c["retired_on"] is None for c in found)
    assert [c["code"] for c in listed(cli, "finding")] == sorted(FINDINGS)


def test_add_retire_and_bring_back_a_code(cli, db_path):
    assert ok(cli("codes", "add", "fault", "No Audio", "--title", "No audio", today=TODAY)).stdout.startswith(
        "fault code no-audio added")
    assert "no-audio" in [c["code"] for c in listed(cli, "fault")]
    ok(cli("codes", "retire", "fault", "ir-night", today=TODAY))
    assert "ir-night" not in [c["code"] for c in listed(cli, "fault")]
    [retired] = [c for c in listed(cli, "fault", "--retired") if c["code"] == "ir-night"]
    assert (retired["retired_on"], retired["retired_by"], retired["title"]) == ("2026-12-10", "tester", "IR / night vision")
    ok(cli("codes", "add", "fault", "ir-night", today=TODAY))  # back, its title kept
    [back] = [c for c in listed(cli, "fault") if c["code"] == "ir-night"]
    assert (back["retired_on"], back["title"]) == (None, "IR / night vision")


@pytest.mark.parametrize("args, says", [
    (("add", "fault", "no-video"), "already in use"),
    (("retire", "finding", "nothing-like-it"), "no finding code nothing-like-it to retire"),
    (("add", "fault", "x/y"), "is not a code"),
    (("add", "fault", "né"), "is not a code"),
    (("add", "fault", "9lives"), "is not a code"),
    (("add", "fault", "a" * 40), "is not a code"),
    (("add", "symptom", "no-video"), "fault or finding"),
    (("add", "fault", "new-one", "--title", "x" * 61), "at most 60"),
    (("add", "fault", "new-one", "--title", "card 4111 1111 1111 1111"), "card number"),
])
def test_bad_changes_to_the_lists_are_one_line_and_write_nothing(cli, db_path, args, says):
    ok(cli("catalog", "list"))
    before = query(db_path, "SELECT kind, code, title, retired_on FROM codes ORDER BY kind, code")
    [line] = refused(cli("codes", *args, today=TODAY))
    assert says in line
    assert query(db_path, "SELECT kind, code, title, retired_on FROM codes ORDER BY kind, code") == before


def test_retiring_twice_says_when_it_was_retired(cli):
    ok(cli("codes", "retire", "fault", "recording", today="2026-12-01"))
    [line] = refused(cli("codes", "retire", "fault", "recording", today=TODAY))
    assert "already retired on 2026-12-01" in line


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.sampled_from("abcdefghijklmnopqrstuvwxyz"), words=st.lists(WORD, max_size=4),
       sep=st.sampled_from(["-", " ", "_", "  "]), upper=st.booleans())
def test_a_code_is_read_case_blind_with_spaces_and_underscores_as_hyphens(first, words, sep, upper):
    code = "-".join([first + (words[0] if words else ""), *words[1:]])
    if len(code) > codes.MAX_LENGTH:
        return
    typed = code.replace("-", sep)
    assert codes.parse_code(typed.upper() if upper else typed, "fault") == code


@settings(max_examples=300)
@given(st.text(min_size=1, max_size=40))
def test_any_text_is_a_code_of_that_shape_or_refused_in_one_line(text):
    try:
        code = codes.parse_code(text, "fault")
    except ReturnsError as e:
        assert len(e.problems) == 1
        return
    assert code[0].isascii() and code[0].isalpha() and len(code) <= codes.MAX_LENGTH
    assert all(w and w.isascii() and w.isalnum() and w == w.lower() for w in code.split("-"))


# --- on a return --------------------------------------------------------------------------------


def test_a_fault_at_open_shows_everywhere(cli):
    ra = standard(cli, "--fault", "No-Video")
    doc = show(cli, ra)
    assert (doc["fault"], doc["finding"]) == ("no-video", None)
    assert doc["events"][0]["fault"] == "no-video"  # the history keeps it
    [row] = json.loads(ok(cli("list", "--json", today=TODAY)).stdout)
    assert (row["fault"], row["finding"]) == ("no-video", None)
    text = ok(cli("show", ra, today=TODAY)).stdout
    assert "fault" in text and "no-video" in text
    assert "no-video" in ok(cli("list", today=TODAY)).stdout
    [line] = list(csv.DictReader(io.StringIO(ok(cli("list", "--csv", today=TODAY)).stdout)))
    assert line["fault"] == "no-video"


def test_an_unknown_or_retired_fault_is_refused_and_nothing_is_written(cli, db_path):
    ok(cli("codes", "retire", "fault", "ir-night", today="2026-12-02"))
    before = counts(db_path)
    [line] = refused(cli("open", "-t", "standard", "-c", "A", "-i", "CAM-1", "--fault", "smoke", today=TODAY))
    assert "no fault code smoke" in line and "no-video" in line
    [line] = refused(cli("open", "-t", "standard", "-c", "A", "-i", "CAM-1", "--fault", "ir-night", today=TODAY))
    assert "retired on 2026-12-02" in line
    assert counts(db_path) == before


def test_check_names_an_unknown_fault_with_the_other_problems(cli):
    result = cli("check", "-t", "standard", "-i", "CAM-1", "--fault", "smoke", "--json", today=TODAY)
    assert result.exit_code == 1
    assert any("no fault code smoke" in v["message"] for v in json.loads(result.stdout)["violations"])


def test_a_retired_fault_stays_on_the_returns_that_have_it(cli):
    ra = standard(cli, "--fault", "ptz-motion")
    ok(cli("codes", "retire", "fault", "ptz-motion", today=TODAY))
    assert show(cli, ra)["fault"] == "ptz-motion"
    doc = json.loads(ok(cli("report", "quality", "--from", "2026-12-01", "--to", TODAY, "--json", today=TODAY)).stdout)
    assert [(c["code"], c["title"]) for c in doc["faults"]["by_code"]] == [("ptz-motion", "PTZ motion")]


def test_receive_with_a_finding_then_a_later_finding(cli):
    ra = standard(cli, "--fault", "no-video")
    ok(cli("receive", ra, "--finding", "configuration", "--on", "2026-12-03", today=TODAY))
    doc = show(cli, ra)
    assert (doc["finding"], doc["finding_on"]) == ("configuration", "2026-12-03")
    ok(cli("finding", ra, "no-fault-found", "--on", "2026-12-05", today=TODAY))
    doc = show(cli, ra)
    assert (doc["finding"], doc["finding_on"]) == ("no-fault-found", "2026-12-05")
    assert [(e["event"], e.get("finding")) for e in doc["events"]] == [
        ("open", None), ("receive", "configuration"), ("finding", "no-fault-found")]
    assert "finding: no-fault-found" in ok(cli("show", ra, today=TODAY)).stdout  # the history at a terminal


def test_a_finding_needs_the_unit_and_a_finding_code(cli, db_path):
    ra = standard(cli)
    before = counts(db_path)
    [line] = refused(cli("finding", ra, "configuration", today=TODAY))
    assert "no unit received" in line
    ok(cli("receive", ra, "--on", "2026-12-02", today=TODAY))
    before = counts(db_path)
    [line] = refused(cli("finding", ra, "no-video", today=TODAY))  # a fault code, not a finding
    assert "no finding code no-video" in line
    [line] = refused(cli("finding", ra, "configuration", "--on", "2026-12-01", today=TODAY))
    assert "before" in line
    assert counts(db_path) == before


def test_a_bad_finding_at_receive_refuses_the_receive(cli, db_path):
    ra = standard(cli)
    before = counts(db_path)
    [line] = refused(cli("receive", ra, "--finding", "works-fine", today=TODAY))
    assert "no finding code works-fine" in line
    assert counts(db_path) == before and show(cli, ra)["status"] == "authorized"


def test_voiding_a_receive_takes_its_finding_with_it(cli):
    ra = standard(cli)
    ok(cli("receive", ra, "--finding", "hardware-fault", "--on", "2026-12-02", today=TODAY))
    ok(cli("void", ra, "--reason", "wrong RA", today=TODAY))
    doc = show(cli, ra)
    assert (doc["status"], doc["finding"], doc["finding_on"]) == ("authorized", None, None)


@pytest.mark.parametrize("at_receive", [(), ("--finding", "hardware-fault")], ids=["bare receive", "receive --finding"])
def test_voiding_a_receive_takes_the_findings_recorded_after_it(cli, at_receive):
    """A finding needs the unit in: when the receive was a slip, so were the findings on it."""
    ra = standard(cli)
    ok(cli("receive", ra, *at_receive, "--on", "2026-12-02", today=TODAY))
    ok(cli("finding", ra, "configuration", "--on", "2026-12-03", today=TODAY))
    ok(cli("void", ra, "--reason", "wrong RA", today=TODAY))  # `finding` is not voidable: the receive goes
    doc = show(cli, ra)
    assert (doc["status"], doc["finding"], doc["finding_on"]) == ("authorized", None, None)
    ok(cli("receive", ra, "--on", "2026-12-04", today=TODAY))  # the unit in, for real: nothing found yet
    assert show(cli, ra)["finding"] is None


def test_voiding_a_receive_keeps_an_earlier_finding_in_force(cli):
    ra = standard(cli)
    ok(cli("receive", ra, "--finding", "hardware-fault", "--on", "2026-12-02", today=TODAY))
    ok(cli("finding", ra, "missing-parts", "--on", "2026-12-03", today=TODAY))
    ok(cli("ship", ra, "--on", "2026-12-04", today=TODAY))
    ok(cli("void", ra, "--reason", "not shipped yet", today=TODAY))  # the ship: the findings stay
    assert show(cli, ra)["finding"] == "missing-parts"


def test_export_returns_has_fault_and_finding_as_of_to(cli):
    ra = standard(cli, "--fault", "network")
    ok(cli("receive", ra, "--finding", "configuration", "--on", "2026-12-05", today=TODAY))
    rows = list(csv.DictReader(io.StringIO(ok(cli("export", "returns", today=TODAY)).stdout)))
    assert [(r["fault"], r["finding"]) for r in rows] == [("network", "configuration")]
    rows = list(csv.DictReader(io.StringIO(ok(cli("export", "returns", "--to", "2026-12-04", today=TODAY)).stdout)))
    assert [(r["fault"], r["finding"]) for r in rows] == [("network", "")]


def test_a_counter_return_may_skip_the_fault_at_the_prompt(cli, monkeypatch):
    monkeypatch.setattr("speco_returns.cli.prompts.interactive", lambda *args, **kwargs: True)
    result = ok(cli("open", "-t", "otc", "-c", "A", "-i", "CAM-1", input="\nTT-1\nADI\n\n\n\ny\n", today=TODAY))
    assert "Fault reported (" in result.stdout and "Enter to skip" in result.stdout
    assert show(cli, "TT-1")["fault"] is None


def test_other_types_must_name_a_fault_at_the_prompt(cli, monkeypatch):
    monkeypatch.setattr("speco_returns.cli.prompts.interactive", lambda *args, **kwargs: True)
    result = ok(cli("open", "-t", "standard", "-c", "A", "-i", "CAM-1", input="\nsmoke\nnetwork\n\n\n\ny\n", today=TODAY))
    assert "a fault is required" in result.stderr and "no fault code smoke" in result.stderr
    assert show(cli, "RA-000001")["fault"] == "network"


def test_a_refused_fault_flag_is_asked_again_and_the_summary_changes_the_fault(cli, monkeypatch):
    monkeypatch.setattr("speco_returns.cli.prompts.interactive", lambda *args, **kwargs: True)
    answers = "network\n\n\n\nn\nfault\nir night\ny\n"  # the fault; serial, e-mail, phone; no; change the fault
    result = ok(cli("open", "-t", "standard", "-c", "A", "-i", "CAM-1", "--fault", "smoke", input=answers, today=TODAY))
    assert "no fault code smoke in use" in result.stderr
    assert "fault network?" in result.stdout and "items, fault, serials" in result.stdout
    assert show(cli, "RA-000001")["fault"] == "ir-night"


def test_with_every_fault_retired_the_question_is_not_asked(cli, monkeypatch):
    for code in FAULTS:
        ok(cli("codes", "retire", "fault", code))
    monkeypatch.setattr("speco_returns.cli.prompts.interactive", lambda *args, **kwargs: True)
    result = ok(cli("open", "-t", "standard", "-c", "A", "-i", "CAM-1", input="\n\n\ny\n", today=TODAY))
    assert "Fault" not in result.stdout and show(cli, "RA-000001")["fault"] is None


def test_yes_at_a_terminal_does_not_ask_the_fault(cli, monkeypatch):
    monkeypatch.setattr("speco_returns.cli.prompts.interactive", lambda *args, **kwargs: True)
    result = ok(cli("open", "-t", "standard", "-i", "CAM-1", "--yes", input="Acme\n", today=TODAY))  # the customer only
    assert "Fault" not in result.stdout
    assert show(cli, "RA-000001")["fault"] is None


@pytest.mark.sqlite_only("a new file at an older schema (a server's test database is cloned migrated)")
def test_an_older_database_gets_the_codes_when_upgraded(cli, tmp_path):
    old = tmp_path / "old.db"
    older_database(old, stop_before="m020_fault_finding_codes").close()
    ok(cli("--db", str(old), "catalog", "add", "CAM-1", "--category", "camera", "--list-price", "100"))
    doc = json.loads(ok(cli("--db", str(old), "open", "-t", "standard", "-c", "A", "-i", "CAM-1", "--fault",
                            "recording", "--json", today=TODAY)).stdout)
    assert doc["fault"] == "recording"
    found = json.loads(ok(cli("--db", str(old), "codes", "list", "--json")).stdout)
    assert len(found) == len(FAULTS) + len(FINDINGS)


def test_edit_corrects_a_fault_and_the_history_keeps_both(cli, db_path):
    ra = standard(cli, "--fault", "no-video")
    ok(cli("edit", ra, "--fault", "No Power", today=TODAY))
    doc = show(cli, ra)
    assert doc["fault"] == "no-power"
    assert doc["events"][-1]["changes"] == [{"field": "fault", "from": "no-video", "to": "no-power"}]
    before = counts(db_path)
    [line] = refused(cli("edit", ra, "--fault", "smoke", today=TODAY))
    assert "no fault code smoke" in line and counts(db_path) == before
    ok(cli("edit", ra, "--fault", "", today=TODAY))
    assert show(cli, ra)["fault"] is None
