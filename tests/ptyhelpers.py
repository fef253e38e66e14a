"""Run the installed `speco-returns` on a real pseudo-terminal of a given size, read the screen.

`COLUMNS` alone does not make rich believe it is at a terminal, and a terminal's width is
what the agent's window is: the child gets a pty whose size is set with TIOCSWINSZ before it
starts, and no COLUMNS or LINES in its environment.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

SPECO = str(Path(sys.executable).with_name("speco-returns"))
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|"
                      r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Z0-9]")


def screen(args: list[str], cols: int, env: dict[str, str], rows: int = 60,
           input: bytes = b"") -> tuple[int, list[str]]:
    """(exit code, the lines the terminal shows), escape sequences removed."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    child_env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}
    child_env.setdefault("TERM", "xterm-256color")
    proc = subprocess.Popen([SPECO, *args], stdin=slave, stdout=slave, stderr=slave, env=child_env,
                            start_new_session=True, close_fds=True)
    os.close(slave)
    if input:
        os.write(master, input)
    out = bytearray()
    deadline = time.monotonic() + 120  # a hung child fails the test rather than the suite
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    code = proc.wait(timeout=30)
    text = _ESCAPES.sub("", out.decode("utf-8", errors="replace"))
    text = text.replace("\r\n", "\n").replace("\r", "")
    return code, text.split("\n")
