"""What `doctor` checks beyond SQLite's own integrity: the chains, the triggers, RA numbers
without gaps, and each return's history replayed through the policy's state machine and
money rules against what is stored (status, hold, due date, ledger, record digest).

Returns, events and ledger are read as three streams ordered by return, side by side, so
memory stays flat at any size.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sqlite3
from collections.abc import Iterator
from datetime import date

from . import chain, policy

MAX_NAMED = 20  # returns named in the one-line problem; JSON lists up to MAX_LISTED
MAX_LISTED = 1000


def _key(row) -> str:
    return row["ticket"] if row["type"] == "counter" else f"RA-{row['ra_no']:06d}"


def ra_gaps(conn: sqlite3.Connection) -> list[int]:
    """RA numbers missing below the highest one issued (a return erased). Before m004 an RA
    number was the row id, so a counter return of then (no RA number) explains its id."""
    (missing,) = conn.execute(
        """SELECT coalesce(max(ra_no), 0) - count(ra_no) - (SELECT count(*) FROM returns c WHERE c.ra_no IS NULL
               AND c.id <= (SELECT max(ra_no) FROM returns) AND NOT EXISTS (SELECT 1 FROM returns WHERE ra_no = c.id))
           FROM returns""").fetchone()
    if not missing:
        return []
    (top,) = conn.execute("SELECT max(ra_no) FROM returns").fetchone()
    return [n for (n,) in conn.execute(
        """WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?)
           SELECT x FROM n WHERE NOT EXISTS (SELECT 1 FROM returns WHERE ra_no = x)
             AND NOT EXISTS (SELECT 1 FROM returns WHERE id = x AND ra_no IS NULL) LIMIT ?""", [top, MAX_LISTED])]


def _grouped(cursor) -> Iterator[tuple[int, list]]:
    return ((k, list(g)) for k, g in itertools.groupby(cursor, key=lambda row: row["return_id"]))


def replay_return(r, events: list, ledger: list) -> list[str]:
    """Where the stored return disagrees with its own history (empty when it agrees)."""
    type_, status, active, ref, due = r["type"], policy.INITIAL.get(r["type"]), False, None, None
    hold = r["items_hold"] or 0
    expected = []
    problems = []
    for e in events:
        name, on = e["event"], e["happened_on"]
        moves = policy.MACHINE.get((type_, name))
        if moves is not None:
            new = moves.get(status)
            if new is None:
                problems.append(f"its history has {name} on {on} while {status}, which the policy does not allow")
                break
            detail = json.loads(e["detail"] or "{}") if name in ("hold", "charge") else {}
            rows, changes = policy.money(type_, name, new, active, ref, detail)
            expected += [(ledger_event, hold, ledger_ref, on) for ledger_event, ledger_ref, _ in rows]
            active, ref = bool(changes.get("hold_active", active)), changes.get("hold_ref", ref)
            if name == "deliver":
                due = policy.due_date(date.fromisoformat(on)).isoformat()
            status = new
        if e["status"] != status:
            problems.append(f"its history records {e['status']} after {name} on {on}, the policy gives {status}")
            break
    if r["status"] != status:
        problems.append(f"status is {r['status']}, its history gives {status}")
    if type_ == "advanced":
        if r["hold_amount_cents"] != hold:
            problems.append(f"hold is {policy.format_usd(r['hold_amount_cents'])}, its items' list prices give "
                            f"{policy.format_usd(hold)}")
        if bool(r["hold_active"]) != active:
            problems.append(f"hold is {'active' if r['hold_active'] else 'not active'}, its history says "
                            f"{'active' if active else 'not active'}")
        if r["due_on"] != due:
            problems.append(f"due date is {r['due_on'] or 'none'}, its history gives {due or 'none'}")
    stored = [(row["event"], row["amount_cents"], row["hold_ref"], row["happened_on"]) for row in ledger]
    if stored != expected:
        problems.append(f"its ledger has {_moves(stored)}, its history gives {_moves(expected)}")
    if events and events[-1]["digest"] != hashlib.sha256(r["record"].encode("utf-8", "surrogatepass")).hexdigest():
        problems.append("its record (return, items or serials) was changed outside the tool since its last event")
    return problems


def _moves(rows: list) -> str:
    return "; ".join(f"{event} {policy.format_usd(amount)}" for event, amount, _, _ in rows) or "no rows"


def replay(conn: sqlite3.Connection, progress: chain.Progress | None = None) -> list[dict]:
    """Every return whose stored facts disagree with its history: [{ra, problems}]."""
    (total,) = conn.execute("SELECT count(*) FROM returns").fetchone()
    returns = conn.execute(
        f"""SELECT id AS return_id, ra_no, type, ticket, status, hold_amount_cents, hold_active, due_on,
                   (SELECT sum(list_price_cents * qty) FROM items WHERE return_id = r.id) AS items_hold,
                   {chain.RECORD_SQL} AS record
            FROM returns r ORDER BY id""")
    events = _grouped(conn.execute(
        "SELECT return_id, event, happened_on, status, detail, digest FROM events ORDER BY return_id, id"))
    ledger = _grouped(conn.execute(
        "SELECT return_id, event, amount_cents, hold_ref, happened_on FROM ledger ORDER BY return_id, id"))
    next_events, next_ledger = next(events, None), next(ledger, None)
    found = []
    for done, r in enumerate(returns, 1):
        rid = r["return_id"]
        while next_events and next_events[0] < rid:  # history of a return that is gone
            found.append({"ra": f"row {next_events[0]}", "problems": ["history of a return that no longer exists"]})
            next_events = next(events, None)
        while next_ledger and next_ledger[0] < rid:
            found.append({"ra": f"row {next_ledger[0]}", "problems": ["ledger rows of a return that no longer exists"]})
            next_ledger = next(ledger, None)
        mine_e = next_events[1] if next_events and next_events[0] == rid else []
        mine_l = next_ledger[1] if next_ledger and next_ledger[0] == rid else []
        if mine_e:
            next_events = next(events, None)
        if mine_l:
            next_ledger = next(ledger, None)
        problems = replay_return(r, mine_e, mine_l) if mine_e else ["it has no history"]
        if problems and len(found) < MAX_LISTED:
            found.append({"ra": _key(r), "problems": problems})
        if progress and done % 100_000 == 0:
            progress("replaying returns", done, total)
    for rest, what in ((next_events, "history"), (next_ledger, "ledger rows")):
        while rest:
            found.append({"ra": f"row {rest[0]}", "problems": [f"{what} of a return that no longer exists"]})
            rest = next(events if what == "history" else ledger, None)
    return found


def audit(conn: sqlite3.Connection, progress: chain.Progress | None = None) -> tuple[dict, list[str]]:
    """The tamper-evidence part of doctor: (report keys, problems)."""
    problems = []
    missing = chain.missing_triggers(conn)
    if missing:
        problems.append(f"append-only trigger(s) missing or changed: {', '.join(missing)}")
    broken = {}
    for table in chain.CHAINED:
        bad, head = chain.verify(conn, table, progress)
        problems += head
        if bad:
            ids = ", ".join(map(str, bad[:MAX_NAMED]))
            problems.append(f"the {table} chain breaks at {len(bad)} row(s) (id {ids}{', ...' if len(bad) > MAX_NAMED else ''}): "
                            "rows were changed, added or removed outside the tool")
        broken[table] = bad[:MAX_LISTED]
    gaps = ra_gaps(conn)
    if gaps:
        problems.append(f"RA numbers missing: {', '.join(f'RA-{n:06d}' for n in gaps[:MAX_NAMED])}"
                        f"{', ...' if len(gaps) > MAX_NAMED else ''} (a return was erased)")
    disagree = replay(conn, progress)
    if disagree:
        named = "; ".join(f"{d['ra']}: {d['problems'][0]}" for d in disagree[:MAX_NAMED])
        problems.append(f"{len(disagree)}{'+' if len(disagree) >= MAX_LISTED else ''} return(s) disagree with "
                        f"their history: {named}{' ...' if len(disagree) > MAX_NAMED else ''}")
    report = {"triggers": "ok" if not missing else missing, "chain_breaks": broken, "ra_gaps": gaps,
              "disagreements": disagree}
    return report, problems
