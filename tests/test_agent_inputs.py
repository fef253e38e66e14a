"""What an agent types: phone numbers read by what they are, and the free-text contact note."""

from __future__ import annotations

import json

import pytest
from clihelpers import ok, query, refused
from hypothesis import assume, given
from hypothesis import strategies as st

from speco_returns.domain import inputs
from speco_returns.domain.cards import card_problem
from speco_returns.errors import ReturnsError

# --- the phone number, pure -----------------------------------------------------------------

ACCEPTED = {
    "555-0100": "555-0100",
    "(201) 555-0100": "(201) 555-0100",
    "+1 201.555.0100": "+1 201.555.0100",
    "+44 20 7946 0958": "+44 20 7946 0958",
    "201/555-0100": "201/555-0100",
    "201-555-0100 x123": "201-555-0100 x123",
    "201-555-0100 ext. 45": "201-555-0100 x45",
    "201-555-0100, Ext 7": "201-555-0100 x7",
    "２０１-５５５-０１００": "201-555-0100",  # full-width digits, as an IME types them
}
REFUSED = ["call after 5pm", "speco-returns open --type standard", "ask for Dana",
           "555-0100 or 555-0101", "12", "1234567890123456", "(201 555-0100", "201) 555-0100",
           "555--", "+", "1+2345", "555-0100 x", "tel:555-0100"]


@pytest.mark.parametrize("typed", ACCEPTED)
def test_a_phone_number_as_people_write_it_is_taken(typed):
    assert inputs.parse_phone(typed) == ACCEPTED[typed]


@pytest.mark.parametrize("typed", REFUSED)
def test_what_is_not_a_phone_number_is_refused_with_one_line(typed):
    with pytest.raises(ReturnsError) as e:
        inputs.parse_phone(typed)
    (problem,) = e.value.problems
    assert ("\n" not in problem.line() and "not a phone number" in problem.line()
            or "card" in problem.line())


def test_empty_is_no_phone():
    assert inputs.parse_phone("  ") is None and inputs.parse_phone(None) is None


@given(st.text(alphabet="0123456789", min_size=4, max_size=15),
       st.lists(st.sampled_from([" ", "-", "."]), min_size=0, max_size=3))
def test_digits_with_separators_between_them_are_a_phone_number(digits, separators):
    text = digits
    for n, sep in enumerate(separators, 1):  # a separator between digits, never at either end
        cut = n * len(digits) // (len(separators) + 1)
        if 0 < cut < len(text):
            text = text[:cut] + sep + text[cut:]
    # a card number is refused first (SPEC §6): not this test's claim
    assume(card_problem("phone", text) is None)
    assert [ch for ch in inputs.parse_phone(text) if ch.isdigit()] == list(digits)


@given(st.text(min_size=1, max_size=30).filter(
    lambda t: any(ch.isalpha() and ch.lower() not in "xet" for ch in t)))
def test_text_with_a_letter_is_never_a_phone_number(text):
    with pytest.raises(ReturnsError):
        inputs.parse_phone(text)


# --- through the CLI, on both engines ---------------------------------------------------------


def test_open_and_edit_take_a_phone_number_and_refuse_a_sentence(cli, db_path):
    ok(cli("open", "-t", "standard", "-c", "Acme", "-i", "CAM-1", "--phone",
           "(201) 555-0100 ext. 9", "-y"))
    assert query(db_path, "SELECT phone FROM returns") == [("(201) 555-0100 x9",)]
    (line,) = refused(cli("open", "-t", "standard", "-c", "Acme", "-i", "CAM-1", "--phone",
                          "call after 5pm", "-y"))
    assert ("not a phone number" in line
            and "a note such as 'call after 5pm' goes in --contact-note" in line)
    (line,) = refused(cli("edit", "RA-000001", "--phone", "speco-returns list"))
    assert "not a phone number" in line
    ok(cli("edit", "RA-000001", "--phone", "+1 201 555 0199"))
    assert query(db_path, "SELECT phone FROM returns") == [("+1 201 555 0199",)]
    ok(cli("edit", "RA-000001", "--phone", ""))  # '' clears it, as before
    assert query(db_path, "SELECT phone FROM returns") == [(None,)]
    assert query(db_path, "SELECT count(*) FROM returns") == [(1,)]


def test_the_contact_note_is_kept_in_the_history_and_shown(cli):
    ok(cli("open", "-t", "standard", "-c", "Acme", "-i", "CAM-1", "--phone", "555-0100",
           "--contact-note", "call after 5pm, ask for Dana", "-y"))
    doc = json.loads(ok(cli("show", "RA-000001", "--json")).stdout)
    assert doc["contact_note"] == "call after 5pm, ask for Dana"
    assert doc["events"][0]["contact_note"] == "call after 5pm, ask for Dana"
    shown = ok(cli("show", "RA-000001")).stdout
    assert "contact note" in shown and "call after 5pm, ask for Dana" in shown
    (line,) = refused(cli("open", "-t", "standard", "-c", "Acme", "-i", "CAM-1",
                          "--contact-note", "card 4111 1111 1111 1111", "-y"))
    assert "card" in line
