"""Issue 11, decision 11: the history is tamper-evident. Each events and ledger row is chained
over every column, the heads are kept outside the rows, and `doctor` verifies the chains,
the triggers, RA numbers without gaps, and replays every return through the policy.

Each edit below went through unnoticed in an attack run; each is made here the way an
attacker would (the sqlite3 module on the file), then `doctor` must name it."""

from __future__ import annotations

import json
import os
import pty
import select
import sqlite3
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from builders import older_database
from clihelpers import late_return, ok
from hypothesis import given, settings
from hypothesis import strategies as st

from speco_returns.db import chain
from speco_returns.db.database import open_database as Store
from speco_returns.db.engines.sqlite import ENGINE as SQLITE
from speco_returns.db.migrations import SCHEMA_VERSION
from speco_returns.db.schema import SQLITE_CHAIN_TRIGGERS
from speco_returns.integrity import fanout

TODAY = "2026-11-26"


@pytest.fixture
def history(cli):
    """Every kind of event and money movement: a charged then late advanced return, a
    re-authorized one, one cancelled after its hold, standard, virtual, counter, serial edits."""
    for args in [
        ("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "499.99"),
        # RA-000001: advanced, charged, then the unit arrives late
        ("open", "-t", "advanced", "-c", "Bob Alarm", "-i", "CAM-1", "-s", "SN0001", "--on",
         "2026-08-01", "-y"),
        ("link", "RA-000001", "--on", "2026-08-01"),
        ("hold", "RA-000001", "--ref", "AUTH-1", "--expires", "2026-12-01", "--on", "2026-08-02"),
        ("ship", "RA-000001", "--on", "2026-08-03"),
        ("deliver", "RA-000001", "--on", "2026-08-05"),
        ("charge", "RA-000001", "--on", "2026-09-10"),
        ("receive", "RA-000001", "--on", "2026-09-20"),
        ("complete", "RA-000001", "--note", "refund refused", "--on", "2026-09-21"),
        # RA-000002: advanced, re-authorized, delivered, open
        ("open", "-t", "advanced", "-c", "Carla", "-i", "CAM-1:2", "-s", "SN0002", "-s", "SN0003",
         "--on", "2026-11-01", "-y"),
        ("link", "RA-000002", "--on", "2026-11-01"),
        ("hold", "RA-000002", "--ref", "AUTH-2", "--on", "2026-11-02"),
        ("hold", "RA-000002", "--ref", "AUTH-3", "--on", "2026-11-03"),
        ("ship", "RA-000002", "--on", "2026-11-04"),
        ("deliver", "RA-000002", "--on", "2026-11-06"),
        ("note", "RA-000002", "called", "--on", "2026-11-07"),
        # RA-000003: advanced, cancelled after its hold
        ("open", "-t", "advanced", "-c", "Dan", "-i", "CAM-1", "-s", "SN0004", "--on", "2026-11-01",
         "-y"),
        ("link", "RA-000003", "--on", "2026-11-01"),
        ("hold", "RA-000003", "--ref", "AUTH-4", "--on", "2026-11-02"),
        ("cancel", "RA-000003", "--reason", "changed mind", "--on", "2026-11-03"),
        # RA-000004 standard with serial edits, RA-000005 virtual, a counter return
        ("open", "-t", "standard", "-c", "Eve", "-i", "CAM-1:2", "-s", "SN0005", "--on",
         "2026-11-10"),
        ("serial", "add", "RA-000004", "SN0006"),
        ("serial", "remove", "RA-000004", "SN0005"),
        ("receive", "RA-000004", "--on", "2026-11-20"),
        ("open", "-t", "virtual", "-c", "Fay", "-i", "CAM-1", "-s", "SN0007", "--approved-by",
         "Dana", "--reason", "x", "--on", "2026-11-10"),
        ("ship", "RA-000005", "--on", "2026-11-11"),
        ("open", "-t", "counter", "-c", "Gus", "-i", "CAM-1", "--ticket", "T-1", "--distributor",
         "ADI", "--on", "2026-11-10"),
        ("complete", "T-1", "--on", "2026-11-12"),
        # RA-000006: advanced, charged, the unit arrives late, the supervisor refunds part of it
        *late_return("RA-000006", "Hal", "SN0008"),
        ("refund", "RA-000006", "--ref", "RF-6", "--amount", "100", "--on", "2026-09-21"),
    ]:
        ok(cli(*args, today=TODAY))


def doctor(cli) -> tuple[int, dict, str]:
    result = cli("doctor", "--json")
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_a_history_written_by_the_tool_passes(cli, history):
    code, report, err = doctor(cli)
    assert (code, report["problems"], err) == (0, [], "")
    assert report["disagreements"] == [] and report["ra_gaps"] == [] and report["triggers"] == "ok"


def _tamper(db: Path, *statements: str) -> None:
    conn = sqlite3.connect(db)
    conn.isolation_level = None
    for sql in statements:
        conn.execute(sql)
    conn.close()


EDITS = {
    "status and hold rewritten": (
        ["UPDATE returns SET status = 'completed', hold_amount_cents = 0 WHERE id = 2"],
        ["RA-000002: status is completed, history says replacement-delivered"]),
    "a charge replaced by a release": (
        ["DROP TRIGGER ledger_no_replace",
         "REPLACE INTO ledger (id, return_id, happened_on, event, amount_cents, hold_ref, agent, "
         "recorded_at, holds_change, charges_change, hash) "
         "SELECT id, return_id, happened_on, 'hold-released', 0, hold_ref, agent, recorded_at, "
         "0, 0, hash FROM ledger WHERE event = 'charged' AND return_id = 1"],
        ["the ledger chain breaks", "RA-000001: its ledger has"]),
    "trigger dropped, then an event deleted": (
        ["DROP TRIGGER events_no_delete", "DELETE FROM events WHERE event = 'charge'"],
        ["trigger(s) missing or changed: events_no_delete", "the events chain breaks",
         "RA-000001: its history does not replay"]),
    "a forged event": (
        ["INSERT INTO events (return_id, event, happened_on, recorded_at, agent, status) "
         "VALUES (2, 'receive', '2026-11-20', '2026-11-20T00:00:00+00:00', 'x', 'completed')"],
        ["the events chain breaks", "the events chain ends at row"]),
    "a renamed serial": (
        ["UPDATE serials SET serial = 'SN9999' WHERE serial = 'SN0002'"],
        ["RA-000002: its record (return, items or serials) was changed outside the tool"]),
    "a customer renamed": (
        ["UPDATE returns SET customer = 'Mallory' WHERE id = 3"],
        ["RA-000003: its record (return, items or serials) was changed outside the tool"]),
    "a due date moved": (
        ["UPDATE returns SET due_on = '2027-01-01' WHERE id = 2"],
        ["RA-000002: due_on is 2027-01-01, history says 2026-12-06"]),
    "a whole return erased": (
        ["DROP TRIGGER events_no_delete", "DROP TRIGGER ledger_no_delete",
         "DELETE FROM ledger WHERE return_id = 3", "DELETE FROM events WHERE return_id = 3",
         "DELETE FROM serials WHERE return_id = 3", "DELETE FROM items WHERE return_id = 3",
         "DELETE FROM returns WHERE id = 3"],
        ["RA numbers missing: RA-000003", "the events chain breaks", "the ledger chain"]),
    "the newest event removed": (
        ["DROP TRIGGER events_no_delete",
         "DELETE FROM events WHERE id = (SELECT max(id) FROM events)"],
        ["the events chain ends at row"]),
    "the chain recomputed after an edit, head included": (
        ["UPDATE returns SET status = 'completed', hold_active = 0 WHERE id = 2"],
        ["RA-000002: status is completed"]),
}


@pytest.mark.sqlite_only("made with the sqlite3 module on the file, past its triggers "
                         "(test_doctor_engines.py edits a server)")
@pytest.mark.parametrize("edit", list(EDITS))
def test_doctor_names_every_edit_made_outside_the_tool(cli, history, db_path, edit):
    statements, expected = EDITS[edit]
    _tamper(db_path, *statements)
    code, report, err = doctor(cli)
    assert code == 1
    for text in expected:
        assert any(text in p for p in report["problems"]), (text, report["problems"])
    assert err.splitlines() == [f"error: {p}" for p in report["problems"]]


def _index_out_of_step(db: Path) -> str:
    """An index whose definition no longer matches its entries (edited through writable_schema):
    every row still reads, only SQLite's full integrity check sees it."""
    conn = sqlite3.connect(db)
    name, sql = conn.execute("SELECT name, sql FROM sqlite_master "
                             "WHERE type = 'index' AND tbl_name = 'returns' "
                             "AND sql IS NOT NULL ORDER BY name LIMIT 1").fetchone()
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET sql = ? WHERE name = ?",
                 [f"CREATE INDEX {name} ON returns (customer DESC, id)", name])
    conn.commit()
    conn.close()
    return name


@pytest.mark.sqlite_only("SQLite's integrity_check")
@pytest.mark.parametrize("beside", [True, False],
                         ids=["in-the-second-process", "here-when-none-starts"])
def test_doctor_runs_sqlites_full_integrity_check(cli, history, db_path, monkeypatch, beside):
    """The integrity check runs in the second process beside the replay (for speed at 1M),
    or here when no process can be started: either way a damaged index is named."""
    if not beside:
        monkeypatch.setattr(fanout, "start", lambda path, upto: None)
    name = _index_out_of_step(db_path)
    code, report, err = doctor(cli)
    assert code == 1 and report["integrity"] != "ok"
    assert any(name in line for line in report["integrity"]), report["integrity"]
    assert (report["problems"][0].startswith("integrity check failed: ")
            and name in report["problems"][0])
    assert err.splitlines()[0] == f"error: {report['problems'][0]}"


@pytest.mark.sqlite_only("doctor's SQLite workers (integrity/fanout.py)")
@pytest.mark.parametrize("beside", [True, False], ids=["in-parts-beside", "here-when-none-starts"])
def test_doctor_names_disagreements_in_every_part_of_the_replay(cli, history, db_path, monkeypatch,
                                                                beside):
    """The replay is split by return id between this process and a worker: a return edited on
    each side of the split is named, in return order, as when everything runs here."""
    if not beside:
        monkeypatch.setattr(fanout, "start", lambda path, upto: None)
    store = Store(db_path)
    assert fanout.split(store) == 4  # ids 1..4 here, 5..7 in the worker
    store.close()
    _tamper(db_path, "UPDATE returns SET due_on = '2027-01-01' WHERE id = 2",
            "UPDATE returns SET charged_on = '2026-09-11' WHERE id = 7",
            "DROP TRIGGER ledger_no_update",
            "UPDATE ledger SET amount_cents = 1 WHERE return_id = 3")
    code, report, _ = doctor(cli)
    assert code == 1
    lines = [p for p in report["problems"] if p.startswith("RA-")]
    assert lines == ["RA-000002: due_on is 2027-01-01, history says 2026-12-06",
                     "RA-000006: charged_on is 2026-09-11, history says 2026-09-10"], \
        report["problems"]
    named = {d["ra"]: d["problems"] for d in report["disagreements"]}
    assert list(named) == ["RA-000002", "RA-000003", "RA-000006"]  # their records changed
    # RA-000003's ledger
    assert named["RA-000003"] == ["its ledger has hold-authorized $0.01; hold-released $0.01, "
                                  "its history gives "
                                  "hold-authorized $499.99; hold-released $499.99"]


@pytest.mark.sqlite_only("SQLite's triggers (test_pg.py: the server's)")
def test_replace_and_update_and_delete_are_refused_by_triggers(db_path, cli, history):
    conn = sqlite3.connect(db_path)
    for sql in ("REPLACE INTO ledger (id, return_id, happened_on, event, amount_cents, agent, "
                "recorded_at) VALUES (1, 1, '2026-01-01', 'hold-released', 0, 'x', 'x')",
                "INSERT OR REPLACE INTO events (id, return_id, event, happened_on, recorded_at, "
                "agent, status) VALUES (1, 1, 'open', '2026-01-01', 'x', 'x', 'authorized')",
                "UPDATE events SET agent = 'x'", "DELETE FROM ledger",
                "UPDATE ledger SET amount_cents = 0"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(sql)
    conn.close()
    assert doctor(cli)[0] == 0


@pytest.mark.sqlite_only("made with the sqlite3 module on the file, past its triggers "
                         "(test_doctor_engines.py edits a server)")
@pytest.mark.parametrize("table", chain.CHAINED)
def test_the_chain_covers_every_column(cli, history, db_path, table):
    store = Store(db_path)
    columns = [c for c in chain.covered(store, table) if c != "id"]
    store.close()
    for column in columns:
        copy = db_path.with_name(f"copy-{column}.db")
        Store(db_path).close()
        copy.write_bytes(db_path.read_bytes())
        changed = ("'hold-released'" if (table, column) == ("ledger", "event") else
                   f"CASE typeof({column}) WHEN 'integer' THEN {column} + 1 ELSE "
                   f"coalesce({column}, '') || 'x' END")
        _tamper(copy, f"DROP TRIGGER {table}_no_update",
                f"UPDATE {table} SET {column} = {changed} WHERE id = 2")
        result = cli("--db", str(copy), "doctor", "--json")
        assert result.stdout, (column, result.stderr, result.exception)
        code, report = result.exit_code, json.loads(result.stdout)
        assert code == 1 and report["chain_breaks"][table] == [2], column


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), st.integers(-2**63, 2**63 - 1),
                 st.text().filter(lambda s: "\x00" not in s)))
def test_the_python_canonical_form_is_sqlites_quote(value):
    conn = sqlite3.connect(":memory:")
    assert chain.sql_quote(value) == conn.execute("SELECT quote(?)", [value]).fetchone()[0]
    conn.close()


VALUES = st.one_of(st.none(), st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=False),
                   st.text().filter(lambda s: "\x00" not in s), st.binary())


@settings(max_examples=300, deadline=None)
@given(st.integers(-2**63, 2**63 - 1), VALUES, VALUES, VALUES)
def test_doctors_printf_canonical_form_is_quote_of_every_column(row_id, number, text, other):
    """doctor builds the chained text with one printf (%d, %Q) instead of quote() || ',' || ...:
    the same text for any value a column can hold, blobs in a TEXT column included."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, s TEXT, x)")
    conn.execute("INSERT INTO t VALUES (?, ?, ?, ?)",
                 [row_id, 0 if number is None else number, text, other])
    kinds = SQLITE.columns(conn, "t")
    slow = "||','||".join(f"quote({c})" for c in kinds)
    fast, slow = conn.execute(
        f"SELECT {SQLITE.canonical(kinds, list(kinds))}, {slow} FROM t").fetchone()
    assert fast == slow
    conn.close()


@pytest.mark.sqlite_only("upgrades an older SQLite file")
def test_an_older_database_is_chained_by_its_upgrade(tmp_path, cli):
    """A database at m005 with history is upgraded: chains built, doctor passes, and every
    later write continues the chain."""
    db_path = tmp_path / "old.db"
    older_database(db_path, "m006_policy_gaps").close()
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO catalog VALUES ('CAM-1', NULL, 'camera', 1000, 'x')")
    # Before m004 an RA number was the row id: the counter return of then (id 1) left RA-000001
    # unissued, which is not a gap.
    conn.execute("""INSERT INTO returns (id, type, status, customer, ticket, distributor, opened_on,
                    opened_at, opened_by, last_event_on)
                    VALUES (1, 'counter', 'ticket-issued', 'Old', 'T-1', 'ADI', '2026-01-01',
                    'x', 'x', '2026-01-01')""")
    conn.execute("INSERT INTO items VALUES (1, 1, 'CAM-1', NULL, 'camera', 1, 1000)")
    conn.execute("""INSERT INTO returns (id, type, status, customer, hold_amount_cents, hold_ref,
                    hold_active, opened_on, opened_at, opened_by, last_event_on, ra_no)
                    VALUES (2, 'advanced', 'hold-authorized', 'Old', 1000, 'A-1', 1, '2026-01-01',
                    'x', 'x', '2026-01-03', 2)""")
    conn.execute("INSERT INTO items VALUES (2, 2, 'CAM-1', NULL, 'camera', 1, 1000)")
    conn.execute("INSERT INTO serials VALUES (1, 2, 2, 'SN0001')")
    for rid, event, on, status, detail in ((1, "open", "2026-01-01", "ticket-issued", None),
                                           (2, "open", "2026-01-01", "authorized", None),
                                           (2, "link", "2026-01-02", "link-sent", None),
                                           (2, "hold", "2026-01-03", "hold-authorized",
                                            '{"ref": "A-1"}')):
        conn.execute("INSERT INTO events (return_id, event, happened_on, recorded_at, agent, "
                     "status, detail) VALUES (?, ?, ?, 'x', 'x', ?, ?)",
                     [rid, event, on, status, detail])
    conn.execute("INSERT INTO ledger (return_id, happened_on, event, amount_cents, hold_ref, "
                 "agent, recorded_at) "
                 "VALUES (2, '2026-01-03', 'hold-authorized', 1000, 'A-1', 'x', 'x')")
    conn.commit()
    conn.close()
    ok(cli("--db", str(db_path), "cancel", "RA-000002", "--reason", "late", today=TODAY))
    ok(cli("--db", str(db_path), "complete", "T-1", today=TODAY))
    result = cli("--db", str(db_path), "doctor", "--json")
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["schema_version"] == SCHEMA_VERSION


@pytest.mark.sqlite_only("the progress of SQLite's integrity check")
@pytest.mark.slow
def test_doctor_shows_progress_at_a_terminal_and_not_in_a_pipe(cli, history, db_path):
    env = {**os.environ, "SPECO_RETURNS_DB": str(db_path), "SPECO_RETURNS_AGENT": "t",
           "COLUMNS": "80"}
    main, child = pty.openpty()
    termios.tcsetwinsize(child, (24, 80))
    proc = subprocess.Popen([sys.executable, "-m", "speco_returns", "doctor"], env=env,
                            stdin=child, stdout=child, stderr=child)
    os.close(child)
    out = b""
    while True:
        ready, _, _ = select.select([main], [], [], 60)
        if not ready:
            proc.kill()
            pytest.fail("doctor did not finish at the terminal")
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(timeout=30) == 0
    os.close(main)
    assert b"doctor: integrity check" in out and b"healthy" in out
    piped = subprocess.run([sys.executable, "-m", "speco_returns", "doctor"], env=env,
                           capture_output=True, timeout=60)
    assert piped.returncode == 0 and piped.stderr == b""


@pytest.mark.sqlite_only("doctor's SQLite workers (integrity/fanout.py)")
@pytest.mark.slow
def test_doctors_workers_load_only_the_installed_package(cli, history, db_path, tmp_path):
    """`doctor` run from a folder that holds a planted `speco_returns/` package: its workers must
    not import it (it would run as whoever runs doctor, and report every part healthy). A row
    changed under its trigger (dropped, then made again as it was) is seen only by the chain's
    worker: it must still be named."""
    import shutil

    events_no_update = SQLITE_CHAIN_TRIGGERS["events_no_update"]
    _tamper(db_path, "DROP TRIGGER events_no_update",
            "UPDATE events SET agent = 'mallory' WHERE id = 2", events_no_update)
    shared = tmp_path / "shared"
    planted = shared / "speco_returns"
    planted.mkdir(parents=True)
    marker = tmp_path / "planted-code-ran"
    healthy = {"integrity": {"integrity": ["ok"]},
               "chains": {"chains": {t: [[], []] for t in chain.CHAINED}},
               "replay": {"lines": [], "found": []}}
    (planted / "__init__.py").write_text(f"open({str(marker)!r}, 'a').write('imported\\n')\n")
    for name in ("__main__.py", "audit.py"):
        (planted / name).write_text(
            "import json, sys\n"
            f"open({str(marker)!r}, 'a').write('ran\\n')\n"
            f"print(json.dumps({healthy!r}[sys.argv[-1].split(':')[0]]))\n")
    command = shutil.which("speco-returns", path=str(Path(sys.executable).parent))
    assert command, "the installed speco-returns command"
    env = {**os.environ, "SPECO_RETURNS_DB": str(db_path), "SPECO_RETURNS_AGENT": "t"}
    done = subprocess.run([command, "doctor"], cwd=shared, env=env, capture_output=True, text=True,
                          timeout=120)
    assert not marker.exists(), marker.read_text()
    assert done.returncode == 1, done.stdout
    assert "error: the events chain breaks at 1 row(s) (id 2)" in done.stderr, done.stderr
