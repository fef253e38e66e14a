"""What `doctor` checks beyond SQLite's own integrity: the chains, the triggers, RA numbers
without gaps, and each return's history replayed through the policy's state machine and
money rules against what is stored (status, hold, due date, ledger, record digest).

Returns, events and ledger are read as three streams ordered by return, side by side, so
memory stays flat at any size.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import date

from . import chain, policy

MAX_NAMED = 20  # returns named in the one-line problem; JSON lists up to MAX_LISTED
MAX_LISTED = 1000


def _key(r: tuple) -> str:
    return r[3] if r[2] == "counter" else f"RA-{r[1]:06d}"


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
    return ((k, list(g)) for k, g in itertools.groupby(cursor, key=lambda row: row[0]))


# Row shapes: returns (id, ra_no, type, ticket, status, hold_amount_cents, hold_active, due_on);
# events (return_id, event, happened_on, status, detail, digest);
# ledger (return_id, event, amount_cents, hold_ref, happened_on).
RETURNS_SQL = "SELECT id, ra_no, type, ticket, status, hold_amount_cents, hold_active, due_on FROM returns ORDER BY id"
EVENTS_SQL = "SELECT return_id, event, happened_on, status, detail, digest FROM events ORDER BY return_id, id"
LEDGER_SQL = "SELECT return_id, event, amount_cents, hold_ref, happened_on FROM ledger ORDER BY return_id, id"
HOLDS_SQL = "SELECT return_id, sum(list_price_cents * qty) FROM items GROUP BY return_id ORDER BY return_id"


def replay_return(r: tuple, hold: int, record: str, events: list, ledger: list) -> list[str]:
    """Where the stored return disagrees with its own history (empty when it agrees)."""
    _, _, type_, _, stored_status, stored_hold, stored_active, stored_due = r
    status, active, ref, due = policy.INITIAL.get(type_), False, None, None
    expected = []
    problems = []
    machine = policy.MACHINE
    for _, name, on, event_status, detail, _ in events:
        moves = machine.get((type_, name))
        if moves is not None:
            new = moves.get(status)
            if new is None:
                problems.append(f"its history has {name} on {on} while {status}, which the policy does not allow")
                break
            if type_ == "advanced":
                rows, changes = policy.money(type_, name, new, status, active, ref,
                                             json.loads(detail or "{}") if name in ("hold", "charge", "refund") else {})
                expected += [(ledger_event, hold if amount is None else amount, ledger_ref, on)
                             for ledger_event, ledger_ref, amount, _ in rows]
                active, ref = bool(changes.get("hold_active", active)), changes.get("hold_ref", ref)
                if name == "deliver":
                    due = policy.due_date(date.fromisoformat(on)).isoformat()
            status = new
        if event_status != status:
            problems.append(f"its history records {event_status} after {name} on {on}, the policy gives {status}")
            break
    if stored_status != status:
        problems.append(f"status is {stored_status}, its history gives {status}")
    if type_ == "advanced":
        if stored_hold != hold:
            problems.append(f"hold is {policy.format_usd(stored_hold)}, its items' list prices give {policy.format_usd(hold)}")
        if bool(stored_active) != active:
            problems.append(f"hold is {'active' if stored_active else 'not active'}, its history says "
                            f"{'active' if active else 'not active'}")
        if stored_due != due:
            problems.append(f"due date is {stored_due or 'none'}, its history gives {due or 'none'}")
    stored = [row[1:] for row in ledger]
    if stored != expected:
        problems.append(f"its ledger has {_moves(stored)}, its history gives {_moves(expected)}")
    if events and events[-1][5] != chain.sha(record):
        problems.append("its record (return, items or serials) was changed outside the tool since its last event")
    return problems


def _moves(rows: list) -> str:
    return "; ".join(f"{event} {policy.format_usd(amount)}" for event, amount, _, _ in rows) or "no rows"


def replay(conn: sqlite3.Connection, progress: chain.Progress | None = None) -> list[dict]:
    """Every return whose stored facts disagree with its history: [{ra, problems}]. Five
    streams in return order, side by side: memory stays flat at any size."""
    (total,) = conn.execute("SELECT count(*) FROM returns").fetchone()
    returns = chain._plain(conn, RETURNS_SQL)
    records = chain.records(conn)
    holds = chain._plain(conn, HOLDS_SQL)
    streams = {"history": _grouped(chain._plain(conn, EVENTS_SQL)), "ledger rows": _grouped(chain._plain(conn, LEDGER_SQL))}
    ahead = {what: next(stream, None) for what, stream in streams.items()}
    next_hold = next(holds, None)
    found: list[dict] = []

    def take(what: str, rid: int) -> list:
        """This return's rows of a stream; rows of a return that no longer exists are named."""
        while ahead[what] and ahead[what][0] < rid:
            found.append({"ra": f"row {ahead[what][0]}", "problems": [f"{what} of a return that no longer exists"]})
            ahead[what] = next(streams[what], None)
        if ahead[what] and ahead[what][0] == rid:
            rows = ahead[what][1]
            ahead[what] = next(streams[what], None)
            return rows
        return []

    for done, (r, (_, record)) in enumerate(zip(returns, records, strict=True), 1):
        rid = r[0]
        while next_hold and next_hold[0] < rid:
            next_hold = next(holds, None)
        hold = next_hold[1] or 0 if next_hold and next_hold[0] == rid else 0
        events, ledger = take("history", rid), take("ledger rows", rid)
        problems = replay_return(r, hold, record, events, ledger) if events else ["it has no history"]
        if problems and len(found) < MAX_LISTED:
            found.append({"ra": _key(r), "problems": problems})
        if progress and done % 100_000 == 0:
            progress("replaying returns", done, total)
    for what in streams:
        take(what, 1 << 62)
    return found


def start_chains(uri: str) -> subprocess.Popen | None:
    """Verify both chains in a second process while this one checks integrity and replays:
    the two read the database side by side, each on one core (`python -m speco_returns.chain`).
    None when no process can be started: then they are verified here, after the replay."""
    try:
        return subprocess.Popen([sys.executable, "-m", "speco_returns.chain", uri], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError:
        return None


def _chains(conn: sqlite3.Connection, progress, elsewhere: subprocess.Popen | None) -> dict:
    if elsewhere is not None:
        out, _ = elsewhere.communicate()
        if elsewhere.returncode == 0:
            return json.loads(out)
    return {table: chain.verify(conn, table, progress) for table in chain.CHAINED}  # no second process: here


def audit(conn: sqlite3.Connection, progress: chain.Progress | None = None,
          elsewhere: subprocess.Popen | None = None) -> tuple[dict, list[str]]:
    """The tamper-evidence part of doctor: (report keys, problems). `elsewhere`: the chains
    being verified by `start_chains`."""
    problems = []
    missing = chain.missing_triggers(conn)
    if missing:
        problems.append(f"append-only trigger(s) missing or changed: {', '.join(missing)}")
    gaps = ra_gaps(conn)
    disagree = replay(conn, progress)
    broken = {}
    for table, (bad, head) in _chains(conn, progress, elsewhere).items():
        problems += head
        if bad:
            ids = ", ".join(map(str, bad[:MAX_NAMED]))
            problems.append(f"the {table} chain breaks at {len(bad)} row(s) (id {ids}{', ...' if len(bad) > MAX_NAMED else ''}): "
                            "rows were changed, added or removed outside the tool")
        broken[table] = bad[:MAX_LISTED]
    if gaps:
        problems.append(f"RA numbers missing: {', '.join(f'RA-{n:06d}' for n in gaps[:MAX_NAMED])}"
                        f"{', ...' if len(gaps) > MAX_NAMED else ''} (a return was erased)")
    if disagree:
        named = "; ".join(f"{d['ra']}: {d['problems'][0]}" for d in disagree[:MAX_NAMED])
        problems.append(f"{len(disagree)}{'+' if len(disagree) >= MAX_LISTED else ''} return(s) disagree with "
                        f"their history: {named}{' ...' if len(disagree) > MAX_NAMED else ''}")
    report = {"triggers": "ok" if not missing else missing, "chain_breaks": broken, "ra_gaps": gaps,
              "disagreements": disagree}
    return report, problems
