"""Output longer than the window goes through a pager at a terminal, as gh and psql do:
`$PAGER`, else `less -FRX` (quit at the end, colours kept, the text left on the screen).
Never in a pipe or a file, never when `$PAGER` is `cat` or empty, and never for output that
fits the window: that is written as it always was."""

from __future__ import annotations

import io
import os
import shlex
import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager

DEFAULT = "less -FRX"


class _Screenful(io.StringIO):
    """What a command prints, kept to be paged: it answers as the terminal it stands for, so
    rich draws for the window (width, colour) as it would on the terminal itself."""

    def __init__(self, terminal):
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.terminal.fileno()


def pager_command() -> list[str] | None:
    """The pager to run, or None for none."""
    given = os.environ.get("PAGER")
    command = DEFAULT if given is None else given.strip()
    if not command or command == "cat":
        return None
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    return words if shutil.which(words[0]) else None


@contextmanager
def paged():
    """Around printing for a person: at a terminal, what is printed goes through the pager
    when it is longer than the window."""
    out = sys.stdout
    try:
        at_terminal = out.isatty() and sys.stdin.isatty()
    except (AttributeError, ValueError):
        at_terminal = False
    command = pager_command() if at_terminal else None
    if command is None:
        yield
        return
    screenful = _Screenful(out)
    sys.stdout = screenful
    try:
        yield
    finally:
        sys.stdout = out
        show(screenful.getvalue(), out, command)


def show(text: str, out, command: list[str]) -> None:
    try:
        rows = os.get_terminal_size(out.fileno()).lines
    except OSError:
        rows = 0
    if not rows or text.count("\n") < rows:
        out.write(text)
        return
    out.flush()
    try:
        # As git does: less without options of its own gets F, R and X (colours pass through).
        env = os.environ if "LESS" in os.environ else {**os.environ, "LESS": "FRX"}
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, env=env)
    except OSError:  # it went away since: the text as it is
        out.write(text)
        return
    # Ctrl-C belongs to the pager while it runs
    interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc.stdin.write(text.encode(getattr(out, "encoding", None) or "utf-8", errors="replace"))
        proc.stdin.close()
    except BrokenPipeError:  # the agent quit the pager before the end
        pass
    finally:
        proc.wait()
        signal.signal(signal.SIGINT, interrupt)
