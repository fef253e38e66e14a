"""What `doctor` must see on both backends: tables that change what the tool does, edited
outside it (each edit made as an attacker would, straight into the database), and rows the
tool never writes, which every view must still show without a traceback."""

from __future__ import annotations

import json

import pytest
from clihelpers import late_return, ok, raw

from speco_returns.db.schema import SQLITE_CHAIN_TRIGGERS

TODAY = "2026-11-26"


@pytest.fixture
def returns(cli, tmp_path, monkeypatch):
    """RA-000001 standard; RA-000002 advanced, delivered, overdue, its notices sent by `notify`
    last; RA-000003 advanced, charged, then its unit arrived (a review undecided); T-1 a counter
    return."""
    for args in [
        ("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "499.99"),
        ("open", "-t", "standard", "-c", "Ann", "-i", "CAM-1", "-s", "SN0001", "--on",
         "2026-10-01"),
        ("open", "-t", "advanced", "-c", "Bob", "--email", "bob@example.com", "-i", "CAM-1", "-s",
         "SN0002", "--on", "2026-10-01", "-y"),
        ("link", "RA-000002", "--on", "2026-10-01"),
        ("hold", "RA-000002", "--ref", "AUTH-2", "--on", "2026-10-02"),
        ("ship", "RA-000002", "--on", "2026-10-03"),
        ("deliver", "RA-000002", "--on", "2026-10-05"),
        *late_return("RA-000003", "Cy", "SN0003"),
        ("open", "-t", "counter", "-c", "Gus", "-i", "CAM-1", "--ticket", "T-1", "--distributor",
         "ADI", "--on", "2026-10-10"),
    ]:
        ok(cli(*args, today=TODAY))
    monkeypatch.setenv("SPECO_RETURNS_MAIL_FROM", "returns@speco.example")
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    assert "written" in ok(cli("notify", "--outbox", str(outbox), today=TODAY)).stdout


def doctor(cli) -> tuple[int, dict, str]:
    result = cli("doctor", "--json")
    assert (result.exception is None
            or isinstance(result.exception, SystemExit)), repr(result.exception)
    return result.exit_code, json.loads(result.stdout), result.stderr


def named(report: dict, text: str) -> bool:
    return any(text in p for p in report["problems"])


def test_the_fixture_is_healthy(cli, returns):
    code, report, err = doctor(cli)
    assert (code, report["problems"], err) == (0, [], "")


@pytest.mark.parametrize("ra_no", [1, 2])
def test_a_return_whose_ra_number_was_erased_is_named_and_every_view_still_shows(
        cli, returns, db_path, ra_no):
    with raw(db_path) as conn:
        conn.execute("UPDATE returns SET ra_no = NULL WHERE ra_no = ?", [ra_no])
    code, report, err = doctor(cli)
    assert code == 1 and named(
        report, "1 return(s) have no RA number (changed outside the tool): id"), report["problems"]
    assert all("Traceback" not in line for line in err.splitlines())
    for args in [("list",), ("list", "--all"), ("list", "--json"), ("list", "--search", "CAM"),
                 ("overdue",), ("overdue", "--json"), ("export", "returns"), ("export", "holds"),
                 ("export", "ledger"), ("report",), ("show", "T-1"),
                 ("show", f"RA-00000{3 - ra_no}")]:
        result = cli(*args, today=TODAY)
        assert result.exit_code == 0 and result.exception is None, (
            args, result.stderr, result.exception)
    listed = json.loads(ok(cli("list", "--all", "--json", today=TODAY)).stdout)
    assert "(no RA number)" in [r["ra"] for r in listed]
    assert "(no RA number)," in ok(cli("export", "returns", today=TODAY)).stdout


# --- tables outside the chain -------------------------------------------------------------------


def _server_or_file(backend: str, sqlite: list[str], postgres: list[str]) -> list[str]:
    return postgres if backend == "postgres" else sqlite


def _edit(db_path, backend: str, *statements: str) -> None:
    """Statements run as the database's owner, around the append-only triggers where they are
    in the way (an attacker who can write the file, or the owner's login on a server)."""
    with raw(db_path) as conn:
        if backend == "postgres":
            conn.execute("SET session_replication_role = replica")  # no trigger fires
        for sql in statements:
            conn.execute(sql)


def test_a_first_decision_written_straight_into_reviews_is_named(cli, returns, db_path, backend):
    _edit(db_path, backend, "UPDATE reviews SET decided_on = '2026-11-20', "
                            "decision = 'charge stands' WHERE return_id = 3")
    code, report, _ = doctor(cli)
    assert code == 1 and named(report, "RA-000003: its review"), report["problems"]


def test_a_review_forged_for_a_return_never_late_is_named(cli, returns, db_path, backend):
    _edit(db_path, backend, "INSERT INTO reviews (return_id, happened_on, amount_cents, hold_ref, "
                            "agent, recorded_at) "
                            "VALUES (2, '2026-11-20', 49999, 'AUTH-2', 'x', 'x')")
    code, report, _ = doctor(cli)
    assert code == 1 and named(report, "RA-000002: its review"), report["problems"]


def test_a_notice_recorded_as_sent_that_was_never_sent_is_named(cli, returns, db_path, backend):
    _edit(db_path, backend, "INSERT INTO notices (return_id, kind, days, about_on, state, "
                            "message_id, claimed_by, claimed_at, sent_at) "
                            "VALUES (2, 'reminder', 3, '2026-11-04', 'sent', '<forged@x>', "
                            "'x', 'x', 'x')")
    code, report, _ = doctor(cli)
    assert (code == 1 and named(report, "RA-000002: notice reminder")
            and named(report, "no `notice` event")), report["problems"]


def test_a_sent_notice_forgotten_is_named(cli, returns, db_path, backend):
    """A sent notice's row removed: the next `notify` would send it again."""
    _edit(db_path, backend, "DELETE FROM notices WHERE return_id = 2")
    code, report, _ = doctor(cli)
    assert code == 1 and named(
        report, "RA-000002: its history has 1 `notice` event(s)"), report["problems"]


@pytest.mark.parametrize("change", ["list_price_cents = 1", "category = 'other'",
                                    "description = 'x'", "updated_at = 'x'"])
def test_the_catalog_changed_outside_the_tool_is_named(cli, returns, db_path, backend, change):
    _edit(db_path, backend, f"UPDATE catalog SET {change} WHERE model = 'CAM-1'")
    code, report, _ = doctor(cli)
    assert code == 1 and named(
        report, "the catalog was changed outside the tool"), report["problems"]


def test_a_catalog_row_added_or_removed_outside_the_tool_is_named(cli, returns, db_path, backend):
    _edit(db_path, backend, "INSERT INTO catalog (model, category, list_price_cents, updated_at) "
                            "VALUES ('CAM-9', 'ptz', 1, 'x')")
    assert named(doctor(cli)[1], "the catalog was changed outside the tool")
    _edit(db_path, backend, "DELETE FROM catalog")
    assert named(doctor(cli)[1], "the catalog was changed outside the tool")


def test_the_catalog_written_by_the_tool_stays_healthy(cli, returns, tmp_path):
    ok(cli("catalog", "add", "CAM-1", "--category", "ptz", "--list-price", "1,299", today=TODAY))
    (tmp_path / "cat.csv").write_text("model,category,list_price,description\n"
                                      "CAM-2,recorder,10.00,NVR\n")
    ok(cli("catalog", "import", str(tmp_path / "cat.csv"), today=TODAY))
    code, report, _ = doctor(cli)
    assert (code, report["problems"]) == (0, [])


def test_a_customer_key_changed_is_named(cli, returns, db_path, backend):
    _edit(db_path, backend, "UPDATE returns SET customer_key = 'mallory' WHERE id = 1")
    code, report, _ = doctor(cli)
    assert code == 1 and named(report, "RA-000001: customer_key is 'mallory', "
                                       "its customer gives 'ann'"), report["problems"]


def test_an_extra_trigger_is_named(cli, returns, db_path, backend):
    _edit(db_path, backend, *_server_or_file(
        backend,
        ["CREATE TRIGGER quiet AFTER INSERT ON events "
         "BEGIN UPDATE returns SET hold_active = 0 WHERE id = NEW.return_id; END"],
        ["CREATE FUNCTION quiet() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
         "CREATE TRIGGER quiet AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION quiet()"]))
    code, report, _ = doctor(cli)
    assert code == 1 and named(report, "trigger quiet"), report["problems"]


@pytest.mark.parametrize("what", ["index", "trigger"])
def test_ser1s_index_or_trigger_dropped_is_named(cli, returns, db_path, backend, what):
    sql = ("DROP INDEX serials_held" if what == "index" else
           _server_or_file(backend, ["DROP TRIGGER serials_held_follows"],
                           ["DROP TRIGGER serials_held_follows ON serials"])[0])
    _edit(db_path, backend, sql)
    code, report, _ = doctor(cli)
    assert code == 1 and named(report, f"{what} serials_held"), report["problems"]


@pytest.mark.server_only("a server's trigger functions and ALTER TABLE ... DISABLE TRIGGER")
def test_a_trigger_function_replaced_or_a_trigger_disabled_on_a_server_is_named(
        cli, returns, db_path, backend):
    _edit(db_path, backend, "CREATE OR REPLACE FUNCTION speco_refuse() RETURNS trigger "
                            "LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$")
    assert named(doctor(cli)[1], "function speco_refuse")
    _edit(db_path, backend, "ALTER TABLE ledger DISABLE TRIGGER ledger_append_only")
    assert named(doctor(cli)[1], "trigger ledger_append_only")


@pytest.mark.parametrize("name", ["m005_open_returns_index", "m013_customer_key"])
def test_a_migration_row_deleted_is_named(cli, returns, db_path, backend, name):
    table = "speco_migrations" if backend == "postgres" else "_sqlite_migrations"
    _edit(db_path, backend, f"DELETE FROM {table} WHERE name = '{name}'")
    code, report, _ = doctor(cli)
    assert code == 1 and named(report, "migration"), report["problems"]
    assert named(report, name) or named(report, "customer_key"), report["problems"]
    assert not any("run any write command" in w for w in report["warnings"]), report["warnings"]


def test_the_newest_history_rows_deleted_with_the_heads_rewritten_are_named(
        cli, returns, db_path, backend):
    """`notify` wrote the newest history rows (its `notice` events): they and their chain head's
    row count are removed, the head made to end at the row before, as the chain would read."""
    with raw(db_path) as conn:
        (first,) = conn.execute("SELECT min(id) FROM events WHERE event = 'notice'").fetchone()
        (before, last_hash), = conn.execute(
            "SELECT id, hash FROM events WHERE id < ? ORDER BY id DESC LIMIT 1", [first])
    assert first is not None
    _edit(db_path, backend, *_server_or_file(backend, ["DROP TRIGGER events_no_delete"], []),
          f"DELETE FROM events WHERE id >= {first}",
          f"UPDATE chain_heads SET last_id = {before}, rows = (SELECT count(*) FROM events), "
          f"hash = '{last_hash}' "
          "WHERE name = 'events'",
          *_server_or_file(backend, [SQLITE_CHAIN_TRIGGERS["events_no_delete"]], []))
    code, report, _ = doctor(cli)
    assert code == 1 and named(report, "RA-000002: notice"), report["problems"]
    # the chain alone cannot tell (docs/data-safety.md)
    assert not named(report, "chain"), report["problems"]


@pytest.mark.parametrize("detail", ["not json", "[1, 2]", "{broken", '"a string"'])
def test_a_history_row_that_is_not_well_formed_is_named_and_show_says_one_line(
        cli, returns, db_path, backend, detail):
    with raw(db_path) as conn:  # as the owner: on a server, past the constraint that refuses it
        if backend == "postgres":
            conn.execute("ALTER TABLE events DROP CONSTRAINT events_detail_json")
        conn.execute("""INSERT INTO events (id, return_id, event, happened_on, recorded_at, """
                     """agent, status, detail)
                        VALUES (1000, 1, 'note', '2026-10-02', '2026-10-02T10:00:00Z', 'x', """
                     """'authorized', ?)""", [detail])
    code, report, _ = doctor(cli)
    assert code == 1 and named(report, "1 history row(s) are not well-formed"), report["problems"]
    assert named(report, "RA-000001: event 1000 (note)"), report["problems"]
    shown = cli("show", "RA-000001")
    assert shown.exit_code == 1 and (shown.exception is None
                                     or isinstance(shown.exception, SystemExit))
    assert shown.stderr.splitlines() == [shown.stderr.strip()] and "cannot read" in shown.stderr
