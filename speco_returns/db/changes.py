"""Every change on a team's server, attributed (m018): each INSERT, UPDATE and DELETE of returns,
items, serials, reviews, notices and the catalog is recorded in `speco_audit` (table, key,
login, transaction, what changed: old -> new) by a trigger running as the owner. No login may
write the table itself (its own trigger refuses a row that no audit trigger wrote, and any
UPDATE, DELETE or TRUNCATE).

The trigger runs at COMMIT (a deferred constraint trigger), when the whole transaction is known:
a change is `explained` when the tool made it (its writes mark their transaction,
`speco.writer`) and, for a return's own rows (returns, items, serials, reviews), when the same
transaction wrote a history event for that return, as every command does. A login that is not
the owner cannot commit an unexplained change to a return's rows: the server refuses it. The
owner's unexplained changes, and anyone's to notices and the catalog made outside the tool, stay
in the table, and `doctor` names each one (db/audit.py reads them, `wording` words them). The
catalog's history is read from it (`catalog history MODEL`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .guards import OWNER, SEARCH_PATH

if TYPE_CHECKING:
    from .connection import Database

TABLE = "speco_audit"
AUDITED = ("returns", "items", "serials", "reviews", "notices", "catalog")
WITH_HISTORY = ("returns", "items", "serials", "reviews")  # their changes come with an event
DERIVED = ("held",)  # kept by triggers from the return's state: not a change anyone made
WRITER = "speco.writer"  # the tool's mark on its write transactions (and migrations')

# True for a row this transaction wrote, in a savepoint as much as outside one (a savepoint's
# rows carry their own transaction id, given after this transaction's): the row's 32-bit xid at
# most 2^31 after ours (modulo 2^32), made an xid8 of our epoch, and in progress (a visible row of
# a transaction in progress is ours). Only then is the server asked, as it refuses an xid it has
# not given yet; a row between 2^31 and 2^32 transactions old could still look like one (the
# server's transaction ids are counted across all its databases: a team's own writes take
# centuries to get there, a server shared with busy databases less).
# (Lines longer than 100 columns close the string and go on in the next piece: the text, which a
# server keeps as the function's body, is byte for byte the same.)
OURS = ("""EXISTS (SELECT 1 FROM (SELECT top, (({xmin}::text::bigint - top % 4294967296)"""
        """ % 4294967296 + 4294967296)
                                   % 4294967296 AS d"""
        """ FROM (SELECT pg_current_xact_id()::text::bigint AS top) n) t
                  WHERE CASE WHEN t.d < 2147483648"""
        """ THEN pg_xact_status((t.top + t.d)::text::xid8) = 'in progress'
                             ELSE false END)""")

M018_POSTGRES = [
    f"""CREATE TABLE {TABLE} (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at TIMESTAMPTZ NOT NULL,
        txid BIGINT NOT NULL,
        login TEXT NOT NULL,
        tbl TEXT NOT NULL,
        op TEXT NOT NULL,
        return_id BIGINT,
        row_key TEXT,
        old JSONB,
        new JSONB,
        explained BOOLEAN NOT NULL
    )""",
    f"CREATE INDEX speco_audit_unexplained ON {TABLE} (id) WHERE NOT explained",
    f"CREATE INDEX speco_audit_catalog ON {TABLE} (lower(row_key), id) WHERE tbl = 'catalog'",
    """CREATE FUNCTION speco_audit_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'INSERT' AND pg_trigger_depth() > 1 THEN RETURN NEW; END IF;
         RAISE EXCEPTION 'the audit is written by the server''s triggers only (you are %)',"""
    """ session_user
           USING ERRCODE = 'insufficient_privilege';
       END $$""",
    f"""CREATE TRIGGER speco_audit_only BEFORE INSERT OR UPDATE OR DELETE ON {TABLE}
       FOR EACH ROW EXECUTE FUNCTION speco_audit_only()""",
    f"""CREATE TRIGGER speco_audit_no_truncate BEFORE TRUNCATE ON {TABLE}
       FOR EACH STATEMENT EXECUTE FUNCTION speco_audit_only()""",
    f"""CREATE FUNCTION speco_audit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER"""
    f""" {SEARCH_PATH} AS $$
       DECLARE
         was jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
         now_ jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
         whole jsonb := coalesce(to_jsonb(NEW), to_jsonb(OLD));
         rid bigint := CASE WHEN TG_TABLE_NAME = 'returns' THEN (whole ->> 'id')::bigint
                            WHEN TG_TABLE_NAME = 'catalog' THEN NULL"""
    f""" ELSE (whole ->> 'return_id')::bigint END;
         writer text := coalesce(current_setting('{WRITER}', true), '');
         ok boolean;
       BEGIN
         IF TG_OP = 'UPDATE' THEN  -- only what changed, derived columns aside
           SELECT jsonb_object_agg(o.key, o.value), jsonb_object_agg(o.key, now_ -> o.key)"""
    f""" INTO was, now_
             FROM jsonb_each(was) o WHERE o.value IS DISTINCT FROM now_ -> o.key
              AND o.key NOT IN ({', '.join(repr(c) for c in DERIVED)});
           IF was IS NULL THEN RETURN NULL; END IF;
         END IF;
         ok := writer = 'migration' OR (writer <> '' AND (TG_TABLE_NAME NOT IN"""
    f""" ({', '.join(repr(t) for t in WITH_HISTORY)})
               OR EXISTS (SELECT 1 FROM events e WHERE e.return_id = rid"""
    f""" AND {OURS.format(xmin='e.xmin')})));
         IF NOT ok AND TG_TABLE_NAME IN ({', '.join(repr(t) for t in WITH_HISTORY)})"""
    f""" AND NOT {OWNER} THEN
           RAISE EXCEPTION 'a change to % without its history event is refused:"""
    f""" use speco-returns (you are %)',
             TG_TABLE_NAME, session_user USING ERRCODE = 'insufficient_privilege';
         END IF;
         INSERT INTO {TABLE} (at, txid, login, tbl, op, return_id, row_key, old, new, explained)
         VALUES (now(), pg_current_xact_id()::text::bigint, session_user, TG_TABLE_NAME, TG_OP, rid,
                 CASE WHEN TG_TABLE_NAME = 'catalog' THEN whole ->> 'model'"""
    f""" ELSE whole ->> 'id' END, was, now_, ok);
         RETURN NULL;
       END $$""",
    *(f"""CREATE CONSTRAINT TRIGGER {table}_audit AFTER INSERT OR UPDATE OR DELETE ON {table}
          DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION speco_audit()"""
      for table in AUDITED),
    f"""CREATE FUNCTION speco_audit_truncate() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER"""
    f""" {SEARCH_PATH} AS $$
       BEGIN
         INSERT INTO {TABLE} (at, txid, login, tbl, op, explained)
         VALUES (now(), pg_current_xact_id()::text::bigint, session_user, TG_TABLE_NAME,"""
    f""" 'TRUNCATE', false);
         RETURN NULL;
       END $$""",
    *(f"""CREATE TRIGGER {table}_audit_truncate AFTER TRUNCATE ON {table}
          FOR EACH STATEMENT EXECUTE FUNCTION speco_audit_truncate()""" for table in AUDITED),
]
COPY_SKIPS = {table: [f"{table}_audit"] for table in AUDITED}


def catalog_history(db: Database, model: str) -> list:
    """A model's catalog changes, oldest first: (at, login, op, old, new, explained)."""
    if not db.is_server:
        return []
    return db.all(f"""SELECT at, login, op, old, new, explained FROM {TABLE}
                      WHERE tbl = 'catalog' AND lower(row_key) = lower(?) ORDER BY id""", [model])


# --- words (pure) -------------------------------------------------------------------------------

_NOUN = {"returns": "return", "items": "item", "serials": "serial", "reviews": "review",
         "notices": "notice", "catalog": "model"}


def _value(column: str, value: object) -> str:
    if value is None:
        return "(empty)"
    if column.endswith("_cents") and isinstance(value, int):
        sign, cents = ("-", -value) if value < 0 else ("", value)
        return f"{sign}{cents // 100}.{cents % 100:02d}"
    return str(value)


def _column(column: str) -> str:
    return column.removesuffix("_cents")


def changes(old: dict | None, new: dict | None) -> str:
    """`hold_amount 249.99 → 0.01; email a@x → b@y` from an UPDATE's changed columns."""
    old, new = old or {}, new or {}
    return "; ".join(f"{_column(c)} {_value(c, old.get(c))} → {_value(c, new.get(c))}"
                     for c in sorted(set(old) | set(new)))


def what(tbl: str, op: str, old: dict | None, new: dict | None) -> str:
    """What a change did, in words, without who or when."""
    row = new or old or {}
    noun = _NOUN.get(tbl, tbl)
    if op == "TRUNCATE":
        return f"every row of {tbl} deleted (TRUNCATE)"
    if op == "UPDATE":
        return (changes(old, new) if tbl != "serials"
                else f"serial {row.get('serial', '?')}: {changes(old, new)}")
    verb = "inserted" if op == "INSERT" else "deleted"
    if tbl == "serials":
        return f"serial {row.get('serial', '?')} {verb}"
    if tbl == "items":
        return f"item {row.get('model', '?')} x{row.get('qty', '?')} {verb}"
    if tbl == "catalog":
        price = row.get("list_price_cents")
        return (f"{verb} ({row.get('category', '?')}, "
                f"list price {_value('list_price_cents', price)})")
    return f"{noun} {verb}"


def when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M %Z").strip() if isinstance(at, datetime) else str(at)


def wording(key: str | None, tbl: str, op: str, login: str, at: datetime, old: dict | None,
            new: dict | None) -> str:
    """One problem line: `RA-000014: hold_amount 249.99 → 0.01 by agent1 at 2026-12-07 10:02 UTC,
    outside speco-returns`."""
    label = f"catalog {key}" if tbl == "catalog" else (key or tbl)
    return f"{label}: {what(tbl, op, old, new)} by {login} at {when(at)}, outside speco-returns"
