"""Running the installed `speco-returns` as a separate process, with or without a terminal."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

SPECO = Path(sys.executable).with_name("speco-returns")
COMMAND = [str(SPECO)] if SPECO.exists() else [sys.executable, "-m", "speco_returns"]
# seconds before a test gives up waiting for the screen (a deadline, never a measurement)
WAIT = 120


def env_for(tmp_path: Path, **extra: str) -> dict:
    """A clean environment: the test's database, agent and home (history and completion files),
    and no pager."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SPECO_RETURNS", "_SPECO_RETURNS", "COLUMNS"))}
    env.update({"SPECO_RETURNS_DB": str(tmp_path / "returns.db"), "SPECO_RETURNS_AGENT": "tester",
                "HOME": str(tmp_path / "home"),
                "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config"),
                "SPECO_RETURNS_TODAY": "2026-11-26",
                # no pager waiting for a key that never comes (test_agent_typing tests the pager)
                "PAGER": "cat"})
    env.update(extra)
    return env


def run(tmp_path: Path, *args: str, input: str | None = None,
        **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([*COMMAND, *args], input=input, capture_output=True, text=True,
                          env=env_for(tmp_path, **extra), timeout=120)


_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]|\x07")


def _as_a_terminal_shell_starts_it() -> None:
    """In the child: the terminal becomes its controlling terminal and Ctrl-C (and Ctrl-\\) take
    their default action, as an interactive shell starts a command. A runner started in the
    background without job control (`cmd &` in a script, some CI services) ignores SIGINT, and a
    child inherits that: Python then installs no KeyboardInterrupt handler, and Ctrl-C at a
    question did nothing (the interrupt tests failed on such a runner only)."""
    fcntl.ioctl(1, termios.TIOCSCTTY, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


class Terminal:
    """A process on a pseudo-terminal of a given size; `screen` is what an agent reads there."""

    def __init__(self, argv: list[str], env: dict, columns: int = 80, rows: int = 24, stdin=None):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        env = {**env, "TERM": "xterm", "COLUMNS": str(columns), "LINES": str(rows)}
        env.pop("NO_COLOR", None)
        self.proc = subprocess.Popen(argv, stdin=stdin if stdin is not None else slave,
                                     stdout=slave, stderr=slave,
                                     env=env, start_new_session=True, close_fds=True,
                                     preexec_fn=_as_a_terminal_shell_starts_it)
        os.close(slave)
        self.raw = b""

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # the process ended and closed the terminal
            return False
        self.raw += chunk
        return bool(chunk)

    @property
    def screen(self) -> str:
        """The text as shown: escape sequences dropped, carriage returns and backspaces applied per
        line."""
        text = _ESCAPES.sub("", self.raw.decode("utf-8", errors="replace"))
        lines = []
        for line in text.split("\n"):
            shown = ""
            for part in line.split("\r"):
                shown = part + shown[len(part):]
            while "\x08" in shown:
                shown = re.sub("[^\x08]\x08", "", shown, count=1).lstrip("\x08")
            lines.append(shown.rstrip())
        return "\n".join(lines)

    def wait_for(self, text: str, after: int = 0) -> int:
        """Read until `text` shows (searching from screen offset `after`); its end offset."""
        deadline = time.monotonic() + WAIT
        while True:
            found = self.screen.find(text, after)
            if found >= 0:
                return found + len(text)
            if (time.monotonic() > deadline
                    or (not self._read(0.5) and self.proc.poll() is not None)):
                raise AssertionError(f"{text!r} never showed; the screen was:\n"
                                     f"{self.screen[after:]}")

    def wait_for_prompt(self, prompt: bytes) -> None:
        """Wait until readline has printed `prompt` (trailing space included) after everything
        read so far: it is then reading keys. A key typed before that (say Ctrl-C) can be
        echoed by the terminal, or wait for the next key, as it would for a person."""
        start = len(self.raw)
        deadline = time.monotonic() + WAIT
        while self.raw.find(prompt, start) < 0:
            if (time.monotonic() > deadline
                    or (not self._read(0.5) and self.proc.poll() is not None)):
                raise AssertionError(f"prompt {prompt!r} never showed; the screen was:\n"
                                     f"{self.screen}")

    def interrupt(self, shows: str, after: int = 0) -> int:
        """Ctrl-C until `shows` appears, as a person presses it again when nothing happens.
        CPython's readline loop notices a signal only while it waits in select(): one that
        lands while it is still handling the previous key waits for the next key."""
        for _ in range(5):
            self.type("\x03")
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                found = self.screen.find(shows, after)
                if found >= 0:
                    return found + len(shows)
                self._read(0.2)
        return self.wait_for(shows, after)

    def type(self, keys: str | bytes) -> None:
        os.write(self.master, keys.encode() if isinstance(keys, str) else keys)

    def finish(self) -> int:
        deadline = time.monotonic() + WAIT
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.2)
        while self._read(0.05):
            pass
        code = self.proc.wait(timeout=5)
        os.close(self.master)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            os.close(self.master)
        except OSError:
            pass


class ShellProcess:
    """A `speco-returns shell --keep-going` fed line by line through a pipe (no terminal), left
    open between lines as an agent's is: `run` sends one line and reads until what it prints
    shows."""

    def __init__(self, tmp_path: Path, **extra: str):
        self.proc = subprocess.Popen([*COMMAND, "shell", "--keep-going"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env_for(tmp_path, **extra), bufsize=0)
        self.fds = {"out": self.proc.stdout.fileno(), "err": self.proc.stderr.fileno()}
        self.read = {fd: bytearray() for fd in self.fds.values()}
        self.open_fds = list(self.read)

    @property
    def out(self) -> str:
        return self.read[self.fds["out"]].decode(errors="replace")

    @property
    def err(self) -> str:
        return self.read[self.fds["err"]].decode(errors="replace")

    def _read_more(self, deadline: float, waiting_for: str) -> None:
        ready, _, _ = (select.select(self.open_fds, [], [], max(0.0, deadline - time.monotonic()))
                       if self.open_fds else ([], 0, 0))
        if not ready:
            raise AssertionError(f"{waiting_for} (exit {self.proc.poll()}); stdout:\n{self.out}\n"
                                 f"stderr:\n{self.err}")
        for fd in ready:
            chunk = os.read(fd, 65536)
            self.read[fd] += chunk
            if not chunk:  # the shell closed it: it ended
                self.open_fds.remove(fd)

    def run(self, line: str, *, shows: str, on: str = "out") -> str:
        """Send `line`; read until `shows` appears on stdout (`on="out"`) or stderr ("err").
        What that line printed there, up to and including `shows`."""
        stream, errors = self.read[self.fds[on]], self.read[self.fds["err"]]
        start, wanted, failed_from = len(stream), shows.encode(), len(errors)
        self.proc.stdin.write(line.encode() + b"\n")
        deadline = time.monotonic() + WAIT
        while (found := stream.find(wanted, start)) < 0:
            if on == "out" and re.search(rb"^line [0-9]+: exit ", errors[failed_from:],
                                         re.MULTILINE):
                raise AssertionError(f"{line!r} failed; stderr:\n{self.err}")
            self._read_more(deadline, f"{shows!r} never showed after {line!r}")
        return stream[start:found + len(wanted)].decode(errors="replace")

    def settle(self) -> None:
        """Wait until the shell has finished the lines sent so far, its closing steps included
        (a command's output shows before it has closed its database): it answers the next line,
        `--version`, which reads no database, only once the line before is done."""
        from speco_returns import __version__

        self.run("--version", shows=f"speco-returns {__version__}\n")

    def finish(self) -> int:
        """End of input, as Ctrl-D or the end of a script: the shell's exit code."""
        self.proc.stdin.close()
        deadline = time.monotonic() + WAIT
        while self.open_fds:
            self._read_more(deadline, "the shell did not end at the end of its input")
        return self.proc.wait(timeout=WAIT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=WAIT)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()
