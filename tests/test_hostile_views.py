"""Issue 11, decision 2, through every human view: control characters already stored (rows
written straight into the database, as an older version or an attacker could) are shown as
visible escapes, never sent raw to a terminal, a log, a CSV or a JSON reader, on both backends;
test_hostile_text.py drives markup through every command (its map is derived from the app)."""

from __future__ import annotations

import pytest
from clihelpers import ok, raw

EVIL = "Eve\x1b]52;c;aGVsbG8=\x07 \x1b[2J \x9b31m \x7f"
TICKET = "T\x1b[2J9"
RAW = ("\x1b", "\x07", "\x9b", "\x7f")
MAIL = {"SPECO_RETURNS_MAIL_FROM": "returns@speco.example"}


@pytest.fixture
def stored(cli, db_path, tmp_path, monkeypatch):
    """Every kind of return, then raw escapes written into their stored text."""
    monkeypatch.setenv("SPECO_RETURNS_TODAY", "2026-11-26")
    ok(cli("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "500"))
    ok(cli("open", "-t", "advanced", "-c", "Acme", "-i", "CAM-1", "-s", "SN0001", "--on", "2026-09-01", "-y"))
    for event in ("link", "hold --ref AUTH-1", "ship", "deliver"):
        ok(cli(*event.split(), "RA-000001", "--on", "2026-09-05"))
    ok(cli("open", "-t", "counter", "-c", "Bob", "-i", "CAM-1", "--ticket", "T-9", "--distributor", "ADI", "-y"))
    ok(cli("open", "-t", "standard", "-c", "Cy", "-i", "CAM-1", "-y"))  # RA-000002
    with raw(db_path) as conn:
        conn.execute("UPDATE returns SET customer = ?, phone = ?, distributor = ?", [EVIL, EVIL, EVIL])
        conn.execute("UPDATE returns SET ticket = ? WHERE type = 'counter'", [TICKET])
        conn.execute("UPDATE catalog SET description = ?", [EVIL])
        conn.execute("UPDATE codes SET title = ?", [EVIL])
        conn.execute("UPDATE returns SET fault = ? WHERE type = 'standard'", [EVIL])  # a code written outside the tool
    (tmp_path / "outbox").mkdir()
    for name, value in MAIL.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def test_every_command_is_driven_with_stored_escapes():
    from typer.main import get_command

    from speco_returns.cli import app

    def leaves(group, path=()):
        for name, command in group.commands.items():
            if getattr(command, "invoke_without_command", False):  # `report`: a group and a command
                yield (*path, name)
            yield from leaves(command, (*path, name)) if hasattr(command, "commands") else [(*path, name)]

    server_only = {("admin", "roles"), ("admin", "copy")}  # fixed text; tests/test_pg.py
    assert set(leaves(get_command(app))) - server_only == set(STORED_VIEWS)


def _no_raw(text: str) -> None:
    assert not any(ch in text for ch in RAW), repr(text)


# command -> the calls whose whole output (stdout and stderr) is checked; {tmp} is the test's folder.
STORED_VIEWS: dict[tuple[str, ...], list[list[str]]] = {
    ("policy",): [["policy"], ["policy", EVIL]],
    ("check",): [["check", "-t", "counter", "-i", "CAM-1", "--ticket", TICKET, "--distributor", "ADI", "--customer", "x"]],
    ("open",): [["open", "-t", "counter", "-c", "Bob", "-i", "CAM-1", "--ticket", TICKET, "--distributor", "ADI", "-y"],
                ["open", "-t", "standard", "-c", "Dee", "-i", "CAM-1", "-y"]],
    ("show",): [["show", "RA-000001"], ["show", TICKET], ["show", "RA-000002", "--notice", "opened"],
                ["show", TICKET, "--notice", "opened"]],
    ("list",): [["list", "--all"], ["list", "--csv"], ["list", "--json"]],
    ("link",): [["link", "RA-000001"]],
    ("hold",): [["hold", "RA-000001", "--ref", "AUTH-2"]],
    ("ship",): [["ship", "RA-000002"]],
    ("deliver",): [["deliver", "RA-000002"]],
    ("unit-shipped",): [["unit-shipped", "RA-000002"]],
    ("receive",): [["receive", "RA-000002"]],
    ("charge",): [["charge", "RA-000001"]],
    ("refund",): [["refund", "RA-000001", "--ref", "RF-1"]],
    ("complete",): [["complete", TICKET, "--note", "done"]],
    ("cancel",): [["cancel", TICKET, "--reason", "x"]],
    ("void",): [["complete", TICKET], ["void", TICKET, "--reason", "x"]],
    ("edit",): [["edit", "RA-000002", "--customer", "Cy", "--phone", "555-0199"]],
    ("note",): [["note", TICKET, "hello"]],
    ("overdue",): [["overdue"], ["overdue", "--csv"], ["overdue", "--json"]],
    ("notify",): [["notify", "--dry-run"], ["notify", "--outbox", "{tmp}/outbox"], ["notify", "--dry-run", "--json"]],
    ("report",): [["report", "--from", "2026-09-01"]],
    ("backup",): [["backup", "{tmp}/copy.db"]],
    ("doctor",): [["doctor"], ["doctor", "--json"]],
    ("shell",): [["shell"]],  # its input: below
    ("slip",): [["slip", "RA-000002", "--output", "{tmp}/slip.pdf"], ["slip", TICKET, "--output", "{tmp}/ticket.pdf"]],
    ("serial", "add"): [["serial", "add", "RA-000002", "SN0007"]],
    ("serial", "remove"): [["serial", "remove", "RA-000002", "SN0007"]],
    ("serial", "find"): [["serial", "find", "SN0001"]],
    ("catalog", "add"): [["catalog", "add", "CAM-2", "--category", "camera"]],
    ("catalog", "import"): [["catalog", "import", "{tmp}/models.csv"]],
    ("catalog", "list"): [["catalog", "list"], ["catalog", "list", "--csv"], ["catalog", "list", "--json"]],
    ("catalog", "history"): [["catalog", "history", "CAM-1"], ["catalog", "history", "CAM-1", "--json"]],  # a server's
    ("export", "ledger"): [["export", "ledger"], ["export", "ledger", "--output", "{tmp}/l.csv"]],
    ("export", "holds"): [["export", "holds"]],
    ("export", "returns"): [["export", "returns"], ["export", "returns", "--output", "{tmp}/r.csv"]],
    ("deliveries", "import"): [["deliveries", "import", "{tmp}/carrier.csv", "--format", "easypost", "--dry-run"],
                               ["deliveries", "import", "{tmp}/carrier.csv", "--format", "easypost", "--json"]],
    ("deliveries", "serve"): [["deliveries", "serve"]],  # refused without a secret; its log: test_webhooks
    ("report", "quality"): [["report", "quality", "--from", "2026-09-01"], ["report", "quality", "--from", "2026-09-01", "--json"],
                            ["report", "quality", "--from", "2026-09-01", "--csv"],
                            ["report", "quality", "--from", "2026-09-01", "--html", "{tmp}/q.html"]],
    ("codes", "list"): [["codes", "list"], ["codes", "list", "--json"]],
    ("codes", "add"): [["codes", "add", "fault", "no-audio"]],
    ("codes", "retire"): [["codes", "retire", "fault", "ir-night"]],
    ("finding",): [["receive", "RA-000002"], ["finding", "RA-000002", "no-fault-found"]],
}
SERVER_HAS_NO_FILE = {("backup",)}  # a server is backed up by its own tools: `backup` refuses a URL


@pytest.mark.parametrize("path", list(STORED_VIEWS), ids=" ".join)
def test_stored_control_characters_in_every_human_view(cli, stored, backend, path):
    (stored / "models.csv").write_text("model,category,list_price,description\nCAM-3,camera,9,plain\n", encoding="utf-8")
    (stored / "carrier.csv").write_text(f"tracking_code,status,status_detail,datetime\nZZ1,{EVIL},{EVIL},2026-11-01\n",
                                        encoding="utf-8")
    shown = ""
    for args in STORED_VIEWS[path]:
        args = [a.replace("{tmp}", str(stored)) for a in args]
        script = f"show RA-000001\nlist --all\nshow '{TICKET}'\n" if path == ("shell",) else None
        result = cli(*args, input=script)
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
        assert "Traceback" not in result.output
        if not (path in SERVER_HAS_NO_FILE and backend == "postgres"):
            assert result.exit_code in (0, 1), (args, result.stdout, result.stderr)
        _no_raw(result.stdout + result.stderr)
        shown += result.stdout + result.stderr
    for eml in (*(stored / "outbox").iterdir(), *stored.glob("*.html")):
        _no_raw(eml.read_text(encoding="utf-8", errors="replace"))
    if path in {("show",), ("list",), ("overdue",), ("notify",), ("shell",), ("catalog", "list"), ("edit",),
                ("export", "ledger"), ("export", "returns"), ("serial", "find"), ("complete",), ("note",), ("void",),
                ("codes", "list"), ("report", "quality")}:
        assert "\\x1b" in shown or "\\u001b" in shown, shown  # the stored text is there, escaped


# --- what only shows at a terminal -------------------------------------------------------------

TERMINAL_VIEWS = {("open",), ("list",), ("receive",), ("charge",), ("refund",), ("cancel",), ("void",), ("notify",), ("shell",)}
MARKUP_NAME = "Bob [/bold] [link=https://evil.example]Alarm[/link]"


@pytest.mark.slow
@pytest.mark.sqlite_only("a real terminal runs the installed command on a file")
def test_at_a_terminal_stored_escapes_and_markup_are_shown_as_typed(tmp_path):
    """notify's tables and progress bar, a money moment's question, void's, the shell's prompt
    and its commands, open's confirm line and a list stacked at 40 columns: at a real terminal."""
    from shellhelpers import COMMAND, Terminal, env_for, run

    env = env_for(tmp_path, **MAIL)
    assert run(tmp_path, "catalog", "add", "CAM-1", "--category", "camera", "--list-price", "500").returncode == 0
    for args in (["-t", "counter", "-c", MARKUP_NAME, "--ticket", "T-[/x]1", "--distributor", "ADI"],
                 ["-t", "standard", "-c", "Cy"], ["-t", "standard", "-c", "Di"]):
        assert run(tmp_path, "open", "-i", "CAM-1", *args, "-y").returncode == 0
    import sqlite3

    conn = sqlite3.connect(tmp_path / "returns.db")
    with conn:
        conn.execute("UPDATE returns SET customer = ?, phone = ? WHERE type = 'standard'", [EVIL, EVIL])
    conn.close()

    def at_terminal(*args: str, keys: list[str] = (), columns: int = 100) -> str:
        t = Terminal([*COMMAND, *args], env, columns=columns)
        for wait, key in keys:
            t.wait_for(wait)
            t.type(key)
        t.finish()
        text = t.raw.decode("utf-8", errors="replace")
        for injected in ("\x1b]52", "\x1b[2J", "\x9b", "\x7f", "\x07"):
            assert injected not in text, (args, text)
        assert "Traceback" not in text, text
        return t.screen

    screen = at_terminal("notify", "--dry-run", columns=200)
    assert MARKUP_NAME in screen and "\\x1b" in screen
    assert "\\x1b" in at_terminal("cancel", "RA-000001", "--reason", "x", keys=[("[y/N]", "n\r")])
    screen = at_terminal("shell", keys=[("returns.db>", "show T-[/x]1\r"), ("History", "list\r"),
                                            ("RA-000002", "exit\r")])
    assert MARKUP_NAME in screen
    screen = at_terminal("list", columns=40)
    assert "\\x1b" in screen and "T-[/x]1" in screen
    keys = [("Fault reported (", "other\r"), ("no more serials", "\r"), ("Enter to skip", "\r"), ("Enter to skip", "\r"),
            ("[Y/n]", "n\r"), ("back to the summary", "discard\r")]
    screen = at_terminal("open", "-t", "standard", "-i", "CAM-1", "-c", MARKUP_NAME, keys=keys)
    assert MARKUP_NAME in screen

