"""What `doctor` reads (integrity/): the same queries on both engines, but for the checks only
one engine has (SQLite's page and foreign-key checks; a server checks its own pages), said in
the open by `db.is_server`. Each query starts from the few rows it checks (reviews, sent
notices, open returns, held serials) and reaches the rest through an index, or streams the
rows doctor must read all of (the chains, the replay) in flat memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..domain import lifecycle
from ..domain.keys import NO_RA_NUMBER
from . import chain
from .derived import holds
from .returns import OPEN_SQL

if TYPE_CHECKING:
    from .connection import Database

MAX_ROWS = 1000  # problems listed at most by a query that names rows


def key_sql(db: Database, alias: str = "r") -> str:
    """A return's key as SQL, as domain.keys.key_of gives it."""
    return (f"CASE WHEN {alias}.type = 'counter' THEN {alias}.ticket WHEN {alias}.ra_no IS NULL "
            f"THEN '{NO_RA_NUMBER}' ELSE {db.engine.ra_text(f'{alias}.ra_no')} END")


# --- the storage (SQLite only: a server checks its own pages and keys) ---------------------


def integrity_check(db: Database) -> list[str]:
    """SQLite's full integrity check (every page, record and index entry): ["ok"] or what is wrong."""
    return [row[0] for row in db.all("PRAGMA integrity_check")]


def foreign_key_violations(db: Database) -> list:
    return db.all("PRAGMA foreign_key_check")


def server_version(db: Database) -> str:
    return db.scalar("SHOW server_version")


# --- counts and derived tables -----------------------------------------------------------------


def counts_by_type_and_status(db: Database) -> dict[str, int]:
    return {f"{type_} {status}": int(n) for type_, status, n in db.all(
        "SELECT type, status, count(*) FROM returns GROUP BY type, status ORDER BY type, status")}


def ledger_days_drift(db: Database) -> int:
    """Days on which ledger_days (kept by a trigger) no longer sums the ledger."""
    sums = """SELECT happened_on AS day, event, count(*), sum(amount_cents), sum(holds_change), sum(charges_change)
              FROM ledger GROUP BY happened_on, event"""
    kept = "SELECT day, event, rows, amount_cents, holds_change, charges_change FROM ledger_days"
    return int(db.scalar(f"""SELECT count(DISTINCT day) FROM (SELECT day FROM ({sums} EXCEPT {kept}) AS a
                             UNION ALL SELECT day FROM ({kept} EXCEPT {sums}) AS b) AS drift"""))


def serial_flags_disagreeing(db: Database) -> list:
    """(serial, return key, status, held) where serials.held disagrees with its return's state
    (SER-1): both halves read only held serials and open returns through their partial indexes."""
    if "held" not in db.columns("serials"):
        return []  # before m012
    key = key_sql(db)
    return db.all(f"""SELECT s.serial, {key}, r.status, s.held FROM serials s JOIN returns r ON r.id = s.return_id
                      WHERE s.held = 1 AND NOT ({holds('r.status')})
                      UNION ALL
                      SELECT s.serial, {key}, r.status, s.held FROM returns r JOIN serials s ON s.return_id = r.id
                      WHERE {holds('r.status')} AND s.held = 0""")


def duplicate_held_serials(db: Database) -> list:
    """(serial, how many open returns hold it): SER-1 broken past the index (an index dropped)."""
    if "held" not in db.columns("serials"):
        return []
    return db.all(f"""SELECT s.serial, count(*) FROM serials s JOIN returns r ON r.id = s.return_id
                      WHERE {holds('r.status')} GROUP BY s.serial HAVING count(*) > 1 ORDER BY s.serial
                      LIMIT {MAX_ROWS}""")


def returns_without_ra(db: Database) -> list:
    return db.all("SELECT id, type FROM returns WHERE ra_no IS NULL AND type != 'counter' ORDER BY id")


def ra_gaps(db: Database, limit: int = MAX_ROWS) -> list[int]:
    """RA numbers missing below the highest one issued (a return erased). Before m004 an RA
    number was the row id, so a counter return of then (no RA number) explains its id."""
    missing = db.scalar(
        """SELECT coalesce(max(ra_no), 0) - count(ra_no) - (SELECT count(*) FROM returns c WHERE c.ra_no IS NULL
               AND c.id <= (SELECT max(ra_no) FROM returns) AND NOT EXISTS (SELECT 1 FROM returns WHERE ra_no = c.id))
           FROM returns""")
    if not missing:
        return []
    top = db.scalar("SELECT max(ra_no) FROM returns")
    return [int(n) for (n,) in db.all(
        """WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?)
           SELECT x FROM n WHERE NOT EXISTS (SELECT 1 FROM returns WHERE ra_no = x)
             AND NOT EXISTS (SELECT 1 FROM returns WHERE id = x AND ra_no IS NULL) LIMIT ?""", [top, limit])]


def failed_notice_emails(db: Database) -> list:
    """(key, e-mail) of open returns whose notices failed (only those: cheap at a million)."""
    key = f"CASE WHEN type = 'counter' THEN ticket WHEN ra_no IS NOT NULL THEN {db.engine.ra_text('ra_no')} END"
    return db.all(f"""SELECT {key}, email FROM returns WHERE {OPEN_SQL}
                      AND id IN (SELECT return_id FROM notices WHERE state = 'failed') ORDER BY id""")


def hold_lapse_disagreements(db: Database) -> list:
    """(key, problem) of hold_lapses rows against the ledger and the history: one row per
    authorization whose hold was recorded with its expiry, at that expiry, for its amount;
    settled on the day of the first release or charge under its reference after it, and only
    then. A row missing, or marked settled wrongly, would move a `hold-lapsed` the report and
    the exports derive (db/ledger.py). The `hold` events are read as text and parsed here: one
    that is not JSON is the replay's to name, and stops nothing."""
    key = key_sql(db)
    # holds recorded with their expiry
    ruled = f"e.event = 'hold' AND {db.engine.contains('e.detail', _ESTIMATED)}"
    found, seen = [], {}
    rows = db.all(f"""
            SELECT {key}, h.ledger_id, h.lapses_on, h.amount_cents, h.settled_on, a.id, a.event,
                   a.return_id = h.return_id, a.amount_cents, a.hold_ref,
                   (SELECT s.happened_on FROM ledger s
                    WHERE s.return_id = h.return_id AND s.id > h.ledger_id
                      AND s.hold_ref = a.hold_ref AND s.event IN ('hold-released', 'charged')
                    ORDER BY s.id LIMIT 1),
                   e.detail
            FROM hold_lapses h LEFT JOIN ledger a ON a.id = h.ledger_id
                 JOIN returns r ON r.id = h.return_id
                 LEFT JOIN events e ON e.return_id = h.return_id AND {ruled}
            ORDER BY h.ledger_id""")
    for k, lid, lapses_on, cents, settled_on, aid, event, same_return, a_cents, ref, settled, \
            detail in rows:
        row = seen.setdefault(lid, {"key": k, "expiries": set(), "unread": False})
        hold = _ruled_hold(detail, ref)
        row["unread"] |= hold is False
        if hold:
            row["expiries"].add(hold)
        if aid is None or event != "hold-authorized" or not same_return or a_cents != cents:
            row["problem"] = "its lapse record is not of a hold authorized on its ledger"
        elif (settled_on or "") != (settled or ""):
            row["problem"] = (f"its lapse record says settled on {settled_on or 'no day'}, "
                              "its ledger otherwise")
        row["lapses_on"] = lapses_on
    for row in seen.values():
        if "problem" not in row and not row["unread"] and row["lapses_on"] not in row["expiries"]:
            row["problem"] = "its lapse record is not on its hold's expiry"
        if "problem" in row:
            found.append((row["key"], row["problem"]))
    for k, ref, detail in db.all(f"""
            SELECT {key}, a.hold_ref, e.detail FROM ledger a JOIN returns r ON r.id = a.return_id
              JOIN events e ON e.return_id = a.return_id AND {ruled}
            WHERE a.event = 'hold-authorized'
              AND NOT EXISTS (SELECT 1 FROM hold_lapses h WHERE h.ledger_id = a.id)"""):
        if _ruled_hold(detail, ref):
            found.append((k, f"its hold {ref} has no lapse record"))
    return found


_ESTIMATED = "'\"estimated\"'"  # the key every `hold` recorded under the lapse rule has


def _ruled_hold(detail: str | None, ref: str | None):
    """The expiry a `hold` event under `ref` recorded (with whether it was estimated), None when
    it is another hold's, False when its detail is not JSON."""
    try:
        d = json.loads(detail) if detail is not None else {}
    except ValueError:
        return False
    if not isinstance(d, dict) or d.get("ref") != ref or "estimated" not in d:
        return None
    return d.get("expires")


def review_disagreements(db: Database) -> list:
    """(key, problem) of reviews that disagree with their return's history: a review is
    undecided exactly while its return is a late return; it is made by a late `receive` on its
    day, for a charge on the ledger, and decided by the `refund` (refunded) or `complete`
    (charge stands) of its day; no late return is without its review."""
    key = key_sql(db)
    rows = db.all(f"""
        SELECT {key}, CASE
            WHEN (v.decided_on IS NULL) AND r.status != 'late-return'
              THEN 'its review is undecided, but the return is ' || r.status
            WHEN v.decided_on IS NOT NULL AND r.status = 'late-return'
              THEN 'its review is decided (' || coalesce(v.decision, 'no decision') || ' on ' || v.decided_on
                   || '), but the return is still a late return'
            WHEN NOT EXISTS (SELECT 1 FROM events e WHERE e.return_id = v.return_id AND e.happened_on = v.happened_on
                             AND e.event = 'receive')
              THEN 'its review (' || v.happened_on || ') has no late receive on that day in its history'
            WHEN NOT EXISTS (SELECT 1 FROM ledger l WHERE l.return_id = v.return_id AND l.event = 'charged'
                             AND l.amount_cents = v.amount_cents)
              THEN 'its review is of a charge its ledger does not hold'
            WHEN v.decided_on IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM events e WHERE e.return_id = v.return_id AND e.happened_on = v.decided_on
                AND e.event = CASE v.decision WHEN 'refunded' THEN 'refund' ELSE 'complete' END)
              THEN 'its review is decided (' || coalesce(v.decision, 'no decision') || ' on ' || v.decided_on
                   || ') without that decision in its history'
            END AS problem
        FROM reviews v JOIN returns r ON r.id = v.return_id
        UNION ALL
        SELECT {key}, 'it is a late return without an undecided review'
        FROM returns r{db.engine.indexed_by("returns_open")}
        WHERE {OPEN_SQL} AND r.status = 'late-return'
          AND NOT EXISTS (SELECT 1 FROM reviews v WHERE v.return_id = r.id AND v.decided_on IS NULL)""")
    return [(k, problem) for k, problem in rows if problem is not None]


def sent_notices_without_event(db: Database) -> list:
    """(key, kind, days, about) of notices recorded as sent whose `notice` event (with their
    Message-ID) is not in the history."""
    return db.all(f"""
        SELECT {key_sql(db)}, n.kind, n.days, n.about_on FROM notices n JOIN returns r ON r.id = n.return_id
        WHERE n.state = 'sent' AND NOT EXISTS (
            SELECT 1 FROM events e WHERE e.return_id = n.return_id AND e.event = 'notice'
            AND {db.engine.json_text("e.detail", "message_id")} = n.message_id)
        ORDER BY n.return_id, n.id""")


def notice_events_without_notice(db: Database) -> list:
    """(key, notice events) of returns with more `notice` events than notices recorded as sent
    (a row removed: the next `notify` sends it again). A scan of the history."""
    return db.all(f"""
        SELECT {key_sql(db)}, count(*) FROM events e JOIN returns r ON r.id = e.return_id WHERE e.event = 'notice'
        GROUP BY r.id, r.type, r.ticket, r.ra_no
        HAVING count(*) > (SELECT count(*) FROM notices n WHERE n.return_id = r.id AND n.state = 'sent')
        ORDER BY r.id""")


def malformed_history(db: Database, limit: int = MAX_ROWS) -> list:
    """(key, event id, event) of history rows whose detail is not a JSON object: a row the tool
    never wrote (`show` refuses the return in one line)."""
    ids = db.engine.details_not_objects(db.raw, limit)
    if not ids:
        return []
    return db.all(f"""SELECT {key_sql(db)}, e.id, e.event FROM events e LEFT JOIN returns r ON r.id = e.return_id
                      WHERE e.id IN ({', '.join(str(int(i)) for i in ids)}) ORDER BY e.id""")


def unexplained_changes(db: Database, limit: int) -> list:
    """A server's audited changes (db/changes.py) that no tool event of the same transaction
    explains, oldest first: (id, at, login, tbl, op, key, row_key, old, new), `key` the return's
    RA number or ticket where the row belongs to one. Through a partial index: cheap at any size."""
    from .changes import TABLE

    if not db.is_server or not db.engine.table_exists(db.raw, TABLE):
        return []
    ra = db.engine.ra_text("r.ra_no")
    return db.all(f"""SELECT a.id, a.at, a.login, a.tbl, a.op,
                             CASE WHEN r.type = 'counter' THEN r.ticket WHEN r.ra_no IS NOT NULL THEN {ra}
                                  WHEN a.return_id IS NOT NULL THEN 'return id ' || a.return_id ELSE a.row_key END AS key,
                             a.row_key, a.old, a.new
                      FROM {TABLE} a LEFT JOIN returns r ON r.id = a.return_id
                      WHERE NOT a.explained ORDER BY a.id LIMIT ?""", [limit])


def unexplained_count(db: Database) -> int:
    from .changes import TABLE

    return int(db.scalar(f"SELECT count(*) FROM {TABLE} WHERE NOT explained"))


def catalog_head(db: Database):
    return db.one("SELECT rows, hash FROM chain_heads WHERE name = 'catalog'")


# --- the hash chains -----------------------------------------------------------------------------


_NEWLINE = "'\n'"  # an SQL literal holding a line feed: the same in both engines' SQL


def chain_rows(db: Database, table: str) -> Iterator[tuple]:
    """(id, stored hash, the bytes its hash covers after the previous row's hash: a newline and
    the row's canonical text), in id order, as the database reads them."""
    canon = db.engine.canonical(db.kinds(table), chain.covered(db, table))
    return db.tuples(f"SELECT id, hash, {db.engine.as_bytes(_NEWLINE + ' || ' + canon)} FROM {table} ORDER BY id")


def chain_count(db: Database, table: str) -> int:
    return int(db.scalar(f"SELECT count(*) FROM {table}"))


def chain_head(db: Database, table: str):
    return db.one("SELECT last_id, rows, hash FROM chain_heads WHERE name = ?", [table])


def chain_triggers(db: Database) -> dict[str, str]:
    """SQLite's triggers by name, with their SQL (a server's are read by `schema_objects`)."""
    return {name: sql for name, sql in db.all("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")}


# --- the replay: each return with all it is compared with, and its history, side by side ----------

READS_DETAIL = ", ".join(f"'{e}'" for e in lifecycle._READS_DETAIL)
LIFE = 6  # where a replay row's history-decided columns start (lifecycle.Life's order)
HOLD = LIFE + len(lifecycle._LIFE_COLUMNS)  # then the items' hold, the record's text, the ledger rows,
RECORD, LEDGER = HOLD + 1, HOLD + 2  # the customer, its key and how many notices are recorded as sent
CUSTOMER, CUSTOMER_KEY, SENT = LEDGER + 1, LEDGER + 2, LEDGER + 3


def span(db: Database) -> tuple[int, int]:
    low, high = db.one("SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM returns")
    return int(low), int(high)


def returns_between(db: Database, after: int, upto: int) -> int:
    return int(db.scalar("SELECT count(*) FROM returns WHERE id > ? AND id <= ?", [after, upto]))


def replay_rows(db: Database, after: int, upto: int) -> Iterator[tuple]:
    """One row per return (ids after..upto) in id order: id, type, ra_no, ticket, opened_on,
    hold amount, the columns its history decides, its items' hold, the bytes its record digest
    covers (db.chain.records' text), its ledger rows (quoted as integrity.replay quotes moves),
    its customer and customer_key, and how many of its notices are recorded as sent. Each
    return's items, serials, ledger rows and notices are found through their indexes."""
    engine = db.engine

    def grouped(table: str, columns) -> str:
        text = engine.canonical(db.kinds(table), columns)
        return (f"coalesce((SELECT {engine.joined('c', ';')} FROM (SELECT {text} AS c "
                f"FROM {table} WHERE return_id = r.id ORDER BY id) AS g), '')")

    kinds = db.kinds("ledger")
    moves = "||','||".join(engine.quoted(c, kinds[c]) for c in ("event", "amount_cents", "hold_ref"))
    life = ", ".join(f"r.{c}" for c in lifecycle._LIFE_COLUMNS)
    record = (f"{engine.canonical(db.kinds('returns'), chain.RETURN_COLUMNS, 'r.')} || '|' || "
              f"{grouped('items', chain.ITEM_COLUMNS)} || '|' || {grouped('serials', chain.SERIAL_COLUMNS)}")
    return db.tuples(
        f"""SELECT r.id, r.type, r.ra_no, r.ticket, r.opened_on, r.hold_amount_cents, {life},
                   CASE WHEN r.type = 'advanced' THEN coalesce((SELECT sum(list_price_cents * qty) FROM items
                                                                WHERE return_id = r.id), 0) END,
                   {engine.as_bytes(record)},
                   (SELECT {engine.joined('m', ';')} FROM (SELECT {moves} AS m FROM ledger
                                                           WHERE return_id = r.id ORDER BY id) AS l),
                   r.customer, r.customer_key,
                   (SELECT count(*) FROM notices WHERE return_id = r.id AND state = 'sent')
            FROM returns r WHERE r.id > ? AND r.id <= ? ORDER BY r.id""", [after, upto])


def replay_events(db: Database, after: int, upto: int) -> Iterator[tuple]:
    """(event, happened_on, detail where the replay reads it, return_id, digest as bytes) of the
    returns after..upto, in return and id order."""
    return db.tuples(f"""SELECT event, happened_on, CASE WHEN event IN ({READS_DETAIL}) THEN detail END, return_id,
                                {db.engine.as_bytes('digest')}
                         FROM events WHERE return_id > ? AND return_id <= ? ORDER BY return_id, id""", [after, upto])


def orphan_ledger_returns(db: Database, after: int, upto: int) -> list[int]:
    return [rid for (rid,) in db.all("""SELECT DISTINCT return_id FROM ledger WHERE return_id > ? AND return_id <= ?
                                        AND return_id NOT IN (SELECT id FROM returns) ORDER BY 1""", [after, upto])]


def ledger_of(db: Database, return_id: int) -> list:
    return db.all("SELECT event, amount_cents, hold_ref FROM ledger WHERE return_id = ? ORDER BY id", [return_id])


def history_of_all(db: Database) -> tuple[Iterator, Iterator]:
    """Every return and every event, each in return order (an older schema's plain replay)."""
    return (db.execute("SELECT * FROM returns ORDER BY id"),
            db.execute("SELECT return_id, id, event, happened_on, detail FROM events ORDER BY return_id, id"))


# --- the schema ---------------------------------------------------------------------------------


def recorded_steps(db: Database) -> set[str]:
    from .connection import MIGRATION_SET

    return {n for (n,) in db.all(f"SELECT name FROM {db.engine.migrations_table} WHERE migration_set = ?",
                                 [MIGRATION_SET])}


def _normal(sql: str | None) -> str:
    return " ".join((sql or "").split())


def schema_objects(db: Database) -> dict[tuple[str, str], object]:
    """The schema as the database holds it. SQLite: every object's SQL (whitespace folded); a
    server: its triggers (table, function, enabled), indexes (table, unique, partial) and
    functions (their bodies) in this schema, the extensions' left out."""
    if not db.is_server:
        return {(kind, name): _normal(sql) for kind, name, sql in db.all(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%' "
            f"AND name != '{db.engine.migrations_table}'")}
    here = "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
    found: dict[tuple[str, str], object] = {}
    for name, table, function, enabled in db.all(
            f"""SELECT t.tgname, c.relname, p.proname, t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal AND c.relnamespace = {here}"""):
        found[("trigger", name)] = (table, function, enabled)
    for name, table, unique, partial in db.all(
            f"""SELECT i.relname, c.relname, x.indisunique, x.indpred IS NOT NULL FROM pg_index x
                JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
                WHERE c.relnamespace = {here} AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)"""):
        found[("index", name)] = (table, unique, partial)
    for name, source, kind in db.all(
            f"""SELECT p.proname, p.prosrc, p.prokind FROM pg_proc p WHERE p.pronamespace = {here}
                AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')"""):
        found.setdefault(("function", name), set()).add(None if kind == "a" else source)
    return found


def expected_sqlite_schema(recorded: set[str]) -> dict[tuple[str, str], str]:
    """The schema the recorded migrations make, made in a fresh in-memory database."""
    from .database import in_memory
    from .migrations import migrate

    fresh = in_memory()
    try:
        migrate(fresh, only=recorded)
        return schema_objects(fresh)
    finally:
        fresh.close()


# A server's objects, named by the statements that make them (the migrations', and db/roles.py's,
# which `admin roles --apply` adds, so they may be there or not).
_TRIGGER = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:CONSTRAINT\s+)?TRIGGER\s+(\w+)\s.*?\bON\s+(\w+)\s.*?EXECUTE\s+FUNCTION\s+(\w+)",
                      re.IGNORECASE | re.DOTALL)
_INDEX = re.compile(r"CREATE\s+(UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s+ON\s+(\w+)(.*)",
                    re.IGNORECASE | re.DOTALL)
_FUNCTION = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?(FUNCTION|AGGREGATE)\s+(\w+)\s*\(", re.IGNORECASE)
_BODY = re.compile(r"\bAS\s+(?:\$\$(.*?)\$\$|'((?:[^']|'')*)')", re.IGNORECASE | re.DOTALL)
_DROP = re.compile(r"DROP\s+(TRIGGER|INDEX|FUNCTION|AGGREGATE)\s+(?:IF\s+EXISTS\s+)?(?:\w+\.)?(\w+)", re.IGNORECASE)


def expected_server_schema(statements: list) -> dict[tuple[str, str], object]:
    """The triggers, indexes and functions `statements` leave, as a server stores them."""
    found: dict[tuple[str, str], object] = {}
    for statement in statements:
        if not isinstance(statement, str):
            continue
        sql = statement.strip()
        if drop := _DROP.match(sql):
            kind = "function" if drop.group(1).lower() == "aggregate" else drop.group(1).lower()
            found.pop((kind, drop.group(2)), None)
        elif m := _TRIGGER.match(sql):
            found[("trigger", m.group(1))] = (m.group(2), m.group(3), "O")
        elif m := _INDEX.match(sql):
            found[("index", m.group(2))] = (m.group(3), bool(m.group(1)), " WHERE " in m.group(4).upper())
        elif m := _FUNCTION.match(sql):
            body = _BODY.search(sql)
            text = None if m.group(1).upper() == "AGGREGATE" or body is None else (
                body.group(1) if body.group(1) is not None else body.group(2).replace("''", "'"))
            found.setdefault(("function", m.group(2)), set()).add(text)
    return found


def expected_schema(db: Database, recorded: set[str]) -> tuple[dict, dict]:
    """(what the recorded migrations make, what `admin roles --apply` may add) on this engine."""
    if not db.is_server:
        return expected_sqlite_schema(recorded), {}
    from . import roles
    from .migrations import STEPS

    made = expected_server_schema([s for step in STEPS if step.name in recorded for s in step.postgres])
    return made, expected_server_schema(roles.STATEMENTS)
