"""The questions put to an agent, through CliRunner: `open` checks each answer as given,
contacts are asked and corrected (`edit`), money moments are confirmed at a terminal.
The real-terminal versions are in test_agent_pty.py."""

from __future__ import annotations

import json

import pytest
from builders import catalog
from clihelpers import counts, ok, query, refused

TODAY = "2026-03-31"


@pytest.fixture(autouse=True)
def _catalog(cli):
    catalog(cli, "CAM-1", "CAM-2", "PTZ-1", "NOPRICE")


@pytest.fixture
def terminal(monkeypatch):
    monkeypatch.setattr("speco_returns.cli.prompts.interactive", lambda *args, **kwargs: True)


def show(cli, ra) -> dict:
    return json.loads(ok(cli("show", ra, "--json", today=TODAY)).stdout)


def events(db_path, name) -> list[dict]:
    return [json.loads(d) for (d,) in query(db_path, "SELECT detail FROM events WHERE event = ? ORDER BY id", [name])]


# --- item 3: without a terminal, missing fields and rule refusals in one error ------------------


def test_flags_without_terminal_report_missing_fields_and_refusals_together(cli, db_path):
    ok(cli("open", "--type", "standard", "--customer", "A", "--item", "CAM-1", "--serial", "S-0001", today=TODAY))
    before = counts(db_path)
    lines = refused(cli("open", "--type", "virtual", "--customer", "B", "--item", "PTZ-1", "--serial", "S-0001", today=TODAY))
    assert [line.split(":")[1].strip() for line in lines] == ["VR-1", "VR-1", "VR-3", "SER-1"], lines
    assert "missing --approved-by" in lines[0] and "missing --reason" in lines[1]
    assert counts(db_path) == before


def test_a_missing_serial_and_a_model_without_price_in_one_error(cli):
    lines = refused(cli("open", "--type", "ar", "--customer", "B", "--item", "NOPRICE", today=TODAY))
    assert [line.split(":")[1].strip() for line in lines] == ["AR-1", "AR-3"], lines


# --- item 3: at a terminal, each answer is checked as it is given -------------------------------


def test_a_model_without_list_price_is_asked_again_at_once(cli, terminal):
    answers = "advanced\nAcme\nNOPRICE\nCAM-2:2\nno-video\nA-0001\nA-0002\n\n\ny\n"
    result = ok(cli("open", input=answers, today=TODAY))
    assert "AR-3: NOPRICE has no list price" in result.stderr
    assert show(cli, "RA-000001")["items"][0]["model"] == "CAM-2"


def test_a_ptz_on_a_virtual_is_asked_again_before_anything_else(cli, terminal):
    answers = "virtual\nAcme\nPTZ-1\nCAM-1\nno-power\nSue\nDOA\nV-0001\n\n\ny\n"
    result = ok(cli("open", input=answers, today=TODAY))
    assert "VR-3: PTZ-1 is a PTZ camera" in result.stderr
    # the refusal came right after the items, before the approver was asked
    assert result.stdout.index("Items") < result.stdout.index("Approved by")
    assert result.stderr.count("error:") == 1


def test_a_serial_on_an_open_return_is_asked_again_on_the_spot(cli, terminal):
    ok(cli("open", "--type", "standard", "--customer", "A", "--item", "CAM-1", "--serial", "S-0001", "--yes", today=TODAY))
    result = ok(cli("open", "--type", "ar", "--customer", "B", "--item", "CAM-1", input="no-video\ns-0001\nS-0002\n\n\ny\n", today=TODAY))
    assert "SER-1: serial S-0001 is already on open return RA-000001" in result.stderr
    assert show(cli, "RA-000002")["items"][0]["serials"] == ["S-0002"]


def test_a_taken_serial_given_as_a_flag_is_dropped_and_asked(cli, terminal):
    ok(cli("open", "--type", "standard", "--customer", "A", "--item", "CAM-1", "--serial", "S-0001", "--yes", today=TODAY))
    result = ok(cli("open", "--type", "ar", "--customer", "B", "--item", "CAM-1", "--serial", "S-0001",
                    input="no-video\nS-0003\n\n\ny\n", today=TODAY))
    assert "SER-1" in result.stderr
    assert show(cli, "RA-000002")["items"][0]["serials"] == ["S-0003"]


def test_a_ticket_already_used_is_asked_again(cli, terminal):
    ok(cli("open", "--type", "otc", "--customer", "A", "--item", "X", "--ticket", "TT-1", "--distributor", "ADI", "--yes", today=TODAY))
    result = ok(cli("open", "--type", "otc", "--customer", "B", "--item", "X", input="\ntt-1\nTT-2\nADI\n\n\n\ny\n", today=TODAY))
    assert "OTC-1: ticket tt-1 is already used" in result.stderr
    assert show(cli, "TT-2")["customer"] == "B"


def test_the_confirm_line_lists_the_serials(cli, terminal):
    result = ok(cli("open", "--type", "ar", "--customer", "Acme", "--item", "CAM-2:2", input="no-video\nA-0001\nA-0002\n\n\ny\n", today=TODAY))
    assert "Open an advanced return for Acme: CAM-2 x2 (A-0001, A-0002); fault no-video; card hold $2,599.98?" in result.stdout


def test_no_offers_to_change_one_field_and_keeps_the_others(cli, terminal):
    answers = "advanced\nAcme\nCAM-2:2\nno-video\nA-0001\nA-0002\n\n\nn\nserials\nB-0001\nB-0002\ny\n"
    result = ok(cli("open", input=answers, today=TODAY))
    assert "Change which field" in result.stdout
    doc = show(cli, "RA-000001")
    assert (doc["customer"], doc["items"][0]["serials"]) == ("Acme", ["B-0001", "B-0002"])


def test_changing_the_type_asks_only_what_the_new_type_needs(cli, terminal):
    answers = "standard\nAcme\nCAM-1\nno-video\n\n\n\nn\ntype\nvirtual\nSue\nDOA\nV-0009\ny\n"
    ok(cli("open", input=answers, today=TODAY))
    doc = show(cli, "RA-000001")
    assert (doc["type"], doc["customer"], doc["approved_by"], doc["items"][0]["serials"]) == ("virtual", "Acme", "Sue", ["V-0009"])


def test_no_then_discard_writes_nothing(cli, terminal, db_path):
    before = counts(db_path)
    result = ok(cli("open", "--type", "standard", "--customer", "A", "--item", "X", input="no-video\n\n\n\nn\ndiscard\n", today=TODAY))
    assert result.stderr.splitlines() == ["discarded a standard return for A: nothing was written"]
    assert counts(db_path) == before


# --- item 4: contacts asked, and corrected with `edit` ------------------------------------------


def test_open_asks_for_an_email_strongly_for_an_advanced_return_and_a_phone(cli, terminal):
    result = ok(cli("open", "--type", "ar", "--customer", "Acme", "--item", "CAM-1", "--serial", "A-0001",
                    input="no-video\nann@example.com\n555-0100\ny\n", today=TODAY))
    assert "E-mail for the e-biz link (strongly advised; Enter to skip)" in result.stdout
    doc = show(cli, "RA-000001")
    assert (doc["email"], doc["phone"]) == ("ann@example.com", "555-0100")


def test_contacts_refuse_a_card_number_and_ask_again(cli, terminal):
    result = ok(cli("open", "--type", "standard", "--customer", "A", "--item", "X",
                    input="no-video\n\n4111 1111 1111 1111\nann@example.com\n\ny\n", today=TODAY))
    assert "card number" in result.stderr and "4111" not in result.stderr  # (stdout echoes the typed input)
    assert show(cli, "RA-000001")["email"] == "ann@example.com"


def test_edit_corrects_fields_and_keeps_old_and_new_in_the_history(cli, db_path):
    ok(cli("open", "--type", "standard", "--customer", "Acme", "--item", "X", "--email", "old@example.com", today=TODAY))
    result = ok(cli("edit", "RA-000001", "--email", "new@example.com", "--phone", "555-0100", "--customer", "Acme Inc", today=TODAY))
    assert "email old@example.com → new@example.com" in result.stdout
    doc = show(cli, "RA-000001")
    assert (doc["customer"], doc["email"], doc["phone"]) == ("Acme Inc", "new@example.com", "555-0100")
    assert events(db_path, "edit") == [{"changes": [
        {"field": "customer", "from": "Acme", "to": "Acme Inc"},
        {"field": "email", "from": "old@example.com", "to": "new@example.com"},
        {"field": "phone", "from": None, "to": "555-0100"}]}]
    assert ok(cli("edit", "RA-000001", "--email", "", today=TODAY)).stdout.strip() == "RA-000001: email new@example.com → (none)"


@pytest.mark.parametrize("args, message", [
    (["--phone", "4111-1111-1111-1111"], "card number"),
    (["--distributor", "ADI"], "has no distributor"),
    (["--customer", ""], "customer cannot be emptied"),
    (["--email", "ann at example"], "not an e-mail address"),
    ([], "nothing to edit"),
])
def test_edit_refuses(cli, db_path, args, message):
    ok(cli("open", "--type", "standard", "--customer", "Acme", "--item", "X", today=TODAY))
    before = counts(db_path)
    lines = refused(cli("edit", "RA-000001", *args, today=TODAY))
    assert message in lines[0] and "4111" not in lines[0]
    assert counts(db_path) == before


# Addresses the `email` package refuses in a To: header: `notify` once died on them (policy.mail_address).
UNCARRIABLE = ["ann..lee@example.com", ".ann@example.com", "ann.@example.com", "ann@example..com", "ann@.example.com",
               "ann@example.com.", "anné@example.com", "ａｎｎ@example.com", "=?utf-8?q?ann?=@example.com"]


@pytest.mark.parametrize("address", UNCARRIABLE)
def test_open_and_edit_refuse_an_address_a_notice_cannot_go_to(cli, db_path, address):
    ok(cli("open", "--type", "standard", "--customer", "Acme", "--item", "X", "--email", "ann@example.com", today=TODAY))
    before = counts(db_path)
    [line] = refused(cli("open", "--type", "standard", "--customer", "B", "--item", "X", "--email", address, today=TODAY))
    assert "is not an e-mail address a notice can go to" in line
    [line] = refused(cli("edit", "RA-000001", "--email", address, today=TODAY))
    assert "is not an e-mail address a notice can go to" in line
    assert counts(db_path) == before and show(cli, "RA-000001")["email"] == "ann@example.com"


def test_the_email_prompt_asks_again_for_an_address_a_notice_cannot_go_to(cli, terminal):
    result = ok(cli("open", "--type", "standard", "--customer", "A", "--item", "X",
                    input="no-video\n\nann..lee@example.com\nann.lee@example.com\n\ny\n", today=TODAY))
    assert "is not an e-mail address a notice can go to" in result.stderr
    assert show(cli, "RA-000001")["email"] == "ann.lee@example.com"


def test_edit_a_required_approval_cannot_be_emptied(cli):
    ok(cli("open", "--type", "virtual", "--customer", "A", "--item", "CAM-1", "--serial", "V-0001",
           "--approved-by", "Sue", "--reason", "DOA", today=TODAY))
    assert refused(cli("edit", "RA-000001", "--approved-by", " ", today=TODAY))[0].startswith("error: VR-1:")
    ok(cli("edit", "RA-000001", "--approved-by", "Sue Park", today=TODAY))


# --- item 6: money moments ----------------------------------------------------------------------


def advanced_delivered(cli) -> str:
    ok(cli("open", "--type", "ar", "--customer", "Acme", "--item", "CAM-2", "--serial", "A-0001", "--on", "2026-01-01", "--yes", today=TODAY))
    for args in (["link"], ["hold", "--ref", "H-77", "--expires", "2099-12-31"], ["ship"],
                 ["deliver"]):
        ok(cli(args[0], "RA-000001", *args[1:], "--on", "2026-01-05", today=TODAY))
    return "RA-000001"


@pytest.mark.parametrize("command, args, moved", [
    ("receive", [], "card hold $1,299.99 released (ref H-77)"),
    ("charge", [], "card charged $1,299.99 (ref H-77)"),
    ("void", ["--reason", "slip"], "money: no money moved"),
])
def test_money_moments_show_the_return_and_ask_at_a_terminal(cli, terminal, db_path, command, args, moved):
    ra = advanced_delivered(cli)
    before = counts(db_path)
    result = cli(command, ra, *args, input="n\n", today=TODAY)
    assert refused(result) == ["error: not confirmed: nothing was written"]
    assert f"{ra}  Acme" in result.stdout and moved in result.stdout
    assert counts(db_path) == before
    result = ok(cli(command, ra, *args, input="y\n", today=TODAY))
    assert counts(db_path) != before


def test_cancel_asks_and_the_line_after_states_the_money(cli, terminal):
    ok(cli("open", "--type", "ar", "--customer", "Acme", "--item", "CAM-2", "--serial", "A-0001", "--yes", today=TODAY))
    ok(cli("link", "RA-000001", today=TODAY))
    ok(cli("hold", "RA-000001", "--ref", "H-9", today=TODAY))
    result = ok(cli("cancel", "RA-000001", "--reason", "changed mind", input="y\n", today=TODAY))
    assert "cancel on 2026-03-31: card hold $1,299.99 released (ref H-9)" in result.stdout  # the question
    assert "now cancelled; card hold $1,299.99 released (ref H-9). Next:" in result.stdout  # the line after


def test_yes_skips_the_question_and_no_terminal_never_asks(cli, terminal):
    ra = advanced_delivered(cli)
    result = ok(cli("receive", ra, "--yes", today=TODAY))  # no input: a question would abort
    assert "now completed; card hold $1,299.99 released (ref H-77)" in result.stdout


def test_without_a_terminal_a_money_moment_never_asks(cli):
    ra = advanced_delivered(cli)
    result = ok(cli("charge", ra, input="n\n", today=TODAY))
    assert "Record charge?" not in result.stdout
    assert "now charged; card charged $1,299.99 (ref H-77)" in result.stdout


def test_a_standard_receive_does_not_ask(cli, terminal):
    ok(cli("open", "--type", "standard", "--customer", "A", "--item", "X", "--yes", today=TODAY))
    assert "now unit-received" in ok(cli("receive", "RA-000001", today=TODAY)).stdout


def test_show_reads_an_edit_as_old_and_new(cli):
    ok(cli("open", "--type", "standard", "--customer", "Acme", "--item", "X", "--phone", "555-0100", today=TODAY))
    ok(cli("edit", "RA-000001", "--phone", "555-0199", today=TODAY))
    assert "phone: 555-0100 → 555-0199" in ok(cli("show", "RA-000001", today=TODAY)).stdout


def test_a_rule_refusal_comes_before_the_question(cli, terminal):
    ra = advanced_delivered(cli)  # delivered 2026-01-05: due 2026-02-04
    result = cli("charge", ra, "--on", "2026-02-04", input="y\n", today=TODAY)
    assert refused(result)[0].startswith("error: AR-4:")
    assert "Record charge?" not in result.stdout


def test_refund_asks_with_the_amount_and_its_reference(cli, terminal, db_path):
    ra = advanced_delivered(cli)
    ok(cli("charge", ra, "--on", "2026-02-10", "--yes", today=TODAY))
    ok(cli("receive", ra, "--on", "2026-02-12", "--yes", today=TODAY))
    before = counts(db_path)
    result = cli("refund", ra, "--ref", "RF-1", "--amount", "100", input="n\n", today=TODAY)
    assert refused(result) == ["error: not confirmed: nothing was written"]
    assert f"{ra}  Acme" in result.stdout and "$100.00 refunded to the card (ref RF-1)" in result.stdout
    assert counts(db_path) == before
    result = ok(cli("refund", ra, "--ref", "RF-1", "--amount", "100", input="y\n", today=TODAY))
    assert "now completed; $100.00 refunded to the card (ref RF-1)" in result.stdout
