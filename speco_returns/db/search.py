"""`list --search TEXT`: the returns a piece of text points at, anywhere in a field, read through
an index.

An agent on the phone has whatever the caller reads out: a piece of a name ("Motors"), an
e-mail, a phone number, a ticket, the last digits of a serial, a tracking number, a hold
reference, a word of a note. Each of those values is kept in one table, `search_terms`, by
triggers (migration m019_search_anywhere), and TEXT matches anywhere inside one, ignoring case:

- SQLite: an FTS5 table with the trigram tokenizer; TEXT is a phrase of its trigrams.
- PostgreSQL: a plain table with a pg_trgm GIN index; TEXT is an ILIKE '%TEXT%' pattern.

A trigram index needs three characters: shorter TEXT is refused, naming `--customer`. A
customer's name is kept with its key (NFKC, case-folded: what `--customer` compares), so
`--search` finds whatever `--customer` finds for the same text. A phone is kept with its
digits alone, so `201-555`, `(201) 555` and `201.555` all find `(201) 555-0100`.

Each row's key says where it came from, so a trigger replaces exactly its own rows:
return id * 8 + 0 customer, 1 e-mail, 2 phone, 3 ticket; -(serial id * 4 + 1);
-(event id * 4 + 2) for the note, contact note and tracking number an event carries;
-(ledger id * 4 + 3) for a hold reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain import inputs
from ..domain.keys import customer_key
from ..errors import ReturnsError
from .guards import SEARCH_PATH

if TYPE_CHECKING:
    from .connection import Database

MIN_LENGTH = 3  # a trigram
EVENT_KEYS = ("note", "contact_note", "tracking")
SEPARATOR = " | "


def _digits(column: str) -> str:
    """A phone's digits, as SQL (the separators inputs.parse_phone takes, and the extension's x)."""
    expr = column
    for ch in (" ", "-", "(", ")", ".", "+", "/", "x"):
        expr = f"replace({expr}, '{ch}', '')"
    return expr


def _return_fields(row: str) -> list[str]:
    """A return's searched values, k = 0 to 3 (customer with its key, e-mail, phone with its
    digits, ticket), as SQL over the row called `row`."""
    customer = (f"{row}.customer || CASE WHEN {row}.customer_key IS NOT NULL "
                f"AND {row}.customer_key != lower({row}.customer) "
                f"THEN '{SEPARATOR}' || {row}.customer_key ELSE '' END")
    return [customer, f"{row}.email",
            f"{row}.phone || '{SEPARATOR}' || {_digits(f'{row}.phone')}",
            f"CAST({row}.ticket AS TEXT)"]


def _return_values(row: str) -> str:
    """(k, v) rows of a return's own fields, as a SELECT (NULL values are skipped by the caller)."""
    first, *rest = _return_fields(row)
    return " UNION ALL ".join([f"SELECT CAST(0 AS BIGINT) AS k, {first} AS v",
                               *(f"SELECT {k}, {v}" for k, v in enumerate(rest, 1))])


_EVENT_KEYS_SQL = ", ".join(f"'{k}'" for k in EVENT_KEYS)

MIGRATION_SQLITE = [
    "CREATE VIRTUAL TABLE search_terms USING fts5(value, return_id UNINDEXED, "
    "tokenize = 'trigram')",
    f"""CREATE TRIGGER search_returns_insert AFTER INSERT ON returns BEGIN
        INSERT INTO search_terms (rowid, value, return_id)
        SELECT NEW.id * 8 + k, v, NEW.id FROM ({_return_values('NEW')}) WHERE v IS NOT NULL;
    END""",
    "CREATE TRIGGER search_returns_update AFTER UPDATE OF customer, customer_key, email, phone, "
    f"""ticket ON returns BEGIN
        DELETE FROM search_terms WHERE rowid BETWEEN NEW.id * 8 AND NEW.id * 8 + 3;
        INSERT INTO search_terms (rowid, value, return_id)
        SELECT NEW.id * 8 + k, v, NEW.id FROM ({_return_values('NEW')}) WHERE v IS NOT NULL;
    END""",
    """CREATE TRIGGER search_serials_insert AFTER INSERT ON serials BEGIN
        INSERT INTO search_terms (rowid, value, return_id) """
        """VALUES (-(NEW.id * 4 + 1), NEW.serial, NEW.return_id);
    END""",
    """CREATE TRIGGER search_serials_delete AFTER DELETE ON serials BEGIN
        DELETE FROM search_terms WHERE rowid = -(OLD.id * 4 + 1);
    END""",
    f"""CREATE TRIGGER search_events_insert AFTER INSERT ON events WHEN json_valid(NEW.detail) BEGIN
        INSERT INTO search_terms (rowid, value, return_id)
        SELECT -(NEW.id * 4 + 2), v, NEW.return_id FROM (
            SELECT group_concat(value, '{SEPARATOR}') AS v FROM json_each(NEW.detail)
            WHERE key IN ({_EVENT_KEYS_SQL}) AND type = 'text') WHERE v IS NOT NULL;
    END""",
    "CREATE TRIGGER search_ledger_insert AFTER INSERT ON ledger WHEN NEW.hold_ref IS NOT NULL "
    """BEGIN
        INSERT INTO search_terms (rowid, value, return_id) """
        """VALUES (-(NEW.id * 4 + 3), NEW.hold_ref, NEW.return_id);
    END""",
    # What is there already.
    *("INSERT INTO search_terms (rowid, value, return_id) "
      f"SELECT id * 8 + {k}, v, id FROM (SELECT id, {v} AS v FROM returns) "
      "WHERE v IS NOT NULL" for k, v in enumerate(_return_fields("returns"))),
    "INSERT INTO search_terms (rowid, value, return_id) "
    "SELECT -(id * 4 + 1), serial, return_id FROM serials",
    f"""INSERT INTO search_terms (rowid, value, return_id)
        SELECT -(e.id * 4 + 2), (SELECT group_concat(j.value, '{SEPARATOR}') """
        f"""FROM json_each(e.detail) j
                                 WHERE j.key IN ({_EVENT_KEYS_SQL}) AND j.type = 'text'), """
        f"""e.return_id
        FROM events e WHERE json_valid(e.detail) AND (SELECT count(*) FROM json_each(e.detail) j
                                                      WHERE j.key IN ({_EVENT_KEYS_SQL}) """
        """AND j.type = 'text') > 0""",
    "INSERT INTO search_terms (rowid, value, return_id) "
    "SELECT -(id * 4 + 3), hold_ref, return_id FROM ledger "
    "WHERE hold_ref IS NOT NULL",
]

# pg_trgm is a trusted extension (PostgreSQL 13 on): the database's owner, who runs the
# upgrade, may create it without being a superuser (docs: "A team on one server"). The
# triggers run as that owner (SECURITY DEFINER, a fixed search_path with pg_temp last, as
# db/guards.py's): an agent's login writes returns, serials,
# events and the ledger, and the index follows without the agent writing search_terms.
_PG_EVENT_TEXT = ("CREATE FUNCTION speco_event_search_text(detail text) RETURNS text "
                  f"""LANGUAGE plpgsql AS $$
    DECLARE d jsonb;
    BEGIN
        IF detail IS NULL OR detail !~ '"(note|contact_note|tracking)"' THEN RETURN NULL; END IF;
        BEGIN d := detail::jsonb; EXCEPTION WHEN others THEN RETURN NULL; END;  """
                  f"""-- stored text that is not JSON
        IF jsonb_typeof(d) != 'object' THEN RETURN NULL; END IF;
        RETURN (SELECT string_agg(value, '{SEPARATOR}') FROM jsonb_each_text(d)
                WHERE key IN ({_EVENT_KEYS_SQL}) AND jsonb_typeof(d -> key) = 'string');
    END $$""")

def _trigram_extension(db: Database) -> None:
    try:
        db.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except ReturnsError as e:
        raise ReturnsError("this version needs the server's pg_trgm extension for `list --search` "
                           f"({e.problems[0].message}): "
                           "install the server's contrib package (postgresql-contrib), "
                           "or have a superuser run "
                           "CREATE EXTENSION pg_trgm in this database; "
                           "then run the tool again") from None


MIGRATION_POSTGRES = [
    _trigram_extension,
    "CREATE TABLE search_terms (key BIGINT PRIMARY KEY, return_id BIGINT NOT NULL, "
    "value TEXT NOT NULL)",
    _PG_EVENT_TEXT,
    f"""CREATE FUNCTION speco_search_return() RETURNS trigger LANGUAGE plpgsql
        SECURITY DEFINER {SEARCH_PATH} AS $$
        BEGIN
            DELETE FROM search_terms WHERE key BETWEEN NEW.id * 8 AND NEW.id * 8 + 3;
            INSERT INTO search_terms (key, return_id, value)
            SELECT NEW.id * 8 + t.k, NEW.id, t.v FROM ({_return_values('NEW')}) t """
        """WHERE t.v IS NOT NULL;
            RETURN NULL;
        END $$""",
    "CREATE TRIGGER search_returns AFTER INSERT OR UPDATE OF customer, customer_key, email, "
    """phone, ticket ON returns
        FOR EACH ROW EXECUTE FUNCTION speco_search_return()""",
    f"""CREATE FUNCTION speco_search_serial() RETURNS trigger LANGUAGE plpgsql
        SECURITY DEFINER {SEARCH_PATH} AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                DELETE FROM search_terms WHERE key = -(OLD.id * 4 + 1);
            ELSE
                INSERT INTO search_terms (key, return_id, value) """
        """VALUES (-(NEW.id * 4 + 1), NEW.return_id, NEW.serial);
            END IF;
            RETURN NULL;
        END $$""",
    "CREATE TRIGGER search_serials AFTER INSERT OR DELETE ON serials FOR EACH ROW "
    "EXECUTE FUNCTION speco_search_serial()",
    f"""CREATE FUNCTION speco_search_event() RETURNS trigger LANGUAGE plpgsql
        SECURITY DEFINER {SEARCH_PATH} AS $$
        DECLARE v text := speco_event_search_text(NEW.detail);
        BEGIN
            IF v IS NOT NULL THEN
                INSERT INTO search_terms (key, return_id, value) """
        """VALUES (-(NEW.id * 4 + 2), NEW.return_id, v);
            END IF;
            RETURN NULL;
        END $$""",
    "CREATE TRIGGER search_events AFTER INSERT ON events FOR EACH ROW "
    "EXECUTE FUNCTION speco_search_event()",
    f"""CREATE FUNCTION speco_search_ledger() RETURNS trigger LANGUAGE plpgsql
        SECURITY DEFINER {SEARCH_PATH} AS $$
        BEGIN
            INSERT INTO search_terms (key, return_id, value) """
        """VALUES (-(NEW.id * 4 + 3), NEW.return_id, NEW.hold_ref);
            RETURN NULL;
        END $$""",
    "CREATE TRIGGER search_ledger AFTER INSERT ON ledger FOR EACH ROW "
    """WHEN (NEW.hold_ref IS NOT NULL)
        EXECUTE FUNCTION speco_search_ledger()""",
    f"""INSERT INTO search_terms (key, return_id, value)
        SELECT r.id * 8 + t.k, r.id, t.v FROM returns r,
        LATERAL ({_return_values('r')}) t WHERE t.v IS NOT NULL""",
    "INSERT INTO search_terms (key, return_id, value) "
    "SELECT -(id * 4 + 1), return_id, serial FROM serials",
    """INSERT INTO search_terms (key, return_id, value)
        SELECT -(id * 4 + 2), return_id, v FROM """
        """(SELECT id, return_id, speco_event_search_text(detail) AS v FROM events) e
        WHERE v IS NOT NULL""",
    "INSERT INTO search_terms (key, return_id, value) "
    "SELECT -(id * 4 + 3), return_id, hold_ref FROM ledger "
    "WHERE hold_ref IS NOT NULL",
    "CREATE INDEX search_terms_value ON search_terms USING gin (value gin_trgm_ops)",
]


def terms(text: str) -> list[str]:
    """What TEXT is looked for as: itself, its customer key when that differs, and a phone's
    digits when it looks like part of a phone number."""
    inputs.require_utf8("search", text)
    term = text.strip()
    if not term:
        raise ReturnsError("--search is empty: give a piece of a name, e-mail, phone, ticket, "
                           "serial, tracking number, hold reference or note")
    if len(term) < MIN_LENGTH:
        raise ReturnsError(f"--search '{inputs.quote(term)}' is shorter than {MIN_LENGTH} "
                           "characters: give more of it, "
                           "or --customer TEXT for a piece of the customer's name")
    found = [term]
    key = customer_key(term)
    if key.lower() != term.lower():
        found.append(key)
    digits = "".join(ch for ch in term if ch.isdigit())
    if (len(digits) >= MIN_LENGTH and digits != term
            and all(ch.isdigit() or ch in " -().+/" for ch in term)):
        found.append(digits)
    return found


def where(db: Database, text: str) -> tuple[str, dict]:
    """`id IN (...)` for the returns table, and its parameters: one indexed look-up per term."""
    engine = db.engine
    args = {f"search{n}": engine.substring_term(t) for n, t in enumerate(terms(text))}
    parts = ["SELECT return_id FROM search_terms "
             f"WHERE {engine.substring_match('value', ':' + name)}" for name in args]
    return "id IN (" + " UNION ".join(parts) + ")", args
