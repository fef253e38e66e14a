"""A stand-in for one agent, run by tests/test_processes.py as its own process.

    python helpers_open_loop.py [--wait] loop DB TAG COUNT   open COUNT returns (0: until killed)
    python helpers_open_loop.py [--wait] once ARG...         run one command

Each return goes through the CLI app in-process (argument parsing, policy, store, error
handling), so one process stands for one agent opening returns over and over without
paying Python's start-up for each. Every return has the same shape (RETURN_SHAPE): two
items and three serials, so a test can tell a whole return from a part of one.

Prints `ready` once imported; with --wait, then waits for a `go` line on stdin, so that
several processes start writing at the same moment. `loop` prints each RA number on its
own line, flushed, only after the command returned (its transaction committed).

With HELPER_HOLD_IN_TRANSACTION=N, the N-th return's write stops inside its transaction,
after its items and serials and before its history entry: it prints `in transaction` and
waits there until it is killed, so that a test's kill lands, for certain, on a return only
partly written (and not committed).

With HELPER_HOLD_AFTER_CHECK set, `open` stops inside its write transaction right after its
checks (SER-1's included) and before it writes anything: it prints `checked` and waits for a
line on stdin, so a test can write in between (tests/test_pg_processes.py).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback

from typer.testing import CliRunner

from speco_returns.cli import app
from speco_returns.db import returns as db_returns
from speco_returns.services import returns as returns_service

RETURN_SHAPE = {"items": {"CAMA": 2, "CAMB": 1}, "serials": 3}


def open_args(db: str, tag: str, i: int) -> list[str]:
    s1, s2, s3 = (f"{tag}-{i:05d}-{k}" for k in (1, 2, 3))
    return [
        "--db", db, "open", "--type", "advanced", "--customer", f"Customer {tag} {i}",
        "--item", "CAMA:2", "--item", "CAMB",
        "--serial", f"CAMA={s1}", "--serial", f"CAMA={s2}", "--serial", f"CAMB={s3}",
        "--note", f"opened by loop {tag}, call {i}", "--json",
    ]


def _report(what: str, result) -> None:
    sys.stderr.write(f"{what} failed: exit {result.exit_code}\n{result.stderr}")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        sys.stderr.write("".join(traceback.format_exception(*result.exc_info)))
    sys.stderr.flush()


def loop(runner: CliRunner, db: str, tag: str, count: int) -> int:
    failures = 0
    for i in range(count or 1_000_000):
        result = runner.invoke(app, open_args(db, tag, i))
        sys.stderr.write(result.stderr)  # nothing, when all is well
        if result.exit_code != 0 or result.exception is not None:
            failures += 1
            _report(f"open #{i}", result)
            continue
        print(json.loads(result.stdout)["ra"], flush=True)
    return 1 if failures else 0


def _hold_inside_transaction(n: int) -> None:
    original = db_returns.add_event
    seen = 0

    def held(db, *args, **kwargs):
        nonlocal seen
        seen += 1  # one history entry per return opened: this is the seen-th return's write
        if seen == n:
            assert db.in_transaction
            # CliRunner swaps sys.stdout while a command runs
            sys.__stdout__.write("in transaction\n")
            sys.__stdout__.flush()
            threading.Event().wait()  # until killed
        return original(db, *args, **kwargs)

    db_returns.add_event = held


def _hold_after_check() -> None:
    facts, open_return = returns_service.facts, returns_service.open_return
    opening_now = {"on": False}
    # CliRunner swaps sys.stdin/stdout while a command runs: talk on the process's own.
    tell, hear = sys.__stdout__, sys.__stdin__

    def checked(db, *args, **kwargs):
        found = facts(db, *args, **kwargs)
        if opening_now["on"]:
            assert db.in_transaction
            tell.write("checked\n")
            tell.flush()
            hear.readline()
        return found

    def opening(db, *args, **kwargs):
        opening_now["on"] = True
        try:
            return open_return(db, *args, **kwargs)
        finally:
            opening_now["on"] = False

    returns_service.facts, returns_service.open_return = checked, opening


def main(argv: list[str]) -> int:
    hold = os.environ.get("HELPER_HOLD_IN_TRANSACTION")
    if hold:
        _hold_inside_transaction(int(hold))
    if os.environ.get("HELPER_HOLD_AFTER_CHECK"):
        _hold_after_check()
    wait = argv[:1] == ["--wait"]
    if wait:
        argv = argv[1:]
    mode, rest = argv[0], argv[1:]
    runner = CliRunner()
    print("ready", flush=True)
    if wait and sys.stdin.readline().strip() != "go":
        return 2
    if mode == "loop":
        db, tag, count = rest
        return loop(runner, db, tag, int(count))
    if mode == "once":
        result = runner.invoke(app, rest)
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            _report("command", result)
        return result.exit_code
    sys.stderr.write(f"unknown mode {mode}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
