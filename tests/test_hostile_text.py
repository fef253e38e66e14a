"""Issue 11, decisions 1-3: user text is never markup, control characters are refused at
input and never reach a terminal or a file raw, tickets are ASCII keys, customers match
NFKC-casefolded, and every field's length is checked before it is parsed or scanned."""

from __future__ import annotations

import csv
import email
import email.policy
import json
import os
import shlex
import sqlite3
import tempfile

import pytest
from clihelpers import counts, ok, refused
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from speco_returns.cli import app
from speco_returns.domain import cards, inputs
from speco_returns.domain.keys import customer_key
from speco_returns.domain.notices import one_line

TODAY = "2026-11-26"
MARKUP = ["[", "]", "[/x]", "[/bold]", "[bold red]", "[link=https://evil.example]", "[/link]", "[/]", "\\[",
          ":smile:", "[@click=app.quit]", "[on red]", "]["]
markup_text = st.lists(st.one_of(st.sampled_from(MARKUP), st.text(alphabet="ab []/=:", max_size=4)),
                       min_size=1, max_size=5).map("".join).map(str.strip).filter(bool)


def _seed(run, t: dict) -> None:
    """Every text field of every kind of return holds hostile text; then every human view runs."""
    run("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "500", f"--description={t['description']}")
    # The e-mail is one plain address (inputs.parse_email refuses brackets): markup cannot reach it.
    run("open", "-t", "advanced", f"--customer={t['customer']}", "--email=ops@example.com", "--phone=555-0100",
        f"--contact-note={t['contact_note']}",
        "-i", "CAM-1", "-s", "SN0001", f"--note={t['note']}", "--on", "2026-09-01", "-y")
    run("link", "RA-000001", "--on", "2026-09-01")
    # a processor reference: no brackets; a far expiry (the test is not about holds that lapse)
    run("hold", "RA-000001", "--ref=AUTH-1", "--expires=2099-12-31", "--on", "2026-09-02")
    run("ship", "RA-000001", "--on", "2026-09-03")
    run("deliver", "RA-000001", "--on", "2026-09-05")  # overdue on TODAY
    run("note", "RA-000001", t["note"])
    run("open", "-t", "virtual", f"--customer={t['customer']}", "-i", "CAM-1", "-s", "SN0002",
        f"--approved-by={t['approver']}", f"--reason={t['reason']}", "-y")
    run("open", "-t", "counter", f"--customer={t['customer']}", "-i", "CAM-1", f"--ticket={t['ticket']}",
        f"--distributor={t['distributor']}", "-y")
    run("open", "-t", "standard", f"--customer={t['customer']}", "-i", "CAM-1", "-y")
    run("cancel", "RA-000003", f"--reason={t['reason']}")


FIELDS = ("customer", "contact_note", "note", "approver", "reason", "ticket", "distributor", "description", "agent")

# Every command of the app and how the property test below meets its human view. DRIVEN: the test
# runs it with hostile text in every field it shows (and checks the text comes back as typed where it
# is echoed). NO_USER_TEXT: a command whose output shows none of the text a person typed, with why.
# test_every_command_is_in_the_coverage_map derives the commands from the app itself, so a new
# command fails the suite until it is placed here.
DRIVEN = {
    "policy", "check", "open", "show", "list", "link", "hold", "ship", "deliver", "unit-shipped", "receive",
    "charge", "refund", "complete", "cancel", "void", "edit", "note", "overdue", "notify", "report", "backup",
    "doctor", "shell", "serial add", "serial remove", "serial find", "catalog add", "catalog import",
    "catalog list", "export returns", "admin roles", "report quality", "codes list", "codes add", "codes retire",
    "finding",
}
NO_USER_TEXT = {
    "export ledger": "CSV only (no human view): test_stored_control_characters_are_never_written_raw",
    "export holds": "CSV only (no human view): test_stored_control_characters_are_never_written_raw",
    "admin copy": "needs a server; shows table names and counts only (tests/test_pg.py)",
    "deliveries import": "shows a carrier file's text, never typed text: test_deliveries' escapes test, test_hostile_views",
    "deliveries serve": "logs a source, a status and a fixed word per request (test_webhooks)",
    "slip": "a PDF, no terminal view: tests/test_slip.py reads hostile text back from its page as typed",
    "catalog history": "a server's audit of the catalog as stored (logins, prices, categories, descriptions): "
                       "test_hostile_views; a model typed is refused unless printable (normalize_model)",
}
GROUPS = ("serial", "catalog", "export", "admin", "codes")


def _command_of(args) -> str:
    if args[0] == "report" and len(args) > 1 and args[1] == "quality":  # `report` is a command and a group
        return "report quality"
    return " ".join(args[:2]) if args[0] in GROUPS else args[0]


@pytest.mark.sqlite_only("reads the app, not a database")
def test_every_command_is_in_the_coverage_map():
    import typer

    group = typer.main.get_command(app)
    ctx = group.context_class(group)

    def paths(command, prefix=()):
        if not hasattr(command, "list_commands"):  # a command, not a group
            return [" ".join(prefix)]
        own = [" ".join(prefix)] if command.invoke_without_command else []  # `report`: a command too
        return own + [p for name in command.list_commands(ctx) for p in paths(command.get_command(ctx, name), (*prefix, name))]

    assert set(paths(group)) == DRIVEN | set(NO_USER_TEXT)
    assert not DRIVEN & set(NO_USER_TEXT)


def _more_views(run, refuse, texts, folder):
    """The views _seed and the first checks leave out: money, undo, edits, serials, notices, the
    report, the shell, imports and the files a person names."""
    customer = texts["customer"]
    os.mkdir(os.path.join(folder, "out"))
    assert customer in run("notify", "--dry-run").stdout  # the returns with no e-mail: call them
    notified = run("notify", "--outbox", os.path.join(folder, "out")).stdout
    assert "1 written" in notified and customer in notified
    (eml,) = os.listdir(os.path.join(folder, "out"))
    with open(os.path.join(folder, "out", eml), "rb") as f:
        message = email.message_from_binary_file(f, policy=email.policy.default)
    # Plain text: the name as typed, on one line with its spaces collapsed (notices.one_line).
    assert one_line(customer) in message.get_body(("plain",)).get_content()
    run("report", "--from", "2026-09-01")
    edited = run("edit", "RA-000001", f"--customer={customer} 2").stdout
    assert customer in edited and f"{customer} 2" in edited
    run("charge", "RA-000001", f"--reason={texts['reason']}", "-y")
    assert "voided charge" in run("void", "RA-000001", f"--reason={texts['reason']}", "--ref=REV-1", "-y").stdout
    run("hold", "RA-000001", "--ref=AUTH-RE-1")  # the charge reversed at the processor used the hold up
    run("charge", "RA-000001", f"--reason={texts['reason']}", "-y")
    run("receive", "RA-000001", "-y")
    run("refund", "RA-000001", "--ref=RF-1", f"--reason={texts['reason']}", "-y")
    run("open", "-t", "standard", f"--customer={customer}", "-i", "CAM-1", "-y")  # RA-000004 (a counter has no RA)
    run("serial", "add", "RA-000004", "SN0007")
    run("serial", "remove", "RA-000004", "SN0007")
    run("unit-shipped", "RA-000004")
    run("complete", texts["ticket"], f"--note={texts['note']}")  # the seed's counter return
    assert texts["note"] in run("show", texts["ticket"]).stdout
    with open(os.path.join(folder, "models.csv"), "w", newline="") as f:
        csv.writer(f).writerows([["model", "category", "list_price", "description"],
                                 ["CAM-2", "camera", "100", texts["description"]]])
    run("catalog", "import", os.path.join(folder, "models.csv"))
    assert texts["description"] in run("catalog", "list").stdout
    shell = run("shell", input=f"show RA-000001\nlist --all --customer {shlex.quote(customer)}\n").stdout
    assert shell.count(f"{customer} 2") >= 2
    # A file name a person types is echoed as typed ('/' would make a folder: left out).
    name = texts["note"].replace("/", "_")
    assert name in run("export", "returns", "--output", os.path.join(folder, f"e{name}.csv")).output
    assert name in run("backup", os.path.join(folder, f"b{name}.db")).output
    unknown = f"T-{texts['ticket']}-9"
    assert inputs.quote(unknown) in refuse("show", unknown)  # an error echoes 40 characters at most
    run("admin", "roles")
    # Codes: a title a supervisor typed, shown as typed by `codes add` and `codes list` (the quality
    # report shows the codes, over returns whose every field holds hostile text).
    assert texts["description"] in run("codes", "add", "fault", "no-audio", f"--title={texts['description']}").stdout
    assert texts["description"] in run("codes", "list", "fault").stdout
    run("open", "-t", "standard", f"--customer={customer}", "-i", "CAM-1", "--fault", "no-audio", "-y")
    run("finding", "RA-000001", "no-fault-found")
    assert "no-audio" in run("report", "quality", "--from", "2026-09-01").stdout
    run("codes", "retire", "fault", "no-audio")


@pytest.mark.slow
@pytest.mark.sqlite_only("each example makes its own database file")
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.fixed_dictionaries({f: markup_text for f in FIELDS}))
def test_markup_in_every_text_field_is_printed_as_typed_by_every_human_view(texts):
    runner = CliRunner()
    invoked = set()
    with tempfile.TemporaryDirectory() as folder:
        env = {"SPECO_RETURNS_DB": os.path.join(folder, "r.db"), "SPECO_RETURNS_TODAY": TODAY,
               "SPECO_RETURNS_AGENT": texts["agent"], "COLUMNS": "400",
               "SPECO_RETURNS_MAIL_FROM": "returns@example.com"}

        def run(*args, input=None):
            invoked.add(_command_of(args))
            result = runner.invoke(app, list(args), env=env, input=input)
            assert result.exit_code == 0, (args, result.stdout, result.stderr, result.exception)
            assert "Traceback" not in result.output
            return result

        def refuse(*args):
            invoked.add(_command_of(args))
            result = runner.invoke(app, list(args), env=env)
            assert result.exit_code == 1, (args, result.stdout, result.stderr)
            (line,) = result.stderr.splitlines()
            assert line.startswith("error: ")
            return line

        _seed(run, texts)
        shown = run("show", "RA-000001").stdout
        for field in ("customer", "contact_note", "note", "agent"):
            assert texts[field] in shown, field
        assert texts["ticket"] in run("show", texts["ticket"]).stdout
        virtual = run("show", "RA-000002").stdout
        assert texts["approver"] in virtual and texts["reason"] in virtual
        assert texts["customer"] in run("list", "--all").stdout
        assert texts["customer"] in run("list", "--customer", texts["customer"]).stdout
        assert texts["customer"] in run("overdue").stdout
        assert texts["description"] in run("catalog", "list").stdout
        assert texts["customer"] in run("serial", "find", "SN0001").stdout
        run("check", "-t", "virtual", "-i", "CAM-1", "-s", "SN0009", "--approved-by=x", "--reason=y",
            f"--customer={texts['customer']}")
        run("doctor")
        run("policy")
        _more_views(run, refuse, texts, folder)
    assert invoked >= DRIVEN, DRIVEN - invoked


CONTROL = ["\x1b]52;c;aGVsbG8=\x07", "\x1b[2J\x1b[H", "\x1b]8;;https://evil.example\x1b\\x\x1b]8;;\x1b\\",
           "\x9b31m", "a\x7fb", "a\x08b", "line\nbreak", "a\x85b"]
# (arguments before the value, the option taking it): each a field a person types.
TEXT_FIELDS = [
    (["open", "-t", "standard", "-i", "CAM-1", "-y"], "--customer"),
    (["open", "-t", "standard", "-c", "Acme", "-i", "CAM-1", "-y"], "--email"),
    (["open", "-t", "standard", "-c", "Acme", "-i", "CAM-1", "-y"], "--phone"),
    (["open", "-t", "standard", "-c", "Acme", "-i", "CAM-1", "-y"], "--contact-note"),
    (["open", "-t", "standard", "-c", "Acme", "-i", "CAM-1", "-y"], "--note"),
    (["open", "-t", "virtual", "-c", "Acme", "-i", "CAM-1", "-s", "SN0009", "--reason", "r", "-y"], "--approved-by"),
    (["open", "-t", "virtual", "-c", "Acme", "-i", "CAM-1", "-s", "SN0009", "--approved-by", "a", "-y"], "--reason"),
    (["open", "-t", "counter", "-c", "Acme", "-i", "CAM-1", "--distributor", "ADI", "-y"], "--ticket"),
    (["open", "-t", "counter", "-c", "Acme", "-i", "CAM-1", "--ticket", "T-1", "-y"], "--distributor"),
    (["hold", "RA-000001"], "--ref"),
    (["cancel", "RA-000001"], "--reason"),
    (["catalog", "add", "CAM-2", "--category", "camera"], "--description"),
    (["list"], "--customer"),
    (["codes", "add", "fault", "no-audio"], "--title"),
]


@pytest.fixture
def seeded(cli):
    ok(cli("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "500"))
    ok(cli("open", "-t", "advanced", "-c", "Acme", "-i", "CAM-1", "-s", "SN0001", "-y"))
    ok(cli("link", "RA-000001"))


@pytest.mark.parametrize("evil", CONTROL, ids=repr)
@pytest.mark.parametrize(("args", "option"), TEXT_FIELDS, ids=lambda v: v if isinstance(v, str) else " ".join(v[:2]))
def test_a_control_character_is_refused_in_every_text_field(cli, seeded, db_path, args, option, evil):
    before = counts(db_path)
    lines = refused(cli(*args, f"{option}=x{evil}y"))
    assert len(lines) == 1 and "control character" in lines[0]
    assert not inputs.has_control(lines[0])
    assert counts(db_path) == before


# Format characters (Cf: bidi overrides and isolates, zero-width characters, the soft hyphen, the
# byte-order mark, tags) and the line and paragraph separators (Zl, Zp), drawn by category.
format_characters = st.characters(categories=["Cf", "Zl", "Zp"])
REPORTED = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
            "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u2028", "\u2029"]


@pytest.mark.parametrize(("args", "option"), TEXT_FIELDS, ids=lambda v: v if isinstance(v, str) else " ".join(v[:2]))
def test_a_format_character_is_refused_in_every_text_field_and_shown_escaped(cli, seeded, db_path, args, option):
    """Like a control character: one line naming it as an escape (never raw), exit 1, nothing written."""
    before = counts(db_path)

    @settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.one_of(st.sampled_from(REPORTED), format_characters))
    def refuse(ch):
        result = cli(*args, f"{option}=ab{ch}cd")
        (line,) = refused(result)
        assert "control character" in line, line
        escaped = f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}"
        assert escaped in line, (repr(ch), line)
        assert ch not in result.stdout + result.stderr

    refuse()
    for ch in REPORTED:  # each one the report named, in every field
        (line,) = refused(cli(*args, f"{option}=ab{ch}cd"))
        assert f"\\u{ord(ch):04x}" in line, line
    assert counts(db_path) == before


@pytest.mark.parametrize("evil", [*CONTROL[:3], "\u202e", "\u2028"], ids=repr)
def test_a_control_character_in_the_agent_variable_is_refused(cli, seeded, db_path, monkeypatch, evil):
    before = counts(db_path)
    monkeypatch.setenv("SPECO_RETURNS_AGENT", f"eve{evil}x")
    lines = refused(cli("note", "RA-000001", "hello"))
    assert "agent" in lines[0] and "control character" in lines[0]
    assert counts(db_path) == before


STORED = "Eve\x1b]52;c;aGVsbG8=\x07 \x1b[2J \x9b31m \x7f"


@pytest.fixture
def stored_escapes(cli, db_path, seeded):
    """What an older version let in: raw control characters in stored text."""
    ok(cli("hold", "RA-000001", "--ref", "AUTH-1"))
    ok(cli("open", "-t", "counter", "-c", "Bob", "-i", "CAM-1", "--ticket", "T-9", "--distributor", "ADI"))
    conn = sqlite3.connect(db_path)
    with conn:
        # The upgrade derives customer_key (m013) from the stored name, as store.customer_key does.
        conn.execute("UPDATE returns SET customer = ?, customer_key = ?, email = ?", [STORED, customer_key(STORED), STORED])
        conn.execute("UPDATE returns SET ticket = ? WHERE type = 'counter'", ["T\x1b[2J9"])
        conn.execute("UPDATE catalog SET description = ?", [STORED])
    conn.close()


RAW = ("\x1b", "\x07", "\x9b", "\x7f")


def _strings(data) -> list[str]:
    if isinstance(data, dict):
        return [s for v in data.values() for s in _strings(v)]
    if isinstance(data, list):
        return [s for v in data for s in _strings(v)]
    return [data] if isinstance(data, str) else []


def _no_raw(text: str) -> None:
    assert not any(ch in text for ch in RAW), repr(text)


@pytest.mark.sqlite_only("written into the file as an older version let them in")
@pytest.mark.parametrize("args", [["show", "RA-000001"], ["list"], ["list", "--csv"], ["catalog", "list"],
                                  ["catalog", "list", "--csv"], ["serial", "find", "SN0001"], ["show", "RA-000001", "--json"],
                                  ["list", "--json"], ["catalog", "list", "--json"], ["export", "ledger"],
                                  ["export", "returns"], ["export", "holds"], ["list", "--all", "--customer", "eve"],
                                  ["notify", "--dry-run"], ["notify", "--dry-run", "--json"], ["shell"]], ids=" ".join)
def test_stored_control_characters_are_never_written_raw(cli, stored_escapes, monkeypatch, args):
    monkeypatch.setenv("SPECO_RETURNS_MAIL_FROM", "returns@example.com")
    result = cli(*args, input="show RA-000001\nlist --all\n" if args == ["shell"] else None)
    # notify: the stored "address" cannot be put in To:, so each notice fails (exit 4), named visibly
    assert result.exit_code == (4 if args[0] == "notify" else 0), (result.output, result.exception)
    _no_raw(result.stdout + result.stderr)
    if "--json" in args:
        assert STORED in _strings(json.loads(result.stdout))  # escaped, so a JSON reader gets it back exactly
    elif args[0] != "catalog" or "--csv" not in args:
        assert "\\x1b" in result.stdout  # shown as a visible escape


@pytest.mark.sqlite_only("written into the file as an older version let them in")
def test_stored_format_characters_are_escaped_in_json_and_human_views(cli, seeded, db_path):
    stored = "Eve\u202eevil\u2066 \u200b\u2028x\u2029"
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE returns SET customer = ?, customer_key = ?", [stored, customer_key(stored)])
    conn.close()
    raw = ("\u202e", "\u2066", "\u200b", "\u2028", "\u2029")
    for args in (["show", "RA-000001", "--json"], ["list", "--json"], ["show", "RA-000001"], ["list"]):
        out = ok(cli(*args)).stdout
        assert not any(ch in out for ch in raw), (args, out)
        if "--json" in args:
            assert stored in _strings(json.loads(out))  # escaped, so a JSON reader gets it back exactly
        else:
            assert "\\u202e" in out and "\\u2028" in out


@pytest.mark.sqlite_only("written into the file as an older version let them in")
def test_a_stored_escape_in_a_ticket_is_shown_escaped_in_messages(cli, stored_escapes):
    result = ok(cli("show", "T\x1b[2J9"))
    _no_raw(result.stdout)
    lines = refused(cli("open", "-t", "counter", "-c", "Bob", "-i", "CAM-1", "--ticket", "T-10", "--distributor", "ADI",
                        "-s", "SN0001"))
    _no_raw("\n".join(lines))


def test_look_alike_tickets_are_one_ticket_or_refused(cli, seeded):
    ok(cli("open", "-t", "counter", "-c", "Bob", "-i", "CAM-1", "--ticket", "TT-55012", "--distributor", "ADI"))
    lines = refused(cli("open", "-t", "counter", "-c", "Bob", "-i", "CAM-1", "--ticket", "ＴＴ-55012", "--distributor", "ADI"))
    assert lines == ["error: OTC-1: ticket TT-55012 is already used by another counter return"]
    (line,) = refused(cli("open", "-t", "counter", "-c", "Bob", "-i", "CAM-1", "--ticket", "ТТ-55012", "--distributor", "ADI"))
    assert line.startswith("error: OTC-1: ticket ID") and "ASCII" in line  # Cyrillic
    # A zero-width space is a format character (Cf), refused like a control character in every field.
    (line,) = refused(cli("open", "-t", "counter", "-c", "Bob", "-i", "CAM-1", "--ticket", "TT-55\u200b012", "--distributor", "ADI"))
    assert "control character" in line and "\\u200b" in line
    assert "TT-55012" in ok(cli("show", "ＴＴ-55012")).stdout


def test_customers_match_nfkc_casefolded(cli):
    ok(cli("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "500"))
    ok(cli("open", "-t", "virtual", "-c", "ＡＣＭＥ Ｓｔｒａßｅ", "-i", "CAM-1:2", "-s", "SN0001", "-s", "SN0002",
           "--approved-by", "D", "--reason", "r"))
    result = ok(cli("check", "-t", "virtual", "--customer", "acme strasse", "-i", "CAM-1:2", "-s", "SN0003", "-s", "SN0004",
                    "--approved-by", "D", "--reason", "r", "--json"))
    assert [w["rule"] for w in json.loads(result.stdout)["warnings"]] == ["VR-2"]
    assert len(json.loads(ok(cli("list", "--customer", "acme STRASSE", "--json")).stdout)) == 1
    assert len(json.loads(ok(cli("list", "--customer", "ａｃｍｅ", "--json")).stdout)) == 1


HUGE = "1234 " * (128 * 1024 // 5)
# Every field that takes a number or a date, and the free text, with absurd lengths.
LONG_INPUTS = [
    ["open", "-t", "standard", "-c", "Acme", "-i", "CAM-1:" + "0" * 5000 + "1", "-y"],
    ["open", "-t", "standard", "-c", "Acme", "-i", "CAM-1:" + "9" * 5000, "-y"],
    ["open", "-t", "standard", "-c", HUGE, "-i", "CAM-1", "-y"],
    ["open", "-t", "standard", "-c", "Acme", "-i", "CAM-1", "--on", "2026-01-01" + " " * 100_000 + "x", "-y"],
    ["open", "-t", "counter", "-c", "Acme", "-i", "CAM-1", "--ticket", "T" * 100_000, "--distributor", "ADI", "-y"],
    ["open", "-t", "standard", "-c", "Acme", "-i", "C" * 100_000, "-y"],
    ["open", "-t", "advanced", "-c", "Acme", "-i", "CAM-1", "-s", "S" * 100_000, "-y"],
    ["catalog", "add", "CAM-9", "--category", "camera", "--list-price", "0" * 5000 + "1"],
    ["catalog", "add", "CAM-9", "--category", "camera", "--description", HUGE],
    ["list", "--customer", HUGE],
    ["note", "RA-000001", HUGE],
    ["show", "RA-" + "0" * 100_000 + "1"],
]


@pytest.mark.parametrize("args", LONG_INPUTS, ids=lambda a: f"{a[0]} {len(' '.join(a))}")
def test_lengths_are_checked_before_parsing_or_scanning(cli, seeded, db_path, monkeypatch, args):
    """One line, nothing written, and the card-number scan never sees more than a field's limit
    (that scan took 16.5 s over 128 KiB of digit groups)."""
    scanned = []
    real = cards.contains_card_number
    monkeypatch.setattr(cards, "contains_card_number", lambda text: scanned.append(len(text)) or real(text))
    before = counts(db_path)
    result = cli(*args)
    lines = refused(result)
    assert len(lines) == 1 and len(lines[0]) < 200, lines
    assert max(scanned, default=0) <= inputs.MAX_TEXT
    assert counts(db_path) == before


# At a terminal several views take another path (rich tables for notify, the stacked layout of a
# narrow window, the shell's prompt): each is read off a real pseudo-terminal (tests/ptyhelpers.py).
TERMINAL_MARKUP = "B[/bold]o[link=x]b[/]"
TERMINAL_VIEWS = [["show", "RA-000001"], ["list", "--all"], ["overdue"], ["serial", "find", "SN0001"],
                  ["catalog", "list"], ["notify", "--dry-run"], ["report"], ["doctor"]]


@pytest.mark.slow
@pytest.mark.sqlite_only("a real terminal runs the installed command on a file")
@pytest.mark.parametrize("width", (80, 120))  # the agent's window; narrower, a name folds over lines
def test_markup_is_printed_as_typed_at_a_real_terminal(cli, db_path, width):
    from ptyhelpers import screen

    def run(*args):
        return ok(cli(*args, today=TODAY))

    run("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "500", f"--description={TERMINAL_MARKUP}")
    run("open", "-t", "advanced", f"--customer={TERMINAL_MARKUP}", "-i", "CAM-1", "-s", "SN0001",
        "--phone=555-0100", f"--note={TERMINAL_MARKUP}", "--on", "2026-09-01")
    run("link", "RA-000001", "--on", "2026-09-01")
    run("hold", "RA-000001", "--ref=AUTH-1", "--expires=2099-12-31", "--on", "2026-09-02")
    run("ship", "RA-000001", "--on", "2026-09-03")
    run("deliver", "RA-000001", "--on", "2026-09-05")
    # A counter return is named by its ticket, so the ticket is in notify's progress bar.
    run("open", "-t", "counter", "--customer=Bob", "-i", "CAM-1", f"--ticket=T{TERMINAL_MARKUP}", "--distributor=ADI")
    env = dict(os.environ, SPECO_RETURNS_DB=str(db_path), SPECO_RETURNS_TODAY=TODAY, NO_COLOR="1",
               SPECO_RETURNS_AGENT=TERMINAL_MARKUP, SPECO_RETURNS_MAIL_FROM="returns@example.com")
    for args in TERMINAL_VIEWS:
        code, lines = screen(args, width, env, rows=100)
        text = "\n".join(lines)
        assert code == 0 and "Traceback" not in text, (args, text)
        if args[0] not in ("report", "doctor"):  # neither shows a person's text
            assert TERMINAL_MARKUP in text, (args, width, text)
    # The shell: its prompt names the agent, and a command's view is the same as on its own.
    from shellhelpers import COMMAND, Terminal

    term = Terminal([*COMMAND, "shell"], env, columns=width, rows=100)
    try:
        at = term.wait_for(f"{TERMINAL_MARKUP}@")
        term.type("show RA-000001\r")
        at = term.wait_for("Next:", at)
        assert TERMINAL_MARKUP in term.screen.split("> show RA-000001", 1)[1], term.screen
        term.wait_for(f"{TERMINAL_MARKUP}@", at)
        term.type("\x04")
        assert term.finish() == 0
    finally:
        term.kill()


@pytest.mark.slow
@pytest.mark.sqlite_only("written into the file as an older version let them in")
@pytest.mark.parametrize("args", [["show", "RA-000001"], ["list"], ["serial", "find", "SN0001"], ["catalog", "list"],
                                  ["notify", "--dry-run"], ["overdue", "--within", "400"]], ids=" ".join)
def test_stored_escapes_are_shown_not_run_at_a_real_terminal(stored_escapes, db_path, args):
    """At a terminal the views take their rich path (tables, the notify summary): the stored
    OSC 52, screen clear and C1 CSI reach the screen as visible text, never as bytes it runs."""
    from shellhelpers import COMMAND, Terminal

    # The fixture writes on the real today, so the views read on it too (a pinned day could come
    # before the returns were opened, and no notice would be due).
    env = dict(os.environ, SPECO_RETURNS_DB=str(db_path), NO_COLOR="1",
               SPECO_RETURNS_MAIL_FROM="returns@example.com")
    term = Terminal([*COMMAND, *args], env, columns=160, rows=100)
    try:
        assert term.finish() == (4 if args[0] == "notify" else 0), term.screen  # notify: the stored address fails
    finally:
        term.kill()
    assert b"\x1b]52" not in term.raw and b"\x1b[2J" not in term.raw and "\x9b".encode() not in term.raw
    if args[0] != "overdue":
        assert "\\x1b]52;c;aGVsbG8=\\x07" in term.screen, term.screen
