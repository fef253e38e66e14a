"""What the agent types, at a real terminal of 80 columns (the installed `speco-returns` on a
pseudo-terminal): Tab at open's questions (the fault codes too), Tab in the shell adding the
space after a whole word, a pasted block refused line by line, and one-line messages wrapped
between words."""

from __future__ import annotations

import json

import pytest
from shellhelpers import COMMAND, Terminal, env_for, run

pytestmark = pytest.mark.slow  # real processes: README "Development"


@pytest.fixture
def desk(tmp_path):
    for args in (["catalog", "add", "CAM-2", "--category", "camera", "--list-price", "1299.99"],
                 ["catalog", "add", "PTZ-9", "--category", "ptz", "--list-price", "900"],
                 ["open", "--type", "standard", "--customer", "Peterson Motors", "--item", "CAM-2",
                  "--yes"]):
        assert run(tmp_path, *args).returncode == 0
    return tmp_path


def test_tab_completes_types_customers_and_models_at_opens_questions(desk):
    term = Terminal([*COMMAND, "open"], env_for(desk))
    try:
        term.wait_for_prompt(b"virtual): ")
        at = len(term.screen)
        term.type("adv\t")
        at = term.wait_for("advanced", at)
        term.type("\r")
        term.wait_for_prompt(b"Customer: ")
        term.type("pete\t")  # any case; the whole name, spaces and all
        at = term.wait_for("Customer: Peterson Motors")
        term.type("\r")
        term.wait_for_prompt(b"comma-separated): ")
        term.type("PT\t")
        at = term.wait_for("comma-separated): PTZ-9", at)
        term.type(", ca\t")
        at = term.wait_for("comma-separated): PTZ-9, CAM-2")
        term.type("\r")
        term.wait_for_prompt(b"recording): ")  # the fault reported: the codes in use
        term.type("no-v\t")
        at = term.wait_for("recording): no-video", at)
        term.type("\r")
        at = term.wait_for("Serial of PTZ-9, unit 1 of 1 (AR-1)", at)
        term.interrupt("\n", at)
        assert term.finish() == 130
    finally:
        term.kill()


def test_a_pasted_block_is_refused_line_by_line_not_eaten_as_answers(desk):
    term = Terminal([*COMMAND, "open", "--type", "standard", "--item", "CAM-2"], env_for(desk))
    try:
        term.wait_for_prompt(b"Customer: ")
        term.type("speco-returns ship RA-000001\rspeco-returns list\r")
        at = term.wait_for('error: that is a command line, not an answer to "Customer"')
        at = term.wait_for('error: that is a command line, not an answer to "Customer"', at)
        term.type("Quiet Co\r")
        # the fault; serial, e-mail, phone: Enter; the summary: yes
        for answer in ("network", "", "", "", "y"):
            term.type(answer + "\r")
        term.wait_for("RA-000002", at)
        assert term.finish() == 0
    finally:
        term.kill()
    assert json.loads(run(desk, "show", "RA-000002", "--json").stdout)["customer"] == "Quiet Co"
    # nothing shipped
    assert json.loads(run(desk, "show", "RA-000001", "--json").stdout)["status"] == "authorized"


def test_tab_in_the_shell_adds_the_space_after_an_option(desk):
    term = Terminal([*COMMAND, "shell"], env_for(desk))
    try:
        at = term.wait_for("returns.db>")
        term.type("list --stat\t")
        term.wait_for("list --status", at)
        term.type("auth\t")  # typed straight on: the space came with the option
        term.wait_for("list --status authorized", at)
        term.type("--all\r")  # and a value completes with its space too
        at = term.wait_for("list --status authorized --all", at)
        at = term.wait_for("Peterson Motors", at)
        term.type("exit\r")
        assert term.finish() == 0
    finally:
        term.kill()


def test_one_line_messages_wrap_between_words_at_80_columns(desk):
    """A confirmation and an error longer than the window: wrapped between words, never inside
    a date, an RA number or an amount; in a pipe the same text is one line."""
    import re

    from ptyhelpers import screen

    env = env_for(desk)
    code, lines = screen(["receive", "RA-000001", "--on", "2026-11-26"], 80, env)
    assert code == 0, lines
    shown = [line for line in lines if line.strip() and not line.startswith("note:")]
    assert len(shown) > 1 and all(len(line) <= 80 for line in shown), shown
    text = " ".join(line.strip() for line in shown)
    # refused now: but its line is one line
    piped = run(desk, "receive", "RA-000001", "--on", "2026-11-26")
    assert text.startswith("RA-000001: receive on 2026-11-26: now unit-received")
    for token in re.findall(r"RA-\d{6}|\d{4}-\d{2}-\d{2}", text):
        assert any(token in line for line in shown), token  # each whole on one line
    code, lines = screen(["ship", "RA-000001", "--on", "2026-11-01"], 80, env)
    errors = [line for line in lines if line.strip()]
    assert (code == 1 and errors[0].startswith("error: ")
            and all(len(line) <= 80 for line in errors)), errors
    assert all(line.startswith("  ") for line in errors[1:]), errors
    assert len(piped.stderr.splitlines()) == 1 and piped.stderr.startswith("error: ")


def test_help_and_a_long_list_go_through_the_pager_at_a_terminal_never_in_a_pipe(desk):
    from ptyhelpers import screen

    recorder = desk / "pager.sh"
    recorder.write_text('#!/bin/sh\nprintf "PAGED %s lines\\n" "$(wc -l)"\n')
    recorder.chmod(0o755)
    env = env_for(desk, PAGER=str(recorder))
    code, lines = screen(["--help"], 80, env, rows=24)
    assert code == 0 and lines[0].startswith("PAGED ") and int(lines[0].split()[1]) > 24, lines
    # it fits the window: written as it is
    code, lines = screen(["list", "--help"], 80, env, rows=60)
    assert (code == 0 and any("--sort" in line for line in lines)
            and not any("PAGED" in line for line in lines))
    for n in range(30):
        assert run(desk, "open", "--type", "standard", "--customer", f"Co {n}", "--item", "CAM-2",
                   "--yes").returncode == 0
    code, lines = screen(["list"], 80, env, rows=24)
    assert code == 0 and lines[0].startswith("PAGED "), lines
    code, lines = screen(["list", "--limit", "5"], 80, env, rows=24)
    assert (code == 0 and not any("PAGED" in line for line in lines)
            and any("RA-000031" in line for line in lines))
    code, lines = screen(["list"], 80, env_for(desk, PAGER="cat"), rows=24)  # PAGER=cat: none
    assert code == 0 and sum("RA-0000" in line for line in lines) == 31
    piped = run(desk, "list", PAGER=str(recorder))
    assert "PAGED" not in piped.stdout and piped.stdout.count("RA-0000") == 31
    assert "PAGED" not in run(desk, "--help", PAGER=str(recorder)).stdout


def test_the_default_pager_is_less_and_q_leaves_it(desk):
    import shutil

    from ptyhelpers import screen

    if shutil.which("less") is None:
        pytest.skip("less is not installed")
    env = env_for(desk)
    env.pop("PAGER", None)
    env.pop("LESS", None)
    code, lines = screen(["--help"], 80, env, rows=24, input=b"q")
    assert code == 0 and any("Usage: speco-returns" in line for line in lines)


def test_the_questions_shown_in_the_agents_tour_are_what_a_terminal_shows(tmp_path):
    """docs/agents.md shows open's questions at an 80-column terminal: typed as shown, each line
    of that transcript is a line of the screen."""
    import re
    import shlex
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "agents.md").read_text()
    block = doc.split("Without `--yes`, at a terminal:\n\n```text\n", 1)[1].split("```", 1)[0]
    command, *shown = block.rstrip("\n").split("\n")
    questions, said = [], False  # (the prompt readline shows, the answer typed)
    for line in shown:
        said = line.startswith(("error:", "Fields:")) or (said and line.startswith("  "))
        asked = re.fullmatch(r"(.*[)\]]:)(?: (.*))?", line)
        if asked and not said:
            questions.append((asked.group(1) + " ", asked.group(2) or ""))
    env = env_for(tmp_path, SPECO_RETURNS_TODAY="2026-11-02")
    assert run(tmp_path, "catalog", "add", "O4B3", "--category", "camera", "--list-price",
               "249.99").returncode == 0
    term = Terminal([*COMMAND, *shlex.split(command.removeprefix("$ speco-returns "))], env,
                    columns=80)
    try:
        for prompt, answer in questions:
            term.wait_for_prompt(prompt.encode())
            term.type(answer + "\r")
        term.wait_for("RA number: RA-")
        assert term.finish() == 0
    finally:
        term.kill()
    screen = [line.rstrip() for line in term.screen.split("\n")]
    for line in shown[:-1]:  # the RA number in the doc follows the tour's returns
        assert line.rstrip() in screen, (line, term.screen)


def test_list_leaves_the_codes_out_at_80_columns_rather_than_stack_its_rows(desk):
    """The fault and finding columns are spare: an 80-column terminal (or pipe) keeps the table
    without them rather than stacking every row (or squeezing the table); a wider one shows them."""
    from ptyhelpers import screen

    assert run(desk, "open", "--type", "standard", "--customer", "Acme Security Systems",
               "--item", "CAM-2", "--fault", "physical-damage", "--yes").returncode == 0
    assert run(desk, "receive", "RA-000002", "--finding", "no-fault-found", "--yes").returncode == 0
    env = env_for(desk)
    code, lines = screen(["list"], 80, env)
    header = next(line for line in lines if "opened_on" in line)
    assert code == 0 and "customer" in header and "fault" not in header, lines
    # a row, not a stacked block
    assert any("RA-000002" in line and "unit-received" in line for line in lines), lines
    code, lines = screen(["list"], 130, env)
    assert code == 0 and any("RA-000002" in line and "physical-damage" in line
                             and "no-fault-found" in line for line in lines), lines
    assert "physical-damage" not in run(desk, "list").stdout  # a pipe: 80 columns too
    assert "physical-damage" in run(desk, "list", COLUMNS="160").stdout
