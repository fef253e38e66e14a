"""No payment card number is ever stored or echoed (SPEC §6).

Every free-text field of every command refuses a Luhn-valid run of 13 to 19 digits, typed
plain, in groups joined by spaces or by hyphens or by any separator of any category, in any
script, alone, inside a longer run of digits or inside other text: exit 1, one clear line,
the number not repeated, nothing written (on both backends). The raw bytes of the database and
its WAL never hold a test number. Ordinary numbers (order and phone numbers, serials and
tracking numbers, which are exempt even when they pass Luhn) are accepted where they belong.
"""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import cardhelpers
import pytest
from cardhelpers import luhn_ok
from clihelpers import ok, query, refused
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from speco_returns.db.database import open_database as Store
from speco_returns.domain import cards


def with_check_digit(body: str) -> str:
    return next(body + c for c in "0123456789" if luhn_ok(body + c))


def _card(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return with_check_digit(body)


_rng = random.Random(20261126)
# One Luhn-valid number for every length from 13 to 19 digits, plus the classic test cards.
CARDS = [_card(prefix, length, _rng) for prefix, length in
         (("4", 13), ("36", 14), ("37", 15), ("51", 16), ("6011", 16), ("35", 17), ("62", 18),
          ("4", 19))]
CARDS += ["4111111111111111", "378282246310005"]
assert all(luhn_ok(c) and 13 <= len(c) <= 19 for c in CARDS)


def _groups(digits: str, sizes=(4,)) -> list[str]:
    out, i, k = [], 0, 0
    while i < len(digits):
        size = sizes[min(k, len(sizes) - 1)]
        out.append(digits[i:i + size])
        i, k = i + size, k + 1
    return out


def typed_forms(digits: str) -> list[str]:
    """How an agent might paste it: plain, spaced, hyphenated, Amex-style, inside a sentence."""
    spaced = " ".join(_groups(digits))
    forms = [digits, spaced, "-".join(_groups(digits)), " ".join(_groups(digits, (4, 6, 5))),
             f"card {spaced} exp 12/29 cvv 123", f"{'-'.join(_groups(digits))}."]
    return forms


def searchable(digits: str) -> list[str]:
    """Every way the number could sit in output or on disk."""
    return sorted({digits, " ".join(_groups(digits)), "-".join(_groups(digits)),
                   " ".join(_groups(digits, (4, 6, 5))), "-".join(_groups(digits, (4, 6, 5)))})


def _assert_not_echoed(result, digits: str, typed: str) -> None:
    shown = result.stdout + result.stderr
    for needle in {*searchable(digits), typed}:
        assert needle not in shown, f"the card number was echoed: {shown!r}"
    assert digits not in "".join(ch for ch in shown if ch.isdigit()), (
        f"the card's digits were echoed in pieces: {shown!r}")


def _dump(db: Path | str) -> dict[str, list]:
    """Every row of every table, of a file or a server database (URL)."""
    if isinstance(db, str):
        tables = [t for (t,) in query(db, "SELECT table_name FROM information_schema.tables "
                                          "WHERE table_schema = current_schema() ORDER BY 1")]
        return {t: sorted(map(repr, query(db, f'SELECT * FROM "{t}"'))) for t in tables}
    conn = sqlite3.connect(db, timeout=10)
    try:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master "
                                             "WHERE type = 'table' ORDER BY name")]
        return {t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
                for t in tables}  # FTS5's tables too
    finally:
        conn.close()


V = object()  # where the field's value goes

# (field, argv with V for the value, an ordinary value the same command accepts)
FIELDS = [
    ("open --customer", ["open", "--type", "standard", "--customer", V, "--item", "CAM-1"],
     "Order SO-123456 Acme"),
    ("open --email", ["open", "--type", "standard", "--customer", "Acme", "--email", V, "--item",
                      "CAM-1"],
     "so123456@acme.example"),
    ("open --phone", ["open", "--type", "standard", "--customer", "Acme", "--phone", V, "--item",
                      "CAM-1"], "+1 555 123 4567"),
    ("open --note", ["open", "--type", "standard", "--customer", "Acme", "--item", "CAM-1",
                     "--note", V],
     "PO 4500012345 for SO-123456, call 1-800-555-0199"),
    ("open --reason", ["open", "--type", "virtual", "--customer", "Vee", "--item", "CAM-1",
                       "--serial", "SN-V-1", "--approved-by", "Dana", "--reason", V],
     "goodwill on order SO-123456"),
    ("open --approved-by", ["open", "--type", "virtual", "--customer", "Vee", "--item", "CAM-1",
                            "--serial", "SN-V-3", "--approved-by", V, "--reason", "goodwill"],
     "Dana Lee, ext 4521"),
    ("open --distributor", ["open", "--type", "counter", "--customer", "Ctr", "--item", "CAM-1",
                            "--ticket", "TT-778899", "--distributor", V], "ADI Global #4521"),
    ("open --ticket", ["open", "--type", "counter", "--customer", "Ctr", "--item", "CAM-1",
                       "--ticket", V, "--distributor", "ADI"], "TT-20261126-0042"),
    ("check --customer", ["check", "--type", "virtual", "--item", "CAM-1", "--serial", "SN-V-2",
                          "--approved-by", "Dana", "--reason", "goodwill", "--customer", V],
     "Vee 123456"),
    ("check --approved-by", ["check", "--type", "virtual", "--item", "CAM-1", "--serial", "SN-V-2",
                             "--approved-by", V, "--reason", "goodwill"], "Dana"),
    ("check --reason", ["check", "--type", "virtual", "--item", "CAM-1", "--serial", "SN-V-2",
                        "--approved-by", "Dana", "--reason", V], "goodwill, SO-123456"),
    ("check --ticket", ["check", "--type", "counter", "--item", "CAM-1", "--ticket", V,
                        "--distributor", "ADI"], "TT-5550001"),
    ("check --distributor", ["check", "--type", "counter", "--item", "CAM-1", "--ticket",
                             "TT-5550002", "--distributor", V],
     "Anixter 800-123-4567"),
    ("hold --ref", ["hold", "RA-000001", "--ref", V], "AUTH-00123456"),
    ("cancel --reason", ["cancel", "RA-000002", "--reason", V],
     "customer found the loose cable, SO-123456"),
    ("complete --note", ["complete", "TCK-1", "--note", V], "distributor credited order SO-123456"),
    ("note TEXT", ["note", "RA-000002", V], "call back on +1 555 123 4567"),
    ("catalog add --description", ["catalog", "add", "CAM-2", "--category", "camera",
                                   "--description", V],
     "4 MP bullet, part 800-123456"),
    ("--agent", ["--agent", V, "list"], "agent 4521"),
]


def _fill(argv: list, value: str) -> list[str]:
    return [value if a is V else a for a in argv]


@pytest.fixture
def seeded(cli, db_path):
    for args in (
        ("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "500"),
        ("open", "--type", "advanced", "--customer", "Alpha", "--item", "CAM-1", "--serial",
         "SN-A-1"),  # RA-000001
        ("link", "RA-000001"),
        ("open", "--type", "standard", "--customer", "Beta", "--item", "CAM-1"),  # RA-000002
        ("open", "--type", "counter", "--customer", "Gamma", "--item", "CAM-1", "--ticket", "TCK-1",
         "--distributor", "ADI"),
    ):
        result = cli(*args)
        assert result.exit_code == 0, (args, result.output)
    return db_path


def _refuse_all(cli, argv: list, forms=None) -> int:
    """Every test number in every typed form is refused and never echoed; returns how many were
    tried."""
    tried = 0
    for digits in CARDS:
        for typed in (typed_forms(digits) if forms is None
                      else [typed_forms(digits)[i] for i in forms]):
            result = cli(*_fill(argv, typed))
            where = f"{_fill(argv, '<card>')} with {typed!r}"
            assert result.exit_code == 1, f"{where}: exit {result.exit_code}\n{result.output}"
            assert result.exception is None or isinstance(result.exception, SystemExit), where
            assert "card number" in result.stderr, f"{where}: {result.stderr!r}"
            assert len(result.stderr.splitlines()) == 1, f"{where}: {result.stderr!r}"
            assert "Traceback" not in result.output
            _assert_not_echoed(result, digits, typed)
            tried += 1
    return tried


@pytest.mark.parametrize("field, argv, ordinary", FIELDS, ids=[f[0] for f in FIELDS])
def test_every_free_text_field_refuses_a_card_number_without_echoing_it(
        seeded, cli, field, argv, ordinary):
    before = _dump(seeded)
    assert _refuse_all(cli, argv) == len(CARDS) * len(typed_forms(CARDS[0]))
    assert _dump(seeded) == before, f"{field}: a refused command wrote to the database"

    # The same command with an ordinary value goes through: the refusals were the card's doing.
    result = cli(*_fill(argv, ordinary))
    assert result.exit_code == 0, (f"{field} refused the ordinary value {ordinary!r}: "
                                   f"{result.output}")


def test_the_agent_from_the_environment_is_checked_too(seeded, cli, monkeypatch):
    before = _dump(seeded)
    for digits in CARDS:
        for typed in typed_forms(digits):
            monkeypatch.setenv("SPECO_RETURNS_AGENT", typed)
            result = cli("note", "RA-000002", "hello")
            assert result.exit_code == 1, (typed, result.output)
            assert "card number" in result.stderr
            _assert_not_echoed(result, digits, typed)
    assert _dump(seeded) == before


def test_a_catalog_import_refuses_a_card_number_in_a_description(seeded, cli, tmp_path):
    before = _dump(seeded)
    for digits in CARDS[:3]:
        for typed in typed_forms(digits):
            csv_file = tmp_path / "catalog.csv"
            csv_file.write_text("model,category,list_price,description\nCAM-9,camera,99,fine\n"
                                f'CAM-8,camera,120,"{typed}"\n', encoding="utf-8")
            result = cli("catalog", "import", str(csv_file))
            assert result.exit_code == 1, (typed, result.output)
            assert "card number" in result.stderr and "line 3" in result.stderr, result.stderr
            _assert_not_echoed(result, digits, typed)
    assert _dump(seeded) == before


@pytest.mark.sqlite_only("SQLite's pragmas")
def test_the_store_turns_on_secure_delete(db):
    try:
        assert db.execute("PRAGMA secure_delete").fetchone()[0] == 1
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        db.close()


def _raw(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


def _assert_no_card_bytes(blob: bytes, what: str) -> None:
    for digits in CARDS:
        for needle in searchable(digits):
            for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
                assert needle.encode(encoding) not in blob, f"{what} holds {needle!r} ({encoding})"


@pytest.mark.sqlite_only("the bytes of the file and its WAL")
def test_no_card_number_reaches_the_database_file_or_its_wal(seeded, cli):
    db = seeded
    wal = Path(f"{db}-wal")
    # A second connection stays open, so the WAL is not checkpointed away before it is read.
    holder = sqlite3.connect(db, timeout=10)
    try:
        holder.execute("SELECT count(*) FROM returns").fetchone()
        for _field, argv, ordinary in FIELDS:
            _refuse_all(cli, argv, forms=(1, 4))
            assert cli(*_fill(argv, ordinary)).exit_code == 0, _field
        # Deleted rows are overwritten, not left in free pages.
        assert cli("serial", "remove", "RA-000001", "SN-A-1").exit_code == 0
        assert cli("serial", "add", "RA-000001", "SN-A-2").exit_code == 0
        assert wal.exists() and wal.stat().st_size > 0, "the WAL is there to be read"
        _assert_no_card_bytes(_raw(db), "the database file")
        _assert_no_card_bytes(_raw(wal), "the WAL")
        # The ordinary values did reach the file: the search looks where the data is.
        assert b"SO-123456" in _raw(db) + _raw(wal)
    finally:
        holder.close()
    Store(db).close()  # the last connection checkpoints the WAL into the file
    _assert_no_card_bytes(_raw(db), "the checkpointed database file")
    _assert_no_card_bytes(_raw(wal), "the WAL after the checkpoint")


# --- ordinary numbers are accepted where they belong ---------------------------------------------

LUHN_SERIAL = with_check_digit("900412345678901")  # 16 digits, passes Luhn: a serial, exempt
# passes Luhn: a tracking number, exempt
LUHN_TRACKING = " ".join(_groups(with_check_digit("799123456789012")))
assert LUHN_SERIAL not in CARDS and LUHN_TRACKING.replace(" ", "") not in CARDS


def test_ordinary_numbers_are_accepted_and_kept(cli):
    assert cli("catalog", "add", "CAM-1", "--category", "camera",
               "--list-price", "500").exit_code == 0
    opened = cli("open", "--type", "standard", "--customer", "Acme SO-123456", "--email",
                 "so-123456@acme.example", "--phone", "+1 555 123 4567", "--item", "CAM-1",
                 "--serial", LUHN_SERIAL, "--note",
                 "PO 4500012345, invoice 2026-000123, 1234 5678 9012 and 4111 1111 1111 1113",
                 "--json")
    assert opened.exit_code == 0, opened.output
    # A 22-digit tracking number in free text may hide a card number: it goes in --tracking.
    usps = cli("note", "RA-000001", "USPS 92055901755477000271")
    assert usps.exit_code == 1 and "--tracking" in usps.stderr and "9205" not in usps.stderr
    doc = json.loads(opened.stdout)
    assert doc["customer"] == "Acme SO-123456"
    assert doc["phone"] == "+1 555 123 4567"
    assert doc["email"] == "so-123456@acme.example"
    assert doc["items"][0]["serials"] == [LUHN_SERIAL]
    # 16 digits, no window of which passes Luhn
    assert "4111 1111 1111 1113" in doc["events"][0]["note"]
    ra = doc["ra"]

    shipped = cli("unit-shipped", ra, "--tracking", LUHN_TRACKING, "--json")
    assert shipped.exit_code == 0, shipped.output
    assert json.loads(shipped.stdout)["events"][-1]["tracking"] == LUHN_TRACKING

    found = cli("serial", "find", LUHN_SERIAL, "--json")
    assert found.exit_code == 0 and [r["ra"] for r in json.loads(found.stdout)] == [ra]

    virtual = cli("open", "--type", "virtual", "--customer", "Vee", "--item", "CAM-1", "--serial",
                  "SN-V-9", "--approved-by", "Dana", "--reason", "goodwill", "--json")
    assert virtual.exit_code == 0, virtual.output
    vra = json.loads(virtual.stdout)["ra"]
    plain_tracking = LUHN_TRACKING.replace(" ", "")
    ship = cli("ship", vra, "--tracking", plain_tracking, "--json")
    assert ship.exit_code == 0, ship.output
    assert json.loads(ship.stdout)["events"][-1]["tracking"] == plain_tracking

    counter = cli("open", "--type", "counter", "--customer", "Ctr", "--item", "CAM-1", "--ticket",
                  "TT-20261126-0042", "--distributor", "ADI #4521", "--json")
    assert counter.exit_code == 0, counter.output

    opened = cli("open", "--type", "advanced", "--customer", "Hold Co", "--item", "CAM-1",
                 "--serial", "SN-H-1", "--json")
    assert opened.exit_code == 0, opened.output
    ara = json.loads(opened.stdout)["ra"]
    assert cli("link", ara).exit_code == 0
    held = cli("hold", ara, "--ref", "AUTH-00123456", "--json")
    assert held.exit_code == 0, held.output
    assert json.loads(held.stdout)["hold_ref"] == "AUTH-00123456"


def test_the_spec_example_of_a_longer_run_is_caught(seeded, cli):
    # SPEC §6: "4111 1111 1111 1111 123" is caught (a run of whole groups, 13-19 digits, passing
    # Luhn).
    for text in ("4111 1111 1111 1111 123", "ref 12 4111-1111-1111-1111", "0 4111111111111111 0"):
        result = cli("note", "RA-000002", text)
        assert result.exit_code == 1, (text, result.output)
        assert "4111" not in result.stdout + result.stderr


@pytest.mark.parametrize("number", ["4111 1111 1111 1111", "4111111111111111",
                                    "5500-0000-0000-0004"])
def test_a_card_number_as_a_model_is_refused_and_never_echoed(cli, db_path, number):
    result = cli("open", "--type", "standard", "--customer", "Bob", "--item", number, "--json")
    assert result.exit_code == 1 and result.stdout == ""
    assert (number not in result.stderr
            and number.replace(" ", "").replace("-", "") not in result.stderr)
    assert "card number" in result.stderr


@pytest.mark.parametrize("args", [["overdue", "--as-of"], ["export", "ledger", "--from"], ["show"]])
def test_bad_input_that_looks_like_a_card_is_not_quoted_back(cli, args):
    result = cli(*args, "4111111111111111")
    assert result.exit_code == 1
    assert "4111" not in result.stderr


# --- by the digits, through the CLI, on both backends ---------------------------------------------

# (where, argv with V for the value, how the value is typed): a handful of fields of different
# kinds.
DISGUISED_FIELDS = [
    ("note", ["note", "RA-000002", V], "{}"),
    ("open --customer", ["open", "--type", "standard", "--customer", V, "--item", "CAM-1", "--yes"],
     "{}"),
    ("open --phone", ["open", "--type", "standard", "--customer", "Acme", "--phone", V, "--item",
                      "CAM-1", "--yes"], "{}"),
    ("open --email", ["open", "--type", "standard", "--customer", "Acme", "--email", V, "--item",
                      "CAM-1", "--yes"],
     "{}@example.com"),
    ("--agent", ["--agent", V, "note", "RA-000002", "hello"], "{}"),
    ("catalog add --description", ["catalog", "add", "CAM-7", "--category", "camera",
                                   "--description", V], "{}"),
    ("hold --ref", ["hold", "RA-000001", "--ref", V], "{}"),
]


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_card_joined_by_any_separator_is_refused_in_every_field(seeded, cli, data):
    """A Luhn-valid number cut into groups joined by separators drawn from whole Unicode
    categories (cardhelpers.separators), its digits in scripts drawn for them, in each field."""
    before = _dump(seeded)
    number = data.draw(cardhelpers.card_numbers())
    value = data.draw(cardhelpers.typed(number))
    for field, argv, form in DISGUISED_FIELDS:
        result = cli(*_fill(argv, form.format(value)))
        (line,) = refused(result)
        assert "card number" in line or "--tracking" in line, (field, value, line)
        _assert_not_echoed(result, number, value)
        assert not cards.has_long_number(result.stdout + result.stderr), (field, result.stderr)
    assert _dump(seeded) == before


@pytest.mark.parametrize("text", [
    "4111\u30fc1111\u30fc1111\u30fc1111",  # ー, the long-vowel mark, typed for a dash
    "4111\uff701111\uff701111\uff701111",  # its half-width form
    "4111\u31641111\u31641111\u31641111",  # Hangul filler
    "4111\u06401111\u06401111\u06401111",  # tatweel
    "4111\u02bc1111\u02c91111\u02bc1111",  # modifier apostrophe, modifier macron
    "4111111111111111123",  # a card and its CVV typed as one
    "04111111111111111",  # a stray digit before it
])
def test_the_reported_disguises_are_refused_in_every_field(seeded, cli, text):
    before = _dump(seeded)
    for field, argv, form in DISGUISED_FIELDS:
        (line,) = refused(cli(*_fill(argv, form.format(text))))
        assert "card number" in line, (field, line)
    assert _dump(seeded) == before


def test_a_19_digit_hold_reference_is_never_echoed_nor_exported(seeded, cli):
    for ref in ("4111111111111111123", "1234567890123456789", "AUTH-1234567890123"):
        (line,) = refused(cli("hold", "RA-000001", "--ref", ref))
        assert ref not in line and not cards.has_long_number(line), line
    held = ok(cli("hold", "RA-000001", "--ref", "AUTH-000123456789"))
    assert "AUTH-000123456789" in held.stdout
    assert "AUTH-000123456789" in ok(cli("export", "holds")).stdout


def test_an_agents_ordinary_notes_are_stored_as_typed(seeded, cli):
    """The other side: notes with phones, dates, RA numbers, amounts and model numbers side by
    side are accepted in free-text fields (the rate over 20,000 is tested in test_parsing)."""
    notes = ["call 555-0100 on 2026-11-26 re RA-000123", *cardhelpers.realistic_notes(40, seed=21)]
    for note in notes:
        ok(cli("note", "RA-000002", note))
    ok(cli("open", "--type", "standard", "--customer", notes[1], "--phone", "+1 (555) 123-4567",
           "--contact-note", "or 555-0101 after 5pm",
           "--item", "CAM-1", "--note", notes[2], "--yes"))
    events = json.loads(ok(cli("show", "RA-000002", "--json")).stdout)["events"]
    assert [e["note"] for e in events if e["event"] == "note"] == notes


@pytest.mark.parametrize("joiner", ["\u200b", "\u2060", "\u00ad", "\u0301"])
def test_an_invisible_character_between_groups_of_four_still_joins_them(joiner):
    # hypothesis found `4111 1111<ZWSP>1111, 1111`: the invisible character was dropped, so
    # `1111<ZWSP>1111` read as one group of eight and the `, ` before the last four did not join
    typed = f"paid 4111 1111{joiner}1111, 1111"
    assert cards.contains_card_number(typed)
    # eight digits typed whole are no card's group: a list of them still does not join
    assert not cards.contains_card_number("paid 41111111, 11111111")


@pytest.mark.parametrize("typed", ["3782 8224 6310, 005", "8353 3740 6812 4158, 684",
                                   "4222 2222 2222, 2"])
def test_a_card_read_out_in_fours_joins_its_short_last_group_after_punctuation(typed):
    # a card whose length is no multiple of four ends with a shorter group (hypothesis found
    # the 15-digit one): `, ` before it still joins it, as it joins a last group of four
    assert cards.luhn_ok("".join(ch for ch in typed if ch.isdigit()))
    assert cards.contains_card_number(f"paid {typed}")
