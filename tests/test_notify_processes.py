"""`notify` as real processes: two runs at once send each notice once; a run killed between
sending and recording is made good by the next run (same Message-ID, one history entry).

Every subprocess and wait has a timeout: a hang fails the test, never the run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter

import pytest
import smtpserver
from clihelpers import ok, query

pytestmark = pytest.mark.slow  # real processes: CONTRIBUTING.md

TODAY = "2026-11-26"
CLI = [sys.executable, "-m", "speco_returns"]


def _env(db_path, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"SPECO_RETURNS_DB": str(db_path), "SPECO_RETURNS_AGENT": "nightly",
                "SPECO_RETURNS_TODAY": TODAY, "NO_COLOR": "1", "COLUMNS": "200",
                "SPECO_RETURNS_SMTP": f"smtp://127.0.0.1:{port}?tls=off",
                "SPECO_RETURNS_MAIL_FROM": "returns@speco.example"})
    for name in ("SPECO_RETURNS_SMTP_PASSWORD", "SPECO_RETURNS_MAIL_BCC", "SPECO_RETURNS_REMIND"):
        env.pop(name, None)
    return env


def _open_many(cli, count: int) -> None:
    for i in range(count):
        ok(cli("open", "--type", "standard", "--customer", f"Customer {i}", "--email",
               f"c{i}@example.com", "--item", "VIP-4MP", "--on", TODAY, today=TODAY))


def _history(db_path) -> list[dict]:
    return [json.loads(d) for (d,) in query(
        db_path, "SELECT detail FROM events WHERE event = 'notice' ORDER BY id")]


def test_two_notify_runs_at_once_send_each_notice_once(cli, db_path):
    _open_many(cli, 24)
    box = smtpserver.Inbox(delay=0.05)  # each message takes a moment, so the two runs overlap
    controller = smtpserver.start(box)
    try:
        env = _env(db_path, controller.port)
        procs = [subprocess.Popen([*CLI, "notify", "--json"], env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
        docs = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err.decode()
            docs.append(json.loads(out))
    finally:
        controller.stop()
    per_message = Counter(r.msg["Message-ID"] for r in box.received)
    per_customer = Counter(tuple(r.rcpt_tos) for r in box.received)
    assert (len(box.received) == 24 and set(per_message.values()) == {1}
            and set(per_customer.values()) == {1})
    sent = [n for doc in docs for n in doc["notices"] if n["status"] == "sent"]
    skipped = [n for doc in docs for n in doc["notices"] if n["status"] == "skipped"]
    # each went out once, by one run; the other skipped it (claimed) or never saw it due (already
    # recorded)
    assert (len(sent) == 24 and len({n["ra"] for n in sent}) == 24
            and {n["ra"] for n in skipped} <= {n["ra"] for n in sent})
    history = _history(db_path)
    assert len(history) == 24 and {h["message_id"] for h in history} == set(per_message)


def test_a_run_killed_between_send_and_record_is_made_good_by_the_next(cli, db_path):
    _open_many(cli, 3)
    # the server takes the message and holds its answer
    box = smtpserver.Inbox(gate=threading.Event())
    controller = smtpserver.start(box)
    try:
        env = _env(db_path, controller.port)
        proc = subprocess.Popen([*CLI, "notify"], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert box.arrived.wait(timeout=60), "no message reached the server"
            proc.send_signal(signal.SIGKILL)  # sent, not yet recorded
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)
        assert _history(db_path) == []
        first = box.received[0].msg["Message-ID"]
        box.gate.set()
        again = subprocess.run([*CLI, "notify", "--json"], env=env, stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=120)
        assert again.returncode == 0, again.stderr.decode()
    finally:
        controller.stop()
    ids = Counter(r.msg["Message-ID"] for r in box.received)
    assert ids[first] == 2 and len(ids) == 3  # the interrupted one again, with the same Message-ID
    history = _history(db_path)
    assert len(history) == 3 and Counter(h["message_id"] for h in history)[first] == 1


def _at_terminal(args: list[str], env: dict[str, str], columns: int) -> str:
    """Run the command on a real pseudo-terminal of `columns` columns; the screen's text."""
    import fcntl
    import pty
    import select
    import struct
    import termios
    import time

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in env.items() if k != "COLUMNS"}
    env["TERM"] = "xterm"
    proc = subprocess.Popen(args, env=env, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the terminal closed: the process is done
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def test_at_a_terminal_notify_shows_the_notices_the_calls_and_a_summary_table(cli, db_path):
    _open_many(cli, 3)
    ok(cli("open", "--type", "standard", "--customer", "Bob Alarm", "--phone", "555-0100", "--item",
           "DVR-8", "--on", TODAY, today=TODAY))
    box = smtpserver.Inbox()
    controller = smtpserver.start(box)
    try:
        screen = _at_terminal([*CLI, "notify"], _env(db_path, controller.port), 80)
    finally:
        controller.stop()
    assert len(box.received) == 3
    assert "Call the customer" in screen and "555-0100" in screen and "RA-000004" in screen
    summary = screen[screen.index("Summary"):]
    header = next(line for line in summary.splitlines() if "sent" in line)
    assert all(word in header for word in ("sent", "skipped", "failed", "no e-mail"))
    assert all(len(line) <= 80 for line in screen.replace("\r", "").splitlines()
               if "\x1b" not in line)
