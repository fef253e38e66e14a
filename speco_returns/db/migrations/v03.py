"""Migrations from m014: the schema of 0.3."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import changes, guards, search
from .step import Step, shared
from .v01 import _OPEN

if TYPE_CHECKING:
    from ..connection import Database


def _record_catalog(db: Database) -> None:
    from ..chain import record_catalog

    record_catalog(db)

def _inbox(id_column: str) -> str:
    return f"""CREATE TABLE carrier_inbox (
        id {id_column},
        source TEXT NOT NULL,
        event_id TEXT NOT NULL,
        tracking TEXT NOT NULL,
        words TEXT NOT NULL,
        at TEXT NOT NULL,
        detail TEXT NOT NULL,
        received_at TEXT NOT NULL,
        applied_at TEXT,
        UNIQUE (source, event_id))"""


_INBOX_PENDING = "CREATE INDEX carrier_inbox_pending ON carrier_inbox (id) WHERE applied_at IS NULL"


# Fault and finding codes, kept as data (domain/codes.py): the list supervisors manage,
# seeded with the codes the tool ships with (added_on NULL), and on each return the fault
# reported at `open` and the latest finding (with its date) of the unit examined. `report
# quality` reads them through these indexes: the returns opened, examined and closed in its
# period, and the open returns by state and age (the partial index's WHERE is OPEN_SQL word
# for word).
def _seed_codes(db: Database) -> None:
    from ...domain.codes import SEED

    db.many("INSERT INTO codes (kind, code, title) VALUES (?, ?, ?)",
            [(kind, code, title) for kind, codes in SEED.items() for code, title in codes])


_CODES_TABLE = """CREATE TABLE codes (
            kind TEXT NOT NULL CHECK (kind IN ('fault', 'finding')),
            code TEXT NOT NULL,
            title TEXT NOT NULL,
            added_on TEXT,                        -- NULL: shipped with the tool
            added_by TEXT,
            retired_on TEXT,                      -- a retired code stays readable in history and reports
            retired_by TEXT,
            PRIMARY KEY (kind, code)
        )"""
_QUALITY_INDEXES = (
    "CREATE INDEX returns_opened_fault ON returns (opened_on, type, fault)",
    "CREATE INDEX returns_finding_on ON returns (finding_on, finding) WHERE finding_on IS NOT NULL",
    "CREATE INDEX returns_closed_days ON returns (closed_on, type, status, opened_on) WHERE closed_on IS NOT NULL",
    f"CREATE INDEX returns_open_age ON returns (status, opened_on) WHERE {_OPEN}",
)

_CODES_STEP = (
    _CODES_TABLE,
    _seed_codes,
    "ALTER TABLE returns ADD COLUMN fault TEXT",
    "ALTER TABLE returns ADD COLUMN finding TEXT",
    "ALTER TABLE returns ADD COLUMN finding_on TEXT",
    *_QUALITY_INDEXES,
)

STEPS = [
    # The catalog's digest beside the chains' heads (chain.record_catalog): `doctor` names a
    # price or category changed outside the tool.
    shared("m014_catalog_digest", _record_catalog),
    # A server runs the tool's SQL as written (db/engines): the look-alikes of SQLite's functions
    # that 0.2 installed go, and the one index built on one of them is built on the server's own
    # JSON operator, the expression db/search.py reads it through.
    Step(
        "m015_server_native_sql",
        sqlite=(),
        postgres=(
            "DROP INDEX IF EXISTS events_tracking",
            "CREATE INDEX events_tracking ON events (((detail::jsonb ->> 'tracking')) COLLATE nocase)"
            " WHERE event IN ('ship', 'unit-shipped')",
            "DROP FUNCTION IF EXISTS printf(text, numeric[])",
            "DROP AGGREGATE IF EXISTS public.group_concat(text, text)",
            # 0.2 created that aggregate through its SQL rewriting, which renamed it string_agg
            # in the public schema (the server's own string_agg lives in pg_catalog).
            "DROP AGGREGATE IF EXISTS public.string_agg(text, text)",
            "DROP FUNCTION IF EXISTS public.speco_concat(text, text, text)",
            "DROP FUNCTION IF EXISTS instr(text, text)",
            "DROP FUNCTION IF EXISTS json_extract(text, text)",
            "DROP FUNCTION IF EXISTS casefold(text)",
            "DROP FUNCTION IF EXISTS quote(text)",
            "DROP FUNCTION IF EXISTS quote(bigint)",
        ),
    ),
    # `deliveries import` finds a parcel by its tracking number as compared (db/deliveries.py
    # tracking_key_sql: without spaces, upper case), among the ship and unit-shipped events only.
    Step(
        "m016_tracking_key",
        sqlite=(
            "CREATE INDEX events_tracking_key ON events (upper(replace(json_extract(detail, '$.tracking'), ' ', '')))"
            " WHERE event IN ('ship', 'unit-shipped')",
        ),
        postgres=(
            "CREATE INDEX events_tracking_key ON events ((upper(replace(((detail)::jsonb ->> 'tracking'), ' ', ''))))"
            " WHERE event IN ('ship', 'unit-shipped')",
        ),
    ),
    # Events of tracking aggregators' signed webhooks (`deliveries serve`), each kept once (its
    # source and id), until `deliveries import --inbox` applies them as a report's rows.
    Step(
        "m017_carrier_inbox",
        sqlite=(_inbox("INTEGER PRIMARY KEY"), _INBOX_PENDING),
        postgres=(_inbox("BIGSERIAL PRIMARY KEY"), _INBOX_PENDING),
    ),
    # A team's server enforces its rules whoever writes (db/guards.py): a write lock only writers
    # can take, the login as every row's agent, a return's type and opening facts fixed, the
    # derived tables kept as the owner's doing; and every change to a return's rows, notices and
    # the catalog recorded with its login (db/changes.py). SQLite has one user per file.
    Step("m018_server_trust", sqlite=(), postgres=(*guards.M018_POSTGRES, *changes.M018_POSTGRES)),
    # `list --search` matches anywhere in a field, through a trigram index on both engines
    # (db/search.py): the values it reads, kept by triggers in one table.
    Step("m019_search_anywhere", sqlite=search.MIGRATION_SQLITE, postgres=search.MIGRATION_POSTGRES),
    # Fault and finding codes (see _seed_codes above). On a server whose roles an older version
    # set up, the reading roles read the new list at once (`open` reads it), until the owner
    # applies this version's roles (db/roles.py: only supervisors change it).
    Step(
        "m020_fault_finding_codes",
        sqlite=_CODES_STEP,
        postgres=(*_CODES_STEP, """DO $$ DECLARE r text; BEGIN
  FOREACH r IN ARRAY ARRAY['speco_agent', 'speco_accounting', 'speco_nightly'] LOOP
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN EXECUTE format('GRANT SELECT ON codes TO %I', r); END IF;
  END LOOP;
END $$"""),
    ),
    # Holds that lapse: how a hold's expiry is known (given by the processor or estimated from
    # the authorization window; NULL for a hold recorded before this rule, whose books stay as
    # recorded), and one row per authorization under the rule with the day it lapses. A row not
    # settled (released or charged) by then is the derived `hold-lapsed` movement of that day
    # (db/ledger.py, db/exports.py, services/report.py): never a ledger row, so no past month
    # changes when it is read, and the history replays as it did.
    Step(
        "m021_hold_lapses",
        sqlite=(
            "ALTER TABLE returns ADD COLUMN hold_estimated INTEGER",
            """CREATE TABLE hold_lapses (
            ledger_id INTEGER PRIMARY KEY REFERENCES ledger (id),  -- the hold-authorized row
            return_id INTEGER NOT NULL REFERENCES returns (id),
            lapses_on TEXT NOT NULL,                               -- its expiry
            amount_cents INTEGER NOT NULL,
            settled_on TEXT                  -- released or charged, on or before lapses_on
        )""",
            "CREATE INDEX hold_lapses_day ON hold_lapses (lapses_on, amount_cents) "
            "WHERE settled_on IS NULL",
            "CREATE INDEX hold_lapses_return ON hold_lapses (return_id)",
        ),
        postgres=(
            "ALTER TABLE returns ADD COLUMN hold_estimated INTEGER",
            """CREATE TABLE hold_lapses (
            ledger_id BIGINT PRIMARY KEY REFERENCES ledger (id),
            return_id BIGINT NOT NULL REFERENCES returns (id),
            lapses_on TEXT NOT NULL,
            amount_cents BIGINT NOT NULL,
            settled_on TEXT
        )""",
            "CREATE INDEX hold_lapses_day ON hold_lapses (lapses_on, amount_cents) "
            "WHERE settled_on IS NULL",
            "CREATE INDEX hold_lapses_return ON hold_lapses (return_id)",
            # an agent's `receive` settles a hold (db/roles.py grants the same to a new server)
            """DO $$ BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'speco_agent') THEN
    GRANT INSERT, UPDATE (settled_on) ON hold_lapses TO speco_agent;
  END IF;
END $$""",
        ),
    ),
]
