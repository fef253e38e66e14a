"""Data safety across processes on a PostgreSQL server (issue 14), as test_processes.py proves
it for SQLite: concurrent agents, a write lock held past the timeout, kill -9 in the middle of
writes, and several first opens racing the migrations. Every wait has a timeout."""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
import time

import pytest
from builders import MIGRATION_NAMES
from clihelpers import query, raw
from pgserver import with_dbname
from test_processes import (
    CLI,
    HELPER,
    SHAPE_ITEMS,
    SHAPE_SERIALS,
    WAIT,
    _env,
    _kill_all,
    _readline,
    _seed_catalog,
    _spawn,
    _start_together,
    kill_mid_writes,
)

from speco_returns.db import guards
from speco_returns.db.engines import sqlite as store

pytestmark = [pytest.mark.slow,  # real processes: CONTRIBUTING.md
              pytest.mark.server_only("test_processes.py proves the same on SQLite files")]


def _ra(n: int) -> str:
    return f"RA-{n:06d}"


def _assert_consistent(db: str, printed: set[str], context: str) -> int:
    """Every printed RA is there whole, no return is there in part, RA numbers have no gap."""
    numbers = sorted(n for (n,) in query(db, "SELECT ra_no FROM returns"))
    assert numbers == list(range(1, len(numbers) + 1)), (
        f"{context}: RA numbers with a gap or a repeat")
    missing = printed - {_ra(n) for n in numbers}
    assert not missing, (f"{context}: printed after commit but not in the database: "
                         f"{sorted(missing)}")
    items: dict[int, dict] = {}
    for rid, model, qty in query(db, "SELECT return_id, model, qty FROM items"):
        items.setdefault(rid, {})[model] = qty
    serials = dict(query(db, "SELECT return_id, count(*) FROM serials GROUP BY return_id"))
    opens = dict(query(db, "SELECT return_id, count(*) FROM events WHERE event = 'open' "
                           "GROUP BY return_id"))
    for (rid,) in query(db, "SELECT id FROM returns"):
        assert items.get(rid) == SHAPE_ITEMS, f"{context}: return {rid} has items {items.get(rid)}"
        assert serials.get(rid) == SHAPE_SERIALS and opens.get(rid) == 1, (
            f"{context}: return {rid} is partial")
    return len(numbers)


def test_eight_agents_opening_at_once_lose_nothing_and_leave_no_gap(cli, db_path):
    _seed_catalog(cli)
    procs, outputs = _start_together(
        [([sys.executable, str(HELPER), "--wait", "loop", db_path, f"P{n}", "50"],
          _env(db_path, f"agent-{n}"))
         for n in range(8)], timeout=240)
    printed: list[str] = []
    for n, (proc, (out, err)) in enumerate(zip(procs, outputs, strict=True)):
        assert proc.returncode == 0 and err == b"", f"agent {n}: {err.decode(errors='replace')}"
        printed += out.decode().split()
    assert len(printed) == 400 and len(set(printed)) == 400, "an RA number was issued twice"
    assert set(printed) == {_ra(n) for n in range(1, 401)}  # gap-free: no sequence burnt a number
    assert _assert_consistent(db_path, set(printed), "after 8 concurrent agents") == 400
    # the login, whatever --agent says
    assert query(db_path, "SELECT DISTINCT agent FROM events") == [("tester",)]


LOCKER = f"""
import sys, psycopg
conn = psycopg.connect(sys.argv[1], autocommit=True)
conn.execute("BEGIN")
conn.execute("{guards.TAKE_LOCK}")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


def test_a_write_lock_held_past_the_timeout_gives_the_busy_line_and_writes_nothing(cli, db_path):
    ok_catalog = cli("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "100")
    assert ok_catalog.exit_code == 0
    env = _env(db_path)
    command = [*CLI, "open", "--type", "standard", "--customer", "Stuck Lock Ltd", "--item",
               "CAM-1", "--serial", "SN-LOCK-1"]
    locker = _spawn([sys.executable, "-c", LOCKER, db_path], env, stdin=subprocess.PIPE)
    try:
        assert _readline(locker, 30).strip() == "locked"
        started = time.monotonic()
        blocked = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        waited = time.monotonic() - started
        assert locker.poll() is None
    finally:
        locker.communicate(input=b"release\n", timeout=30)
    assert blocked.returncode == 1, (blocked.stdout, blocked.stderr)
    [line] = blocked.stderr.splitlines()
    assert "database busy" in line and "try again" in line
    assert waited >= store.BUSY_TIMEOUT_MS / 1000 - 0.5
    assert query(db_path, "SELECT count(*) FROM returns") == [(0,)]
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "RA-000001" in again.stdout, again.stderr


def test_kill_9_in_the_middle_of_writes_leaves_every_return_whole_or_absent(cli, db_path):
    _seed_catalog(cli)
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    printed: set[str] = set()
    for round_ in range(16):
        got, err, held = kill_mid_writes(db_path, f"K{round_:02d}",
                                         _env(db_path, f"killed-{round_}"), rng,
                                         hold=bool(round_ % 2))
        assert b"failed" not in err, err.decode(errors="replace")
        printed |= got
        # The server ends a killed client's session and rolls its transaction back (and lets
        # its write lock go) once it reads the closed socket: wait for that, within a deadline.
        deadline = time.monotonic() + WAIT
        while query(db_path, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                             "AND pid <> pg_backend_pid() "
                             "AND application_name = 'speco-returns'"):
            assert time.monotonic() < deadline, (
                f"round {round_}: the killed client's session is still there")
            time.sleep(0.05)
        _assert_consistent(db_path, printed, f"after kill round {round_} (seed {seed})")
        if held:  # killed inside its transaction: none of it was written
            assert query(db_path, "SELECT count(*) FROM returns WHERE customer = ?",
                         [held]) == [(0,)], held
    assert len(printed) >= 8  # every round not held committed at least one return
    result = cli("list", "--json")
    assert result.exit_code == 0, result.output


def test_a_writer_slipping_between_the_ser1_check_and_the_write_meets_the_index(cli, db_path):
    """SER-1's backstop (m012) in a real race: an agent's `open` has passed its SER-1 check inside
    its write when a script on another desk, which takes no write lock, writes the same serial to
    an open return. The agent's insert meets the unique index: one SER-1 line naming that return,
    exit 1, nothing of its return written."""
    _seed_catalog(cli)
    env = {**_env(db_path), "HELPER_HOLD_AFTER_CHECK": "1"}
    agent = _spawn([sys.executable, str(HELPER), "once", "--db", db_path, "open", "--type",
                    "standard", "--customer", "Racer", "--item", "CAMA", "--serial", "SN-RACE-1"],
                   env, stdin=subprocess.PIPE)
    try:
        assert _readline(agent, 30).strip() == "ready"
        assert _readline(agent, 30).strip() == "checked"  # SN-RACE-1 was free when it looked
        with raw(db_path) as conn:  # the script: straight into the tables, committed at once
            rid = conn.insert("""INSERT INTO returns (type, status, customer, opened_on, """
                              """opened_at, opened_by, last_event_on,
                                  ra_no) VALUES ('standard', 'authorized', 'Script', """
                              """'2026-11-26', 'x', 'script',
                                  '2026-11-26', 1)""", [])
            item = conn.insert("INSERT INTO items (return_id, model, qty) "
                               "VALUES (?, 'CAMA', 1)", [rid])
            conn.execute("INSERT INTO serials (return_id, item_id, serial) "
                         "VALUES (?, ?, 'SN-RACE-1')", [rid, item])
        out, err = agent.communicate(input=b"go on\n", timeout=60)
    finally:
        _kill_all([agent])
    assert agent.returncode == 1, (out, err)
    assert err.decode().splitlines() == [
        "error: SER-1: serial SN-RACE-1 is already on open return RA-000001"]
    assert out == b""
    assert query(db_path, "SELECT ra_no, customer FROM returns") == [(1, "Script")]
    assert query(db_path, "SELECT serial, held FROM serials") == [("SN-RACE-1", 1)]
    assert query(db_path, "SELECT count(*) FROM events") == [(0,)]


_fresh = itertools.count()


def test_four_first_opens_racing_apply_the_migrations_once(pg_admin):
    url, conn = pg_admin
    name = f"speco_fresh_{next(_fresh)}_{random.randrange(1 << 30)}"
    conn.execute(f"CREATE DATABASE {name}")  # empty: no template
    db = with_dbname(url, name)
    try:
        env = _env(db)
        procs, outputs = _start_together(
            [([sys.executable, str(HELPER), "--wait", "once", "--db", db, "catalog", "add",
               f"NEW-{n}", "--category", "camera", "--list-price", "100"], env) for n in range(4)],
            timeout=60)
        for n, (proc, (_, err)) in enumerate(zip(procs, outputs, strict=True)):
            assert proc.returncode == 0 and err == b"", (
                f"process {n}: {err.decode(errors='replace')}")
        applied = [n for (n,) in query(db, "SELECT name FROM speco_migrations ORDER BY name")]
        assert applied == sorted(MIGRATION_NAMES)
        assert sorted(m for (m,) in query(db, "SELECT model FROM catalog")) == [
            f"NEW-{n}" for n in range(4)]
    finally:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_admin_copy_moves_a_generated_100k_database_and_both_answer_alike(tmp_path, pg_admin):
    """The move a real desk makes: 100,000 generated returns with their history and ledger."""
    sys.path.insert(0, str(HELPER.parent.parent / "benchmarks"))
    from datetime import date

    import generate

    desk = tmp_path / "desk.db"
    generate.generate(desk, 100_000, None, 20261126, date(2026, 11, 26), quiet=True)
    url, conn = pg_admin
    name = f"speco_big_{random.randrange(1 << 30)}"
    conn.execute(f"CREATE DATABASE {name}")
    server = with_dbname(url, name)
    try:
        env = _env(desk)
        done = subprocess.run([*CLI, "--db", str(desk), "admin", "copy", "--to", server, "--json"],
                              env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        import json

        found = json.loads(done.stdout)
        assert found["returns"]["rows"] == 100_000 and found["events"]["rows"] > 400_000
        for args in (["export", "ledger"], ["overdue", "--json", "--as-of", "2026-11-26"],
                     ["show", "RA-000777", "--json"]):
            here, there = (subprocess.run([*CLI, "--db", db, *args], env=env, capture_output=True,
                                          text=True, timeout=300)
                           for db in (str(desk), server))
            assert here.returncode == there.returncode and here.stdout == there.stdout, args
        doctor = subprocess.run([*CLI, "--db", server, "doctor", "--json"], env=env,
                                capture_output=True, text=True, timeout=300)
        assert doctor.returncode == 0 and json.loads(doctor.stdout)["ok"], doctor.stdout[-2000:]
    finally:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
