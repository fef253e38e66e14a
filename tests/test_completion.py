"""Tab completion: bash, zsh and fish through Typer's completion variables (a real process),
and the shell's completer, both served by speco_returns/cli/completion.py."""

from __future__ import annotations

import sqlite3

import pytest
import typer.main
from hypothesis import given
from hypothesis import strategies as st
from shellhelpers import COMMAND, run

from speco_returns.cli import app, completion
from speco_returns.cli.shell import WORDS
from speco_returns.db import completion as db_completion
from speco_returns.db.database import open_database
from speco_returns.domain import types


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """Open RA-000001 and RA-000003, RA-000002 cancelled, open ticket TT-77, closed ticket TT-78,
    two models."""
    tmp_path = tmp_path_factory.mktemp("completion")
    script = "\n".join([
        "catalog add O4B3 --category camera --list-price 249.99",
        "catalog add O8P32X --category ptz --list-price 2199",
        "open --type standard --customer A --item C1",
        "open --type standard --customer B --item C1",
        "open --type standard --customer C --item C1",
        "cancel RA-000002 --reason x",
        "open --type otc --customer D --item C1 --ticket TT-77 --distributor Dist",
        "open --type otc --customer E --item C1 --ticket TT-78 --distributor Dist",
        "complete TT-78",
    ])
    done = run(tmp_path, "shell", input=script + "\n")
    assert done.returncode == 0, done.stderr
    return tmp_path


def bash(tmp_path, line: str, **env) -> list[str]:
    words = line.split(" ")
    done = run(tmp_path, _SPECO_RETURNS_COMPLETE="complete_bash", COMP_WORDS=line,
               COMP_CWORD=str(len(words) - 1), **env)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.slow
@pytest.mark.parametrize("line,expected", [
    ("speco-returns show RA-", ["RA-000001", "RA-000003"]),
    ("speco-returns show ", ["RA-000001", "RA-000003", "TT-77"]),
    ("speco-returns receive RA-00000", ["RA-000001", "RA-000003"]),
    ("speco-returns note TT", ["TT-77"]),
    ("speco-returns show RA-9", []),
    ("speco-returns open --type a", ["advanced", "ar"]),
    ("speco-returns list --status unit-", ["unit-in-transit", "unit-received"]),
    ("speco-returns catalog add X --category p", ["ptz"]),
    ("speco-returns open --item O8", ["O8P32X"]),
    ("speco-returns seri", ["serial"]),
    ("speco-returns serial ", ["add", "find", "remove"]),
])
def test_bash_completes_from_the_app_and_the_database(seeded, line, expected):
    assert sorted(bash(seeded, line)) == expected


@pytest.mark.slow
def test_options_are_completed_from_the_command(seeded):
    got = bash(seeded, "speco-returns hold RA-000001 --")
    assert {"--ref", "--expires", "--on", "--json", "--help"} <= set(got)


@pytest.mark.slow
def test_completion_reads_the_database_that_db_names_and_never_creates_one(seeded, tmp_path):
    assert bash(seeded, f"speco-returns --db {seeded / 'returns.db'} show RA-",
                SPECO_RETURNS_DB=str(tmp_path / "x.db")) \
        == ["RA-000001", "RA-000003"]
    missing = tmp_path / "missing.db"
    assert bash(seeded, "speco-returns show RA-", SPECO_RETURNS_DB=str(missing)) == []
    assert not missing.exists()


@pytest.mark.slow
def test_zsh_and_fish_get_the_same_candidates(seeded):
    zsh = run(seeded, _SPECO_RETURNS_COMPLETE="complete_zsh",
              _TYPER_COMPLETE_ARGS="speco-returns show RA-")
    assert zsh.returncode == 0 and "RA-000001" in zsh.stdout and "RA-000003" in zsh.stdout
    assert "RA-000002" not in zsh.stdout
    fish = run(seeded, _SPECO_RETURNS_COMPLETE="complete_fish",
               _TYPER_COMPLETE_ARGS="speco-returns show RA-",
               _TYPER_COMPLETE_FISH_ACTION="get-args")
    assert fish.returncode == 0 and fish.stdout.split() == ["RA-000001", "RA-000003"]


@pytest.mark.slow
@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_show_completion_prints_a_script_for_each_shell(tmp_path, shell):
    done = run(tmp_path, "--show-completion", shell)
    assert done.returncode == 0, done.stderr
    assert "_SPECO_RETURNS_COMPLETE" in done.stdout


@pytest.mark.slow
def test_install_completion_writes_the_users_shell_file(tmp_path):
    done = run(tmp_path, "--install-completion", "bash", SHELL="/bin/bash")
    assert done.returncode == 0, done.stderr
    assert "_SPECO_RETURNS_COMPLETE" in (tmp_path / "home" / ".bashrc").read_text() + "".join(
        p.read_text() for p in (tmp_path / "home").rglob("speco-returns*") if p.is_file())


# --- the shell's completer: the same source ------------------------------------------------------


@pytest.fixture(scope="module")
def root():
    return typer.main.get_command(app)


class Source:
    def __init__(self, path):
        self.completion_db = open_database(path, read=True)


@pytest.mark.slow
@pytest.mark.parametrize("words,incomplete,expected", [
    ([], "sh", ["shell", "ship", "show"]),
    ([], "ex", ["exit", "export"]),
    (["show"], "RA-", ["RA-000001", "RA-000003"]),
    (["cancel", "RA-000001"], "--r", ["--reason"]),
    (["hold", "RA-000001", "--ref"], "", []),  # a free value: nothing to offer
    (["open", "--type"], "v", ["virtual"]),
    (["open", "--yes", "--type"], "c", ["counter"]),
    (["export"], "l", ["ledger"]),
    (["serial", "add", "RA-000001"], "", []),  # serials are typed, never offered
    (["catalog", "add", "O4B3", "--category"], "", list(types.CATEGORIES)),
])
def test_the_shell_completes_lines_from_the_same_source(seeded, root, words, incomplete, expected):
    got = completion.complete_line(root, words, incomplete, ctx_obj=Source(seeded / "returns.db"),
                                   extra=WORDS)
    assert got == expected


def test_every_command_of_the_app_is_offered_at_the_start_of_a_shell_line(root):
    got = completion.complete_line(root, [], "", extra=WORDS)
    assert set(root.commands) | set(WORDS) == set(got)


@given(st.integers(min_value=1, max_value=10**12), st.integers(min_value=0, max_value=13))
def test_ra_ranges_hold_exactly_the_numbers_whose_text_starts_with_the_digits(n, cut):
    text = f"{n:06d}"
    digits = text[:cut]
    inside = any(lo <= n <= hi for lo, hi in db_completion.ra_ranges(digits))
    assert inside == text.startswith(digits)
    other = n + 1
    assert (any(lo <= other <= hi for lo, hi in db_completion.ra_ranges(digits))
            == f"{other:06d}".startswith(digits))


@pytest.mark.slow
def test_completion_uses_the_open_indexes_not_the_table(seeded):
    from speco_returns.db.returns import OPEN_SQL

    conn = sqlite3.connect(seeded / "returns.db")
    for sql in (f"SELECT ra_no FROM returns WHERE {OPEN_SQL} AND ra_no BETWEEN 0 AND 9",
                f"SELECT ticket FROM returns WHERE {OPEN_SQL} AND ticket >= 'T' AND ticket < 'U'"):
        plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql))
        assert "returns_open_ra" in plan or "returns_open_ticket" in plan, plan


@pytest.mark.slow
def test_completing_in_a_process_prints_nothing_else(seeded):
    done = run(seeded, _SPECO_RETURNS_COMPLETE="complete_bash", COMP_WORDS="speco-returns show RA-",
               COMP_CWORD="2")
    assert done.stderr == ""
    assert COMMAND  # the installed command ran


@pytest.mark.slow
def test_the_shell_completes_nothing_from_a_database_it_has_not_got(root, seeded, monkeypatch):
    class Missing:
        completion_db = None

    # another database that does exist
    monkeypatch.setenv("SPECO_RETURNS_DB", str(seeded / "returns.db"))
    assert completion.complete_line(root, ["show"], "RA-", ctx_obj=Missing()) == []
