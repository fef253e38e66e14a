"""A server the team can trust: each attack an agent, a supervisor, the accountant or the owner
made with nothing but their own login, in psql (here: psycopg connected as that login), is
refused by the server or named, with the login, by the audit doctor reads (db/changes.py)."""

from __future__ import annotations

import json

import psycopg
import pytest
from clihelpers import ok, query, raw, refused
from pgserver import scratch_database, with_dbname
from psycopg import errors as pgerrors

from speco_returns.db.database import open_database
from speco_returns.integrity import checks

TODAY = "2026-12-01"
pytestmark = pytest.mark.server_only("logins, roles and the audit only a server has")
LOGINS = {"ann": "speco_agent", "ben": "speco_agent", "dana": "speco_supervisor", "lee": "speco_accounting",
          "night": "speco_nightly"}


@pytest.fixture
def team(cli, db_path):
    """Roles applied; the logins of LOGINS; CAM-1 at $249.99; RA-000001, an advanced return ann
    opened with serial SN-1 (its hold: $249.99). Each login's URL."""
    ok(cli("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "249.99"))
    ok(cli("admin", "roles", "--apply"))
    with raw(db_path) as conn:
        for login, role in LOGINS.items():
            conn.execute(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{login}') THEN "
                         f"CREATE ROLE {login} LOGIN; END IF; END $$")
            conn.execute(f"GRANT {role} TO {login}")
    urls = {login: db_path.replace("user=tester", f"user={login}") for login in LOGINS}
    ok(cli("--db", urls["ann"], "open", "--type", "ar", "--customer", "Acme", "--email", "a@acme.example", "--item",
           "CAM-1", "--serial", "SN-1", today=TODAY))
    return urls


def psql(url: str) -> psycopg.Connection:
    """A login's own session, as psql gives it: each statement committed on its own."""
    return psycopg.connect(url, autocommit=True)


def refused_by_server(url: str, sql: str, params=(), error=pgerrors.InsufficientPrivilege) -> str:
    with psql(url) as conn, pytest.raises(error) as caught:
        conn.execute(sql, params)
    return str(caught.value)


def named(db_path) -> list[str]:
    """doctor's lines for the changes made outside the tool."""
    db = open_database(db_path, read=True)
    try:
        return checks.outside_changes(db)
    finally:
        db.close()


# --- agents ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("change", [
    "hold_amount_cents = 1",            # $249.99 -> $0.01: the hold is an opening fact
    "type = 'virtual'",                 # a virtual return with no supervisor
    "ra_no = 99999", "opened_on = '2020-01-01'", "opened_by = 'dana'", "ticket = 'T-1'",
])
def test_an_agent_cannot_change_a_returns_opening_facts(team, db_path, change):
    refused_by_server(team["ann"], f"UPDATE returns SET {change}")
    assert query(db_path, "SELECT type, hold_amount_cents, ra_no, opened_by FROM returns") == [("advanced", 24999, 1, "ann")]


def test_no_login_makes_a_return_virtual_by_update_not_even_the_owner(team, db_path):
    with raw(db_path) as conn, pytest.raises(Exception, match="type never changes"):
        conn.execute("UPDATE returns SET type = 'virtual'")


def test_an_agent_cannot_edit_a_customer_without_the_history_saying_so(cli, team, db_path):
    says = refused_by_server(team["ann"], "UPDATE returns SET customer = 'Mallory', email = 'm@evil.example'")
    assert "without its history event" in says and "ann" in says
    assert query(db_path, "SELECT customer, email FROM returns") == [("Acme", "a@acme.example")]
    ok(cli("--db", team["ann"], "edit", "RA-000001", "--email", "new@acme.example", today=TODAY))  # the tool's way
    assert query(db_path, "SELECT email FROM returns") == [("new@acme.example",)]
    assert named(db_path) == []  # the tool's change is explained by its `edit` event


@pytest.mark.parametrize("table", ["serials", "returns", "items", "events", "ledger", "reviews", "notices", "catalog"])
def test_no_login_deletes_anything(team, db_path, table):
    for login in ("ann", "dana", "night", "lee"):
        refused_by_server(team[login], f"DELETE FROM {table}")
    assert query(db_path, "SELECT count(*) FROM serials") == [(1,)]


def test_serial_remove_goes_through_the_tool_with_its_history(cli, team, db_path):
    says = refused_by_server(team["ann"], "SELECT speco_remove_serial(1, 'SN-1')")  # without the event
    assert "without its history event" in says
    ok(cli("--db", team["ann"], "serial", "remove", "RA-000001", "SN-1", today=TODAY))
    assert query(db_path, "SELECT count(*) FROM serials") == [(0,)]
    assert query(db_path, "SELECT agent FROM events WHERE event = 'serial-remove'") == [("ann",)]
    assert named(db_path) == []


def test_history_rows_carry_the_login_whatever_the_row_says(cli, team, db_path):
    with psql(team["ann"]) as conn:
        conn.execute("""INSERT INTO events (id, return_id, event, happened_on, recorded_at, agent, status, detail)
                        VALUES (100, 1, 'note', '2026-12-01', 'x', 'dana', 'authorized', '{"note": "hi"}')""")
    assert query(db_path, "SELECT agent FROM events WHERE id = 100") == [("ann",)]
    result = ok(cli("--db", team["ben"], "--agent", "dana", "note", "RA-000001", "from ben", today=TODAY))
    assert result.stderr.splitlines()[0] == ("warning: --agent is ignored on a server: the recorded agent is the "
                                             "database login ben")
    assert query(db_path, "SELECT agent FROM events WHERE event = 'note' AND id <> 100") == [("ben",)]


@pytest.mark.parametrize("detail", ["not json", "[1, 2]", "{broken"])
def test_a_history_row_whose_detail_is_not_a_json_object_is_refused(team, db_path, detail):
    with psql(team["ann"]) as conn, pytest.raises((pgerrors.CheckViolation, pgerrors.InvalidTextRepresentation)):
        conn.execute("""INSERT INTO events (id, return_id, event, happened_on, recorded_at, agent, status, detail)
                        VALUES (100, 1, 'note', '2026-12-01', 'x', 'ann', 'authorized', %s)""", [detail])
    assert query(db_path, "SELECT count(*) FROM events WHERE id = 100") == [(0,)]


def test_an_agent_cannot_jump_the_ra_numbers(team, db_path):
    says = refused_by_server(team["ann"], """INSERT INTO returns (type, status, customer, opened_on, opened_at, opened_by,
                                               last_event_on, ra_no) VALUES ('standard', 'authorized', 'X',
                                               '2026-12-01', 'x', 'x', '2026-12-01', 99999)""",
                             error=pgerrors.IntegrityConstraintViolation)
    assert "the next is 2" in says
    assert query(db_path, "SELECT max(ra_no) FROM returns") == [(1,)]


@pytest.mark.parametrize("sql", [
    "UPDATE catalog SET list_price_cents = 1",
    "INSERT INTO ledger_days (day, event, rows, amount_cents, holds_change, charges_change) VALUES ('2026-12-01', 'charged', 1, 1, 0, 1)",
    "UPDATE ledger_days SET amount_cents = 0",
    "UPDATE chain_heads SET hash = 'x'",
    "INSERT INTO speco_migrations (migration_set, name) VALUES ('speco-returns', 'm999')",
    "UPDATE schema_info SET value = 'x'",
    "UPDATE serials SET held = 0",
    "INSERT INTO speco_audit (at, txid, login, tbl, op, explained) VALUES (now(), 1, 'x', 'returns', 'UPDATE', true)",
    "CREATE TABLE mine (id int)",
])
def test_an_agent_writes_no_catalog_derived_or_schema_table(team, sql):
    refused_by_server(team["ann"], sql)


def test_the_catalog_is_a_supervisors_and_its_history_names_each_login(cli, team, db_path):
    [line] = refused(cli("--db", team["ann"], "catalog", "add", "CAM-1", "--category", "camera", "--list-price", "1"))
    assert "permission denied" in line
    ok(cli("--db", team["dana"], "catalog", "add", "CAM-1", "--category", "camera", "--list-price", "199"))
    with psql(team["dana"]) as conn:  # in psql: allowed to a supervisor, and recorded
        conn.execute("UPDATE catalog SET list_price_cents = 1 WHERE model = 'CAM-1'")
    history = json.loads(ok(cli("--db", team["lee"], "catalog", "history", "cam-1", "--json")).stdout)
    assert [(h["login"], h["by_the_tool"]) for h in history] == [("tester", True), ("dana", True), ("dana", False)]
    assert history[1]["change"].startswith("list_price 249.99 → 199.00")
    assert history[2]["change"] == "list_price 199.00 → 0.01"
    [line] = named(db_path)
    assert line.startswith("catalog CAM-1: list_price 199.00 → 0.01 by dana at ") and line.endswith(", outside speco-returns")


def test_a_supervisor_keeps_the_catalogs_digest_and_no_chains_head(team, db_path):
    before = query(db_path, "SELECT name, rows, hash FROM chain_heads ORDER BY name")
    with psql(team["dana"]) as conn:
        assert conn.execute("UPDATE chain_heads SET hash = 'x' WHERE name = 'events'").rowcount == 0
        with pytest.raises(pgerrors.InsufficientPrivilege):
            conn.execute("INSERT INTO chain_heads (name, last_id, rows, hash) VALUES ('ledger', 0, 0, 'x')")
    assert query(db_path, "SELECT name, rows, hash FROM chain_heads ORDER BY name") == before


# --- the accountant and the write lock ------------------------------------------------------------


@pytest.mark.parametrize("sql", [
    "SELECT id FROM speco_write_lock FOR UPDATE", "SELECT id FROM speco_write_lock FOR KEY SHARE",
    "LOCK TABLE speco_write_lock IN EXCLUSIVE MODE", "UPDATE speco_write_lock SET id = 1",
])
def test_a_reader_cannot_take_the_write_lock(team, sql):
    with psql(team["lee"]) as conn:
        conn.execute("BEGIN")
        with pytest.raises(pgerrors.InsufficientPrivilege):
            conn.execute(sql)


def test_the_old_advisory_lock_held_by_a_reader_stops_no_one(cli, team, db_path):
    with psql(team["lee"]) as conn:
        conn.execute("SELECT pg_advisory_lock(x'5EC00001'::int)")  # 0.2's write lock, held for the session
        ok(cli("--db", team["ann"], "note", "RA-000001", "still writing", today=TODAY))


def test_a_busy_database_names_who_holds_the_lock(cli, team, db_path):
    with psql(team["dana"]) as conn:
        conn.execute("BEGIN")
        conn.execute("SELECT id FROM speco_write_lock FOR UPDATE")
        [line] = refused(cli("--db", team["ann"], "note", "RA-000001", "blocked", today=TODAY))
        conn.execute("ROLLBACK")
    assert line.startswith("error: database busy: login dana (") and line.endswith("is writing to it; try again")
    assert query(db_path, "SELECT count(*) FROM events WHERE event = 'note'") == [(0,)]


# --- the nightly job's role -------------------------------------------------------------------------


def test_the_nightly_role_reads_and_sends_but_opens_nothing(cli, team, db_path):
    ok(cli("--db", team["night"], "overdue", "--json", "--as-of", TODAY))
    [line] = refused(cli("--db", team["night"], "open", "--type", "standard", "--customer", "X", "--item", "CAM-1",
                         today=TODAY))
    assert "permission denied" in line
    assert "permission denied" in refused_by_server(team["night"], "UPDATE returns SET email = 'x@evil.example'")
    assert "without its history event" in refused_by_server(team["night"], "UPDATE returns SET status = 'completed'")
    assert "permission denied" in refused_by_server(team["ann"], "INSERT INTO carrier_inbox (source, event_id, tracking, "
                                                    "words, at, detail, received_at) VALUES ('x', '1', 'T', '[]', "
                                                    "'2026-12-01', '', '2026-12-01')")


def test_the_nightly_role_imports_a_carriers_deliveries_as_its_own_and_leaves_a_void_to_a_supervisor(
        cli, team, db_path, tmp_path):
    for step in (("link", "RA-000001"), ("hold", "RA-000001", "--ref", "AUTH-1"),
                 ("ship", "RA-000001", "--tracking", "EZ1000000001")):
        ok(cli("--db", team["ann"], *step, today=TODAY))
    report = tmp_path / "ep.csv"

    def carrier_says(on: str) -> dict:
        report.write_text(f"id,tracking_code,status,status_detail,datetime\r\ntrk_1,EZ1000000001,delivered,arrived,{on}\r\n")
        doc = json.loads(ok(cli("--db", team["night"], "deliveries", "import", str(report), "--format", "easypost",
                                "--json", today="2026-12-05")).stdout)
        return doc["rows_by_line"][0]

    assert carrier_says("2026-12-02T10:00:00Z")["result"] == "delivered"
    assert query(db_path, "SELECT agent FROM events WHERE event = 'deliver'") == [("night",)]
    assert query(db_path, "SELECT delivered_on FROM returns") == [("2026-12-02",)]
    later = carrier_says("2026-12-03T10:00:00Z")  # a void: a supervisor's
    assert later["result"] == "conflict" and "speco_supervisor" in later["message"]
    assert query(db_path, "SELECT delivered_on FROM returns") == [("2026-12-02",)]
    assert named(db_path) == []


# --- the owner -------------------------------------------------------------------------------------


def test_the_owners_changes_outside_the_tool_are_named_with_its_login(cli, team, db_path):
    with raw(db_path) as conn:  # the owner may (it owns the schema): the audit keeps who did
        conn.execute("UPDATE returns SET hold_amount_cents = 1 WHERE ra_no = 1")
        conn.execute("DELETE FROM serials WHERE serial = 'SN-1'")
    lines = named(db_path)
    assert lines[0].startswith("RA-000001: hold_amount 249.99 → 0.01 by tester at ")
    assert lines[1].startswith("RA-000001: serial SN-1 deleted by tester at ")
    assert all(line.endswith(", outside speco-returns") for line in lines) and len(lines) == 2
    doc = json.loads(cli("--db", team["lee"], "doctor", "--json").stdout)
    assert not doc["ok"] and [p for p in doc["problems"] if p.endswith("outside speco-returns")] == lines


@pytest.mark.parametrize("sql, says", [
    ("DROP INDEX serials_held", "missing index serials_held"),
    ("DROP TRIGGER events_append_only ON events", "missing trigger events_append_only"),
    ("ALTER TABLE returns DISABLE TRIGGER returns_audit", "trigger returns_audit is changed"),
    ("DROP TRIGGER events_agent_is_login ON events", "missing trigger events_agent_is_login"),
])
def test_the_owner_dropping_a_guard_is_named_by_doctor(cli, team, db_path, sql, says):
    with raw(db_path) as conn:
        conn.execute(sql)
    doc = json.loads(cli("--db", team["lee"], "doctor", "--json").stdout)
    assert any(says in p for p in doc["problems"]), doc["problems"]


# --- setting the roles up ---------------------------------------------------------------------------


def test_admin_roles_apply_by_a_login_that_cannot_says_what_is_missing(cli, team, monkeypatch):
    [line] = refused(cli("--db", team["ann"], "admin", "roles", "--apply"))
    assert "ann does not own the tool's tables (tester does)" in line
    from speco_returns.db import roles

    with raw(team["dana"].replace("user=dana", "user=tester")) as conn:
        conn.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'keeper') THEN "
                     "CREATE ROLE keeper LOGIN; END IF; END $$")
        conn.execute("GRANT tester TO keeper")  # owns the tables through tester, without CREATEROLE
    monkeypatch.setattr(roles, "ROLES", (*roles.ROLES, "speco_not_yet"))
    [line] = refused(cli("--db", team["ann"].replace("user=ann", "user=keeper"), "admin", "roles", "--apply"))
    assert "keeper may not create roles (it needs CREATEROLE)" in line and "ALTER ROLE keeper CREATEROLE" in line


# --- moving a desk -----------------------------------------------------------------------------------


@pytest.fixture
def empty_server(pg_admin):
    with scratch_database(pg_admin, "speco_trust_copy") as url:
        yield url


def test_a_desk_arrives_with_its_agents_and_chain_heads_and_the_server_audits_from_then(cli, tmp_path, empty_server):
    from pathlib import Path

    from test_pg import _desk

    desk = _desk(tmp_path)
    ok(cli("--db", desk, "admin", "copy", "--to", empty_server))
    heads = "SELECT name, last_id, rows, hash FROM chain_heads WHERE name <> 'catalog' ORDER BY name"
    assert query(empty_server, heads) == query(Path(desk), heads)  # anchors kept for the desk hold on the server
    assert {a for (a,) in query(empty_server, "SELECT DISTINCT agent FROM events")} == {"desk-ann"}
    assert query(empty_server, "SELECT count(*) FROM speco_audit") == [(0,)]  # the copy is not a change
    ok(cli("--db", empty_server, "note", "RA-000001", "on the server", today="2026-10-07"))
    assert query(empty_server, "SELECT agent FROM events ORDER BY id DESC LIMIT 1") == [("tester",)]
    assert named(empty_server) == []
    doc = json.loads(ok(cli("--db", empty_server, "doctor", "--json")).stdout)
    assert doc["ok"], doc["problems"]


def test_a_tampered_desk_is_not_copied(cli, tmp_path, empty_server):
    import sqlite3

    from test_pg import _desk

    desk = _desk(tmp_path)
    conn = sqlite3.connect(desk, isolation_level=None)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET agent = 'someone else' WHERE id = 2")
    conn.close()
    [line] = refused(cli("--db", desk, "admin", "copy", "--to", empty_server))
    assert "the desk's events chain breaks at row 2" in line and "nothing was copied" in line
    assert query(empty_server, "SELECT to_regclass('returns') IS NULL") == [(True,)]  # refused before the server


# --- the connection ----------------------------------------------------------------------------------


@pytest.mark.parametrize("params, service, env, mode", [
    ({"host": "db.speco.lan"}, {}, {}, "verify-full"),
    ({"hostaddr": "10.0.0.5"}, {}, {}, "verify-full"),
    ({"host": "/var/run/postgresql,db.speco.lan"}, {}, {}, "verify-full"),
    ({}, {"host": "db.speco.lan"}, {}, "verify-full"),
    ({}, {}, {"PGHOST": "db.speco.lan"}, "verify-full"),
    ({"host": "db.speco.lan", "sslmode": "require"}, {}, {}, None),   # the URL says otherwise
    ({"host": "db.speco.lan"}, {"sslmode": "disable"}, {}, None),     # the service file does
    ({"host": "db.speco.lan"}, {}, {"PGSSLMODE": "prefer"}, None),    # the environment does
    ({"host": "/var/run/postgresql"}, {}, {}, None),                  # a unix socket stays as it is
    ({"host": "@abstract"}, {}, {}, None),
    ({}, {}, {}, None),                                               # libpq's default: the socket
])
def test_tcp_defaults_to_verify_full_unless_something_says_otherwise(params, service, env, mode):
    from speco_returns.db.urls import tls_default

    assert tls_default(params, service, env) == mode


def test_a_service_files_sslmode_is_read_as_libpq_reads_it(tmp_path):
    from speco_returns.db.urls import service_settings

    (tmp_path / "services").write_text("[speco]\nhost=db.speco.lan\nsslmode=disable\n")
    assert service_settings("speco", {"PGSERVICEFILE": str(tmp_path / "services")}) == {
        "host": "db.speco.lan", "sslmode": "disable"}


@pytest.fixture
def no_tls_server():
    """A TCP port that answers libpq's SSLRequest with 'N' (no TLS here), then hangs up."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(10)

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                if conn.recv(8)[4:8] == b"\x04\xd2\x16\x2f":  # 80877103: SSLRequest
                    conn.sendall(b"N")
                    conn.recv(1024)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.close()


def test_a_server_over_tcp_without_tls_is_refused_unless_the_url_says_so(cli, no_tls_server):
    url = f"postgresql://ann@127.0.0.1:{no_tls_server}/returns"
    [line] = refused(cli("--db", url, "list"))
    assert "SSL" in line and "cannot connect to the database server" in line
    [line] = refused(cli("--db", url + "?sslmode=disable", "list"))
    assert "SSL was required" not in line


def test_tcp_without_tls_gets_a_one_line_warning():
    from types import SimpleNamespace

    from speco_returns.db.engines.postgres import ENGINE

    def session(host, tls):
        return SimpleNamespace(info=SimpleNamespace(host=host), pgconn=SimpleNamespace(ssl_in_use=tls))

    [line] = ENGINE.notes(session("db.speco.lan", False))
    assert "not encrypted (TCP without TLS)" in line
    assert ENGINE.notes(session("db.speco.lan", True)) == [] and ENGINE.notes(session("/run/postgresql", False)) == []


# --- the README's team, on a fresh server -------------------------------------------------------------


@pytest.mark.slow
def test_the_readmes_team_set_up_runs_as_written_on_a_fresh_server(tmp_path):
    """README "A team on one server", step by step, on a server of its own (no role exists yet):
    the administrator makes an owner with CREATEROLE and its database; the owner applies the
    roles (creating the schema) and makes the logins; each login then does its work."""
    import os
    import subprocess
    import sys

    import pgserver

    server = pgserver.Server()
    try:
        server.start()
        admin = server.url("postgres", user="postgres")
        with psycopg.connect(admin, autocommit=True) as conn:  # sudo -u postgres psql / createdb -O
            conn.execute("CREATE ROLE speco_owner LOGIN CREATEROLE")
            conn.execute("CREATE DATABASE returns OWNER speco_owner")
        owner = server.url("returns", user="speco_owner")

        def run(url, *args, code=0):
            env = {**os.environ, "SPECO_RETURNS_DB": url, "SPECO_RETURNS_TODAY": TODAY, "NO_COLOR": "1"}
            done = subprocess.run([sys.executable, "-m", "speco_returns", *args], env=env, capture_output=True,
                                  text=True, timeout=120)
            assert done.returncode == code, (args, done.stdout, done.stderr)
            return done

        assert "CREATE ROLE speco_nightly NOLOGIN" in run(owner, "admin", "roles").stdout
        run(owner, "admin", "roles", "--apply")
        with psycopg.connect(owner, autocommit=True) as conn:  # psql "$SPECO_RETURNS_DB" -c ... as the owner
            for login, role in (("ann", "speco_agent"), ("dana", "speco_supervisor"), ("lee", "speco_accounting"),
                                ("nightly", "speco_nightly")):
                conn.execute(f"CREATE ROLE {login} LOGIN")
                conn.execute(f"GRANT {role} TO {login}")
        url = {login: server.url("returns", user=login) for login in ("ann", "dana", "lee", "nightly")}
        run(url["dana"], "catalog", "add", "CAM-1", "--category", "camera", "--list-price", "249.99")
        run(url["ann"], "open", "--type", "ar", "--customer", "Acme", "--item", "CAM-1", "--serial", "SN-1", "--on",
            "2026-10-01")
        for step in (("link", "RA-000001"),
                     ("hold", "RA-000001", "--ref", "AUTH-1", "--expires", "2099-12-31"),
                     ("ship", "RA-000001"), ("deliver", "RA-000001")):
            run(url["ann"], *step, "--on", "2026-10-02")
        run(url["ann"], "serial", "add", "RA-000001", "CAM-1=SN-2", code=1)  # one unit: refused by the rule, not a grant
        assert "needs the speco_supervisor role" in run(url["ann"], "charge", "RA-000001", code=1).stderr
        run(url["dana"], "charge", "RA-000001")
        assert "RA-000001" in run(url["lee"], "export", "ledger").stdout
        run(url["nightly"], "overdue", "--json")
        anchors_file = tmp_path / "anchors.txt"
        run(url["nightly"], "doctor", "--anchor", str(anchors_file))
        assert anchors_file.read_text().count("speco-returns anchor v1") == 2  # events and ledger
        assert "database busy" not in run(url["lee"], "list").stderr
    finally:
        server.stop()


def test_a_reader_holding_the_old_migration_lock_stops_no_upgrade(team, pg_admin):
    import threading

    from builders import older_database

    from speco_returns.db.engines.postgres import MIGRATION_LOCK

    with scratch_database(pg_admin, "speco_trust_upgrade") as target:
        older_database(target, stop_before="m018_server_trust").close()
        with psql(with_dbname(team["lee"], "speco_trust_upgrade")) as reader:
            reader.execute(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
            done = []
            upgrade = threading.Thread(target=lambda: done.append(open_database(target).close()), daemon=True)
            upgrade.start()
            upgrade.join(timeout=60)
            assert done == [None], "the upgrade waited on a reader's advisory lock"
        assert query(target, "SELECT count(*) FROM speco_migrations WHERE name = 'm018_server_trust'") == [(1,)]


def test_agents_of_an_older_version_keep_writing_after_the_upgrade(cli, team, pg_admin):
    """0.2's grants (whole tables) on a server upgraded to this schema: the agents still take the
    write lock, before the owner applies this version's roles."""
    from builders import older_database

    with scratch_database(pg_admin, "speco_trust_older") as target:
        older_database(target, stop_before="m018_server_trust").close()
        with raw(target) as conn:
            for sql in ("GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO speco_agent",
                        "GRANT UPDATE ON returns, catalog, notices, reviews, ledger_days, chain_heads TO speco_agent",
                        "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO speco_agent"):
                conn.execute(sql)
        ok(cli("--db", target, "catalog", "add", "CAM-1", "--category", "camera", "--list-price", "100"))  # upgrades
        ok(cli("--db", with_dbname(team["ann"], "speco_trust_older"), "open", "--type", "standard", "--customer", "Acme",
               "--item", "CAM-1", today=TODAY))


def test_the_nightly_role_sends_notices_recorded_as_its_own(cli, team, db_path, tmp_path, monkeypatch):
    for step in (("link", "RA-000001"), ("hold", "RA-000001", "--ref", "AUTH-1"), ("ship", "RA-000001"),
                 ("deliver", "RA-000001")):
        ok(cli("--db", team["ann"], *step, today=TODAY))  # due back 2026-12-31: a reminder from 2026-12-24
    monkeypatch.setenv("SPECO_RETURNS_MAIL_FROM", "returns@speco.example")
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    by_an_agent = cli("--db", team["ann"], "notify", "--outbox", str(outbox), today="2026-12-25")
    assert by_an_agent.exit_code != 0 and "permission denied" in by_an_agent.stderr  # the nightly job's (and a supervisor's)
    assert query(db_path, "SELECT count(*) FROM notices") == [(0,)]
    ok(cli("--db", team["night"], "notify", "--outbox", str(outbox), today="2026-12-25"))
    assert len(list(outbox.glob("*.eml"))) == 1
    assert query(db_path, "SELECT state FROM notices") == [("sent",)]
    assert query(db_path, "SELECT agent FROM events WHERE event = 'notice'") == [("night",)]
    assert named(db_path) == []  # the tool's claim and its sending are explained


# --- a refused command names the role it needs -----------------------------------------------------


def _overdue(cli, urls):
    """RA-000001 delivered on TODAY: overdue from 2027-01-01, when a charge is due."""
    for step in (("link",), ("hold", "--ref", "AUTH-1", "--expires", "2099-12-31"), ("ship",),
                 ("deliver",)):
        ok(cli("--db", urls["ann"], step[0], "RA-000001", *step[1:], today=TODAY))


@pytest.mark.parametrize("login, args, says", [
    ("ann", ("catalog", "add", "CAM-2", "--category", "camera", "--list-price", "1"),
     "INSERT on catalog needs the speco_supervisor role"),
    ("ann", ("catalog", "import", "{catalog}"), "INSERT on catalog needs the speco_supervisor role"),
    ("night", ("catalog", "add", "CAM-2", "--category", "camera", "--list-price", "1"),
     "INSERT on catalog needs the speco_supervisor role"),
    ("night", ("open", "--type", "standard", "--customer", "X", "--item", "CAM-1"),
     "INSERT on returns needs the speco_agent role"),
    ("night", ("open", "--type", "virtual", "--customer", "X", "--item", "CAM-1", "--serial", "SN-9",
               "--approved-by", "dana", "--reason", "goodwill"), "INSERT on returns needs the speco_supervisor role"),
    ("night", ("edit", "RA-000001", "--email", "x@acme.example"), "UPDATE on returns needs the speco_agent role"),
    ("night", ("charge", "RA-000001"), "INSERT on ledger needs the speco_supervisor role"),
    ("ann", ("charge", "RA-000001"), "a charge or a refund needs the speco_supervisor role (you are ann)"),
    ("night", ("void", "RA-000001", "--reason", "slip", "--yes"), "a void needs the speco_supervisor role (you are night)"),
    ("lee", ("note", "RA-000001", "hi"), "writing (the write lock) needs the speco_agent or speco_nightly role"),
])
def test_a_refused_command_names_the_role_its_action_needs(cli, team, db_path, tmp_path, login, args, says):
    _overdue(cli, team)
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("model,category,list_price\nCAM-2,camera,1.00\n")
    before = query(db_path, "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM catalog)")
    [line] = refused(cli("--db", team[login], *(a.format(catalog=catalog) for a in args), today="2027-01-15"))
    assert says in line, line
    assert "speco_agent role (speco_accounting" not in line  # not the one line every refusal used to get
    assert query(db_path, "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM catalog)") == before
