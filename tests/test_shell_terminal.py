"""`speco-returns shell` and `open`'s questions at a real pseudo-terminal, read as an agent reads the screen."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import sys

import pytest
from clihelpers import counts
from shellhelpers import COMMAND, Terminal, env_for, run

pytestmark = pytest.mark.slow  # real processes: CONTRIBUTING.md

CARD = "4111 1111 1111 1111"


@pytest.fixture
def seeded(tmp_path):
    """RA-000001 open, RA-000002 cancelled, RA-000013 open: `RA-00000` completes to RA-000001 only."""
    for customer in ("Open Co", "Cancelled Co"):
        assert run(tmp_path, "open", "--type", "standard", "--customer", customer, "--item", "C1").returncode == 0
    assert run(tmp_path, "cancel", "RA-000002", "--reason", "customer changed mind").returncode == 0
    conn = sqlite3.connect(tmp_path / "returns.db")
    with conn:  # RA-000013: a second open number that `RA-00000` must not offer
        conn.execute("UPDATE returns SET ra_no = 13 WHERE ra_no = 2")
    conn.close()
    assert run(tmp_path, "open", "--type", "standard", "--customer", "Again Co", "--item", "C1").returncode == 0
    return tmp_path


def test_an_agents_call_in_the_shell_at_a_terminal(seeded):
    tmp_path = seeded
    term = Terminal([*COMMAND, "shell"], env_for(tmp_path))
    try:
        at = term.wait_for("tester@returns.db>")
        # Tab completes a partial RA number to the one open return it can be (RA-000002 is cancelled).
        term.type("show RA-00000\t")
        at = term.wait_for("show RA-000001", at)
        term.type("\r")
        at = term.wait_for("Open Co", at)
        at = term.wait_for("tester@returns.db>", at)
        # A refused command: one error line, its exit status, and the session goes on.
        term.type(f'note RA-000001 "card {CARD}"\r')
        at = term.wait_for("error: ", at)
        at = term.wait_for("[exit 1]", at)
        # A successful open.
        term.type('open --type standard --customer "Pty Co" --item C1 --yes\r')
        at = term.wait_for("RA-000015", at)
        at = term.wait_for("tester@returns.db>", at)
        # Ctrl-C at one of open's questions: exit 130, nothing written, the session goes on.
        before = counts(tmp_path / "returns.db")
        term.type("open\r")
        term.wait_for_prompt(b"virtual): ")  # readline is reading the answer
        term.type("adv")
        at = term.wait_for("virtual): adv", at)
        at = term.interrupt("[exit 130]", at)
        assert counts(tmp_path / "returns.db") == before
        at = term.wait_for("tester@returns.db>", at)
        # Ctrl-C at the prompt drops the half-typed line: nothing runs.
        term.type("cancel RA-000001 --reason oops")
        at = term.wait_for("oops", at)
        at = term.interrupt("tester@returns.db>", at)
        term.type("list\r")
        at = term.wait_for("RA-000015", at)
        at = term.wait_for("tester@returns.db>", at)
        term.type("\x04")  # Ctrl-D leaves
        assert term.finish() == 0
    finally:
        term.kill()
    screen = term.screen
    assert "Traceback" not in screen
    assert "4111" not in screen.split("error: ")[1].splitlines()[0]  # the refusal never echoes the card
    show = json.loads(run(tmp_path, "show", "RA-000001", "--json").stdout)
    assert show["status"] == "authorized"  # the Ctrl-C'd cancel never ran
    assert [e["event"] for e in show["events"]] == ["open"]
    history = (tmp_path / "home" / ".config" / "speco-returns" / "shell-history")
    lines = history.read_text().splitlines()
    assert "show RA-000001 " in lines or "show RA-000001" in lines
    assert 'open --type standard --customer "Pty Co" --item C1 --yes' in lines
    assert not any("4111" in line for line in lines), lines  # the refused card line never reached the file
    assert history.stat().st_mode & 0o077 == 0


def test_shell_history_keeps_command_lines_not_the_answers_to_questions(seeded):
    tmp_path = seeded
    term = Terminal([*COMMAND, "shell"], env_for(tmp_path))
    try:
        at = term.wait_for("returns.db>")
        term.type("open --type standard --item C1 --yes\r")
        at = term.wait_for("Customer", at)
        term.type("Secret Cust\t")  # Tab at a question: nothing to complete, and the command's database stays open
        at = term.wait_for("Secret Cust", at)
        term.type("omer Name\r")
        at = term.wait_for("RA-000015", at)
        at = term.wait_for("returns.db>", at)
        term.type("exit\r")
        assert term.finish() == 0
    finally:
        term.kill()
    lines = (tmp_path / "home" / ".config" / "speco-returns" / "shell-history").read_text().splitlines()
    assert "open --type standard --item C1 --yes" in lines
    assert "Secret Customer Name" not in lines


def test_open_questions_have_line_editing_and_ctrl_c_exits_130(tmp_path):
    """Arrow keys edit the answer instead of inserting escape codes; Ctrl-C writes nothing."""
    term = Terminal([*COMMAND, "open", "--customer", "Edit Co", "--item", "C1", "--yes"], env_for(tmp_path))
    try:
        term.wait_for_prompt(b"virtual): ")  # readline is reading the answer
        term.type("stanard")
        term.type("\x1b[D\x1b[D\x1b[D")  # Left three times: the cursor before "ard"
        term.type("d\r")
        term.wait_for("RA-000001")
        assert term.finish() == 0
    finally:
        term.kill()
    assert json.loads(run(tmp_path, "show", "RA-000001", "--json").stdout)["type"] == "standard"

    term = Terminal([*COMMAND, "open", "--type", "standard", "--item", "C1"], env_for(tmp_path))
    try:
        term.wait_for_prompt(b"Customer: ")
        at = len(term.screen)
        term.type("Half Typed")
        at = term.wait_for("Half Typed", at)  # as a person does: Ctrl-C once the question is being answered
        term.interrupt("\n", at)
        assert term.finish() == 130
    finally:
        term.kill()
    assert "Aborted" not in term.screen and "Traceback" not in term.screen
    assert counts(tmp_path / "returns.db")["returns"] == 1


def test_a_batch_shown_on_a_terminal_has_no_prompt_and_no_colour(seeded, tmp_path):
    script = tmp_path / "commands.txt"
    script.write_text("show RA-000001\nlist\n")
    with open(script) as stdin:
        term = Terminal([*COMMAND, "shell"], env_for(seeded), stdin=stdin)
        try:
            assert term.finish() == 0
        finally:
            term.kill()
    assert "Open Co" in term.screen and "RA-000014" in term.screen
    assert not re.search(rb"\x1b\[[0-9;]*(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])[;m]", term.raw)  # no colour (bold may stay)
    assert "returns.db>" not in term.screen



def test_the_terminal_gives_ctrl_c_its_default_action_whatever_the_runner_ignores(tmp_path):
    # a runner started in the background without job control ignores SIGINT; a command started
    # at an agent's terminal does not, so Ctrl-C must reach it as KeyboardInterrupt here too
    ignored = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        term = Terminal([sys.executable, "-c", "import signal; "
                         "print(signal.getsignal(signal.SIGINT).__name__, 'end', flush=True)"],
                        env_for(tmp_path))
        try:
            term.wait_for("end")
            assert "default_int_handler end" in term.screen
        finally:
            term.kill()
    finally:
        signal.signal(signal.SIGINT, ignored)
