"""Numbered schema migrations, applied by `store.Store` on first use of a newer version.

An applied migration is never edited: a schema change is a new `mNNN_` function, and
`store.SCHEMA_VERSION` counts them. Only imported when the database is behind, since
sqlite-utils costs startup time.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("speco-returns")


def _run(db: Database, *statements: str) -> None:
    # Not executescript(): it COMMITs first, breaking the BEGIN IMMEDIATE we run under.
    for statement in statements:
        db.execute(statement)


@migrations()
def m001_catalog(db: Database) -> None:
    _run(
        db,
        """CREATE TABLE catalog (
            model TEXT PRIMARY KEY COLLATE NOCASE,
            description TEXT,
            category TEXT NOT NULL
                CHECK (category IN ('camera', 'ptz', 'specialty', 'recorder', 'other')),
            list_price_cents INTEGER CHECK (list_price_cents >= 0),
            updated_at TEXT NOT NULL
        )""",
    )


@migrations()
def m002_returns(db: Database) -> None:
    # No column anywhere holds a card number: a hold is an amount and a reference.
    _run(
        db,
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
    )


@migrations()
def m003_overdue_indexes(db: Database) -> None:
    # The nightly check reads open advanced returns (and those closed after its as-of
    # date, for a re-run of a past night) through these, never the whole table.
    _run(
        db,
        """CREATE INDEX returns_advanced_open ON returns (id)
            WHERE type = 'advanced' AND status NOT IN ('completed', 'cancelled', 'charged')""",
        "CREATE INDEX returns_advanced_closed ON returns (closed_on) WHERE type = 'advanced'",
    )


@migrations()
def m004_ra_numbers(db: Database) -> None:
    # RA numbers get their own sequence, so a counter return (keyed by its ticket, with no
    # RA) leaves no gap. Numbers already issued are kept: they equal the row id.
    _run(
        db,
        "ALTER TABLE returns ADD COLUMN ra_no INTEGER",
        "UPDATE returns SET ra_no = id WHERE type != 'counter'",
        "CREATE UNIQUE INDEX returns_ra_no ON returns (ra_no)",
    )


@migrations()
def m005_open_returns_index(db: Database) -> None:
    # `list` shows open returns by default: read them through this, not the whole table.
    # The WHERE is store.OPEN_SQL word for word (the planner matches it literally).
    _run(db, "CREATE INDEX returns_open ON returns (id) WHERE status NOT IN ('completed', 'cancelled', 'charged')")


@migrations()
def m006_policy_gaps(db: Database) -> None:
    # A lost parcel's charge keeps the supervisor's reason on its ledger row (issue 10).
    # A re-authorized hold now bounds later event dates like a state change (SPEC §3): bring
    # last_event_on up to the latest hold of each return recorded before this version.
    if "reason" not in db["ledger"].columns_dict:  # the signed-ledger rebuild (issue 12) may have made it
        _run(db, "ALTER TABLE ledger ADD COLUMN reason TEXT")
    _run(
        db,
        """UPDATE returns SET last_event_on = (
               SELECT max(happened_on) FROM events e WHERE e.return_id = returns.id AND e.event = 'hold')
           WHERE type = 'advanced' AND last_event_on < (
               SELECT max(happened_on) FROM events e WHERE e.return_id = returns.id AND e.event = 'hold')""",
    )


@migrations()
def m007_notices(db: Database) -> None:
    # One row per e-mail notice (notices.py): its claim while it is being sent, then that it
    # was sent. UNIQUE makes each (return, kind, days, about) at most one row, so two `notify`
    # runs cannot both claim it. The history gets a `notice` event when it is sent.
    _run(
        db,
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
    )


@migrations()
def m008_signed_ledger(db: Database) -> None:
    # Accounting that reconciles (SPEC §5). The ledger holds money movements only, each with
    # its signed effect on outstanding holds and on money kept, and takes `refunded` rows.
    # A late return is not a money movement: 0.1's `late-return` ledger rows move, every
    # column kept (and their old ledger id), to `reviews`: a charge awaiting a supervisor's
    # decision. SQLite cannot change a CHECK in place, so the ledger is rebuilt: the old
    # table is renamed away, the new one filled from it (same ids, same order), the old one
    # dropped (DROP TABLE fires no trigger; its append-only triggers go with it and are made
    # again on the new table).
    signs = {"hold-authorized": (1, 0), "hold-released": (-1, 0), "charged": (-1, 1)}  # policy.LEDGER_SIGNS in 0.2

    def change(i: int) -> str:
        whens = " ".join(f"WHEN '{event}' THEN {s[i]} * amount_cents" for event, s in signs.items())
        return f"CASE event {whens} END"

    _run(
        db,
        "ALTER TABLE ledger RENAME TO ledger_v1",
        """CREATE TABLE ledger (
            id INTEGER PRIMARY KEY,
            return_id INTEGER NOT NULL REFERENCES returns (id),
            happened_on TEXT NOT NULL,
            event TEXT NOT NULL
                CHECK (event IN ('hold-authorized', 'hold-released', 'charged', 'refunded')),
            amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
            hold_ref TEXT,                        -- the processor's reference (a refund's own, for `refunded`)
            agent TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            holds_change INTEGER NOT NULL,        -- signed: + authorized, - released or charged
            charges_change INTEGER NOT NULL,      -- signed: + charged, - refunded
            reason TEXT                           -- why, where a supervisor decided (a refund)
        )""",
        f"""INSERT INTO ledger (id, return_id, happened_on, event, amount_cents, hold_ref, agent, recorded_at,
                                holds_change, charges_change, reason)
            SELECT id, return_id, happened_on, event, amount_cents, hold_ref, agent, recorded_at, {change(0)}, {change(1)},
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
            ledger_id INTEGER,                    -- its id as a 0.1 `late-return` ledger row, else NULL
            decided_on TEXT,                      -- `refund` or `complete --note`
            decision TEXT CHECK (decision IN ('refunded', 'charge stands'))
        )""",
        # 0.1 closed a late return with `complete --note` only, and no refund reached the
        # ledger: as the books stand, the charge stood (the note says what was decided).
        """INSERT INTO reviews (return_id, happened_on, amount_cents, hold_ref, agent, recorded_at, ledger_id,
                                decided_on, decision)
            SELECT l.return_id, l.happened_on, l.amount_cents, l.hold_ref, l.agent, l.recorded_at, l.id, d.day,
                   CASE WHEN d.day IS NULL THEN NULL ELSE 'charge stands' END
            FROM ledger_v1 l LEFT JOIN (
                SELECT e.return_id, min(e.happened_on) AS day FROM events e WHERE e.event = 'complete' GROUP BY e.return_id
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
        # A review is decided once; nothing else in it ever changes.
        """CREATE TRIGGER reviews_decided_once BEFORE UPDATE ON reviews
            WHEN OLD.decided_on IS NOT NULL OR NEW.return_id IS NOT OLD.return_id
              OR NEW.happened_on IS NOT OLD.happened_on OR NEW.amount_cents IS NOT OLD.amount_cents
              OR NEW.hold_ref IS NOT OLD.hold_ref OR NEW.agent IS NOT OLD.agent
              OR NEW.recorded_at IS NOT OLD.recorded_at OR NEW.ledger_id IS NOT OLD.ledger_id
            BEGIN SELECT RAISE(ABORT, 'a review is decided once and never edited'); END""",
        # The ledger summed per day and event, kept by a trigger in the same transaction as
        # the row: `report` reads an opening balance from a few thousand days instead of
        # every ledger row before them. `doctor` checks it against the ledger.
        """CREATE TABLE ledger_days (
            day TEXT NOT NULL,
            event TEXT NOT NULL,
            rows INTEGER NOT NULL,
            amount_cents INTEGER NOT NULL,
            holds_change INTEGER NOT NULL,
            charges_change INTEGER NOT NULL,
            PRIMARY KEY (day, event)
        )""",
        """INSERT INTO ledger_days (day, event, rows, amount_cents, holds_change, charges_change)
            SELECT happened_on, event, count(*), sum(amount_cents), sum(holds_change), sum(charges_change)
            FROM ledger GROUP BY happened_on, event""",
        """CREATE TRIGGER ledger_days_add AFTER INSERT ON ledger BEGIN
            INSERT INTO ledger_days (day, event, rows, amount_cents, holds_change, charges_change)
            VALUES (NEW.happened_on, NEW.event, 1, NEW.amount_cents, NEW.holds_change, NEW.charges_change)
            ON CONFLICT (day, event) DO UPDATE SET
              rows = rows + 1, amount_cents = amount_cents + excluded.amount_cents,
              holds_change = holds_change + excluded.holds_change,
              charges_change = charges_change + excluded.charges_change;
        END""",
        # `report` counts returns opened and closed in its range by type from these alone.
        "CREATE INDEX returns_opened_type ON returns (opened_on, type)",
        "CREATE INDEX returns_closed_type ON returns (closed_on, type)",
    )


@migrations()
def m009_open_keys_indexes(db: Database) -> None:
    # Tab completion offers the RA numbers and tickets of open returns that start with what
    # was typed: a range over these reads only matching open returns, never the whole table.
    # The WHERE is store.OPEN_SQL word for word (the planner matches it literally).
    _run(
        db,
        "CREATE INDEX returns_open_ra ON returns (ra_no) WHERE status NOT IN ('completed', 'cancelled', 'charged')",
        "CREATE INDEX returns_open_ticket ON returns (ticket) WHERE status NOT IN ('completed', 'cancelled', 'charged')",
    )


@migrations()
def m010_tamper_evidence(db: Database) -> None:
    # Hash chains over events and the ledger, heads kept outside them, a digest of each
    # return's record in its latest event, and triggers that refuse REPLACE (see chain.py).
    # `schema_info` tells an older tool who upgraded the database and what it may read.
    from .chain import rebuild

    _run(
        db,
        "ALTER TABLE events ADD COLUMN digest TEXT",
        "ALTER TABLE events ADD COLUMN hash TEXT",
        "ALTER TABLE ledger ADD COLUMN hash TEXT",
        "CREATE TABLE chain_heads (name TEXT PRIMARY KEY, last_id INTEGER NOT NULL, rows INTEGER NOT NULL, hash TEXT)",
        "CREATE TABLE schema_info (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    )
    rebuild(db.conn)


@migrations()
def m011_search_indexes(db: Database) -> None:
    # `list --search` reads every field it matches through an index (search.py): customer and
    # ticket have theirs; these add e-mail, phone digits, hold references and tracking numbers.
    # The phone and tracking expressions are search.PHONE_DIGITS and search.TRACKING word for word.
    _run(
        db,
        "CREATE INDEX returns_email ON returns (email COLLATE NOCASE) WHERE email IS NOT NULL",
        "CREATE INDEX returns_phone_digits ON returns (replace(replace(replace(replace(replace(replace("
        "phone, ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '+', '')) WHERE phone IS NOT NULL",
        "CREATE INDEX ledger_hold_ref ON ledger (hold_ref COLLATE NOCASE) WHERE hold_ref IS NOT NULL",
        "CREATE INDEX events_tracking ON events (json_extract(detail, '$.tracking') COLLATE NOCASE)"
        " WHERE event IN ('ship', 'unit-shipped')",
    )


@migrations()
def m012_ser1_index(db: Database) -> None:
    # SER-1 kept by the database too (issue 14): serials.held, 1 while the serial's return holds
    # it, kept by triggers; a partial UNIQUE index over the held serials. See derived.py.
    from .derived import M012_SQLITE

    _run(db, *M012_SQLITE)


@migrations()
def m013_customer_key(db: Database) -> None:
    # The customer's name casefolded by Python, stored (issue 14): VR-2 and `list --customer`
    # compare it, so SQLite and a server agree. Back-filled here in Python (derived.py).
    from .derived import backfill_customer_keys

    _run(db, "ALTER TABLE returns ADD COLUMN customer_key TEXT")
    backfill_customer_keys(db.conn)
    _run(db, "CREATE INDEX returns_customer_key ON returns (customer_key, opened_on)")


@migrations()
def m014_catalog_digest(db: Database) -> None:
    # The catalog's digest beside the chains' heads (chain.record_catalog): `doctor` names a
    # price or category changed outside the tool.
    from .chain import record_catalog

    record_catalog(db.conn)
