"""`open`'s questions at a terminal (CliRunner, with the terminal check patched in): serials
asked for every type, a summary that changes them, `discard` and Enter at "Change which
field", a pasted command line refused as an answer. The real-terminal versions (Tab, the
screen at 80 columns) are in test_agent_typing.py."""

from __future__ import annotations

import json

import pytest
from clihelpers import counts, ok

TODAY = "2026-03-31"


@pytest.fixture(autouse=True)
def terminal(cli, monkeypatch):
    ok(cli("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "100"))
    monkeypatch.setattr("speco_returns.cli.prompts.interactive", lambda *args, **kwargs: True)


def show(cli, ra) -> dict:
    return json.loads(ok(cli("show", ra, "--json", today=TODAY)).stdout)


def opened(cli, *args, answers: str):
    return cli("open", *args, input=answers, today=TODAY)


def test_a_standard_return_is_asked_its_serials_and_enter_skips_the_rest(cli):
    result = ok(opened(cli, "-t", "standard", "-c", "Acme", "-i", "CAM-1:3",
                       answers="no-video\nsn-0001\n\n\n\ny\n"))
    assert "Serial of CAM-1, unit 1 of 3 (optional; Enter: no more serials)" in result.stdout
    assert "unit 3 of 3" not in result.stdout  # Enter at unit 2 stopped asking
    assert show(cli, "RA-000001")["items"][0]["serials"] == ["SN-0001"]
    assert show(cli, "RA-000001")["warnings"] == []  # no rule needs them on a standard return


def test_a_counter_return_too_and_yes_asks_only_what_is_required(cli):
    ok(opened(cli, "-t", "counter", "-c", "Acme", "-i", "CAM-1", "--ticket", "T-1", "--distributor",
              "ADI", answers="\nSN-0009\n\n\ny\n"))  # Enter: a counter return skips the fault
    assert show(cli, "T-1")["items"][0]["serials"] == ["SN-0009"]
    result = ok(opened(cli, "-t", "standard", "-c", "Acme", "-i", "CAM-1", "-y", answers=""))
    assert "Serial" not in result.stdout and "Fault" not in result.stdout


def test_the_summary_changes_serials_of_any_type(cli):
    answers = "no-video\nSN-0001\n\n\nn\nserials\nSN-0002\ny\n"
    result = ok(opened(cli, "-t", "standard", "-c", "Acme", "-i", "CAM-1", answers=answers))
    assert "serials" in result.stdout.split("Change which field")[1].split("\n")[0]
    assert show(cli, "RA-000001")["items"][0]["serials"] == ["SN-0002"]


def test_enter_at_change_which_field_goes_back_to_the_summary(cli):
    result = ok(opened(cli, "-t", "standard", "-c", "Acme", "-i", "CAM-1",
                       answers="no-video\n\n\n\nn\n\ny\n"))
    assert result.stdout.count("Open a standard return for Acme: CAM-1 x1; fault no-video?") == 2
    assert "Enter: back to the summary" in result.stdout
    assert show(cli, "RA-000001")["customer"] == "Acme"


def test_discard_is_the_explicit_answer_that_writes_nothing(cli, db_path):
    before = counts(db_path)
    result = ok(opened(cli, "-t", "standard", "-c", "Acme", "-i", "CAM-1",
                       answers="no-video\n\n\n\nn\nDiscard\n"))
    # a choice, no error
    assert result.stderr.splitlines() == [
        "discarded a standard return for Acme: nothing was written"]
    assert counts(db_path) == before


def test_a_pasted_command_line_is_refused_as_an_answer(cli):
    pasted = ("speco-returns ship RA-000001\n"
              "$ speco-returns list --all\n"
              "/usr/local/bin/speco-returns show 1\n")
    result = ok(opened(cli, "-t", "standard", "-c", "Acme", "-i", "CAM-1",
                       answers=f"{pasted}no-video\n{pasted}\n{pasted}\n{pasted}555-0100\n"
                               f"{pasted}y\n"))
    lines = [line for line in result.stderr.splitlines()
             if not line.startswith("note: SPECO_RETURNS_TODAY")]
    assert (len(lines) == 15 and all(line.startswith("error: that is a command line, not an answer")
                                     for line in lines))
    doc = show(cli, "RA-000001")
    assert doc["items"][0]["serials"] == [] and doc["email"] is None and doc["phone"] == "555-0100"


def test_the_phone_question_takes_a_number_and_the_contact_note_is_a_field(cli):
    answers = ("no-video\n\n\ncall after 5pm\n201-555-0100 x12\nn\ncontact note\n"
               "after 5pm, ask for Dana\ny\n")
    result = ok(opened(cli, "-t", "standard", "-c", "Acme", "-i", "CAM-1", answers=answers))
    assert "phone 'call after 5pm' is not a phone number" in result.stderr
    assert "contact 201-555-0100 x12 (after 5pm, ask for Dana)" in result.stdout
    doc = show(cli, "RA-000001")
    assert (doc["phone"], doc["contact_note"]) == ("201-555-0100 x12", "after 5pm, ask for Dana")


def test_a_yes_no_question_asks_again_for_anything_but_yes_or_no(cli):
    result = ok(opened(cli, "-t", "standard", "-c", "Acme", "-i", "CAM-1",
                       answers="no-video\n\n\n\nsure\nyes\n"))
    assert "error: answer y or n, not 'sure'" in result.stderr
    assert show(cli, "RA-000001")["customer"] == "Acme"
