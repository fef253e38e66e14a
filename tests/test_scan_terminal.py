"""`receive --scan` at a real terminal, as the dock uses it: the scanner types a code and Enter,
and that one Enter receives the box; an advanced replacement asks first, as `receive` does."""

from __future__ import annotations

import pytest
from shellhelpers import COMMAND, Terminal, env_for, run

pytestmark = pytest.mark.slow  # real processes at a pseudo-terminal

TODAY = "2026-11-26"


@pytest.fixture
def env(tmp_path):
    for step in [
        ("catalog", "add", "O4B3", "--category", "camera", "--list-price", "249.99"),
        ("open", "-t", "standard", "-c", "Müller & Söhne", "-i", "O4B3", "-y"),
        ("open", "-t", "advanced", "-c", "Carol's CCTV", "-i", "O4B3", "-s", "SN-9", "-y"),
        ("link", "RA-000002"), ("hold", "RA-000002", "--ref", "AUTH-1"), ("ship", "RA-000002"),
        ("deliver", "RA-000002"), ("open", "-t", "standard", "-c", "Third Box", "-i", "O4B3", "-y"),
    ]:
        assert run(tmp_path, *step).returncode == 0, step
    return env_for(tmp_path)


def test_one_scan_receives_a_box_and_a_money_moment_asks(env):
    t = Terminal([*COMMAND, "receive", "--scan"], env)
    try:
        t.wait_for_prompt(b"scan> ")
        t.type("]C0RA-000001\r")  # what the scanner types: its prefix, the code, Enter
        at = t.wait_for("RA-000001  Müller & Söhne  received: now unit-received")
        at = t.wait_for("scan>", at)  # no question: the next box
        t.type("RA-000002\r")
        at = t.wait_for("Record receive? [y/N]", at)
        t.type("y\r")
        at = t.wait_for("RA-000002  Carol's CCTV  received: now completed; card hold $249.99 "
                        "released (ref AUTH-1)", at)
        at = t.wait_for("scan>", at)
        t.type("RA-000999\r")
        at = t.wait_for("error: RA-000999: no return has this RA number or ticket; not received",
                        at)
        at = t.wait_for("scan>", at)
        t.type("\x04")  # Ctrl-D
        t.wait_for("2 boxes received, 1 not.", at)
        assert t.finish() == 1
    finally:
        t.kill()


def test_in_the_shell_at_a_terminal(env):
    t = Terminal([*COMMAND, "shell"], env)
    try:
        t.wait_for_prompt(b"> ")
        t.type("receive --scan\r")
        t.wait_for_prompt(b"scan> ")
        t.type("RA-000003\r")
        at = t.wait_for("RA-000003  Third Box  received: now unit-received")
        at = t.wait_for("scan>", at)
        t.type("done\r")
        at = t.wait_for("1 box received.", at)
        at = t.wait_for("tester@returns.db>", at)
        t.type("show RA-000003 --json\r")
        t.wait_for('"status": "unit-received"', at)
        t.type("exit\r")
        assert t.finish() == 0
    finally:
        t.kill()
