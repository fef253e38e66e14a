"""What the services and the database layer promise that the CLI cannot show directly: the
open-returns SQL and its indexes, a price changed after confirmation, RA numbers, upgrades, and
a write refused once a newer tool upgraded the database."""

from __future__ import annotations

from datetime import date

import pytest
from builders import older_database

from speco_returns.db import catalog as catalog_db
from speco_returns.db import listing as db_listing
from speco_returns.db.database import open_database as Store
from speco_returns.db.returns import OPEN_SQL
from speco_returns.domain import rules
from speco_returns.domain.clock import Now
from speco_returns.errors import ReturnsError
from speco_returns.services import catalog as catalog_service
from speco_returns.services import returns as returns_service
from speco_returns.services import show as show_service

NOW = Now(today=date(2026, 11, 26), stamp="2026-11-26T12:00:00+00:00", agent="tester")


@pytest.mark.sqlite_only("SQLite's planner")
def test_open_sql_is_the_partial_index_condition_word_for_word(db):
    (sql,) = db.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'returns_advanced_open'").fetchone()
    assert sql.endswith(f"WHERE type = 'advanced' AND {OPEN_SQL}")
    for name in ("returns_open", "returns_open_ra", "returns_open_ticket"):
        (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", [name]).fetchone()
        assert sql.endswith(f"WHERE {OPEN_SQL}"), name


@pytest.mark.sqlite_only("SQLite's planner")
@pytest.mark.parametrize("filters", [(None, None, None, False), ("advanced", None, None, False),
                                     (None, None, "acme", False)])
def test_listing_open_returns_reads_the_open_index_not_the_table(db, filters):
    captured = []
    db.raw.set_trace_callback(captured.append)
    type_, status, customer, closed = filters
    list(db_listing.listing(db, db_listing.Filters(type_, status, customer, closed),
                            date(2026, 11, 26)))
    db.raw.set_trace_callback(None)
    plan = " ".join(row[3] for row in db.execute(
        "EXPLAIN QUERY PLAN " + captured[-1].split(" ORDER BY")[0].replace("?", "'x'")
        + " ORDER BY id DESC"))
    assert "USING INDEX returns_open" in plan, plan


def test_a_changed_list_price_after_confirmation_writes_nothing(db):
    catalog_service.save(db, [rules.Product("CAM-1", "camera", 19_999)], NOW)
    req = rules.Request(type="advanced", items=(("CAM-1", 2),),
                        serials=((None, "SN-0001"), (None, "SN-0002")), customer="Acme")
    with pytest.raises(ReturnsError) as err:
        # what the agent was shown
        returns_service.open_return(db, req, {}, None, NOW.today, NOW, expect_hold=29_998)
    assert err.value.problems[0].rule == "AR-3" and "$399.98" in str(err.value)
    assert db.execute("SELECT count(*) FROM returns").fetchone()[0] == 0
    key, _ = returns_service.open_return(db, req, {}, None, NOW.today, NOW, expect_hold=39_998)
    assert show_service.show(db, key)["hold_amount"] == "399.98"


def _open(store, type_: str, n: int) -> str:
    extra = {"ticket": f"T-{n}", "distributor": "ADI"} if type_ == "counter" else {}
    req = rules.Request(type=type_, items=(("CAM-1", 1),), customer=f"C{n}", **extra)
    return returns_service.open_return(store, req, {}, None, NOW.today, NOW)[0]


def test_counter_returns_take_no_ra_number(db):
    keys = [_open(db, t, n)
            for n, t in enumerate(["standard", "counter", "standard", "counter", "standard"])]
    assert keys == ["RA-000001", "T-1", "RA-000002", "T-3", "RA-000003"]


@pytest.mark.sqlite_only("upgrades a 0.1 SQLite file")
def test_upgrading_to_m004_keeps_every_ra_number_issued_before(blank_db):
    db = older_database(blank_db, "m004_ra_numbers")
    # ids 1, 2, 3: RA-000001, T-2, RA-000003
    for n, type_ in enumerate(["standard", "counter", "advanced"], 1):
        db.execute(
            """INSERT INTO returns (id, type, status, customer, ticket, opened_on, opened_at, """
            """opened_by, last_event_on)
               VALUES (?, ?, 'authorized', 'C', ?, '2026-11-01', 'x', 'a', '2026-11-01')""",
            [n, type_, f"T-{n}" if type_ == "counter" else None],
        )
    db.conn.commit()
    db.close()
    store = Store(blank_db)  # applies m004
    assert [r["ra"] for r in list(db_listing.listing(store, db_listing.Filters(include_closed=True),
                                                     date(2026, 11, 26)))] == [
        "RA-000003", "T-2", "RA-000001"]
    assert _open(store, "standard", 9) == "RA-000004"  # the sequence goes on from the highest
    with pytest.raises(ReturnsError, match="UNIQUE"):
        store.execute("UPDATE returns SET ra_no = 1 WHERE ra_no = 3")  # unique


def _upgraded_by_a_newer_tool(db) -> None:
    """What a newer speco-returns leaves: one more migration row, and its version recorded."""
    from clihelpers import raw

    from speco_returns.db.database import MIGRATION_SET

    table = ("speco_migrations (migration_set, name)" if isinstance(db, str)
             else "_sqlite_migrations (migration_set, name)")
    with raw(db) as conn:
        conn.execute(f"INSERT INTO {table} VALUES (?, 'm099_from_the_future')", [MIGRATION_SET])
        conn.execute("UPDATE schema_info SET value = '9.1.0' WHERE key = 'upgraded_by'")


def test_a_write_is_refused_once_a_newer_tool_upgraded_the_database_after_the_connection_was_made(
        db_path, db):
    """The check is made when a write begins: a connection kept open (the shell's) was made
    before the upgrade, and must not write to a schema it does not know."""
    try:
        catalog_service.save(db, [rules.Product("CAM-1", "camera", 100, None)], NOW)
        _upgraded_by_a_newer_tool(db_path)
        with pytest.raises(ReturnsError,
                           match=r"upgraded by speco-returns 9\.1\.0 or later: upgrade the tool"):
            catalog_service.save(db, [rules.Product("CAM-2", "camera", 100, None)], NOW)
        assert not db.in_transaction
        assert [r["model"] for r in catalog_db.everything(db)] == ["CAM-1"]
    finally:
        db.close()
