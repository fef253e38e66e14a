"""`list --search` matches anywhere in a field (customer, e-mail, phone, ticket, serial, notes,
tracking numbers, hold references), ignoring case, through a trigram index kept by triggers
(db/search.py, migration m019_search_anywhere), on both engines."""

from __future__ import annotations

import json

import pytest
from builders import older_database
from clihelpers import ok, refused

from speco_returns.db.database import open_database
from speco_returns.db.search import terms
from speco_returns.domain import inputs, rules
from speco_returns.domain.clock import Now
from speco_returns.services import returns as returns_service

TODAY = "2026-11-26"
NOW = Now(today=inputs.parse_date(TODAY), stamp="2026-11-26T12:00:00+00:00", agent="tester")


def found(cli, text: str, *more: str) -> list[str]:
    return [r["ra"] for r in json.loads(ok(cli("list", "--all", "--search", text, *more, "--json",
                                               today=TODAY)).stdout)]


@pytest.fixture
def calls(cli):
    def run(*args):
        return ok(cli(*args, today=TODAY))

    run("catalog", "add", "O4B3", "--category", "camera", "--list-price", "249.99")
    run("open", "-t", "standard", "-c", "Peterson Motors", "-i", "O4B3", "-s", "SN-7781234",
        "--phone", "(201) 555-0100", "--contact-note", "call after 5pm, ask for Dana", "--note",
        "water damage on the housing", "-y")
    run("open", "-t", "standard", "-c", "Straße Bau GmbH", "-i", "O4B3", "--email",
        "einkauf@strasse-bau.example", "-y")
    run("open", "-t", "counter", "-c", "Quick Alarm", "-i", "O4B3", "--ticket", "TT-55012",
        "--distributor", "ADI", "-y")
    run("note", "RA-000001", "customer prefers e-mail after the move")
    return run


@pytest.mark.parametrize(("text", "expected"), [
    # a piece of the name
    ("motors", ["RA-000001"]), ("MOTORS", ["RA-000001"]), ("erson", ["RA-000001"]),
    ("1234", ["RA-000001"]),               # the last digits of a serial
    # a phone, any layout
    ("555-01", ["RA-000001"]), ("2015550", ["RA-000001"]), ("201.555", ["RA-000001"]),
    ("after 5pm", ["RA-000001"]),          # the contact note
    ("water damage", ["RA-000001"]),       # a note given at open
    ("prefers e-mail", ["RA-000001"]),     # a note added later
    # as --customer compares
    ("strasse", ["RA-000002"]), ("STRASSE BAU", ["RA-000002"]), ("straße", ["RA-000002"]),
    ("bau.example", ["RA-000002"]),        # the end of an e-mail
    ("5012", ["TT-55012"]),                # a piece of a ticket
    ("nothing like it", []),
])
def test_a_piece_of_any_field_finds_the_return(cli, calls, text, expected):
    assert found(cli, text) == expected


def test_what_a_command_changes_is_what_search_finds(cli, calls):
    calls("edit", "RA-000001", "--customer", "Peterson Engines", "--phone", "973-555-0142")
    assert found(cli, "motors") == [] and found(cli, "engines") == ["RA-000001"]
    assert found(cli, "555-0100") == [] and found(cli, "0142") == ["RA-000001"]
    calls("serial", "remove", "RA-000001", "SN-7781234")
    assert found(cli, "7781234") == []
    calls("serial", "add", "RA-000001", "SN-9990001")
    assert found(cli, "9990001") == ["RA-000001"]
    calls("unit-shipped", "RA-000002", "--tracking", "9400111899223100001234")
    assert found(cli, "89922310") == ["RA-000002"]


def test_search_combines_with_the_other_filters(cli, calls):
    assert found(cli, "o4b3") == []  # models are not searched: every return has one
    assert found(cli, "555", "--type", "counter") == []
    assert found(cli, "motors", "--agent", "nobody") == []


def test_short_text_is_refused_naming_customer(cli, calls):
    (line,) = refused(cli("list", "--search", "mo"))
    assert "shorter than 3 characters" in line and "--customer" in line
    assert "RA-000001" in ok(cli("list", "--customer", "mo")).stdout


def test_the_terms_looked_for():
    assert terms("Motors") == ["Motors"]
    assert terms("(201) 555") == ["(201) 555", "201555"]
    assert terms("ＳＴＲＡＳＳＥ") == ["ＳＴＲＡＳＳＥ", "strasse"]


def test_a_database_made_before_the_index_is_searched_after_the_upgrade(cli, db_path):
    """Rows an older version wrote (before m019_search_anywhere) are in the index once this
    version opens the file."""
    older_database(db_path, "m019_search_anywhere").close()
    db = open_database(db_path, migrate=False)
    try:
        for customer, serial in (("Old Motors", "SN-0424242"), ("Older Co", "SN-0525252")):
            req = rules.Request(type="standard", customer=customer, items=(("O4B3", 1),),
                                serials=((None, serial),))
            returns_service.open_return(db, req, {"phone": "201-555-0177"}, "fragile",
                                        NOW.today, NOW)
        returns_service.note(db, "RA-000002", "left a voicemail", NOW.today, NOW)
    finally:
        db.close()
    assert found(cli, "motors") == ["RA-000001"]
    assert found(cli, "4242") == ["RA-000001"]
    assert found(cli, "voicemail") == ["RA-000002"]
    assert found(cli, "0177") == ["RA-000002", "RA-000001"]
    assert found(cli, "fragile") == ["RA-000002", "RA-000001"]


@pytest.mark.server_only("the server's planner")
def test_the_server_reads_the_trigram_index(cli, db_path, backend):
    """Planner: with enough rows the server reads pg_trgm's GIN index, not the table (SQLite's
    plan: test_listing)."""
    from clihelpers import raw

    with raw(db_path) as conn:
        conn.execute("INSERT INTO search_terms (key, return_id, value) SELECT g, g, md5(g::text) "
                     "FROM generate_series(1, 50000) g")
        conn.execute("ANALYZE search_terms")
        piece = conn.scalar("SELECT substr(md5('4242'), 9, 10)")
        plan = " ".join(r[0] for r in conn.all("EXPLAIN SELECT return_id FROM search_terms "
                                               f"WHERE value ILIKE '%{piece}%'"))
    assert "search_terms_value" in plan, plan


@pytest.mark.server_only("a server's roles")
def test_on_a_server_every_role_searches_and_none_writes_the_index(cli, db_path, backend):
    """The index is the owner's, kept by its triggers: an agent's return is found by the agent and
    by the accountant; no login writes search_terms itself."""
    import psycopg
    from clihelpers import raw

    ok(cli("catalog", "add", "O4B3", "--category", "camera", "--list-price", "249.99"))
    ok(cli("admin", "roles", "--apply"))
    with raw(db_path) as conn:
        for login, role in (("sam", "speco_agent"), ("liz", "speco_accounting")):
            conn.execute("DO $$ BEGIN IF NOT EXISTS "
                         f"(SELECT FROM pg_roles WHERE rolname = '{login}') THEN "
                         f"CREATE ROLE {login} LOGIN; END IF; END $$")
            conn.execute(f"GRANT {role} TO {login}")
    url = {login: db_path.replace("user=tester", f"user={login}") for login in ("sam", "liz")}
    ok(cli("--db", url["sam"], "open", "-t", "standard", "-c", "Peterson Motors", "-i", "O4B3",
           "-s", "SN-7781234", "-y", today=TODAY))
    for login in ("sam", "liz"):
        rows = json.loads(ok(cli("--db", url[login], "list", "--all", "--search", "81234", "--json",
                                 today=TODAY)).stdout)
        assert [r["ra"] for r in rows] == ["RA-000001"], login
    with (psycopg.connect(url["sam"], autocommit=True) as conn,
          pytest.raises(psycopg.errors.InsufficientPrivilege)):
        conn.execute("INSERT INTO public.search_terms (key, return_id, value) "
                     "VALUES (1, 1, 'planted')")
