"""The costs found at a million returns, each checked where it is decided: the query
plan, the bytes written, the statements run. (Their timings are in benchmarks/.)"""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import date

import pytest
from clihelpers import ok
from hypothesis import given, settings
from hypothesis import strategies as st

from speco_returns.cli import output as cli
from speco_returns.cli import output as export
from speco_returns.db import exports, snapshot
from speco_returns.db import listing as db_listing
from speco_returns.db.database import open_database as Store
from speco_returns.domain import lifecycle, types
from speco_returns.domain.clock import Now

NOW = Now(today=date(2026, 11, 26), stamp="2026-11-26T12:00:00+00:00", agent="tester")


def _plan(store, sql: str, args) -> str:
    return " ".join(row[3] for row in store.execute("EXPLAIN QUERY PLAN " + sql, args))


def _last_query(store, call) -> tuple[str, list]:
    captured = []
    store.raw.set_trace_callback(captured.append)
    result = call()
    store.raw.set_trace_callback(None)
    return captured[-1], result


@pytest.mark.sqlite_only("SQLite's query plan")
@pytest.mark.parametrize("status", sorted({s for t in types.TYPES for s in lifecycle.states(t)
                                           if lifecycle.is_open(s)}))
@pytest.mark.parametrize("include_all", [False, True])
def test_listing_an_open_state_reads_the_open_index(db, status, include_all):
    sql, rows = _last_query(db, lambda: list(db_listing.listing(
        db, db_listing.Filters(status=status, include_closed=include_all), date(2026, 11, 26))))
    assert rows == []
    plan = " ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN "
                                             + sql.replace(f"'{status}'", "?"), [status]))
    assert "returns_open" in plan, plan


def test_listing_a_closed_state_still_finds_closed_returns(cli_, db_path):
    ok(cli_("open", "--type", "standard", "--customer", "Gone", "--item", "C1"))
    ok(cli_("cancel", "RA-000001", "--reason", "changed mind"))
    rows = json.loads(ok(cli_("list", "--status", "cancelled", "--json")).stdout)
    assert [r["ra"] for r in rows] == ["RA-000001"]
    assert json.loads(ok(cli_("list", "--status", "authorized", "--all", "--json")).stdout) == []


@pytest.fixture
def cli_(cli):
    return cli


rows_strategy = st.lists(st.dictionaries(
    st.sampled_from(["ra", "type", "status", "customer", "opened_on", "model", "open"]),
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30)), max_size=7),
    max_size=6)


@settings(max_examples=200, deadline=None)
@given(rows_strategy)
def test_streamed_json_rows_are_the_same_bytes_as_one_document(rows):
    import contextlib

    whole, streamed = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(whole):
        cli.emit_json(rows)
    with contextlib.redirect_stdout(streamed):
        cli.emit_json_rows(iter(rows))
    assert streamed.getvalue() == whole.getvalue()


def test_listing_streams_rows_as_sqlite_reads_them(db):
    rows = db_listing.listing(db, db_listing.Filters(include_closed=True), date(2026, 11, 26))
    assert not isinstance(rows, list)  # an iterator: --all --json at a million keeps flat memory
    assert iter(rows) is rows


def _export_bytes(store, start, end) -> bytes:
    out = io.StringIO()
    export.write_csv(out, exports.RETURNS_COLUMNS, exports.return_rows(store, start, end))
    return out.getvalue().encode()


@pytest.mark.sqlite_only("SQLite's query plan")
def test_export_of_everything_scans_in_id_order_with_no_sort_and_reads_serials_once(cli_, db_path):
    ok(cli_("catalog", "add", "X1", "--category", "camera", "--list-price", "100"))
    ok(cli_("open", "--type", "advanced", "--customer", "A", "--item", "X1:2", "--serial", "-DASH1",
            "--serial", "SN-0002", "--on", "2026-11-20", "--yes", today="2026-11-26"))
    ok(cli_("open", "--type", "standard", "--customer", "=B", "--item", "X2", "--on", "2026-01-02",
            today="2026-11-26"))
    store = Store(db_path)
    sql, _ = _last_query(store, lambda: exports.return_rows(store, None, None))
    plan = _plan(store, sql, [])
    assert "TEMP B-TREE" not in plan, plan
    assert plan.count("serials_item") == 1, plan
    # the same bytes as the indexed path over the whole range (opened_on order differs from id
    # order here)
    assert _export_bytes(store, None, None) == _export_bytes(store, types.MIN_DATE, types.MAX_DATE)
    text = _export_bytes(store, None, None).decode()
    assert "'-DASH1;SN-0002" in text and "'=B" in text


@pytest.mark.sqlite_only("a backup copies the file (a server's is pg_dump)")
def test_backup_runs_a_quick_check_of_the_copy_not_the_full_one(cli_, db_path, tmp_path,
                                                                monkeypatch):
    ok(cli_("open", "--type", "standard", "--customer", "A", "--item", "C1"))
    statements = []
    connect = sqlite3.connect

    def traced(*args, **kwargs):
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(snapshot.sqlite3, "connect", traced)
    assert "quick check ok" in ok(cli_("backup", str(tmp_path / "copy.db"))).stdout
    assert "PRAGMA quick_check" in statements
    assert not any("integrity_check" in s for s in statements)
