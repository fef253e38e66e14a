"""Data safety across processes (SPEC §6): concurrent agents, a stuck lock, kill -9 in the
middle of a write, migrations of new and old databases, and an append-only history.

Every subprocess and every wait here has a timeout: a hang fails the test, never the run.
"""

from __future__ import annotations

import json
import os
import random
import select
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from builders import MIGRATION_NAMES, older_database
from sqlite_utils import Database

from speco_returns.db import database as store
from speco_returns.db import migrations as migrations_module
from speco_returns.db.database import open_database as Store
from speco_returns.db.engines import sqlite as sqlite_engine

pytestmark = pytest.mark.sqlite_only("SQLite's locks, WAL, file migrations and triggers across processes "
                                     "(test_pg_processes.py: a server's)")

HELPER = Path(__file__).with_name("helpers_open_loop.py")
CLI = [sys.executable, "-m", "speco_returns"]
# What helpers_open_loop.py writes for every return it opens.
SHAPE_ITEMS = {"CAMA": 2, "CAMB": 1}
SHAPE_SERIALS = 3


def _env(db_path: Path, agent: str = "tester") -> dict[str, str]:
    env = dict(os.environ)
    env.update({"SPECO_RETURNS_DB": str(db_path), "SPECO_RETURNS_AGENT": agent, "NO_COLOR": "1", "COLUMNS": "200"})
    env.pop("SPECO_RETURNS_TODAY", None)
    return env


def _seed_catalog(cli) -> None:
    for model, price in (("CAMA", "1,299.00"), ("CAMB", "$450")):
        result = cli("catalog", "add", model, "--category", "camera", "--list-price", price)
        assert result.exit_code == 0, result.output


def _spawn(args: list[str], env: dict[str, str], stdin=subprocess.DEVNULL) -> subprocess.Popen:
    # bufsize=0: readline() on the raw pipe never reads past the line it returns, so
    # communicate() later gets everything that followed.
    return subprocess.Popen(args, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, bufsize=0)


def _readline(proc: subprocess.Popen, timeout: float) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        proc.kill()
        _, err = proc.communicate(timeout=10)
        pytest.fail(f"no line from the process within {timeout} s; stderr: {err.decode(errors='replace')}")
    return proc.stdout.readline().decode()


def _kill_all(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _start_together(commands: list[tuple[list[str], dict[str, str]]], timeout: float) -> tuple[list, list]:
    """Start each (argv, env), each waiting for "go" on stdin; once every one has said "ready",
    let them all go at the same moment. (The processes, their (stdout, stderr).)"""
    procs: list[subprocess.Popen] = []
    try:
        for argv, env in commands:
            procs.append(_spawn(argv, env, stdin=subprocess.PIPE))
        for proc in procs:
            assert _readline(proc, 30).strip() == "ready"
        for proc in procs:  # all start writing at the same moment
            proc.stdin.write(b"go\n")  # unbuffered: on its way at once
        return procs, [proc.communicate(timeout=timeout) for proc in procs]
    finally:
        _kill_all(procs)


def _connect(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, timeout=10)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _ra(return_id: int) -> str:
    return f"RA-{return_id:06d}"


def _assert_consistent(conn: sqlite3.Connection, printed: set[str], context: str) -> int:
    """The database is sound, every printed RA is there whole, and no return is there in part."""
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], context
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == [], context
    returns = {_ra(rid): rid for (rid,) in conn.execute("SELECT id FROM returns")}
    missing = printed - returns.keys()
    assert not missing, f"{context}: printed after commit but not in the database: {sorted(missing)}"
    items = {}
    for rid, model, qty in conn.execute("SELECT return_id, model, qty FROM items"):
        items.setdefault(rid, {})[model] = qty
    serials = dict(conn.execute("SELECT return_id, count(*) FROM serials GROUP BY return_id"))
    opens = dict(conn.execute("SELECT return_id, count(*) FROM events WHERE event = 'open' GROUP BY return_id"))
    first = dict(conn.execute("SELECT return_id, event FROM events WHERE id IN (SELECT min(id) FROM events GROUP BY return_id)"))
    for ra, rid in returns.items():
        assert items.get(rid) == SHAPE_ITEMS, f"{context}: {ra} has items {items.get(rid)}"
        assert serials.get(rid) == SHAPE_SERIALS, f"{context}: {ra} has {serials.get(rid, 0)} serials"
        assert opens.get(rid) == 1, f"{context}: {ra} has {opens.get(rid, 0)} 'open' events"
        assert first.get(rid) == "open", f"{context}: {ra}'s first history entry is {first.get(rid)}"
    # Serials point at an item of their own return.
    assert conn.execute(
        "SELECT count(*) FROM serials s JOIN items i ON i.id = s.item_id WHERE i.return_id != s.return_id"
    ).fetchone() == (0,), context
    return len(returns)


# --- 1. concurrent agents -------------------------------------------------------------------


@pytest.mark.slow
def test_eight_agents_opening_at_once_lose_nothing_and_share_no_ra_number(cli, db_path):
    _seed_catalog(cli)
    procs, outputs = _start_together(
        [([sys.executable, str(HELPER), "--wait", "loop", str(db_path), f"P{n}", "50"], _env(db_path, f"agent-{n}"))
         for n in range(8)], timeout=150)

    printed: list[str] = []
    for n, (proc, (out, err)) in enumerate(zip(procs, outputs, strict=True)):
        stderr = err.decode(errors="replace")
        assert "locked" not in stderr.lower(), f"agent {n}: {stderr}"
        assert "busy" not in stderr.lower(), f"agent {n}: {stderr}"
        assert proc.returncode == 0, f"agent {n} exit {proc.returncode}: {stderr}"
        assert stderr == "", f"agent {n}: {stderr}"
        lines = out.decode().split()
        assert len(lines) == 50, f"agent {n} printed {len(lines)} RA numbers"
        printed += lines

    assert len(printed) == 400
    assert len(set(printed)) == 400, "an RA number was issued twice"
    with _connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM returns").fetchone() == (400,)
        in_db = {_ra(rid) for (rid,) in conn.execute("SELECT id FROM returns")}
        assert in_db == set(printed)
        assert conn.execute("SELECT count(*) FROM events WHERE event = 'open'").fetchone() == (400,)
        assert conn.execute("SELECT count(DISTINCT return_id) FROM events WHERE event = 'open'").fetchone() == (400,)
        agents = {a for (a,) in conn.execute("SELECT DISTINCT agent FROM events")}
        assert agents == {f"agent-{n}" for n in range(8)}
        assert conn.execute("SELECT count(*) FROM serials").fetchone() == (400 * SHAPE_SERIALS,)
        assert _assert_consistent(conn, set(printed), "after 8 concurrent agents") == 400
    conn.close()


# --- 2. a lock held past the busy timeout ----------------------------------------------------

LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()  # held until the test says so (or its end of the pipe closes)
conn.execute("ROLLBACK")
conn.close()
"""


SCRIPT = """
import sqlite3, sys
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.readline()
conn = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
try:
    conn.execute("BEGIN IMMEDIATE")
    (ra_no,) = conn.execute("SELECT coalesce(max(ra_no), 0) + 1 FROM returns").fetchone()
    rid = conn.execute("INSERT INTO returns (type, status, customer, opened_on, opened_at, opened_by, last_event_on, ra_no) "
                       "VALUES ('standard', 'authorized', 'Script', '2026-11-26', 'x', 'script', '2026-11-26', ?)",
                       [ra_no]).lastrowid
    item = conn.execute("INSERT INTO items (return_id, model, qty) VALUES (?, 'CAMA', 1)", [rid]).lastrowid
    conn.execute("INSERT INTO serials (return_id, item_id, serial) VALUES (?, ?, 'SN-RACE-1')", [rid, item])
    conn.execute("COMMIT")
    print(f"RA-{ra_no:06d}")
except sqlite3.IntegrityError as e:
    conn.execute("ROLLBACK")
    print(f"refused: {e}")
"""


@pytest.mark.slow
def test_agents_and_a_script_racing_for_one_serial_leave_it_on_one_open_return(cli, db_path):
    """SER-1 under a real race (issue 14): six agents open a return with the same serial at the same
    moment, and a script writes it straight into the tables. Exactly one gets it; each agent that
    lost says so in one SER-1 line naming the winner; the script, past the store's check, is
    refused by the database's unique index (m012)."""
    _seed_catalog(cli)
    agents = [([sys.executable, str(HELPER), "--wait", "once", "--db", str(db_path), "open", "--type", "standard",
                "--customer", f"Racer {n}", "--item", "CAMA", "--serial", "SN-RACE-1"], _env(db_path, f"agent-{n}"))
              for n in range(6)]
    procs, outputs = _start_together([*agents, ([sys.executable, "-c", SCRIPT, str(db_path)], _env(db_path))], timeout=120)
    conn = _connect(db_path)
    try:
        [(winner, held)] = conn.execute("SELECT r.ra_no, s.held FROM serials s JOIN returns r ON r.id = s.return_id "
                                        "WHERE s.serial = 'SN-RACE-1'").fetchall()
        (n_returns,) = conn.execute("SELECT count(*) FROM returns").fetchone()
    finally:
        conn.close()
    assert held == 1 and n_returns == 1  # the losers wrote nothing
    agents, (script_out, script_err) = outputs[:-1], outputs[-1]
    won = [proc for proc, (out, _) in zip(procs[:-1], agents, strict=True) if proc.returncode == 0] + (
        [procs[-1]] if script_out.decode().startswith("RA-") else [])
    assert len(won) == 1, outputs
    for proc, (out, err) in zip(procs[:-1], agents, strict=True):
        if proc.returncode != 0:
            assert proc.returncode == 1 and out == b"", err
            assert err.decode().splitlines() == [f"error: SER-1: serial SN-RACE-1 is already on open return {_ra(winner)}"]
    if won != [procs[-1]]:
        assert script_out.decode().strip() == "refused: UNIQUE constraint failed: serials.serial", (script_out, script_err)


def _count(db_path: Path, table: str) -> int:
    conn = sqlite3.connect(db_path, timeout=10)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.slow
def test_a_lock_held_past_the_busy_timeout_gives_one_clear_line_and_writes_nothing(db_path):
    Store(db_path).close()  # the schema exists; the locker only takes the lock
    env = _env(db_path)
    command = [*CLI, "open", "--type", "standard", "--customer", "Stuck Lock Ltd", "--item", "CAM-1", "--serial", "SN-LOCK-1"]
    locker = _spawn([sys.executable, "-c", LOCKER, str(db_path)], env, stdin=subprocess.PIPE)
    try:
        assert _readline(locker, 30).strip() == "locked"
        started = time.monotonic()
        blocked = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        waited = time.monotonic() - started
        assert locker.poll() is None, "the lock holder must still hold the lock"
    finally:
        locker.communicate(input=b"release\n", timeout=30)
    assert locker.returncode == 0

    assert blocked.returncode == 1, (blocked.stdout, blocked.stderr)
    lines = blocked.stderr.splitlines()
    assert len(lines) == 1, blocked.stderr
    assert "database busy" in lines[0].lower() and "try again" in lines[0].lower(), lines[0]
    assert "Traceback" not in blocked.stderr + blocked.stdout
    assert "locked" not in blocked.stderr.lower()
    assert waited >= sqlite_engine.BUSY_TIMEOUT_MS / 1000 - 0.5, f"gave up after {waited:.1f} s, before the busy timeout"
    for table in ("returns", "items", "serials", "events", "ledger"):
        assert _count(db_path, table) == 0, f"{table} was written while busy"

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert "RA-000001" in again.stdout
    assert again.stderr == ""
    assert _count(db_path, "returns") == 1
    assert _count(db_path, "serials") == 1


# --- 3. kill -9 at any moment ----------------------------------------------------------------

KILL_ROUNDS = 36
WAIT = 60  # seconds for a process to say its next line: a deadline on a busy machine, never a measurement


def kill_mid_writes(db, tag: str, env: dict[str, str], rng: random.Random, hold: bool) -> tuple[set[str], bytes, str | None]:
    """An agent opening returns over and over, killed with SIGKILL (no handler, no cleanup, no
    rollback) at a moment its own output decides, never a clock: with `hold`, inside the
    transaction of its 1st to 3rd return, which it reports (tests/helpers_open_loop.py); else
    once it has reported 1 to 3 commits, within about one more write. (The RA numbers it
    printed, its stderr, and the customer of the return it was killed inside, if held.)"""
    env = dict(env)
    target = rng.randint(1, 3)
    if hold:
        env["HELPER_HOLD_IN_TRANSACTION"] = str(target)
    proc = _spawn([sys.executable, str(HELPER), "loop", str(db), tag, "0"], env)
    printed: set[str] = set()
    try:
        assert _readline(proc, WAIT).strip() == "ready"
        while True:
            line = _readline(proc, WAIT).strip()
            if line == "in transaction":
                break
            assert line.startswith("RA-"), f"{tag}: {line!r}"  # printed once committed
            printed.add(line)
            if not hold and len(printed) == target:
                time.sleep(rng.uniform(0, 0.02))  # where in the next write it lands: random, and never asserted on
                break
        proc.kill()
        out, err = proc.communicate(timeout=WAIT)
    finally:
        _kill_all([proc])
    assert proc.returncode == -9, f"{tag}: exit {proc.returncode}: {err.decode(errors='replace')}"
    printed |= {line for line in out.decode().split("\n")[:-1] if line.startswith("RA-")}  # whole lines only
    return printed, err, (f"Customer {tag} {target - 1}" if hold else None)


@pytest.mark.slow
def test_kill_9_in_the_middle_of_writes_leaves_every_return_whole_or_absent(cli, db_path):
    _seed_catalog(cli)
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    printed: set[str] = set()
    for round_ in range(KILL_ROUNDS):
        got, err, held = kill_mid_writes(db_path, f"K{round_:02d}", _env(db_path, f"killed-{round_}"), rng, hold=bool(round_ % 2))
        assert b"locked" not in err.lower(), err
        assert b"failed" not in err, err.decode(errors="replace")
        printed |= got
        conn = _connect(db_path)
        try:
            _assert_consistent(conn, printed, f"after kill round {round_} (seed {seed})")
            if held:  # killed inside its transaction: none of it was written
                assert conn.execute("SELECT count(*) FROM returns WHERE customer = ?", [held]).fetchone() == (0,), held
        finally:
            conn.close()

    # The store itself opens the survivor and keeps working.
    result = cli("list", "--json")
    assert result.exit_code == 0, result.output
    assert {row["ra"] for row in json.loads(result.stdout)} >= printed
    doctor = cli("doctor", "--json")
    assert doctor.exit_code == 0, doctor.output
    assert json.loads(doctor.stdout)["integrity"] == "ok"
    conn = _connect(db_path)
    try:
        total = _assert_consistent(conn, printed, f"at the end (seed {seed})")
    finally:
        conn.close()
    assert total >= len(printed) >= KILL_ROUNDS // 2  # every round not held committed at least one return


# --- 4. migrations ---------------------------------------------------------------------------


def _applied(db_path: Path) -> list[str]:
    conn = sqlite3.connect(db_path, timeout=10)
    try:
        return [n for (n,) in conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY id", [store.MIGRATION_SET])]
    finally:
        conn.close()


def test_schema_version_counts_the_migrations():
    assert migrations_module.SCHEMA_VERSION == len(MIGRATION_NAMES) == len(set(MIGRATION_NAMES))
    assert store.MIGRATION_SET == "speco-returns"
    names = MIGRATION_NAMES
    assert names == sorted(names) and names[:3] == ["m001_catalog", "m002_returns", "m003_overdue_indexes"]


@pytest.mark.slow
def test_four_processes_opening_a_new_database_at_once_migrate_it_once(isolated):
    db_path = isolated / "brand" / "new.db"
    db_path.parent.mkdir()  # a write makes a database only in a folder that exists (issue 11)
    assert not db_path.exists()
    env = _env(db_path)
    procs, outputs = _start_together(
        [([sys.executable, str(HELPER), "--wait", "once", "--db", str(db_path), "catalog", "add", f"NEW-{n}",
           "--category", "camera", "--list-price", "100"], env) for n in range(4)], timeout=60)
    for n, (proc, (out, err)) in enumerate(zip(procs, outputs, strict=True)):
        assert proc.returncode == 0, f"process {n}: {out.decode()} {err.decode(errors='replace')}"
        assert err == b"", err.decode(errors="replace")
    names = MIGRATION_NAMES
    assert _applied(db_path) == names  # each once, in order
    conn = sqlite3.connect(db_path, timeout=10)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert sorted(m for (m,) in conn.execute("SELECT model FROM catalog")) == [f"NEW-{n}" for n in range(4)]
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    s = Store(db_path)
    try:
        assert s.schema_version() == migrations_module.SCHEMA_VERSION
    finally:
        s.close()


@pytest.mark.first_run("an older tool's file where the database goes")
@pytest.mark.slow
def test_a_database_from_the_first_migration_upgrades_in_place_without_losing_a_row(cli, db_path):
    db = older_database(db_path, "m002_returns")
    rows = [
        {"model": "OLD-CAM", "description": "Bullet camera, 4 MP", "category": "camera", "list_price_cents": 129_900,
         "updated_at": "2025-01-02T03:04:05+00:00"},
        {"model": "OLD-PTZ", "description": None, "category": "ptz", "list_price_cents": None,
         "updated_at": "2025-01-02T03:04:05+00:00"},
        {"model": "Old-Nvr", "description": "16-channel \u00e9t\u00e9 recorder", "category": "recorder",
         "list_price_cents": 0, "updated_at": "2025-02-03T04:05:06+00:00"},
    ]
    db["catalog"].insert_all(rows)
    db.conn.commit()
    before = [dict(r) for r in db.query("SELECT * FROM catalog ORDER BY model")]
    db.close()
    assert _applied(db_path) == ["m001_catalog"]
    assert "returns" not in Database(db_path).table_names()

    # The real CLI, in its own process, opens the old file.
    listed = subprocess.run([*CLI, "catalog", "list", "--json"], env=_env(db_path), capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert {row["model"] for row in json.loads(listed.stdout)} == {"OLD-CAM", "OLD-PTZ", "Old-Nvr"}

    assert _applied(db_path) == MIGRATION_NAMES
    db = Database(db_path)
    try:
        after = [dict(r) for r in db.query("SELECT * FROM catalog ORDER BY model")]
        assert after == before
        assert {"returns", "items", "serials", "events", "ledger"} <= set(db.table_names())
    finally:
        db.close()

    # And the upgraded database works: an advanced return from an old catalog row.
    opened = cli("open", "--type", "advanced", "--customer", "Upgrade Co", "--item", "old-cam", "--serial", "SN-UP-1", "--json")
    assert opened.exit_code == 0, opened.output
    doc = json.loads(opened.stdout)
    assert doc["hold_amount"] == "1299.00" and doc["items"][0]["model"] == "OLD-CAM"


EXPECTED_SCHEMA = {
    "catalog": {
        "columns": {"model": str, "description": str, "category": str, "list_price_cents": int, "updated_at": str},
        "foreign_keys": set(),
    },
    "returns": {
        "columns": {
            "id": int, "type": str, "status": str, "customer": str, "email": str, "phone": str, "ticket": str,
            "distributor": str, "approved_by": str, "reason": str, "hold_amount_cents": int, "hold_ref": str,
            "hold_expires": str, "hold_active": int, "opened_on": str, "opened_at": str, "opened_by": str,
            "last_event_on": str, "shipped_on": str, "delivered_on": str, "due_on": str, "unit_shipped_on": str,
            "received_on": str, "charged_on": str, "closed_on": str, "ra_no": int, "customer_key": str,
            "fault": str, "finding": str, "finding_on": str,  # fault and finding codes (m020)
            "hold_estimated": int,
        },
        "foreign_keys": set(),
    },
    "items": {
        "columns": {"id": int, "return_id": int, "model": str, "description": str, "category": str, "qty": int,
                    "list_price_cents": int},
        "foreign_keys": {("return_id", "returns", "id")},
    },
    "serials": {
        "columns": {"id": int, "return_id": int, "item_id": int, "serial": str, "held": int},
        "foreign_keys": {("return_id", "returns", "id"), ("item_id", "items", "id")},
    },
    "events": {
        "columns": {"id": int, "return_id": int, "event": str, "happened_on": str, "recorded_at": str, "agent": str,
                    "status": str, "detail": str, "digest": str, "hash": str},
        "foreign_keys": {("return_id", "returns", "id")},
    },
    "ledger": {
        "columns": {"id": int, "return_id": int, "happened_on": str, "event": str, "amount_cents": int, "hold_ref": str,
                    "agent": str, "recorded_at": str, "holds_change": int, "charges_change": int, "reason": str, "hash": str},
        "foreign_keys": {("return_id", "returns", "id")},
    },
    "notices": {
        "columns": {"id": int, "return_id": int, "kind": str, "days": int, "about_on": str, "state": str,
                    "message_id": str, "claimed_by": str, "claimed_at": str, "attempts": int, "last_error": str,
                    "sent_at": str},
        "foreign_keys": {("return_id", "returns", "id")},
    },
    "reviews": {
        "columns": {"id": int, "return_id": int, "happened_on": str, "amount_cents": int, "hold_ref": str,
                    "agent": str, "recorded_at": str, "ledger_id": int, "decided_on": str, "decision": str},
        "foreign_keys": {("return_id", "returns", "id")},
    },
    "ledger_days": {
        "columns": {"day": str, "event": str, "rows": int, "amount_cents": int, "holds_change": int,
                    "charges_change": int},
        "foreign_keys": set(),
    },
    "chain_heads": {"columns": {"name": str, "last_id": int, "rows": int, "hash": str}, "foreign_keys": set()},
    "carrier_inbox": {  # deliveries serve's webhook events (m017)
        "columns": {"id": int, "source": str, "event_id": str, "tracking": str, "words": str, "at": str, "detail": str,
                    "received_at": str, "applied_at": str},
        "foreign_keys": set(),
    },
    "codes": {  # the fault and finding codes supervisors keep (m020)
        "columns": {"kind": str, "code": str, "title": str, "added_on": str, "added_by": str, "retired_on": str,
                    "retired_by": str},
        "foreign_keys": set(),
    },
    "hold_lapses": {  # holds that lapse (m021)
        "columns": {"ledger_id": int, "return_id": int, "lapses_on": str, "amount_cents": int,
                    "settled_on": str},
        "foreign_keys": {("ledger_id", "ledger", "id"), ("return_id", "returns", "id")},
    },
    "schema_info": {"columns": {"key": str, "value": str}, "foreign_keys": set()},
}
# list --search's trigram index (m018): an FTS5 table, its columns, and the shadow tables FTS5 keeps.
SEARCH_TABLE = "search_terms"
SEARCH_COLUMNS = ["value", "return_id"]
SEARCH_SHADOWS = {f"search_terms_{part}" for part in ("data", "idx", "content", "docsize", "config")}
EXPECTED_INDEXES = {
    "returns_customer", "returns_opened_on", "items_return", "serials_serial", "serials_item", "events_return",
    "ledger_happened_on", "returns_advanced_open", "returns_advanced_closed", "returns_ra_no",
    "returns_open", "ledger_return", "reviews_return", "reviews_decided_on", "returns_opened_type",
    "returns_closed_type",
    "returns_open_ra", "returns_open_ticket",
    "returns_email", "returns_phone_digits", "ledger_hold_ref", "events_tracking",  # list --search (m011)
    "serials_held", "returns_customer_key",  # SER-1's unique index (m012), the stored casefolded name (m013)
    "events_tracking_key", "carrier_inbox_pending",  # deliveries import (m016, m017)
    "returns_opened_fault", "returns_finding_on", "returns_closed_days", "returns_open_age",  # report quality (m020)
    "hold_lapses_day", "hold_lapses_return",  # holds that lapse (m021)
}
EXPECTED_TRIGGERS = {"events_no_update", "events_no_delete", "ledger_no_update", "ledger_no_delete",
                     "reviews_no_delete", "reviews_decided_once", "ledger_days_add",
                     "events_no_replace", "ledger_no_replace",
                     "serials_held_insert", "serials_held_follows", "returns_hold_serials",
                     # the trigram index follows what list --search reads (m018)
                     "search_returns_insert", "search_returns_update", "search_serials_insert", "search_serials_delete",
                     "search_events_insert", "search_ledger_insert"}


@pytest.mark.first_run("a read never creates the file; the schema is what a first write makes")
def test_an_empty_database_has_exactly_the_expected_schema(cli, db_path):
    assert cli("list", "--json").exit_code == 1  # a read never creates the file (issue 11)
    Store(db_path).close()  # as a write's first use does
    assert cli("list", "--json").stdout.strip() == "[]"
    db = Database(db_path)
    try:
        tables = set(db.table_names()) - {"sqlite_sequence", "_sqlite_migrations"}
        assert tables == set(EXPECTED_SCHEMA) | {SEARCH_TABLE} | SEARCH_SHADOWS
        assert [c.name for c in db[SEARCH_TABLE].columns] == SEARCH_COLUMNS
        for table, expected in EXPECTED_SCHEMA.items():
            assert db[table].columns_dict == expected["columns"], table
            fks = {(fk.column, fk.other_table, fk.other_column) for fk in db[table].foreign_keys}
            assert fks == expected["foreign_keys"], table
        indexes = {name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name != '_sqlite_migrations'")}
        assert indexes == EXPECTED_INDEXES
        assert {t.name for t in db.triggers} == EXPECTED_TRIGGERS
        assert list(db.execute("PRAGMA journal_mode")) == [("wal",)]
    finally:
        db.close()
    assert _applied(db_path) == MIGRATION_NAMES


# --- 5. the history is append-only ------------------------------------------------------------


@pytest.fixture
def with_history(cli, db_path):
    _seed_catalog(cli)
    for args in (
        ("open", "--type", "advanced", "--customer", "History Co", "--item", "CAMA", "--serial", "SN-HIST-1", "--on", "2026-01-05"),
        ("link", "RA-000001", "--on", "2026-01-05"),
        ("hold", "RA-000001", "--ref", "AUTH-1", "--on", "2026-01-06"),
        ("note", "RA-000001", "customer called back", "--on", "2026-01-06"),
    ):
        result = cli(*args, today="2026-01-10")
        assert result.exit_code == 0, result.output
    return db_path


def _snapshot(conn: sqlite3.Connection, table: str) -> list[tuple]:
    return conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()


@pytest.mark.parametrize(
    "table, statement",
    [
        ("events", "UPDATE events SET agent = 'someone else'"),
        ("events", "UPDATE events SET happened_on = '2020-01-01' WHERE event = 'open'"),
        ("events", "DELETE FROM events"),
        ("events", "DELETE FROM events WHERE event = 'note'"),
        ("ledger", "UPDATE ledger SET amount_cents = 0"),
        ("ledger", "UPDATE ledger SET hold_ref = 'X'"),
        ("ledger", "DELETE FROM ledger"),
    ],
)
def test_the_database_itself_refuses_to_rewrite_history(with_history, table, statement):
    conn = sqlite3.connect(with_history, isolation_level=None, timeout=10)
    try:
        before = _snapshot(conn, table)
        assert before, f"{table} has rows to protect"
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)
        assert _snapshot(conn, table) == before
        # Inside a transaction too: the statement fails, the rows stay.
        conn.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)
        conn.execute("COMMIT")
        assert _snapshot(conn, table) == before
    finally:
        conn.close()


# --- 6. backup and doctor while another process writes ------------------------------------------


@pytest.mark.slow
def test_backup_and_doctor_work_while_another_agent_writes(cli, db_path, tmp_path):
    _seed_catalog(cli)
    writer = _spawn([sys.executable, str(HELPER), "loop", str(db_path), "BK", "0"], _env(db_path, "writer"))
    try:
        assert _readline(writer, 60).strip() == "ready"
        printed = {_readline(writer, 60).strip() for _ in range(5)}
        copy = tmp_path / "copy.db"
        backup = subprocess.run([*CLI, "backup", str(copy)], env=_env(db_path), capture_output=True, text=True, timeout=60)
        doctor = subprocess.run([*CLI, "doctor", "--json"], env=_env(db_path), capture_output=True, text=True, timeout=60)
        more = {_readline(writer, 60).strip() for _ in range(3)}  # the writer carried on meanwhile
    finally:
        _kill_all([writer])
    assert backup.returncode == 0, backup.stderr
    assert "quick check ok" in backup.stdout
    assert doctor.returncode == 0, doctor.stderr
    report = json.loads(doctor.stdout)
    assert report["ok"] and report["integrity"] == "ok" and report["pending_migrations"] == 0
    # The copy is one self-contained, consistent file holding whole returns only.
    assert not Path(f"{copy}-wal").exists()
    conn = _connect(copy)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        copied = _assert_consistent(conn, printed, "backup copy")
    finally:
        conn.close()
    assert copied >= len(printed)
    assert more, "the writer was not blocked by the backup"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".copy.db.")], "a temporary file was left"


@pytest.mark.slow
def test_many_rounds_of_six_first_opens_never_report_busy(tmp_path):
    """Switching a new file to WAL can fail at once with "locked" while another process opens
    it too; before Store retried it, about one round in twenty failed here."""
    opener = "import sys; from speco_returns.db.database import open_database as Store; Store(sys.argv[1]).close()"
    for round_ in range(30):
        db = tmp_path / f"round-{round_}.db"
        procs = [subprocess.Popen([sys.executable, "-c", opener, str(db)], stderr=subprocess.PIPE) for _ in range(6)]
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, f"round {round_}: {err.decode(errors='replace')}"
        conn = _connect(db)
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        finally:
            conn.close()
