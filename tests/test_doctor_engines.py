"""One doctor, both engines: the same edit made straight into the database (as someone with its
file, or the server's owner, would make it) is named the same way on SQLite and on a server:
the hash chains, the newest rows removed, an RA number erased, a stored state or amount that
its history does not give, SER-1's index dropped, a history row that is not well formed."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from clihelpers import ok, raw, refused

TODAY = "2026-11-26"


@pytest.fixture
def books(cli):
    """RA-000001 standard, received; RA-000002 advanced, delivered; RA-000003 standard."""
    for args in [
        ("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "249.99"),
        ("open", "-t", "standard", "-c", "Ann", "-i", "CAM-1", "-s", "SN0001", "--on",
         "2026-10-01"),
        ("receive", "RA-000001", "--on", "2026-10-05", "--yes"),
        ("open", "-t", "advanced", "-c", "Bob", "-i", "CAM-1", "-s", "SN0002", "--on", "2026-10-01",
         "-y"),
        ("link", "RA-000002", "--on", "2026-10-01"),
        ("hold", "RA-000002", "--ref", "AUTH-2", "--on", "2026-10-02"),
        ("ship", "RA-000002", "--on", "2026-10-03"),
        ("deliver", "RA-000002", "--on", "2026-10-05"),
        ("open", "-t", "standard", "-c", "Cy", "-i", "CAM-1", "-s", "SN0003", "--on", "2026-10-06"),
    ]:
        ok(cli(*args, today=TODAY))


@contextmanager
def past_the_triggers(db_path):
    """A connection whose edits the append-only triggers do not stop: SQLite's file opened
    with the triggers dropped (and made again after, as they were); a server's owner with
    its triggers off for the session (session_replication_role)."""
    with raw(db_path) as conn:
        if isinstance(db_path, str):
            conn.execute("SET session_replication_role = replica")
            yield conn
            conn.execute("SET session_replication_role = DEFAULT")
            return
        kept = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                            "AND tbl_name IN ('events', 'ledger')").fetchall()
        for name, _ in kept:
            conn.execute(f"DROP TRIGGER {name}")
        yield conn
        for _, sql in kept:
            conn.execute(sql)


def doctor(cli) -> dict:
    result = cli("doctor", "--json")
    assert (result.exception is None
            or isinstance(result.exception, SystemExit)), repr(result.exception)
    report = json.loads(result.stdout)
    assert result.exit_code == (0 if report["ok"] else 1)
    return report


def named(report: dict, *texts: str) -> bool:
    return any(all(t in p for t in texts) for p in report["problems"])


def test_the_books_are_healthy(cli, books):
    report = doctor(cli)
    assert report["problems"] == [] and report["chain_breaks"] == {"events": [], "ledger": []}
    assert report["ra_gaps"] == [] and report["disagreements"] == []


def test_the_books_are_healthy_when_a_server_reads_them_in_batches(cli, books, backend,
                                                                   monkeypatch):
    """A server streams the returns, events and ledger side by side through cursors fetching a
    batch at a time: with more rows than one batch, every cursor must still be open."""
    if backend == "postgres":
        from speco_returns.db.engines.postgres import PostgresEngine

        monkeypatch.setattr(PostgresEngine, "stream_batch", 1)
    test_the_books_are_healthy(cli, books)


def test_a_history_row_changed_breaks_its_chain(cli, books, db_path):
    with past_the_triggers(db_path) as conn:
        conn.execute("UPDATE events SET agent = 'someone else' WHERE id = 2")
    report = doctor(cli)
    assert report["chain_breaks"]["events"] == [2]
    assert named(report, "the events chain breaks at 1 row(s) (id 2)")


def test_a_ledger_amount_changed_breaks_its_chain_and_its_replay(cli, books, db_path):
    with past_the_triggers(db_path) as conn:
        conn.execute("UPDATE ledger SET amount_cents = 1")
    report = doctor(cli)
    assert report["chain_breaks"]["ledger"] == [1]
    assert named(report, "RA-000002", "its ledger has hold-authorized $0.01")


def test_the_newest_rows_removed_show_at_the_head(cli, books, db_path):
    with past_the_triggers(db_path) as conn:
        (top,) = conn.execute("SELECT max(id) FROM events").fetchone()
        conn.execute("DELETE FROM events WHERE id = ?", [top])
    report = doctor(cli)
    assert named(report, "the events chain ends at row", "rows were removed or added at the end")


def test_an_erased_return_leaves_a_gap_in_the_ra_numbers(cli, books, db_path):
    with past_the_triggers(db_path) as conn:
        for table in ("events", "ledger", "notices", "reviews", "serials", "items"):
            conn.execute(f"DELETE FROM {table} WHERE return_id = 2")
        conn.execute("DELETE FROM returns WHERE id = 2")
    report = doctor(cli)
    assert report["ra_gaps"] == [2] and named(report, "RA numbers missing: RA-000002")


def test_a_stored_amount_its_history_does_not_give_is_named(cli, books, db_path):
    with raw(db_path) as conn:
        conn.execute("UPDATE returns SET hold_amount_cents = 1 WHERE ra_no = 2")
        conn.execute("UPDATE returns SET status = 'completed' WHERE ra_no = 3")
    report = doctor(cli)
    assert named(report, "RA-000003: status is completed, history says authorized")
    assert named(report, "RA-000002", "hold is $0.01, its items' list prices give $249.99")


def test_ser1s_index_dropped_is_named(cli, books, db_path):
    with raw(db_path) as conn:
        conn.execute("DROP INDEX serials_held")
    assert named(doctor(cli), "missing index serials_held")


def test_a_history_row_that_is_not_json_is_a_problem_and_show_is_one_line(cli, books, db_path):
    with past_the_triggers(db_path) as conn:
        # a server refuses it, unless its owner drops the constraint first
        if isinstance(db_path, str):
            conn.execute("ALTER TABLE events DROP CONSTRAINT events_detail_json")
        conn.execute("UPDATE events SET detail = 'not {json' "
                     "WHERE id = (SELECT max(id) FROM events WHERE event = 'hold')")
    report = doctor(cli)
    assert named(report, "RA-000002", "its history holds a value the tool never writes")
    [line] = refused(cli("show", "RA-000002"))
    assert "RA-000002" in line and "doctor" in line
    ok(cli("show", "RA-000001"))
