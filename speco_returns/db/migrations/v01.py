"""Migrations m001-m007: the schema of 0.1 (catalog, returns, history, ledger, notices)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .step import Step

if TYPE_CHECKING:
    from ..connection import Database

_APPEND_ONLY = """CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION speco_refuse('{message}')"""
_NO_TRUNCATE = """CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION speco_refuse('{message}')"""
_OPEN = "status NOT IN ('completed', 'cancelled', 'charged')"  # db.returns.OPEN_SQL, word for word


def _append_only(table: str, message: str) -> list[str]:
    """A server's append-only table: no UPDATE, DELETE or TRUNCATE (plpgsql triggers)."""
    return [_APPEND_ONLY.format(table=table, message=message),
            _NO_TRUNCATE.format(table=table, message=message)]


def _ledger_reason(db: Database) -> None:
    """m006 on SQLite: the ledger's `reason` (m008's rebuild may already have made it)."""
    if "reason" not in db.columns("ledger"):
        db.execute("ALTER TABLE ledger ADD COLUMN reason TEXT")


STEPS = [
    Step(
        "m001_catalog",
        sqlite=(
            """CREATE TABLE catalog (
            model TEXT PRIMARY KEY COLLATE NOCASE,
            description TEXT,
            category TEXT NOT NULL
                CHECK (category IN ('camera', 'ptz', 'specialty', 'recorder', 'other')),
            list_price_cents INTEGER CHECK (list_price_cents >= 0),
            updated_at TEXT NOT NULL
        )""",
        ),
        postgres=(
            "CREATE EXTENSION IF NOT EXISTS citext",
            """CREATE FUNCTION printf(fmt text, VARIADIC args numeric[]) RETURNS text"""
            """ LANGUAGE plpgsql IMMUTABLE AS $$
        DECLARE result text := ''; rest text := fmt; m text[]; v text; w int; i int := 1;
        BEGIN
          LOOP
            m := regexp_match(rest, '^(.*?)%(0?)([0-9]*)d(.*)$');
            EXIT WHEN m IS NULL;
            v := trunc(args[i])::text; i := i + 1;  -- %d truncates, as SQLite's does
            w := coalesce(nullif(m[3], '')::int, 0);
            IF length(v) < w THEN  -- never lpad() past the width: it cuts (RA-1000000 stays whole)
              v := lpad(v, w, CASE WHEN m[2] = '0' THEN '0' ELSE ' ' END);
            END IF;
            result := result || m[1] || v; rest := m[4];
          END LOOP;
          RETURN result || rest;
        END $$""",
            """CREATE FUNCTION speco_concat(acc text, value text, sep text) RETURNS text"""
            """ LANGUAGE sql IMMUTABLE
           AS $$SELECT CASE WHEN value IS NULL THEN acc WHEN acc IS NULL THEN value"""
            """ ELSE acc || sep || value END$$""",
            "CREATE AGGREGATE group_concat(text, text) (SFUNC = speco_concat, STYPE = text)",
            "CREATE FUNCTION instr(text, text) RETURNS integer LANGUAGE sql IMMUTABLE "
            "AS 'SELECT strpos($1, $2)'",
            """CREATE FUNCTION json_extract(doc text, path text) RETURNS text LANGUAGE sql IMMUTABLE
           AS $$SELECT ($1::jsonb) #>> string_to_array(substr($2, 3), '.')$$""",
            "CREATE FUNCTION casefold(text) RETURNS text LANGUAGE sql IMMUTABLE "
            "AS 'SELECT normalize(lower(normalize($1, NFKC)), NFKC)'",
            """CREATE FUNCTION quote(v text) RETURNS text LANGUAGE sql IMMUTABLE
           AS $$SELECT CASE WHEN v IS NULL THEN 'NULL'"""
            """ ELSE '''' || replace(v, '''', '''''') || '''' END$$""",
            "CREATE FUNCTION quote(v bigint) RETURNS text LANGUAGE sql IMMUTABLE "
            "AS $$SELECT coalesce(v::text, 'NULL')$$",
            r"""CREATE FUNCTION visible(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
        DECLARE result text := ''; c text; n int;
        BEGIN
          IF t IS NULL THEN RETURN NULL; END IF;
          FOR i IN 1..length(t) LOOP
            c := substr(t, i, 1); n := ascii(c);
            IF n <= 31 OR n BETWEEN 127 AND 159"""
            r""" THEN result := result || '\x' || lpad(to_hex(n), 2, '0');
            ELSE result := result || c; END IF;
          END LOOP;
          RETURN result;
        END $$""",
            """CREATE FUNCTION speco_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION '%', TG_ARGV[0]"""
            """ USING ERRCODE = 'integrity_constraint_violation'; END $$""",
            """CREATE TABLE catalog (
            model citext PRIMARY KEY,
            description TEXT,
            category TEXT NOT NULL
                CHECK (category IN ('camera', 'ptz', 'specialty', 'recorder', 'other')),
            list_price_cents BIGINT CHECK (list_price_cents >= 0),
            updated_at TEXT NOT NULL
        )""",
        ),
    ),

    # No column anywhere holds a card number: a hold is an amount and a reference.
    Step(
        "m002_returns",
        sqlite=(
            """CREATE TABLE returns (
            id INTEGER PRIMARY KEY AUTOINCREMENT,  -- RA-000042; AUTOINCREMENT: never reused
            type TEXT NOT NULL CHECK (type IN ('standard', 'counter', 'advanced', 'virtual')),
            status TEXT NOT NULL,
            customer TEXT NOT NULL,
            email TEXT,
            phone TEXT,
            ticket TEXT UNIQUE COLLATE NOCASE,    -- a counter return's key
            distributor TEXT,
            approved_by TEXT,
            reason TEXT,
            hold_amount_cents INTEGER CHECK (hold_amount_cents >= 0),
            hold_ref TEXT,
            hold_expires TEXT,
            hold_active INTEGER NOT NULL DEFAULT 0,
            opened_on TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            opened_by TEXT NOT NULL,
            last_event_on TEXT NOT NULL,          -- the latest state-changing event's date
            shipped_on TEXT,
            delivered_on TEXT,
            due_on TEXT,
            unit_shipped_on TEXT,
            received_on TEXT,
            charged_on TEXT,
            closed_on TEXT
        )""",
            "CREATE INDEX returns_customer ON returns (customer COLLATE NOCASE)",
            "CREATE INDEX returns_opened_on ON returns (opened_on)",
            """CREATE TABLE items (
            id INTEGER PRIMARY KEY,
            return_id INTEGER NOT NULL REFERENCES returns (id),
            model TEXT NOT NULL,
            description TEXT,
            category TEXT,                        -- snapshot of the catalog at opening
            qty INTEGER NOT NULL CHECK (qty >= 1),
            list_price_cents INTEGER CHECK (list_price_cents >= 0)
        )""",
            "CREATE INDEX items_return ON items (return_id)",
            """CREATE TABLE serials (
            id INTEGER PRIMARY KEY,
            return_id INTEGER NOT NULL REFERENCES returns (id),
            item_id INTEGER NOT NULL REFERENCES items (id),
            serial TEXT NOT NULL,
            UNIQUE (return_id, serial)
        )""",
            "CREATE INDEX serials_serial ON serials (serial)",
            "CREATE INDEX serials_item ON serials (item_id)",
            """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            return_id INTEGER NOT NULL REFERENCES returns (id),
            event TEXT NOT NULL,
            happened_on TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            agent TEXT NOT NULL,
            status TEXT NOT NULL,                 -- the state after the event
            detail TEXT                           -- JSON: ref, expires, tracking, reason, note
        )""",
            "CREATE INDEX events_return ON events (return_id, happened_on)",
            """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
            BEGIN SELECT RAISE(ABORT, 'history is append-only'); END""",
            """CREATE TRIGGER events_no_delete BEFORE DELETE ON events
            BEGIN SELECT RAISE(ABORT, 'history is append-only'); END""",
            """CREATE TABLE ledger (
            id INTEGER PRIMARY KEY,
            return_id INTEGER NOT NULL REFERENCES returns (id),
            happened_on TEXT NOT NULL,
            event TEXT NOT NULL
                CHECK (event IN ('hold-authorized', 'hold-released', 'charged', 'late-return')),
            amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
            hold_ref TEXT,
            agent TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        )""",
            "CREATE INDEX ledger_happened_on ON ledger (happened_on)",
            """CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END""",
            """CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END""",
        ),
        postgres=(
            """CREATE TABLE returns (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            type TEXT NOT NULL CHECK (type IN ('standard', 'counter', 'advanced', 'virtual')),
            status TEXT NOT NULL,
            customer TEXT NOT NULL,
            email TEXT,
            phone TEXT,
            ticket citext UNIQUE,
            distributor TEXT,
            approved_by TEXT,
            reason TEXT,
            hold_amount_cents BIGINT CHECK (hold_amount_cents >= 0),
            hold_ref TEXT,
            hold_expires TEXT,
            hold_active INTEGER NOT NULL DEFAULT 0,
            opened_on TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            opened_by TEXT NOT NULL,
            last_event_on TEXT NOT NULL,
            shipped_on TEXT,
            delivered_on TEXT,
            due_on TEXT,
            unit_shipped_on TEXT,
            received_on TEXT,
            charged_on TEXT,
            closed_on TEXT
        )""",
            "CREATE INDEX returns_customer ON returns (lower(customer))",
            "CREATE INDEX returns_opened_on ON returns (opened_on)",
            """CREATE TABLE items (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            return_id BIGINT NOT NULL REFERENCES returns (id),
            model TEXT NOT NULL,
            description TEXT,
            category TEXT,
            qty INTEGER NOT NULL CHECK (qty >= 1),
            list_price_cents BIGINT CHECK (list_price_cents >= 0)
        )""",
            "CREATE INDEX items_return ON items (return_id)",
            """CREATE TABLE serials (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            return_id BIGINT NOT NULL REFERENCES returns (id),
            item_id BIGINT NOT NULL REFERENCES items (id),
            serial TEXT NOT NULL,
            UNIQUE (return_id, serial)
        )""",
            "CREATE INDEX serials_serial ON serials (serial)",
            "CREATE INDEX serials_item ON serials (item_id)",
            """CREATE TABLE events (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            return_id BIGINT NOT NULL REFERENCES returns (id),
            event TEXT NOT NULL,
            happened_on TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            agent TEXT NOT NULL,
            status TEXT NOT NULL,
            detail TEXT
        )""",
            "CREATE INDEX events_return ON events (return_id, happened_on)",
            *_append_only("events", "history is append-only"),
            """CREATE TABLE ledger (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            return_id BIGINT NOT NULL REFERENCES returns (id),
            happened_on TEXT NOT NULL,
            event TEXT NOT NULL
                CHECK (event IN ('hold-authorized', 'hold-released', 'charged', 'late-return')),
            amount_cents BIGINT NOT NULL CHECK (amount_cents >= 0),
            hold_ref TEXT,
            agent TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        )""",
            "CREATE INDEX ledger_happened_on ON ledger (happened_on)",
            *_append_only("ledger", "the ledger is append-only"),
        ),
    ),

    # The nightly check reads open advanced returns (and those closed after its as-of
    # date, for a re-run of a past night) through these, never the whole table.
    Step(
        "m003_overdue_indexes",
        sqlite=(
            """CREATE INDEX returns_advanced_open ON returns (id)
            WHERE type = 'advanced' AND status NOT IN ('completed', 'cancelled', 'charged')""",
            "CREATE INDEX returns_advanced_closed ON returns (closed_on) WHERE type = 'advanced'",
        ),
        postgres=(
            "CREATE INDEX returns_advanced_open ON returns (id) "
            f"WHERE type = 'advanced' AND {_OPEN}",
            "CREATE INDEX returns_advanced_closed ON returns (closed_on) WHERE type = 'advanced'",
        ),
    ),

    # RA numbers get their own sequence, so a counter return (keyed by its ticket, with no
    # RA) leaves no gap. Numbers already issued are kept: they equal the row id.
    Step(
        "m004_ra_numbers",
        sqlite=(
            "ALTER TABLE returns ADD COLUMN ra_no INTEGER",
            "UPDATE returns SET ra_no = id WHERE type != 'counter'",
            "CREATE UNIQUE INDEX returns_ra_no ON returns (ra_no)",
        ),
        postgres=(
            "ALTER TABLE returns ADD COLUMN ra_no BIGINT",
            "UPDATE returns SET ra_no = id WHERE type != 'counter'",
            "CREATE UNIQUE INDEX returns_ra_no ON returns (ra_no)",
        ),
    ),

    # `list` shows open returns by default: read them through this, not the whole table.
    # The WHERE is db.returns.OPEN_SQL word for word (the planner matches it literally).
    Step(
        "m005_open_returns_index",
        sqlite=(
            "CREATE INDEX returns_open ON returns (id) "
            "WHERE status NOT IN ('completed', 'cancelled', 'charged')",
        ),
        postgres=(
            f"CREATE INDEX returns_open ON returns (id) WHERE {_OPEN}",
        ),
    ),

    # A lost parcel's charge keeps the supervisor's reason on its ledger row.
    # A re-authorized hold now bounds later event dates like a state change (SPEC §3): bring
    # last_event_on up to the latest hold of each return recorded before this version.
    Step(
        "m006_policy_gaps",
        sqlite=(
            _ledger_reason,
            """UPDATE returns SET last_event_on = (
               SELECT max(happened_on) FROM events e WHERE e.return_id = returns.id"""
            """ AND e.event = 'hold')
           WHERE type = 'advanced' AND last_event_on < (
               SELECT max(happened_on) FROM events e WHERE e.return_id = returns.id"""
            """ AND e.event = 'hold')""",
        ),
        postgres=(),  # the server's ledger gets `reason` in m008, in SQLite's column order
    ),

    # One row per e-mail notice (notices.py): its claim while it is being sent, then that it
    # was sent. UNIQUE makes each (return, kind, days, about) at most one row, so two `notify`
    # runs cannot both claim it. The history gets a `notice` event when it is sent.
    Step(
        "m007_notices",
        sqlite=(
            """CREATE TABLE notices (
            id INTEGER PRIMARY KEY,
            return_id INTEGER NOT NULL REFERENCES returns (id),
            kind TEXT NOT NULL,
            days INTEGER NOT NULL DEFAULT 0,      -- reminder: days before the due date
            about_on TEXT NOT NULL,               -- the date it speaks of (notices.py)
            state TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
            message_id TEXT NOT NULL,
            claimed_by TEXT NOT NULL,             -- host:pid of the run sending it
            claimed_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            sent_at TEXT,
            UNIQUE (return_id, kind, days, about_on)
        )""",
        ),
        postgres=(
            """CREATE TABLE notices (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            return_id BIGINT NOT NULL REFERENCES returns (id),
            kind TEXT NOT NULL,
            days INTEGER NOT NULL DEFAULT 0,
            about_on TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
            message_id TEXT NOT NULL,
            claimed_by TEXT NOT NULL,
            claimed_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            sent_at TEXT,
            UNIQUE (return_id, kind, days, about_on)
        )""",
        ),
    ),
]
