"""A team's PostgreSQL server (issue 14): what only a server has. Each test gets a database
cloned from the migrated template (conftest.py); every other test that uses the database runs
on a server too."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from builders import catalog
from clihelpers import ok, query, raw, refused
from pgserver import scratch_database, with_dbname

from speco_returns.db import exports
from speco_returns.db import urls as dialect
from speco_returns.db.database import MIGRATION_SET
from speco_returns.db.database import open_database as Store
from speco_returns.db.migrations import SCHEMA_VERSION
from speco_returns.errors import ReturnsError
from speco_returns.services import returns as returns_service

TODAY = "2026-12-01"
pytestmark = pytest.mark.server_only("what only a server has: URLs, logins, roles, its own failures")


def _open(cli, customer="Acme", *extra):
    return ok(cli("open", "--type", "standard", "--customer", customer, "--item", "CAM-1", *extra, today=TODAY)).stdout


@pytest.fixture(autouse=True)
def _catalog(cli):
    catalog(cli)


def test_every_url_form_reaches_the_server(cli, db_path, tmp_path, monkeypatch):
    _open(cli)
    assert db_path.startswith("postgresql://")
    other = "postgres://" + db_path[len("postgresql://"):]
    assert json.loads(ok(cli("--db", other, "show", "RA-000001", "--json")).stdout)["customer"] == "Acme"
    # libpq's service file: the connection's details live outside the command line.
    query_part = dict(p.split("=", 1) for p in db_path.split("?", 1)[1].split("&"))
    (tmp_path / "services").write_text(f"[speco]\nhost={query_part['host']}\nuser={query_part['user']}\n"
                                       f"dbname={db_path.split('///', 1)[1].split('?')[0]}\n")
    monkeypatch.setenv("PGSERVICEFILE", str(tmp_path / "services"))
    assert json.loads(ok(cli("--db", "service=speco", "show", "RA-000001", "--json")).stdout)["customer"] == "Acme"


def test_a_password_in_a_url_on_the_command_line_gets_one_warning_line(cli, db_path, monkeypatch):
    with_password = db_path.replace("&user=tester", "&user=tester&password=hunter2")
    result = ok(cli("--db", with_password, "list", "--json"))
    [line] = result.stderr.splitlines()
    assert line.startswith("warning: a password in --db") and "hunter2" not in line
    monkeypatch.setenv("SPECO_RETURNS_DB", with_password)  # set once in a protected file: no warning
    assert ok(cli("list", "--json")).stderr == ""


def test_passwords_are_never_shown():
    assert dialect.shown("postgresql://ann:s3cret@db.example/returns") == "postgresql://ann:***@db.example/returns"
    assert "s3cret" not in dialect.shown("host=db password=s3cret dbname=returns")
    assert dialect.has_password("postgresql://ann:s3cret@db/returns") and not dialect.has_password("postgresql://ann@db/returns")


def test_without_the_driver_a_url_gets_one_line_saying_what_to_install(cli, monkeypatch):
    from speco_returns.db.engines import postgres

    monkeypatch.setattr(postgres, "psycopg", None)
    [line] = refused(cli("list"))
    assert "pip install 'speco-returns[postgres]'" in line


@pytest.mark.slow
def test_sqlite_users_never_import_the_driver(tmp_path):
    code = ("import sys; from speco_returns.cli import run; sys.argv = ['speco-returns', 'list', '--json']\n"
            "try:\n    run()\nexcept SystemExit:\n    pass\nassert 'psycopg' not in sys.modules, 'psycopg imported'")
    env = {**os.environ, "SPECO_RETURNS_DB": str(tmp_path / "r.db")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("change, says", [
    (lambda url: url.replace("host=", "host=/nonexistent"), "cannot connect to the database server"),
    (lambda url: with_dbname(url, "no_such_database"), "does not exist"),
    (lambda url: url.replace("user=tester", "user=nobody"), "cannot connect to the database server"),
])
def test_a_server_that_cannot_be_reached_is_one_line(cli, db_path, change, says):
    [line] = refused(cli("--db", change(db_path), "list"))
    assert says in line and "Traceback" not in line


def test_a_server_restarted_mid_command_is_one_line_and_nothing_half_written(db_path, pg_admin):
    from speco_returns.cli.session import Session

    session = Session(db_path=db_path, agent="tester")
    store = session.store
    (pid,) = store.execute("SELECT pg_backend_pid()").fetchone()
    _, admin = pg_admin
    admin.execute("SELECT pg_terminate_backend(%s)", [pid])  # what a restart does to every session
    from speco_returns.domain.rules import Request

    req = Request(type="standard", customer="Cut Off", items=[("CAM-1", 1)], serials=[])
    with pytest.raises(ReturnsError, match="lost the connection to the database server"):
        returns_service.open_return(store, req, {}, None, session.today(), session.now())
    assert query(db_path, "SELECT count(*) FROM returns") == [(0,)]


def test_a_schema_newer_than_the_tool_is_refused_in_one_line(cli, db_path):
    with raw(db_path) as conn:
        conn.execute("INSERT INTO speco_migrations (migration_set, name) VALUES (?, 'm999_from_the_future')", [MIGRATION_SET])
    [line] = refused(cli("catalog", "add", "CAM-2", "--category", "camera"))  # a write: never on a newer schema
    assert "upgraded by speco-returns" in line and "upgrade the tool" in line
    with raw(db_path) as conn:  # a newer tool that says this one may not even read it
        conn.execute("UPDATE schema_info SET value = '999' WHERE key = 'reads_need_schema'")
    [line] = refused(cli("list"))
    assert "upgrade the tool" in line


def test_history_and_ledger_refuse_update_delete_and_truncate(cli, db_path):
    ra = json.loads(ok(cli("open", "--type", "ar", "--customer", "Acme", "--item", "CAM-1", "--serial", "SN-1", "--json",
                           today=TODAY)).stdout)["ra"]
    ok(cli("link", ra, "--on", TODAY, today=TODAY))
    ok(cli("hold", ra, "--ref", "AUTH-1", "--on", TODAY, today=TODAY))
    assert len(query(db_path, "SELECT id FROM ledger")) == 1
    for table in ("events", "ledger"):
        for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}", f"TRUNCATE {table} CASCADE"):
            with raw(db_path) as conn, pytest.raises(ReturnsError, match="append-only|decided once"):
                conn.execute(statement)
    with raw(db_path) as conn, pytest.raises(ReturnsError, match="append-only"):
        conn.execute("TRUNCATE reviews CASCADE")
    assert len(query(db_path, "SELECT id FROM events")) == 3 and len(query(db_path, "SELECT id FROM ledger")) == 1


def test_rows_read_by_position_give_values_not_column_names(db):
    """psycopg's dict_row would make `(n,) = fetchone()` yield the column's name."""
    (n,) = db.execute("SELECT count(*) AS n FROM returns").fetchone()
    assert n == 0
    row = db.execute("SELECT 7 AS seven, 'x' AS ex").fetchone()
    assert (row["seven"], row[1], tuple(row)) == (7, "x", (7, "x"))


def test_a_literal_percent_and_placeholders_inside_strings_survive(db):
    ra = db.engine.ra_text("v.n")
    rows = db.execute(f"SELECT '100%' AS a, 'why?' AS b, ? AS c, {ra} AS d FROM (SELECT ?::bigint AS n) AS v",
                         ["x?", 1000000]).fetchall()
    assert tuple(rows[0]) == ("100%", "why?", "x?", "RA-1000000")
    named = db.execute("SELECT ':x' AS a, :x AS b, 1::text AS c", {"x": "y"}).fetchone()
    assert tuple(named) == (":x", "y", "1")
    assert tuple(db.execute(f"SELECT {db.engine.amount_text('1205')}").fetchone()) == ("12.05",)


def test_ra_numbers_past_999999_in_exports_stay_whole(cli, db_path):
    _open(cli)
    with raw(db_path) as conn:
        conn.execute("UPDATE returns SET ra_no = 999999")
    _open(cli, "Second")
    out = ok(cli("export", "returns", today=TODAY)).stdout
    assert "RA-999999," in out and "RA-1000000," in out


def test_on_a_server_the_recorded_agent_is_the_login(cli, db_path):
    _open(cli)
    ok(cli("--agent", "someone-else", "note", "RA-000001", "hello", today=TODAY))
    assert {a for (a,) in query(db_path, "SELECT agent FROM events")} == {"tester"}


def test_backup_points_to_pg_dump(cli, tmp_path):
    [line] = refused(cli("backup", str(tmp_path / "copy.db")))
    assert "pg_dump" in line
    assert not (tmp_path / "copy.db").exists()


def test_doctor_reports_the_server_and_schema(cli):
    _open(cli)
    doc = json.loads(ok(cli("doctor", "--json")).stdout)
    assert doc["server_version"].startswith("15") or doc["server_version"][:2].isdigit()
    assert doc["schema_version"] == SCHEMA_VERSION and doc["pending_migrations"] == 0
    assert doc["returns_by_type_and_status"] == {"standard authorized": 1} and doc["ok"]
    human = ok(cli("doctor")).stdout
    assert "PostgreSQL" in human and "password" not in human


def test_a_session_that_drops_off_mid_write_cannot_hold_the_lock_for_hours(db):
    (idle,) = db.execute("SHOW idle_in_transaction_session_timeout").fetchone()
    assert idle == "1min"
    assert db.raw.info.get_parameters().get("keepalives") == "1"


# --- roles -----------------------------------------------------------------------------------------


def test_admin_roles_prints_the_sql_for_the_roles(cli):
    sql = ok(cli("admin", "roles")).stdout
    for role in ("speco_agent", "speco_supervisor", "speco_accounting", "speco_nightly"):
        assert f"CREATE ROLE {role} NOLOGIN" in sql
    assert "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC" in sql  # then each role's commands' grants
    assert "GRANT INSERT ON events TO speco_agent" in sql and "DELETE" not in sql.split("REVOKE ALL", 1)[1]


def test_admin_roles_apply_refuses_a_sqlite_file(cli, tmp_path):
    [line] = refused(cli("--db", str(tmp_path / "desk.db"), "admin", "roles", "--apply"))
    assert "PostgreSQL URL" in line


@pytest.fixture
def team(cli, db_path):
    """Roles applied; logins ann (agent), dana (supervisor), lee (accounting): their URLs."""
    ok(cli("admin", "roles", "--apply"))
    with raw(db_path) as conn:
        for login, role in (("ann", "speco_agent"), ("dana", "speco_supervisor"), ("lee", "speco_accounting")):
            conn.execute(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{login}') THEN "
                         f"CREATE ROLE {login} LOGIN; END IF; END $$")
            conn.execute(f"GRANT {role} TO {login}")
    return {login: db_path.replace("user=tester", f"user={login}") for login in ("ann", "dana", "lee")}


def _virtual(cli, db, customer="Vera"):
    return cli("--db", db, "open", "--type", "virtual", "--customer", customer, "--item", "CAM-1", "--serial", "SN-V1",
               "--approved-by", "Dana", "--reason", "DOA", today=TODAY)


def test_an_agent_uses_the_tool_and_is_recorded_by_login(cli, team, db_path):
    ok(cli("--db", team["ann"], "open", "--type", "standard", "--customer", "Acme", "--item", "CAM-1", today=TODAY))
    ok(cli("--db", team["ann"], "note", "RA-000001", "called back", today=TODAY))
    assert {a for (a,) in query(db_path, "SELECT agent FROM events")} == {"ann"}
    with raw(team["ann"]) as conn, pytest.raises(ReturnsError, match="no role may do this, only the database's owner"):
        conn.execute("UPDATE events SET agent = 'someone else'")


def test_an_agents_event_moves_the_ser1_flag_the_agent_may_not_write(cli, team, db_path):
    ok(cli("--db", team["ann"], "open", "--type", "standard", "--customer", "Acme", "--item", "CAM-1", "--serial", "SN-T1",
           today=TODAY))
    assert query(db_path, "SELECT held FROM serials") == [(1,)]
    ok(cli("--db", team["ann"], "cancel", "RA-000001", "--reason", "duplicate", today=TODAY))  # m012's trigger, as the owner
    assert query(db_path, "SELECT held FROM serials") == [(0,)]
    with raw(team["ann"]) as conn, pytest.raises(ReturnsError, match="no role may do this, only the database's owner"):
        conn.execute("UPDATE serials SET held = 1")


def test_a_supervisors_moment_refused_to_an_agent_names_the_role(cli, team, db_path):
    [line] = refused(_virtual(cli, team["ann"]))
    assert "needs the speco_supervisor role" in line
    assert query(db_path, "SELECT count(*) FROM returns") == [(0,)]
    ok(_virtual(cli, team["dana"]))


def test_only_a_supervisor_changes_the_fault_and_finding_codes(cli, team, db_path):
    for args in (("add", "fault", "no-audio"), ("retire", "fault", "ir-night")):
        [line] = refused(cli("--db", team["ann"], "codes", *args, today=TODAY))
        assert "permission denied" in line  # the codes are a supervisor's (db/roles.py GRANTS)
    assert query(db_path, "SELECT count(*) FROM codes WHERE code = 'no-audio' OR retired_on IS NOT NULL") == [(0,)]
    ok(cli("--db", team["dana"], "codes", "add", "fault", "no-audio", today=TODAY))
    ok(cli("--db", team["dana"], "codes", "retire", "fault", "ir-night", today=TODAY))
    assert query(db_path, "SELECT added_by FROM codes WHERE code = 'no-audio'") == [("dana",)]
    ok(cli("--db", team["ann"], "open", "--type", "standard", "--customer", "A", "--item", "CAM-1", "--fault",
           "no-audio", today=TODAY))  # an agent uses the codes


def test_accounting_reads_and_exports_only(cli, team):
    ok(_virtual(cli, team["dana"]))
    assert ok(cli("--db", team["lee"], "export", "returns", today=TODAY)).stdout.count("RA-000001") == 1
    [line] = refused(cli("--db", team["lee"], "note", "RA-000001", "hello", today=TODAY))
    assert "writing (the write lock) needs the speco_agent or speco_nightly role" in line


# --- moving a desk to the server -------------------------------------------------------------------


def _desk(tmp_path) -> str:
    """A SQLite desk with every kind of row: catalog, returns of each type, serials, events, ledger, a review."""
    from clihelpers import cached_command  # noqa: F401 - conftest patches the command cache in
    from typer.testing import CliRunner

    from speco_returns.cli import app

    desk = str(tmp_path / "desk.db")
    runner = CliRunner()

    def run(*args, today="2026-10-01"):
        return ok(runner.invoke(app, ["--db", desk, *args], env={"SPECO_RETURNS_TODAY": today, "SPECO_RETURNS_AGENT": "desk-ann"}))

    run("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "1299")
    run("codes", "add", "fault", "no-audio")  # the desk's lists go whole (m020 seeded the server's)
    run("codes", "retire", "fault", "ir-night")
    run("open", "--type", "standard", "--customer", "Ünïcode Ltd", "--item", "CAM-1", "--fault", "no-audio")
    run("open", "--type", "counter", "--customer", "Walk In", "--item", "CAM-1", "--ticket", "T-9", "--distributor", "D")
    run("open", "--type", "ar", "--customer", "Acme", "--item", "CAM-1", "--serial", "SN-A", today="2026-09-01")
    run("link", "RA-000002", "--on", "2026-09-01", today="2026-09-01")
    run("hold", "RA-000002", "--ref", "AUTH-1", "--on", "2026-09-01", "--expires", "2099-12-31",
        today="2026-09-01")
    run("ship", "RA-000002", "--on", "2026-09-02", today="2026-09-02")
    run("deliver", "RA-000002", "--on", "2026-09-02", today="2026-09-02")
    run("charge", "RA-000002", "--on", "2026-10-05", today="2026-10-05")
    run("receive", "RA-000002", "--on", "2026-10-06", today="2026-10-06")
    run("note", "RA-000001", "50% off next time?", today="2026-10-06")
    return desk


def test_admin_copy_moves_every_row_and_the_server_answers_the_same(cli, tmp_path, pg_admin):
    desk = _desk(tmp_path)
    with scratch_database(pg_admin, f"speco_copy_{os.getpid()}") as server:
        found = json.loads(ok(cli("--db", desk, "admin", "copy", "--to", server, "--json")).stdout)
        assert found["returns"]["rows"] == 3 and found["ledger"]["rows"] == 2 and found["reviews"]["rows"] == 1
        assert found["ledger_days"]["rows"] >= 1 and found["events"]["rows"] >= 9
        from pathlib import Path

        for sql in ("SELECT serial, held FROM serials ORDER BY id", "SELECT customer_key FROM returns ORDER BY id",
                    "SELECT kind, code, title, retired_on FROM codes ORDER BY kind, code"):
            assert query(server, sql) == query(Path(desk), sql)  # the derived columns arrive as the desk has them
        for key in ("RA-000001", "RA-000002", "T-9"):
            here, there = (json.loads(ok(cli("--db", db, "show", key, "--json", today="2026-10-07")).stdout)
                           for db in (desk, server))
            assert here == there and {e["agent"] for e in there["events"]} == {"desk-ann"}
        for kind in ("returns", "ledger", "holds"):
            assert (ok(cli("--db", desk, "export", kind, today="2026-10-07")).stdout
                    == ok(cli("--db", server, "export", kind, today="2026-10-07")).stdout)
        ok(cli("--db", server, "open", "--type", "standard", "--customer", "Next", "--item", "CAM-1", today="2026-10-07"))
        assert query(server, "SELECT max(ra_no) FROM returns") == [(3,)]  # RA numbers go on from the desk's
        [line] = refused(cli("--db", desk, "admin", "copy", "--to", server))
        assert "not empty" in line


def test_a_copy_that_differs_is_refused_in_one_line(tmp_path, db_path):
    from speco_returns.admin import copy as move

    desk = Store(_desk(tmp_path))
    server = Store(db_path)
    columns = {t: desk.columns(t) for t in move.TABLES}
    codes = [tuple(r) for r in desk.execute("SELECT kind, code, title, added_on, added_by, retired_on, retired_by FROM codes")]
    with raw(db_path) as conn:
        conn.execute("DELETE FROM codes")  # the desk's lists, as a copy leaves them (m020 seeded the server's)
        conn.many("INSERT INTO codes (kind, code, title, added_on, added_by, retired_on, retired_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                  codes)
        conn.execute("INSERT INTO catalog (model, category, updated_at) VALUES ('X-1', 'other', 'now')")
    with pytest.raises(ReturnsError, match="the copy of catalog differs"):
        move.verify(desk, server, columns)


# --- the shell and completion on a server -----------------------------------------------------------


def _speco(*args, env=None, input=None):
    full = {**os.environ, "NO_COLOR": "1", **(env or {})}
    full.pop("SPECO_RETURNS_TODAY", None)
    return subprocess.run([sys.executable, "-m", "speco_returns", *args], env=full, input=input, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.slow
def test_completion_offers_the_servers_open_returns(cli, db_path):
    _open(cli)
    _open(cli, "Second")
    done = _speco(env={"_SPECO_RETURNS_COMPLETE": "complete_bash", "COMP_WORDS": "speco-returns show RA-", "COMP_CWORD": "2",
                       "SPECO_RETURNS_DB": db_path})
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == ["RA-000001", "RA-000002"]


def test_a_shell_on_the_server_keeps_one_session_and_reconnects_after_a_restart(cli, db_path, pg_admin, monkeypatch, capsys):
    import typer.main

    from speco_returns.cli.root import full_app
    from speco_returns.cli.session import Session
    from speco_returns.cli.shell import Shell

    _open(cli)
    monkeypatch.setenv("SPECO_RETURNS_TODAY", TODAY)
    session = Session(db_path=db_path, agent="tester", keep=True)
    shell = Shell(typer.main.get_command(full_app()), session, keep_going=False, interactive=False)
    try:
        assert shell.run_line("note RA-000001 first") == 0
        conn = session._kept.raw
        assert shell.run_line("show RA-000001") == 0 and session._kept.raw is conn  # one session for the call
        (pid,) = conn.execute("SELECT pg_backend_pid()").fetchone()
        pg_admin[1].execute("SELECT pg_terminate_backend(%s)", [pid])  # what a server restart does
        capsys.readouterr()
        assert shell.run_line("note RA-000001 second") == 0
        assert "reconnected to the database server" in capsys.readouterr().err
    finally:
        session.keep, session._kept = False, None
        session.done()
    notes = [n for (n,) in query(db_path, "SELECT detail FROM events WHERE event = 'note' ORDER BY id")]
    assert [json.loads(n)["note"] for n in notes] == ["first", "second"]


def test_exports_stream_through_a_server_side_cursor(cli, db_path):
    for n in range(3):
        _open(cli, f"Customer {n}")
    store = Store(db_path)
    rows = exports.return_rows(store, None, None)
    first = next(rows)
    assert first[0] == "RA-000001"
    cursors = [name for (name,) in store.execute("SELECT name FROM pg_cursors").fetchall()]
    assert any(name.startswith("speco_stream_") for name in cursors)  # rows come a batch at a time, not all at once
    assert len([first, *rows]) == 3
    assert not store.in_transaction  # its snapshot ends with the rows
    store.close()


def test_a_wrong_password_is_one_line_and_pgpassword_is_honoured(cli, db_path, monkeypatch):
    """speco_pw is the one login the test server (and .ci/run's) asks a password of."""
    from pgserver import PASSWORD_LOGIN

    with raw(db_path) as conn:
        conn.execute(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PASSWORD_LOGIN}') THEN "
                     f"CREATE ROLE {PASSWORD_LOGIN} LOGIN SUPERUSER; END IF; END $$")
        conn.execute(f"ALTER ROLE {PASSWORD_LOGIN} PASSWORD 'right-one'")
    url = db_path.replace("user=tester", f"user={PASSWORD_LOGIN}")
    monkeypatch.setenv("PGPASSWORD", "wrong-one")
    [line] = refused(cli("--db", url, "list"))
    assert "password authentication failed" in line and "wrong-one" not in line
    monkeypatch.setenv("PGPASSWORD", "right-one")
    ok(cli("--db", url, "list"))
