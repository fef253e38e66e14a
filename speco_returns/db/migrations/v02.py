"""Migrations m008-m013: the schema of 0.2 (a signed ledger, reviews, tamper evidence, search
indexes, SER-1 kept by the database, a stored customer key)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import derived
from .step import Step
from .v01 import _NO_TRUNCATE, _OPEN

if TYPE_CHECKING:
    from ..connection import Database

# the ledger's signs in 0.2
_SIGNS = {"hold-authorized": (1, 0), "hold-released": (-1, 0), "charged": (-1, 1)}


def change(i: int) -> str:
    """m008: a 0.1 ledger row's signed effect on holds (0) or on money kept (1)."""
    whens = " ".join(f"WHEN '{event}' THEN {s[i]} * amount_cents" for event, s in _SIGNS.items())
    return f"CASE event {whens} END"


def _chain_existing_rows(db: Database) -> None:
    """m010 on SQLite: the digests and both hash chains over the rows a desk already has (a new
    server database has none to chain)."""
    from ..chain import rebuild

    rebuild(db)


STEPS = [
    # Accounting that reconciles (SPEC §5). The ledger holds money movements only, each with
    # its signed effect on outstanding holds and on money kept, and takes `refunded` rows.
    # A late return is not a money movement: 0.1's `late-return` ledger rows move, every
    # column kept (and their old ledger id), to `reviews`: a charge awaiting a supervisor's
    # decision. SQLite cannot change a CHECK in place, so the ledger is rebuilt: the old
    # table is renamed away, the new one filled from it (same ids, same order), the old one
    # dropped (DROP TABLE fires no trigger; its append-only triggers go with it and are made
    # again on the new table).
    # 0.1 closed a late return with `complete --note` only, and no refund reached the
    # ledger: as the books stand, the charge stood (the note says what was decided).
    # A review is decided once; nothing else in it ever changes.
    # The ledger summed per day and event, kept by a trigger in the same transaction as
    # the row: `report` reads an opening balance from a few thousand days instead of
    # every ledger row before them. `doctor` checks it against the ledger.
    # `report` counts returns opened and closed in its range by type from these alone.
    Step(
        "m008_signed_ledger",
        sqlite=(
            "ALTER TABLE ledger RENAME TO ledger_v1",
            """CREATE TABLE ledger (
            id INTEGER PRIMARY KEY,
            return_id INTEGER NOT NULL REFERENCES returns (id),
            happened_on TEXT NOT NULL,
            event TEXT NOT NULL
                CHECK (event IN ('hold-authorized', 'hold-released', 'charged', 'refunded')),
            amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
            hold_ref TEXT,                        -- the processor's reference"""
            """ (a refund's own, for `refunded`)
            agent TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            holds_change INTEGER NOT NULL,        -- signed: + authorized, - released or charged
            charges_change INTEGER NOT NULL,      -- signed: + charged, - refunded
            reason TEXT                           -- why, where a supervisor decided (a refund)
        )""",
            f"""INSERT INTO ledger (id, return_id, happened_on, event, amount_cents, hold_ref,"""
            f""" agent, recorded_at,
                                holds_change, charges_change, reason)
            SELECT id, return_id, happened_on, event, amount_cents, hold_ref, agent, recorded_at,"""
            f""" {change(0)}, {change(1)},
                   reason
            FROM ledger_v1 WHERE event != 'late-return' ORDER BY id""",
            """CREATE TABLE reviews (
            id INTEGER PRIMARY KEY,
            return_id INTEGER NOT NULL REFERENCES returns (id),
            happened_on TEXT NOT NULL,            -- the day the late unit arrived
            amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),  -- the charge under review
            hold_ref TEXT,
            agent TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            ledger_id INTEGER,                    -- its id as a 0.1 `late-return` ledger row,"""
            """ else NULL
            decided_on TEXT,                      -- `refund` or `complete --note`
            decision TEXT CHECK (decision IN ('refunded', 'charge stands'))
        )""",
            """INSERT INTO reviews (return_id, happened_on, amount_cents, hold_ref, agent,"""
            """ recorded_at, ledger_id,
                                decided_on, decision)
            SELECT l.return_id, l.happened_on, l.amount_cents, l.hold_ref, l.agent,"""
            """ l.recorded_at, l.id, d.day,
                   CASE WHEN d.day IS NULL THEN NULL ELSE 'charge stands' END
            FROM ledger_v1 l LEFT JOIN (
                SELECT e.return_id, min(e.happened_on) AS day FROM events e"""
            """ WHERE e.event = 'complete' GROUP BY e.return_id
            ) d ON d.return_id = l.return_id AND d.day >= l.happened_on
            WHERE l.event = 'late-return' ORDER BY l.id""",
            "DROP TABLE ledger_v1",
            "CREATE INDEX ledger_happened_on ON ledger (happened_on)",
            "CREATE INDEX ledger_return ON ledger (return_id)",
            """CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END""",
            """CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END""",
            "CREATE INDEX reviews_return ON reviews (return_id)",
            "CREATE INDEX reviews_decided_on ON reviews (decided_on, happened_on)",
            """CREATE TRIGGER reviews_no_delete BEFORE DELETE ON reviews
            BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END""",
            """CREATE TRIGGER reviews_decided_once BEFORE UPDATE ON reviews
            WHEN OLD.decided_on IS NOT NULL OR NEW.return_id IS NOT OLD.return_id
              OR NEW.happened_on IS NOT OLD.happened_on OR NEW.amount_cents IS NOT OLD.amount_cents
              OR NEW.hold_ref IS NOT OLD.hold_ref OR NEW.agent IS NOT OLD.agent
              OR NEW.recorded_at IS NOT OLD.recorded_at OR NEW.ledger_id IS NOT OLD.ledger_id
            BEGIN SELECT RAISE(ABORT, 'a review is decided once and never edited'); END""",
            """CREATE TABLE ledger_days (
            day TEXT NOT NULL,
            event TEXT NOT NULL,
            rows INTEGER NOT NULL,
            amount_cents INTEGER NOT NULL,
            holds_change INTEGER NOT NULL,
            charges_change INTEGER NOT NULL,
            PRIMARY KEY (day, event)
        )""",
            """INSERT INTO ledger_days (day, event, rows, amount_cents, holds_change,"""
            """ charges_change)
            SELECT happened_on, event, count(*), sum(amount_cents), sum(holds_change),"""
            """ sum(charges_change)
            FROM ledger GROUP BY happened_on, event""",
            """CREATE TRIGGER ledger_days_add AFTER INSERT ON ledger BEGIN
            INSERT INTO ledger_days (day, event, rows, amount_cents, holds_change, charges_change)
            VALUES (NEW.happened_on, NEW.event, 1, NEW.amount_cents, NEW.holds_change,"""
            """ NEW.charges_change)
            ON CONFLICT (day, event) DO UPDATE SET
              rows = rows + 1, amount_cents = amount_cents + excluded.amount_cents,
              holds_change = holds_change + excluded.holds_change,
              charges_change = charges_change + excluded.charges_change;
        END""",
            "CREATE INDEX returns_opened_type ON returns (opened_on, type)",
            "CREATE INDEX returns_closed_type ON returns (closed_on, type)",
        ),
        postgres=(
            "ALTER TABLE ledger DROP CONSTRAINT ledger_event_check",
            "ALTER TABLE ledger ADD CONSTRAINT ledger_event_check"
        " CHECK (event IN ('hold-authorized', 'hold-released', 'charged', 'refunded'))",
            "ALTER TABLE ledger ADD COLUMN holds_change BIGINT NOT NULL",
            "ALTER TABLE ledger ADD COLUMN charges_change BIGINT NOT NULL",
            "ALTER TABLE ledger ADD COLUMN reason TEXT",
            "CREATE INDEX ledger_return ON ledger (return_id)",
            """CREATE TABLE reviews (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            return_id BIGINT NOT NULL REFERENCES returns (id),
            happened_on TEXT NOT NULL,
            amount_cents BIGINT NOT NULL CHECK (amount_cents >= 0),
            hold_ref TEXT,
            agent TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            ledger_id BIGINT,
            decided_on TEXT,
            decision TEXT CHECK (decision IN ('refunded', 'charge stands'))
        )""",
            "CREATE INDEX reviews_return ON reviews (return_id)",
            "CREATE INDEX reviews_decided_on ON reviews (decided_on, happened_on)",
            """CREATE FUNCTION speco_review_decided_once() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF TG_OP = 'DELETE' THEN
               RAISE EXCEPTION 'reviews are append-only'"""
            """ USING ERRCODE = 'integrity_constraint_violation';
             END IF;
             IF OLD.decided_on IS NOT NULL OR (NEW.return_id, NEW.happened_on, NEW.amount_cents,"""
            """ NEW.hold_ref, NEW.agent,
                 NEW.recorded_at, NEW.ledger_id) IS DISTINCT FROM (OLD.return_id,"""
            """ OLD.happened_on, OLD.amount_cents,
                 OLD.hold_ref, OLD.agent, OLD.recorded_at, OLD.ledger_id) THEN
               RAISE EXCEPTION 'a review is decided once and never edited'"""
            """ USING ERRCODE = 'integrity_constraint_violation';
             END IF;
             RETURN NEW;
           END $$""",
            """CREATE TRIGGER reviews_decided_once BEFORE UPDATE OR DELETE ON reviews
           FOR EACH ROW EXECUTE FUNCTION speco_review_decided_once()""",
            _NO_TRUNCATE.format(table="reviews", message="reviews are append-only"),
            """CREATE TABLE ledger_days (
            day TEXT NOT NULL,
            event TEXT NOT NULL,
            rows BIGINT NOT NULL,
            amount_cents BIGINT NOT NULL,
            holds_change BIGINT NOT NULL,
            charges_change BIGINT NOT NULL,
            PRIMARY KEY (day, event)
        )""",
            """CREATE FUNCTION speco_ledger_days_add() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             INSERT INTO ledger_days AS d (day, event, rows, amount_cents, holds_change,"""
            """ charges_change)
             VALUES (NEW.happened_on, NEW.event, 1, NEW.amount_cents, NEW.holds_change,"""
            """ NEW.charges_change)
             ON CONFLICT (day, event) DO UPDATE SET
               rows = d.rows + 1, amount_cents = d.amount_cents + excluded.amount_cents,
               holds_change = d.holds_change + excluded.holds_change,
               charges_change = d.charges_change + excluded.charges_change;
             RETURN NEW;
           END $$""",
            """CREATE TRIGGER ledger_days_add AFTER INSERT ON ledger
           FOR EACH ROW EXECUTE FUNCTION speco_ledger_days_add()""",
            "CREATE INDEX returns_opened_type ON returns (opened_on, type)",
            "CREATE INDEX returns_closed_type ON returns (closed_on, type)",
        ),
    ),

    # Tab completion offers the RA numbers and tickets of open returns that start with what
    # was typed: a range over these reads only matching open returns, never the whole table.
    # The WHERE is db.returns.OPEN_SQL word for word (the planner matches it literally).
    Step(
        "m009_open_keys_indexes",
        sqlite=(
            "CREATE INDEX returns_open_ra ON returns (ra_no) "
            "WHERE status NOT IN ('completed', 'cancelled', 'charged')",
            "CREATE INDEX returns_open_ticket ON returns (ticket) "
            "WHERE status NOT IN ('completed', 'cancelled', 'charged')",
        ),
        postgres=(
            f"CREATE INDEX returns_open_ra ON returns (ra_no) WHERE {_OPEN}",
            f"CREATE INDEX returns_open_ticket ON returns (ticket) WHERE {_OPEN}",
        ),
    ),

    # Hash chains over events and the ledger, heads kept outside them, a digest of each
    # return's record in its latest event, and triggers that refuse REPLACE (see chain.py).
    # `schema_info` tells an older tool who upgraded the database and what it may read.
    Step(
        "m010_tamper_evidence",
        sqlite=(
            "ALTER TABLE events ADD COLUMN digest TEXT",
            "ALTER TABLE events ADD COLUMN hash TEXT",
            "ALTER TABLE ledger ADD COLUMN hash TEXT",
            "CREATE TABLE chain_heads (name TEXT PRIMARY KEY, last_id INTEGER NOT NULL, "
            "rows INTEGER NOT NULL, hash TEXT)",
            "CREATE TABLE schema_info (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            _chain_existing_rows,
        ),
        postgres=(
            "ALTER TABLE events ADD COLUMN digest TEXT",
            "ALTER TABLE events ADD COLUMN hash TEXT",
            "ALTER TABLE ledger ADD COLUMN hash TEXT",
            "CREATE TABLE chain_heads (name TEXT PRIMARY KEY, last_id BIGINT NOT NULL, "
            "rows BIGINT NOT NULL, hash TEXT)",
            "CREATE TABLE schema_info (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ),
    ),

    # `list --search` reads every field it matches through an index (search.py): customer and
    # ticket have theirs; these add e-mail, phone digits, hold references and tracking numbers.
    # The phone and tracking expressions are search.PHONE_DIGITS and search.TRACKING word for word.
    Step(
        "m011_search_indexes",
        sqlite=(
            "CREATE INDEX returns_email ON returns (email COLLATE NOCASE) WHERE email IS NOT NULL",
            "CREATE INDEX returns_phone_digits ON returns "
            "(replace(replace(replace(replace(replace(replace("
            "phone, ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '+', '')) "
            "WHERE phone IS NOT NULL",
            "CREATE INDEX ledger_hold_ref ON ledger (hold_ref COLLATE NOCASE) "
            "WHERE hold_ref IS NOT NULL",
            "CREATE INDEX events_tracking ON events "
            "(json_extract(detail, '$.tracking') COLLATE NOCASE)"
            " WHERE event IN ('ship', 'unit-shipped')",
        ),
        postgres=(
            "CREATE COLLATION IF NOT EXISTS nocase "
            "(provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
            "CREATE INDEX returns_email ON returns (email COLLATE nocase) WHERE email IS NOT NULL",
            "CREATE INDEX returns_phone_digits ON returns "
            "(replace(replace(replace(replace(replace(replace("
            "phone, ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '+', '')) "
            "WHERE phone IS NOT NULL",
            "CREATE INDEX ledger_hold_ref ON ledger (hold_ref COLLATE nocase) "
            "WHERE hold_ref IS NOT NULL",
            "CREATE INDEX events_tracking ON events "
            "((json_extract(detail, '$.tracking')) COLLATE nocase)"
            " WHERE event IN ('ship', 'unit-shipped')",
            "CREATE INDEX returns_customer_nocase ON returns (customer COLLATE nocase)",
        ),
    ),

    # SER-1 kept by the database too: serials.held, 1 while the serial's return holds
    # it, kept by triggers; a partial UNIQUE index over the held serials. See derived.py.
    Step(
        "m012_ser1_index",
        sqlite=(
            *derived.M012_SQLITE,
        ),
        postgres=(
            *derived.M012_POSTGRES,
        ),
    ),

    # The customer's name casefolded by Python, stored: VR-2 and `list --customer`
    # compare it, so SQLite and a server agree. Back-filled here in Python (derived.py).
    Step(
        "m013_customer_key",
        sqlite=(
            "ALTER TABLE returns ADD COLUMN customer_key TEXT",
            # Python's casefold, in batches: no SQL function equals it
            derived.backfill_customer_keys,
            "CREATE INDEX returns_customer_key ON returns (customer_key, opened_on)",
        ),
        postgres=(
            "ALTER TABLE returns ADD COLUMN customer_key TEXT",
            derived.backfill_customer_keys,
            "CREATE INDEX returns_customer_key ON returns (customer_key, opened_on)",
            "DROP INDEX IF EXISTS returns_customer",
        ),
    ),
]
