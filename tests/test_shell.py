"""`speco-returns shell` without a terminal (batches), and the guarantees it keeps between lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from clihelpers import counts, ok
from shellhelpers import COMMAND, env_for, run

from speco_returns.cli import root as cli_app
from speco_returns.cli.session import Session
from speco_returns.cli.shell import Shell
from speco_returns.db.database import open_database as Store

OPEN = 'open --type standard --customer "Batch Co" --item C1'


@pytest.mark.slow
def test_a_batch_prints_what_the_separate_commands_print(tmp_path):
    assert (run(tmp_path, *OPEN.replace('"', "").replace("Batch Co", "BatchCo").split()).returncode
            == 0)
    lines = ["show RA-000001 --json", "list --csv", "policy virtual", "serial find SN-0001"]
    batch = run(tmp_path, "shell", input="\n".join(lines) + "\n")
    assert batch.returncode == 0, batch.stderr
    separate = "".join(run(tmp_path, *line.split()).stdout for line in lines)
    assert batch.stdout == separate
    assert batch.stderr == ""
    assert "\x1b[" not in batch.stdout and "returns.db>" not in batch.stdout  # no prompt, no colour


@pytest.mark.slow
def test_a_batch_stops_at_the_first_failure_with_its_exit_code(tmp_path):
    script = f"{OPEN}\nshow RA-000009\n{OPEN}\n"
    done = run(tmp_path, "shell", input=script)
    assert done.returncode == 1
    assert [line for line in done.stderr.splitlines() if not line.startswith("note: ")] == [
        "error: no return RA-000009: give an RA number or a counter return's ticket ID",
        "line 2: exit 1"]
    assert counts(tmp_path / "returns.db")["returns"] == 1  # line 3 never ran

    usage = run(tmp_path, "shell", input="list --nonsense\nlist\n")
    assert usage.returncode == 2
    assert "line 1: exit 2" in usage.stderr
    assert usage.stdout == ""


@pytest.mark.slow
def test_keep_going_runs_every_line_and_exits_with_the_first_failure(tmp_path):
    script = f"show RA-000009\n{OPEN}\nlist --nonsense\n{OPEN}\n"
    done = run(tmp_path, "shell", "--keep-going", input=script)
    assert done.returncode == 1
    assert "line 1: exit 1" in done.stderr and "line 3: exit 2" in done.stderr
    assert counts(tmp_path / "returns.db")["returns"] == 2


@pytest.mark.slow
def test_a_batch_skips_blank_lines_and_comments_and_ends_at_exit(tmp_path):
    done = run(tmp_path, "shell",
               input=f"# the end of a call\n\n   \n{OPEN}  # the unit\nexit\n{OPEN}\n")
    assert done.returncode == 0, done.stderr
    assert counts(tmp_path / "returns.db")["returns"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("line", ["exit   # the call is done", "quit # done", "  'exit'  "])
def test_exit_with_a_comment_or_quotes_is_exit(tmp_path, line):
    done = run(tmp_path, "shell", input=f"{OPEN}\n{line}\n{OPEN}\n")
    assert done.returncode == 0, done.stderr
    assert counts(tmp_path / "returns.db")["returns"] == 1


@pytest.mark.slow
def test_thousands_of_stray_arguments_are_counted_not_all_shown(tmp_path, cli):
    strays = [f"stray-{n}" for n in range(5000)]
    done = run(tmp_path, "shell", input="list " + " ".join(strays) + "\n", COLUMNS="200")
    assert done.returncode == 2
    assert "stray-0 stray-1 stray-2 stray-3 stray-4 and 4,995 more" in done.stderr
    assert "stray-5" not in done.stderr and len(done.stderr) < 1000
    result = cli("list", *strays)  # the command line's usage error is the same
    assert result.exit_code == 2
    assert "and 4,995 more" in result.stderr and "stray-5" not in result.stderr
    assert "(a b)" in cli("list", "a", "b").stderr  # a few are all named


@pytest.mark.slow
@pytest.mark.parametrize("line,code", [("--db other.db list", 2), ("--agent x list", 2),
                                       ("shell", 2), ('note RA-000001 "unclosed', 2)])
def test_lines_the_shell_refuses(tmp_path, line, code):
    done = run(tmp_path, "shell", input=line + "\n")
    assert done.returncode == code
    assert done.stderr.startswith("error: ")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "other.db").exists()


@pytest.mark.slow
def test_global_options_given_at_the_start_apply_to_every_line(tmp_path):
    other = tmp_path / "elsewhere.db"
    done = subprocess.run([*COMMAND, "--db", str(other), "--agent", "maria", "shell"],
                          input=f"{OPEN}\nshow RA-000001 --json\n",
                          capture_output=True, text=True, env=env_for(tmp_path), timeout=120)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout[done.stdout.index("{"):])
    assert doc["events"][0]["agent"] == "maria"
    assert other.exists() and not (tmp_path / "returns.db").exists()


@pytest.mark.slow
def test_help_in_the_shell_is_the_commands_help(tmp_path):
    done = run(tmp_path, "shell", input="help note\n")
    assert done.returncode == 0
    assert "Add a note to a return's history." in done.stdout
    assert run(tmp_path, "shell", input="help\n").stdout.count("overdue") >= 1


# --- in one process: what the shell keeps, and what it must not ---------------------------------


@pytest.fixture
def shell(db_path, monkeypatch):
    monkeypatch.setenv("SPECO_RETURNS_TODAY", "2026-11-26")
    session = Session(db_path=db_path, agent="tester", keep=True)
    yield Shell(typer.main.get_command(cli_app.full_app()), session, keep_going=False,
                interactive=False)
    session.keep, session._kept = False, None
    session.done()


@pytest.mark.sqlite_only("the file's locks and WAL")
def test_a_file_is_not_held_between_commands_nor_a_transaction(shell, capsys):
    assert shell.run_line(OPEN) == 0
    for line in ("show RA-000001", "list", "show RA-9", "overdue --json", "export returns",
                 "list --bogus", "doctor"):
        shell.run_line(line)
        assert shell.session._kept is None and shell.session._store is None, line
    capsys.readouterr()


def test_another_agents_write_shows_at_the_next_command(shell, capsys, cli):
    Store(shell.session.db_path).close()  # a read never creates the database
    shell.run_line("list --json")
    assert json.loads(capsys.readouterr().out) == []
    # another process's connection
    ok(cli(*'open --type standard --customer Other --item C1'.split()))
    shell.run_line("list --json")
    assert [r["customer"] for r in json.loads(capsys.readouterr().out)] == ["Other"]


def test_today_is_read_for_each_command(shell, capsys, monkeypatch):
    assert shell.run_line(OPEN) == 0
    monkeypatch.setenv("SPECO_RETURNS_TODAY", "2026-11-27")  # the shell stayed open overnight
    assert shell.run_line('note RA-000001 "next morning"') == 0
    shell.run_line("show RA-000001 --json")
    events = json.loads(capsys.readouterr().out.split("note added\n")[1])["events"]
    assert [e["on"] for e in events] == ["2026-11-26", "2026-11-27"]


@pytest.mark.sqlite_only("a file replaced on disk")
def test_a_replaced_database_file_is_what_the_next_command_reads(shell, capsys, tmp_path):
    assert shell.run_line(OPEN) == 0
    backup = tmp_path / "backup.db"
    assert shell.run_line(f"backup {backup}") == 0
    assert shell.run_line(OPEN) == 0  # RA-000002, not in the backup
    for suffix in ("-wal", "-shm"):
        Path(f"{shell.session.db_path}{suffix}").unlink(missing_ok=True)
    # restored under the shell (test_shell_processes.py: cp too)
    os.replace(backup, shell.session.db_path)
    capsys.readouterr()
    assert shell.run_line("list --json") == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert [r["ra"] for r in json.loads(out)] == ["RA-000001"]


WRITER = """
import sys
from speco_returns.db.database import open_database as Store
from speco_returns.domain.clock import Now
from speco_returns.services import returns as returns_service
from datetime import date
store = Store(sys.argv[1])
now = Now(today=date(2026, 11, 26), stamp="2026-11-26T12:00:00+00:00", agent="writer")
for i in range(int(sys.argv[2])):
    returns_service.note(store, "RA-000001", f"note {i} " + "x" * 200, date(2026, 11, 26), now)
"""


@pytest.mark.slow
def test_an_idle_shell_lets_the_wal_checkpoint_while_another_process_writes(tmp_path):
    """One reader holding a transaction lets the WAL grow without bound (276 MB over 2,000
    writes, measured); the shell holds none between commands, so it stays a few MB."""
    db = tmp_path / "returns.db"
    assert run(tmp_path, *OPEN.replace('"Batch Co"', "Batch").split()).returncode == 0
    shell = subprocess.Popen([*COMMAND, "shell"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env_for(tmp_path))
    try:
        shell.stdin.write("show RA-000001 --json\n")  # the shell's connection is open, and idles
        shell.stdin.flush()
        assert shell.stdout.readline() == "{\n"
        while shell.stdout.readline() != "}\n":
            pass
        writer = subprocess.run([sys.executable, "-c", WRITER, str(db), "2000"],
                                capture_output=True, text=True, timeout=600)
        assert writer.returncode == 0, writer.stderr
        wal = Path(f"{db}-wal")
        size = wal.stat().st_size if wal.exists() else 0  # the writer, last to close, removed it
        assert size < 8 * 1024 * 1024, f"the WAL grew to {size:,} bytes while the shell idled"
        shell.stdin.write("show RA-000001 --json\n")  # and the shell sees all 2,000 notes
        shell.stdin.close()
        out = shell.stdout.read()
        assert shell.wait(timeout=60) == 0
    finally:
        if shell.poll() is None:
            shell.kill()
            shell.wait()
    assert len(json.loads(out)["events"]) == 2001


@pytest.mark.slow
def test_a_read_transaction_held_by_another_process_does_grow_the_wal(tmp_path):
    """The control for the test above: the same writes with one reader holding a snapshot."""
    import sqlite3

    db = tmp_path / "returns.db"
    assert run(tmp_path, *OPEN.replace('"Batch Co"', "Batch").split()).returncode == 0
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM returns").fetchone()
    writer = subprocess.run([sys.executable, "-c", WRITER, str(db), "2000"], capture_output=True,
                            text=True, timeout=600)
    assert writer.returncode == 0, writer.stderr
    assert Path(f"{db}-wal").stat().st_size > 8 * 1024 * 1024
    reader.close()


# --- the history file -----------------------------------------------------------------------------


def test_the_history_never_keeps_a_line_holding_a_card_and_its_folder_is_private(shell, tmp_path):
    """The same reading of digits as every text field (policy.card_problem), on the line as
    typed and on each word as the command reads it: a line holding a card is never kept, the
    line a command refused for it included. The folder is made like the database's."""
    import readline

    history = tmp_path / "config" / "speco-returns" / "shell-history"
    kept = ["show RA-000001", 'note RA-000001 "call 555-0100 on 2026-11-26 re RA-000123"']
    dropped = ['note RA-000001 "card 4111\u30fc1111\u30fc1111\u30fc1111"',  # ー typed for a dash
               'note RA-000001 "card 4111\u31641111\u31641111\u31641111"',  # a Hangul filler
               'note RA-000001 "card 41111111111111111229"',  # a card and its expiry, typed as one
               "note RA-000001 card\\ 4111\\ 1111\\ 1111\\ 1111",  # the spaces escaped on the line
               "note RA-000001 card 4111111111111111123"]  # and its CVV
    old_umask = os.umask(0o022)
    readline.clear_history()
    try:
        for line in (kept[0], *dropped, kept[1]):
            before = readline.get_current_history_length()
            readline.add_history(line)
            shell._keep_in_history(readline, history, before, readline.get_current_history_length())
        in_memory = [readline.get_history_item(i)
                     for i in range(1, readline.get_current_history_length() + 1)]
    finally:
        os.umask(old_umask)
        readline.clear_history()
    assert history.read_text().splitlines() == kept
    assert in_memory == kept
    assert history.stat().st_mode & 0o077 == 0
    assert history.parent.stat().st_mode & 0o007 == 0, oct(history.parent.stat().st_mode)
