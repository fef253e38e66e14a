"""The installed `speco-returns` at a real pseudo-terminal, 80 columns: what an agent sees
when `open` refuses an answer on the spot, when a money moment asks, and when `void`
shows what it will undo (issue 13 items 3 to 6). The screen is read as typed and shown."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

EXE = shutil.which("speco-returns", path=str(Path(sys.executable).parent))
TODAY = "2026-03-31"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(EXE is None and not os.environ.get("CI"), reason="speco-returns is not installed")]


class Terminal:
    """One command at a pseudo-terminal of the given width; `expect` reads until text shows."""

    def __init__(self, args: list[str], env: dict, columns: int = 80):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        self.proc = subprocess.Popen([EXE, *args], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.fd, self.screen = master, ""

    def _read(self, wait: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], wait)
        if not ready:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # the child closed the terminal
            return False
        if not data:
            return False
        self.screen += ANSI.sub("", data.decode("utf-8", "replace")).replace("\r\n", "\n")
        return True

    def expect(self, text: str) -> str:
        """Read until `text` is on the screen (a generous safety limit, not a timing claim)."""
        while text not in self.screen:
            if not self._read(30) and self.proc.poll() is not None:
                break
        assert text in self.screen, self.screen
        return self.screen

    def expect_wrapped(self, text: str) -> str:
        """`text` as a line wrapped between words at the terminal's width shows it."""
        def words(t):
            return " ".join(t.split())

        while words(text) not in words(self.screen):
            if not self._read(30) and self.proc.poll() is not None:
                break
        assert words(text) in words(self.screen), self.screen
        return self.screen

    def type(self, line: str) -> None:
        os.write(self.fd, (line + "\r").encode())

    def finish(self) -> int:
        while self._read(0.5) or self.proc.poll() is None:
            pass
        os.close(self.fd)
        return self.proc.wait(30)


@pytest.fixture
def env(tmp_path):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SPECO_", "COLUMNS", "LINES"))}
    environment.update(SPECO_RETURNS_DB=str(tmp_path / "returns.db"), SPECO_RETURNS_AGENT="ann", SPECO_RETURNS_TODAY=TODAY,
                       TERM="xterm", NO_COLOR="1")
    seed = tmp_path / "seed.csv"
    seed.write_text("model,category,list_price\nCAM-2,camera,\"1,299.99\"\nNOPRICE,camera,\n", encoding="utf-8")
    run(environment, "catalog", "import", str(seed))
    return environment


def run(env: dict, *args: str) -> subprocess.CompletedProcess:
    """No terminal at all: stdin, stdout and stderr are pipes."""
    return subprocess.run([EXE, *args], env=env, capture_output=True, text=True, stdin=subprocess.PIPE, timeout=60)


def test_open_at_a_terminal_refuses_on_the_spot_and_changes_one_field(env):
    assert run(env, "open", "--type", "standard", "--customer", "A", "--item", "CAM-2", "--serial", "SN-1").returncode == 0
    t = Terminal(["open"], env)
    t.expect("Return type")
    t.type("advanced")
    t.expect("Customer")
    t.type("Acme Alarm")
    t.expect("Items")
    t.type("NOPRICE")
    t.expect("AR-3: NOPRICE has no list price in the catalog")
    t.type("CAM-2:2")
    t.expect("Fault reported (")
    t.type("no video")  # read as the code no-video
    t.expect("Serial of CAM-2, unit 1 of 2 (AR-1)")
    t.type("sn-1")
    t.expect("SER-1: serial SN-1 is already on open return RA-000001")
    t.type("SN-2")
    t.expect("unit 2 of 2")
    t.type("SN-3")
    t.expect("E-mail for the e-biz link (strongly advised; Enter to skip)")
    t.type("ann@example.com")
    t.expect("Phone (Enter to skip)")
    t.type("")
    t.expect_wrapped("Open an advanced return for Acme Alarm: CAM-2 x2 (SN-2, SN-3); fault no-video; contact ann@example.com; "
                     "card hold $2,599.98? [Y/n]")
    t.type("n")
    t.expect("Change which field")
    t.type("phone")
    t.expect("Phone (Enter to skip)")
    t.screen = t.screen[: t.screen.rindex("Phone")]  # read the second question fresh
    t.type("555-0100")
    t.expect_wrapped("contact ann@example.com, 555-0100; card hold $2,599.98? [Y/n]")
    t.type("y")
    screen = t.expect("RA number: RA-000002")
    assert t.finish() == 0
    assert "Traceback" not in screen
    shown = run(env, "show", "RA-000002", "--json")
    assert '"phone": "555-0100"' in shown.stdout and '"SN-2"' in shown.stdout


def test_discard_at_the_summary_says_what_it_discarded_in_one_plain_line(env):
    t = Terminal(["open", "--type", "advanced", "--customer", "Acme Alarm", "--item", "CAM-2", "--serial", "SN-5"], env)
    t.expect("Fault reported (")
    t.type("no-power")
    t.expect("E-mail for the e-biz link")
    t.type("")
    t.expect("Phone (Enter to skip)")
    t.type("")
    t.expect("[Y/n]")
    t.type("n")
    t.expect("Change which field")
    t.type("discard")
    screen = t.expect("discarded an advanced return for Acme Alarm: nothing was written")
    assert t.finish() == 0  # a choice: SPEC's exit 1 is a refusal by policy or bad data
    assert "error" not in screen.split("Change which field")[-1]
    assert run(env, "list", "--json").stdout.strip() == "[]"


def _advanced_delivered(env) -> None:
    assert run(env, "open", "--type", "ar", "--customer", "Acme Alarm", "--item", "CAM-2", "--serial", "SN-9",
               "--on", "2026-01-01").returncode == 0
    for args in (["link"], ["hold", "--ref", "AUTH-77", "--expires", "2099-12-31"], ["ship"],
                 ["deliver"]):
        assert run(env, args[0], "RA-000001", *args[1:], "--on", "2026-01-05").returncode == 0


def test_receive_then_void_at_a_terminal_show_the_money_and_ask(env):
    _advanced_delivered(env)
    t = Terminal(["receive", "RA-000001"], env)
    t.expect("RA-000001  Acme Alarm")
    t.expect("receive on 2026-03-31: card hold $1,299.99 released (ref AUTH-77)")
    t.expect("Record receive? [y/N]")
    t.type("y")
    t.expect_wrapped("now completed; card hold $1,299.99 released (ref AUTH-77)")
    assert t.finish() == 0

    t = Terminal(["void", "RA-000001", "--reason", "typed on the wrong RA"], env)
    t.expect("void: undoes receive of 2026-03-31 (completed -> replacement-delivered)")
    t.expect("money: card hold $1,299.99 authorized (ref AUTH-77)")
    t.expect("Void receive? [y/N]")
    t.type("y")
    t.expect_wrapped("RA-000001: voided receive of 2026-03-31: now replacement-delivered; card hold $1,299.99 authorized (ref AUTH-77)")
    assert t.finish() == 0


def test_no_at_a_money_moment_writes_nothing_and_a_refusal_comes_before_the_question(env):
    _advanced_delivered(env)
    t = Terminal(["cancel", "RA-000001", "--reason", "changed mind"], env)  # shipped: cancel is refused
    screen = t.expect("error: cannot cancel an advanced return that is replacement-delivered")
    assert t.finish() == 1 and "?" not in screen
    t = Terminal(["charge", "RA-000001"], env)
    t.expect("card charged $1,299.99 (ref AUTH-77)")
    t.type("n")
    t.expect("error: not confirmed: nothing was written")
    assert t.finish() == 1
    assert '"status": "replacement-delivered"' in run(env, "show", "RA-000001", "--json").stdout


def test_without_a_terminal_nothing_asks(env):
    _advanced_delivered(env)
    result = run(env, "receive", "RA-000001")
    assert result.returncode == 0, result.stderr
    assert "?" not in result.stdout
    assert "now completed; card hold $1,299.99 released (ref AUTH-77)" in result.stdout
