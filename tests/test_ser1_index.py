"""SER-1 kept by the database too (issue 14, migration m012): serials.held follows each return's
state by trigger, and a partial UNIQUE index over the held serials refuses a second open return
with one serial, whoever writes. Run on SQLite and on a server (as every test of the database); the
race between real processes is in test_processes.py and test_pg_processes.py."""

from __future__ import annotations

import json
import sqlite3

import pytest
from builders import catalog, migration_named, older_database
from clihelpers import counts, ok, query, raw, refused

from speco_returns.db import returns as db_returns
from speco_returns.db.database import open_database as Store
from speco_returns.domain.keys import customer_key
from speco_returns.errors import ReturnsError

TODAY = "2026-11-20"


@pytest.fixture(autouse=True)
def _catalog(cli):
    catalog(cli)


def held(db, serial: str) -> list[tuple[int, int]]:
    """(RA number, flag) of every row of `serial`, by RA number."""
    return [tuple(r) for r in query(db, "SELECT r.ra_no, s.held FROM serials s JOIN returns r ON r.id = s.return_id "
                                        "WHERE s.serial = ? ORDER BY r.ra_no", [serial])]


def standard(cli, serial: str, customer: str = "Acme", today: str = TODAY) -> str:
    return json.loads(ok(cli("open", "--type", "standard", "--customer", customer, "--item", "CAM-1", "--serial", serial,
                             "--json", today=today)).stdout)["ra"]


def ev(cli, ra: str, event: str, on: str, *extra: str):
    return ok(cli(event, ra, "--on", on, *extra, today=on))


def _insert_return(conn, ra_no: int, status: str, serial: str, held_flag: int | None = None) -> None:
    """A return, its item and one serial written straight into the tables, past the store."""
    conn.execute("""INSERT INTO returns (id, ra_no, type, status, customer, opened_on, opened_at, opened_by, last_event_on)
                    VALUES (?, ?, 'standard', ?, 'Script', '2026-11-01', 'x', 'script', '2026-11-01')""",
                 [100 + ra_no, ra_no, status])
    conn.execute("INSERT INTO items (id, return_id, model, qty) VALUES (?, ?, 'CAM-1', 1)", [100 + ra_no, 100 + ra_no])
    columns, values = "id, return_id, item_id, serial", [100 + ra_no, 100 + ra_no, 100 + ra_no, serial]
    if held_flag is not None:
        columns, values = columns + ", held", [*values, held_flag]
    conn.execute(f"INSERT INTO serials ({columns}) VALUES ({', '.join('?' * len(values))})", values)


def _refused_by_index(conn, *args, **kwargs) -> None:
    """A return written past the store, in one transaction, refused whole by the index."""
    conn.execute("BEGIN")
    with pytest.raises((sqlite3.IntegrityError, ReturnsError)) as err:
        _insert_return(conn, *args, **kwargs)
    conn.execute("ROLLBACK")
    assert "UNIQUE constraint failed: serials.serial" in str(err.value) or "SER-1" in str(err.value), err.value


def test_a_direct_insert_past_the_store_is_refused_by_the_index(cli, db_path):
    standard(cli, "SN-0001")
    with raw(db_path) as conn:
        _refused_by_index(conn, 50, "authorized", "SN-0001")
        _refused_by_index(conn, 51, "unit-in-transit", "SN-0001", held_flag=0)  # the flag is derived all the same
        for ra_no, status in ((52, "completed"), (53, "late-return"), (54, "cancelled")):  # they hold nothing
            _insert_return(conn, ra_no, status, "SN-0001")
        _insert_return(conn, 55, "completed", "SN-0099", held_flag=1)  # a flag given wrong is put right
    assert held(db_path, "SN-0001") == [(1, 1), (52, 0), (53, 0), (54, 0)]
    assert held(db_path, "SN-0099") == [(55, 0)]
    assert query(db_path, "SELECT count(*) FROM returns") == [(5,)]  # the refused two left nothing


def test_the_flag_follows_the_state_through_events_voids_and_a_late_return(cli, db_path):
    ra = json.loads(ok(cli("open", "--type", "ar", "--customer", "Acme", "--item", "CAM-1", "--serial", "SN-0007",
                           "--json", today="2026-09-01")).stdout)["ra"]
    assert held(db_path, "SN-0007") == [(1, 1)]
    ev(cli, ra, "link", "2026-09-01")
    ev(cli, ra, "hold", "2026-09-01", "--ref", "AUTH-1", "--expires", "2099-12-31")
    ev(cli, ra, "ship", "2026-09-02")
    ev(cli, ra, "deliver", "2026-09-03")
    ev(cli, ra, "charge", "2026-10-10")
    assert held(db_path, "SN-0007") == [(1, 0)]  # charged: closed
    ok(cli("void", ra, "--reason", "charged in error", "--ref", "REV-1", "--yes", today="2026-10-11"))
    assert held(db_path, "SN-0007") == [(1, 1)]  # open again: held again
    # the reversed charge used the first hold up
    ev(cli, ra, "hold", "2026-10-12", "--ref", "AUTH-2", "--expires", "2099-12-31")
    ev(cli, ra, "charge", "2026-10-12")
    other = json.loads(ok(cli("open", "--type", "standard", "--customer", "B", "--item", "CAM-1:2", "--serial", "SN-0007",
                              "--json", today=TODAY)).stdout)["ra"]  # a charged return holds nothing: the serial is free
    assert held(db_path, "SN-0007") == [(1, 0), (2, 1)]
    [line] = refused(cli("void", ra, "--reason", "undo the charge", "--ref", "REV-2", "--yes", today=TODAY))  # the store's check first
    assert line == f"error: SER-1: serial SN-0007 is now on open return {other}: {ra} cannot be reopened"
    ev(cli, ra, "receive", "2026-11-20")
    assert held(db_path, "SN-0007") == [(1, 0), (2, 1)]  # a late return holds nothing (SPEC §2)
    ok(cli("cancel", other, "--reason", "duplicate", today=TODAY))
    assert held(db_path, "SN-0007") == [(1, 0), (2, 0)]
    ok(cli("void", other, "--reason", "cancelled in error", "--yes", today=TODAY))
    assert held(db_path, "SN-0007") == [(1, 0), (2, 1)]
    ok(cli("serial", "remove", ra, "SN-0007", today=TODAY))
    ok(cli("serial", "add", ra, "SN-0008", today=TODAY))  # written to a late return: not held
    ok(cli("serial", "add", other, "SN-0009", today=TODAY))  # to an open one: held
    assert held(db_path, "SN-0008") == [(1, 0)] and held(db_path, "SN-0009") == [(2, 1)]
    assert held(db_path, "SN-0007") == [(2, 1)]
    ok(cli("complete", ra, "--note", "the charge stands", today=TODAY))
    ok(cli("receive", other, today=TODAY))
    assert held(db_path, "SN-0008") == [(1, 0)] and held(db_path, "SN-0009") == [(2, 1)]  # unit-received: still open


@pytest.fixture
def blind_check(monkeypatch):
    """The store's own SER-1 check sees nothing inside its transactions, as when a writer that skipped
    it (another process, on a server) wrote the serial between the check and the write: only the
    index stands in the way. SQLite's write lock makes that race impossible between processes there,
    so this is how both backends show the store's wording of the index's refusal (the race itself, on
    a server, is test_pg_processes.py's)."""
    real = db_returns.serial_owners

    def owners(db, serials, exclude_id=None):
        return {} if db.in_transaction else real(db, serials, exclude_id)

    monkeypatch.setattr(db_returns, "serial_owners", owners)


def test_the_index_refusing_a_write_gives_the_one_ser1_line(cli, db_path, blind_check):
    first = standard(cli, "SN-0001")
    second = json.loads(ok(cli("open", "--type", "standard", "--customer", "A", "--item", "CAM-1:2", "--serial", "SN-0002",
                               "--json", today=TODAY)).stdout)["ra"]
    before = counts(db_path)
    [line] = refused(cli("open", "--type", "standard", "--customer", "B", "--item", "CAM-1", "--serial", "SN-0001",
                         today=TODAY))
    assert line == f"error: SER-1: serial SN-0001 is already on open return {first}"
    [line] = refused(cli("serial", "add", second, "SN-0001", today=TODAY))
    assert line == f"error: SER-1: serial SN-0001 is already on open return {first}"
    assert counts(db_path) == before
    ok(cli("cancel", first, "--reason", "duplicate", today=TODAY))
    standard(cli, "SN-0001", customer="C")
    [line] = refused(cli("void", first, "--reason", "cancelled in error", "--yes", today=TODAY))
    assert line == "error: SER-1: serial SN-0001 is already on open return RA-000003"
    assert json.loads(ok(cli("show", first, "--json")).stdout)["status"] == "cancelled"


# --- an older database upgraded ----------------------------------------------------------------------


@pytest.fixture
def older(blank_db):
    """A database at the schema before m012 (SQLite file or server database): its URL or Path."""
    older_database(blank_db, migration_named("_ser1_index")).close()
    return blank_db


def test_the_migration_derives_flags_and_keys_of_an_older_database(cli, older, monkeypatch):
    rows = [  # (ra_no, status, customer, serial)
        (1, "authorized", "Straße Video", "SN-A"), (2, "completed", "STRASSE VIDEO", "SN-B"),
        (3, "late-return", "Ｓｔｒａｓｓｅ Video", "SN-C"), (4, "unit-in-transit", "Οδυσσέας", "SN-C"),
        (5, "authorized", "ΟΔΥΣΣΈΑΣ", "SN-D"), (6, "unit-received", "x", "SN-D"),  # two open returns, one serial
    ]
    with raw(older) as conn:
        for ra_no, status, customer, serial in rows:
            conn.execute("""INSERT INTO returns (id, ra_no, type, status, customer, opened_on, opened_at, opened_by,
                            last_event_on) VALUES (?, ?, 'standard', ?, ?, '2026-11-01', 'x', 'old', '2026-11-01')""",
                         [ra_no, ra_no, status, customer])
            conn.execute("INSERT INTO items (id, return_id, model, qty) VALUES (?, ?, 'CAM-1', 1)", [ra_no, ra_no])
            conn.execute("INSERT INTO serials (return_id, item_id, serial) VALUES (?, ?, ?)", [ra_no, ra_no, serial])
    Store(older).close()  # the tool's first use upgrades it
    flags = query(older, "SELECT r.ra_no, s.held FROM serials s JOIN returns r ON r.id = s.return_id ORDER BY r.ra_no")
    assert [tuple(f) for f in flags] == [(1, 1), (2, 0), (3, 0), (4, 1), (5, 1), (6, 0)]
    keys = dict(query(older, "SELECT ra_no, customer_key FROM returns"))
    assert keys == {ra_no: customer_key(customer) for ra_no, _, customer, _ in rows}
    assert keys[1] == keys[2] == keys[3] == "strasse video" and keys[4] == keys[5]
    problems = json.loads(cli("--db", str(older), "doctor", "--json").stdout)["problems"]
    [line] = [p for p in problems if "serials.held" in p]  # the second open return with SN-D is named
    assert "SN-D on RA-000006 (unit-received) is not held" in line
    # SER-1 holds from here on: no third return takes SN-D, and a customer matches under any casing
    [line] = refused(cli("--db", str(older), "open", "--type", "standard", "--customer", "z", "--item", "CAM-1",
                         "--serial", "SN-D", today=TODAY))
    assert "SER-1: serial SN-D is already on open return RA-00000" in line
    listed = json.loads(ok(cli("--db", str(older), "list", "--all", "--customer", "strasse", "--json")).stdout)
    assert sorted(r["ra"] for r in listed) == ["RA-000001", "RA-000002", "RA-000003"]
