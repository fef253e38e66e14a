"""What `doctor` checks beyond SQLite's own integrity: the chains, the triggers, RA numbers
without gaps, and each return's history replayed through the policy's state machine and
money rules against what is stored (status, hold, due date, ledger, record digest).

Returns, events and ledger are read as three streams ordered by return, side by side, so
memory stays flat at any size.
"""

from __future__ import annotations

import itertools
import json
import operator
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import date

from . import chain, history, policy
from .errors import ReturnsError

MAX_NAMED = 20  # returns named in the one-line problem; JSON lists up to MAX_LISTED
MAX_LISTED = 1000


def _key(r: sqlite3.Row) -> str:
    return r["ticket"] if r["type"] == "counter" else f"RA-{r['ra_no']:06d}"


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
    return ((k, list(g)) for k, g in itertools.groupby(cursor, key=operator.itemgetter(0)))


RETURNS_SQL = "SELECT * FROM returns ORDER BY id"
EVENTS_SQL = "SELECT return_id, id, event, happened_on, detail, digest FROM events ORDER BY return_id, id"
LEDGER_SQL = "SELECT return_id, event, amount_cents, hold_ref FROM ledger ORDER BY return_id, id"
HOLDS_SQL = "SELECT return_id, sum(list_price_cents * qty) FROM items GROUP BY return_id ORDER BY return_id"
MAX_LIFE_LINES = 20  # as admin.replay_problems: the first returns named, one line each


def replay_return(r: sqlite3.Row, hold: int, record: str, events: list, ledger: list) -> tuple[str | None, list[str]]:
    """One return's history replayed once (history.replay, voids included): a line in
    admin.replay_problems' words when its stored state or dates disagree, and what else
    disagrees: the hold amount against its items, the ledger, the record's digest."""
    life_line, problems, moves = None, [], None
    try:
        replayed = history.replay(r["type"], date.fromisoformat(r["opened_on"]), r["hold_amount_cents"] or 0, events)
        stored = history.Life.from_row(r)
        moves = replayed.moves
        if stored != replayed.life:
            was = stored.columns()
            wrong = [f"{c} is {was[c]}, history says {v}" for c, v in replayed.life.columns().items() if was[c] != v]
            life_line = f"{_key(r)}: {'; '.join(wrong)}"
    except ReturnsError as e:
        life_line = f"{_key(r)}: its history does not replay ({e.problems[0].message})"
    except (ValueError, KeyError, TypeError) as e:  # a value edited outside the tool
        life_line = f"{_key(r)}: its history holds a value the tool never writes ({policy.quote(str(e))})"
    if r["type"] == "advanced" and r["hold_amount_cents"] != hold:
        problems.append(f"hold is {policy.format_usd(r['hold_amount_cents'])}, its items' list prices give "
                        f"{policy.format_usd(hold)}")
    stored_ledger = [tuple(row[1:]) for row in ledger]
    if moves is not None and stored_ledger != [(m.event, m.amount, m.ref) for m in moves]:
        problems.append(f"its ledger has {_moves(stored_ledger)}, its history gives "
                        f"{_moves([(m.event, m.amount, m.ref) for m in moves])}")
    if events and events[-1]["digest"] != chain.sha(record):
        problems.append("its record (return, items or serials) was changed outside the tool since its last event")
    return life_line, problems


def _moves(rows: list) -> str:
    return "; ".join(f"{event} {policy.format_usd(amount)}" for event, amount, _ in rows) or "no rows"


def replay(conn: sqlite3.Connection, progress: chain.Progress | None = None) -> tuple[list[str], list[dict]]:
    """Every return replayed once: (lines for returns whose state disagrees, [{ra, problems}]
    for the rest). Streams in return order, side by side: memory stays flat at any size."""
    (total,) = conn.execute("SELECT count(*) FROM returns").fetchone()
    returns, events = conn.cursor(), conn.cursor()
    returns.row_factory = events.row_factory = sqlite3.Row
    returns.execute(RETURNS_SQL)
    records = chain.records(conn)
    holds = chain._plain(conn, HOLDS_SQL)
    streams = {"history": _grouped(events.execute(EVENTS_SQL)), "ledger rows": _grouped(chain._plain(conn, LEDGER_SQL))}
    ahead = {what: next(stream, None) for what, stream in streams.items()}
    next_hold = next(holds, None)
    lines: list[str] = []
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
        rid = r["id"]
        while next_hold and next_hold[0] < rid:
            next_hold = next(holds, None)
        hold = (next_hold[1] or 0) if next_hold and next_hold[0] == rid else 0
        events_of, ledger = take("history", rid), take("ledger rows", rid)
        if not events_of:
            line, problems = None, ["it has no history"]
        else:
            line, problems = replay_return(r, hold, record, events_of, ledger)
        if line:
            if len(lines) < MAX_LIFE_LINES:
                lines.append(line)
            elif len(lines) == MAX_LIFE_LINES:
                lines.append("(more returns disagree: only the first are named)")
        if problems and len(found) < MAX_LISTED:
            found.append({"ra": _key(r), "problems": problems})
        if progress and done % 100_000 == 0:
            progress("replaying returns", done, total)
    for what in streams:
        take(what, 1 << 62)
    return lines, found


def start_chains(uri: str) -> subprocess.Popen | None:
    """SQLite's integrity check and both chains in a second process while this one replays
    (`python -m speco_returns.chain`): the two read the database side by side, each on one
    core, and do about the same work. None when no process can be started: then all of it is
    done here, after the replay."""
    try:
        return subprocess.Popen([sys.executable, "-m", "speco_returns.chain", uri], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError:
        return None


def _beside(conn: sqlite3.Connection, progress, elsewhere: subprocess.Popen | None) -> tuple[list[str], dict]:
    """(integrity check, chains' verdicts): the second process's, or checked here when it failed."""
    if elsewhere is not None:
        out, _ = elsewhere.communicate()
        if elsewhere.returncode == 0:
            verdicts = json.loads(out)
            return verdicts["integrity"], verdicts["chains"]
    if progress:
        progress("integrity check", 0, 0)
    return chain.integrity_check(conn), {table: chain.verify(conn, table, progress) for table in chain.CHAINED}


def audit(conn: sqlite3.Connection, progress: chain.Progress | None = None,
          elsewhere: subprocess.Popen | None = None) -> tuple[dict, list[str]]:
    """The tamper-evidence part of doctor and SQLite's integrity check: (report keys, problems),
    the check's lines under "integrity" (doctor words them). `elsewhere`: the second process
    started by `start_chains`."""
    problems = []
    missing = chain.missing_triggers(conn)
    if missing:
        problems.append(f"append-only trigger(s) missing or changed: {', '.join(missing)}")
    gaps = ra_gaps(conn)
    life_lines, disagree = replay(conn, progress)
    problems += life_lines
    broken = {}
    integrity, chains = _beside(conn, progress, elsewhere)
    for table, (bad, head) in chains.items():
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
    report = {"integrity": integrity, "triggers": "ok" if not missing else missing, "chain_breaks": broken, "ra_gaps": gaps,
              "disagreements": disagree + [{"ra": line.split(":", 1)[0], "problems": [line.split(": ", 1)[-1]]}
                                           for line in life_lines if not line.startswith("(")]}
    return report, problems
