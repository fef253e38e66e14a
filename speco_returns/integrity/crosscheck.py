"""What `doctor` checks directly, on both backends, beside the chains and the replay: the tables
outside the chains that change what the tool does, each compared with what it derives from,
and the schema compared with what the migrations make.

- `reviews`: a review is made by a late `receive` (after the charge) and decided by the
  `refund` or `complete` that closes the late return; its return's history says both.
- `notices`: a notice recorded as sent has a `notice` event carrying its Message-ID.
- the schema: SQLite's against a fresh in-memory database migrated by the same recorded
  migrations; a server's against the objects its migrations' statements name. Every migration
  below the newest recorded one must be recorded too.

Each query starts from the few rows it checks (reviews, sent notices, open returns) and
reaches the rest through an index: cheap at a million returns.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..db.returns import OPEN_SQL
from ..domain.keys import NO_RA_NUMBER

if TYPE_CHECKING:
    from ..db.connection import Database

MAX_NAMED = 5


def _line(what: str, rows: list, fix: str) -> list[str]:
    if not rows:
        return []
    named = "; ".join(f"{key}: {problem}" for key, problem in rows[:MAX_NAMED])
    return [f"{len(rows)} {what}: {named}{' ...' if len(rows) > MAX_NAMED else ''} ({fix})"]


def _key(db: Database) -> str:
    """A return's key as SQL, as domain.keys.key_of gives it."""
    return (f"CASE WHEN r.type = 'counter' THEN r.ticket WHEN r.ra_no IS NULL THEN '{NO_RA_NUMBER}' "
            f"ELSE {db.engine.ra_text('r.ra_no')} END")


def review_problems(conn: Database) -> list[str]:
    """A review undecided exactly while its return is a late return; each made by a late
    `receive` on its day, for a charge on the ledger; each decision by a `refund` (refunded)
    or `complete` (charge stands) on its day; no late return without its review."""
    key = _key(conn)
    rows = conn.all(f"""
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
        FROM returns r{conn.engine.indexed_by("returns_open")}
        WHERE {OPEN_SQL} AND r.status = 'late-return'
          AND NOT EXISTS (SELECT 1 FROM reviews v WHERE v.return_id = r.id AND v.decided_on IS NULL)""")
    found = [(key, problem) for key, problem in rows if problem is not None]
    return _line("review(s) disagree with their return's history", found,
                 "`report` counts reviews; restore from a backup")


def notice_problems(conn: Database) -> list[str]:
    """Each notice recorded as sent has the `notice` event `notify` wrote with it (its Message-ID)."""
    rows = conn.all(f"""
        SELECT {_key(conn)}, n.kind, n.days, n.about_on FROM notices n JOIN returns r ON r.id = n.return_id
        WHERE n.state = 'sent' AND NOT EXISTS (
            SELECT 1 FROM events e WHERE e.return_id = n.return_id AND e.event = 'notice'
            AND {conn.engine.json_text("e.detail", "message_id")} = n.message_id)
        ORDER BY n.return_id, n.id""")
    found = [(key, f"notice {kind}{f' {days}d' if kind == 'reminder' else ''} about {about} is recorded as sent, "
                   "but its history has no `notice` event with its Message-ID")
             for key, kind, days, about in rows]
    return _line("notice(s) recorded as sent were never recorded in a history", found,
                 "such a notice may never have been sent: `notify` will not send it")


def unrecorded_notice_problems(conn: Database) -> list[str]:
    """`notice` events without their sent notice (its row removed: the next `notify` sends it
    again). A scan of the history: at the current schema on SQLite the replay counts them."""
    rows = conn.all(f"""
        SELECT {_key(conn)}, count(*) FROM events e JOIN returns r ON r.id = e.return_id WHERE e.event = 'notice'
        GROUP BY r.id, r.type, r.ticket, r.ra_no
        HAVING count(*) > (SELECT count(*) FROM notices n WHERE n.return_id = r.id AND n.state = 'sent')
        ORDER BY r.id""")
    return _line("return(s) have `notice` events without their sent notice", [(k, unrecorded(n)) for k, n in rows],
                 "the next `notify` sends those again")


def unrecorded(events: int) -> str:
    return f"its history has {events} `notice` event(s), more than its notices recorded as sent"


# --- the schema --------------------------------------------------------------------------------


def migration_problems(recorded: set[str], known: list[str]) -> list[str]:
    """Every migration up to the newest one recorded must be recorded (a row removed: the next
    write would apply that migration again, and fail)."""
    upto = max((known.index(n) for n in recorded if n in known), default=-1)
    gaps = [n for n in known[:upto + 1] if n not in recorded]
    if not gaps:
        return []
    return [f"migration(s) {', '.join(gaps)} not recorded, though later ones are: its record was removed outside the "
            "tool, and every write would fail applying it again; restore from a backup"]


def _normal(sql: str | None) -> str:
    return " ".join((sql or "").split())


def _sqlite_objects(conn: Database) -> dict[tuple[str, str], str]:
    return {(kind, name): _normal(sql) for kind, name, sql in conn.all(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%' AND name != '_sqlite_migrations'")}


def sqlite_expected(recorded: set[str]) -> dict[tuple[str, str], str]:
    """The schema the recorded migrations make, made in a fresh in-memory database."""
    from ..db.database import in_memory
    from ..db.migrations import migrate

    fresh = in_memory()
    try:
        migrate(fresh, only=recorded)
        return _sqlite_objects(fresh)
    finally:
        fresh.close()


def _differences(expected: dict, actual: dict, skip: set[str]) -> list[str]:
    out = []
    for kind, name in sorted({*expected, *actual}):
        if name in skip:
            continue
        if (kind, name) not in actual:
            out.append(f"missing {kind} {name}")
        elif (kind, name) not in expected:
            out.append(f"{kind} {name} is not the tool's")
        elif actual[kind, name] != expected[kind, name]:
            out.append(f"{kind} {name} is changed")
    return out


def _schema_line(differences: list[str], count: int) -> list[str]:
    if not differences:
        return []
    return [f"the schema is not what its {count} recorded migration(s) make: {'; '.join(differences[:10])}"
            f"{' ...' if len(differences) > 10 else ''} (changed outside the tool, or a migration's record removed)"]


def recorded_steps(conn: Database) -> set[str]:
    from ..db.connection import MIGRATION_SET

    return {n for (n,) in conn.all(f"SELECT name FROM {conn.engine.migrations_table} WHERE migration_set = ?",
                                   [MIGRATION_SET])}


def sqlite_schema_problems(conn: Database, skip: set[str] = frozenset()) -> tuple[list[str], list[str]]:
    """(problems, differences) of a SQLite database against its recorded migrations."""
    from ..db.migrations import STEPS

    recorded = recorded_steps(conn)
    problems = migration_problems(recorded, [step.name for step in STEPS])
    try:
        expected = sqlite_expected(recorded)
    except Exception as e:  # noqa: BLE001 - recorded migrations that cannot run alone (a gap): named above
        return problems or [f"the recorded migrations cannot be replayed ({e})"], []
    differences = _differences(expected, _sqlite_objects(conn), set(skip))
    return problems + _schema_line(differences, len(recorded)), differences


# A server's objects, named by the statements that make them (the migrations', and db/roles.py's,
# which `admin roles --apply` adds, so they may be there or not).
_TRIGGER = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?TRIGGER\s+(\w+)\s.*?\bON\s+(\w+)\s.*?EXECUTE\s+FUNCTION\s+(\w+)",
                      re.IGNORECASE | re.DOTALL)
_INDEX = re.compile(r"CREATE\s+(UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s+ON\s+(\w+)(.*)", re.IGNORECASE | re.DOTALL)
_FUNCTION = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?(FUNCTION|AGGREGATE)\s+(\w+)\s*\(", re.IGNORECASE)
_BODY = re.compile(r"\bAS\s+(?:\$\$(.*?)\$\$|'((?:[^']|'')*)')", re.IGNORECASE | re.DOTALL)
_DROP = re.compile(r"DROP\s+(TRIGGER|INDEX|FUNCTION|AGGREGATE)\s+(?:IF\s+EXISTS\s+)?(?:\w+\.)?(\w+)", re.IGNORECASE)


def server_expected(statements: list) -> dict[tuple[str, str], object]:
    """The triggers, indexes and functions `statements` leave, as the server stores them."""
    found: dict[tuple[str, str], object] = {}
    for statement in statements:
        if not isinstance(statement, str):
            continue
        sql = statement
        drop = _DROP.match(sql.strip())
        if drop:
            kind = "function" if drop.group(1).lower() == "aggregate" else drop.group(1).lower()
            found.pop((kind, drop.group(2)), None)
        elif m := _TRIGGER.match(sql.strip()):
            found[("trigger", m.group(1))] = (m.group(2), m.group(3), "O")
        elif m := _INDEX.match(sql.strip()):
            found[("index", m.group(2))] = (m.group(3), bool(m.group(1)), " WHERE " in m.group(4).upper())
        elif m := _FUNCTION.match(sql.strip()):
            body = _BODY.search(sql)
            text = None if m.group(1).upper() == "AGGREGATE" or body is None else (
                body.group(1) if body.group(1) is not None else body.group(2).replace("''", "'"))
            bodies = found.setdefault(("function", m.group(2)), set())
            bodies.add(text)
    return found


def server_actual(conn: Database) -> dict[tuple[str, str], object]:
    here = "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
    found: dict[tuple[str, str], object] = {}
    for name, table, function, enabled in conn.all(
            f"""SELECT t.tgname, c.relname, p.proname, t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal AND c.relnamespace = {here}"""):
        found[("trigger", name)] = (table, function, enabled)
    for name, table, unique, partial in conn.all(
            f"""SELECT i.relname, c.relname, x.indisunique, x.indpred IS NOT NULL FROM pg_index x
                JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
                WHERE c.relnamespace = {here} AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)"""):
        found[("index", name)] = (table, unique, partial)
    for name, source, kind in conn.all(
            f"""SELECT p.proname, p.prosrc, p.prokind FROM pg_proc p WHERE p.pronamespace = {here}
                AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')"""):
        found.setdefault(("function", name), set()).add(None if kind == "a" else source)
    return found


def server_schema_problems(conn: Database) -> list[str]:
    from ..db import roles
    from ..db.migrations import STEPS

    recorded = recorded_steps(conn)
    problems = migration_problems(recorded, [step.name for step in STEPS])
    expected = server_expected([s for step in STEPS if step.name in recorded for s in step.postgres])
    optional = server_expected(roles.STATEMENTS)
    actual = server_actual(conn)
    for key, value in optional.items():
        if key in actual:
            expected.setdefault(key, value)
    differences = _differences(expected, actual, set())
    return problems + _schema_line(differences, len(recorded))
