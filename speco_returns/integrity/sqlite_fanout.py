"""What `doctor` checks beyond SQLite's own integrity: the chains, the triggers, RA numbers
without gaps, and each return's history replayed through the policy's state machine and
money rules against what is stored (status, hold, due date, ledger, record digest).

Returns (each with its items, serials and ledger rows) and events are read as two streams
ordered by return, side by side, so memory stays flat at any size. At a million returns the
work is split over processes (`start_chains`): the integrity check, the chains and half the
replay run beside this one.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import operator
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

from ..db import chain
from ..db.schema import SQLITE_CHAIN_TRIGGERS
from ..domain import inputs, lifecycle
from ..domain.keys import NO_RA_NUMBER, customer_key
from ..errors import ReturnsError
from .crosscheck import unrecorded

Progress = Callable[[str, int, int], None]

# --- SQLite's fast paths: the canonical text built by SQLite itself ------------------------

def _sql_canon(columns, prefix: str = "") -> str:
    return "||','||".join(f"quote({prefix}{c})" for c in columns)


def _affinity(declared: str) -> str:
    """SQLite's column affinity from a declared type (its documented rules, in order)."""
    t = declared.upper()
    if "INT" in t:
        return "integer"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "text"
    return "blob" if "BLOB" in t or not t else "real" if any(w in t for w in ("REAL", "FLOA", "DOUB")) else "numeric"


def fast_canon(conn: sqlite3.Connection, table: str, cols=None, prefix: str = "") -> str:
    """An SQL expression giving exactly `_sql_canon`'s text (quote() of each column, comma-
    separated) in one printf: `doctor` builds it for every chained row and every return, and
    quote() || ',' || ... costs twice as much. printf's %Q is quote() for text and NULL; a
    column of TEXT affinity holds only text, NULL or a blob (numbers are stored as text), and
    a row holding a blob there, which %Q would print as text, falls back to quote() itself.
    The rowid (INTEGER PRIMARY KEY) is always an integer: %d. Other columns go through quote()."""
    info = {row[1]: row for row in conn.execute(f"PRAGMA table_info({table})")}
    cols = cols or [c for c in info if c != "hash"]
    formats, args, texts = [], [], []
    for c in cols:
        _, _, declared, _, _, pk = info[c]
        if pk == 1 and declared.upper() == "INTEGER" and sum(r[5] > 0 for r in info.values()) == 1:
            formats.append("%d")
            args.append(prefix + c)
        elif _affinity(declared) == "text":
            formats.append("%Q")
            args.append(prefix + c)
            texts.append(f"typeof({prefix}{c})")
        else:
            formats.append("%s")
            args.append(f"quote({prefix}{c})")
    fast = f"printf('{','.join(formats)}', {', '.join(args)})"
    if not texts:
        return fast
    kinds = texts[0] if len(texts) == 1 else f"min({', '.join(texts)})"  # 'blob' sorts first of the five
    return f"(CASE WHEN {kinds} = 'blob' THEN {_sql_canon(cols, prefix)} ELSE {fast} END)"


def _plain(conn: sqlite3.Connection, sql: str, args=()) -> sqlite3.Cursor:
    """Tuples, not sqlite3.Row: these loops read millions of rows."""
    cursor = conn.cursor()
    cursor.row_factory = None
    return cursor.execute(sql, args)



def _stream(conn: sqlite3.Connection, table: str) -> Iterator[tuple]:
    """(id, stored hash, the bytes its hash covers after the previous row's hash: a newline and
    the row's canonical text). Bytes straight from SQLite: no text decoded and encoded again."""
    return _plain(conn, f"SELECT id, hash, CAST(char(10) || {fast_canon(conn, table)} AS BLOB) FROM {table} ORDER BY id")





def verify(conn: sqlite3.Connection, table: str, progress: Progress | None = None) -> tuple[list[int], list[str]]:
    """Row ids whose hash does not follow from the previous row's, and what is wrong with the
    head. A changed row breaks at itself; a removed or inserted one at the row after it."""
    (total,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    bad: list[int] = []
    prev, count, last_id = b"", 0, 0
    sha = hashlib.sha256
    for row_id, stored, canon in _stream(conn, table):
        if stored != sha(prev + canon).hexdigest():
            bad.append(row_id)
        prev, count, last_id = stored.encode() if isinstance(stored, str) else b"", count + 1, row_id
        if progress and count % 100_000 == 0:
            progress(f"{table} chain", count, total)
    prev = prev.decode()
    head = conn.execute("SELECT last_id, rows, hash FROM chain_heads WHERE name = ?", [table]).fetchone()
    problems = []
    if head is None:
        if count:
            problems.append(f"the {table} chain has no recorded head")
    elif (head[0], head[1], head[2] or "") != (last_id, count, prev):
        problems.append(f"the {table} chain ends at row {last_id} of {count}, but its head records row {head[0]} "
                        f"of {head[1]}: rows were removed or added at the end")
    return bad, problems


def missing_triggers(conn: sqlite3.Connection) -> list[str]:
    have = {name: sql for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")}
    return [name for name, sql in SQLITE_CHAIN_TRIGGERS.items() if " ".join((have.get(name) or "").split()) != " ".join(sql.split())]


def integrity_check(conn: sqlite3.Connection) -> list[str]:
    """SQLite's full integrity check (every page, record and index entry): ["ok"] or what is wrong."""
    return [row[0] for row in conn.execute("PRAGMA integrity_check")]


MAX_NAMED = 20  # returns named in the one-line problem; JSON lists up to MAX_LISTED
MAX_LISTED = 1000


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


EVENTS_SQL = f"""SELECT event, happened_on, CASE WHEN event IN ({', '.join(f"'{e}'" for e in lifecycle._READS_DETAIL)})
                 THEN detail END, return_id, CAST(digest AS BLOB) FROM events
                 WHERE return_id > ? AND return_id <= ? ORDER BY return_id, id"""
ORPHANS_SQL = """SELECT DISTINCT return_id FROM ledger WHERE return_id > ? AND return_id <= ?
                 AND return_id NOT IN (SELECT id FROM returns) ORDER BY 1"""
ALL = 1 << 62
MAX_LIFE_LINES = 20  # as admin.replay_problems: the first returns named, one line each
LIFE = 6  # where a returns row's history-decided columns start (lifecycle.Life's order)
HOLD = LIFE + len(lifecycle._LIFE_COLUMNS)  # then the record's text and the ledger rows
RECORD, LEDGER = HOLD + 1, HOLD + 2
CUSTOMER, CUSTOMER_KEY, SENT = LEDGER + 1, LEDGER + 2, LEDGER + 3  # and what derives from the history elsewhere


def returns_sql(conn: sqlite3.Connection) -> str:
    """One row per return, in id order, with all doctor compares it with: the columns its
    history decides, its items' hold, the text its digest covers (chain.records' text, built
    by SQLite: bytes, as hashed), its ledger rows (quoted, as `_ledger_text` writes moves),
    its customer and customer_key, and how many of its notices are recorded as sent. Each
    return's items, serials, ledger rows and notices are found through their indexes; its
    events (the latest one's digest included) come beside it (EVENTS_SQL)."""
    def grouped(table: str, cols) -> str:
        return (f"ifnull((SELECT group_concat(c, ';') FROM (SELECT {fast_canon(conn, table, cols)} AS c "
                f"FROM {table} WHERE return_id = r.id ORDER BY id)), '')")

    life = ", ".join(f"r.{c}" for c in lifecycle._LIFE_COLUMNS)
    return f"""SELECT r.id, r.type, r.ra_no, r.ticket, r.opened_on, r.hold_amount_cents, {life},
                 CASE WHEN r.type = 'advanced' THEN ifnull((SELECT sum(list_price_cents * qty) FROM items
                                                            WHERE return_id = r.id), 0) END,
                 CAST({fast_canon(conn, 'returns', chain.RETURN_COLUMNS, 'r.')} || '|' ||
                      {grouped('items', chain.ITEM_COLUMNS)} || '|' || {grouped('serials', chain.SERIAL_COLUMNS)} AS BLOB),
                 (SELECT group_concat(quote(event) || ',' || quote(amount_cents) || ',' || quote(hold_ref), ';')
                  FROM (SELECT event, amount_cents, hold_ref FROM ledger WHERE return_id = r.id ORDER BY id)),
                 r.customer, r.customer_key, (SELECT count(*) FROM notices WHERE return_id = r.id AND state = 'sent')
               FROM returns r WHERE r.id > ? AND r.id <= ? ORDER BY r.id"""


def _ledger_text(moves) -> str | None:
    """Moves as returns_sql quotes ledger rows (None for none, as group_concat gives)."""
    try:
        return ";".join(f"{chain.sql_quote(m.event)},{chain.sql_quote(m.amount)},{chain.sql_quote(m.ref)}"
                        for m in moves) or None
    except TypeError:  # a history edited to hold a value the tool never writes: never SQLite's text
        return repr(moves)


def _moves(rows: list) -> str:
    return "; ".join(f"{event} {inputs.format_usd(amount)}" for event, amount, _ in rows) or "no rows"


def _name(r: tuple) -> str:
    return r[3] if r[1] == "counter" else f"RA-{r[2]:06d}" if r[2] is not None else f"return id {r[0]} {NO_RA_NUMBER}"


def replay_return(conn: sqlite3.Connection, r: tuple, events: list) -> tuple[str | None, list[str]]:
    """One return (a returns_sql row) and its history (EVENTS_SQL rows) replayed once
    (lifecycle.replay_rows, voids included): a line in admin.replay_problems' words when its
    stored state or dates disagree, and what else disagrees: the hold amount against its
    items, the ledger, the record's digest."""
    life_line, problems, moves = None, [], None
    try:
        replayed = lifecycle.replay_rows(r[1], date.fromisoformat(r[4]), r[5] or 0, events)
        moves = replayed.moves
        stored = list(r[LIFE:HOLD])
        if replayed.life.stored() != stored:
            was = dict(zip(lifecycle._LIFE_COLUMNS, stored, strict=True))
            wrong = [f"{c} is {was[c]}, history says {v}" for c, v in replayed.life.columns().items() if was[c] != v]
            life_line = f"{_name(r)}: {'; '.join(wrong)}"
    except ReturnsError as e:
        life_line = f"{_name(r)}: its history does not replay ({e.problems[0].message})"
    except (ValueError, KeyError, TypeError) as e:  # a value edited outside the tool
        life_line = f"{_name(r)}: its history holds a value the tool never writes ({inputs.quote(str(e))})"
    if r[1] == "advanced" and r[5] != r[HOLD]:
        problems.append(f"hold is {inputs.format_usd(r[5])}, its items' list prices give {inputs.format_usd(r[HOLD])}")
    if moves is not None and (moves or r[LEDGER] is not None) and r[LEDGER] != _ledger_text(moves):
        rows = conn.execute("SELECT event, amount_cents, hold_ref FROM ledger WHERE return_id = ? ORDER BY id", [r[0]])
        problems.append(f"its ledger has {_moves(rows.fetchall())}, its history gives "
                        f"{_moves([(m.event, m.amount, m.ref) for m in moves])}")
    if events[-1][4] != hashlib.sha256(r[RECORD]).hexdigest().encode():
        problems.append("its record (return, items or serials) was changed outside the tool since its last event")
    key = customer_key(r[CUSTOMER]) if isinstance(r[CUSTOMER], str) else None
    if r[CUSTOMER_KEY] != key:
        problems.append(customer_key_problem(r[CUSTOMER_KEY], key))
    notices = sum(1 for e in events if e[0] == "notice")
    if notices > r[SENT]:  # a sent notice's row removed: the next `notify` sends it again
        problems.append(unrecorded(notices))
    return life_line, problems


def customer_key_problem(stored, derived) -> str:
    """returns.customer_key (m013) is derived from the customer: VR-2 and `list --customer` compare it."""
    return f"customer_key is '{inputs.quote(str(stored))}', its customer gives '{inputs.quote(str(derived))}'"


def replay(conn: sqlite3.Connection, progress: Progress | None = None, after: int = -ALL,
           upto: int = ALL) -> tuple[list[str], list[dict]]:
    """Every return (ids after..upto) replayed once: (lines for returns whose state disagrees,
    [{ra, problems}] for the rest). Returns (with what belongs to each) and events stream in
    return order side by side, as plain tuples: memory stays flat at any size."""
    span = [after, upto]
    (total,) = conn.execute("SELECT count(*) FROM returns WHERE id > ? AND id <= ?", span).fetchone()
    returns = _plain(conn, returns_sql(conn), span)
    events = itertools.groupby(_plain(conn, EVENTS_SQL, span), key=operator.itemgetter(3))
    ahead = next(events, None)
    lines: list[str] = []
    found: list[dict] = []

    def orphans(what: str, rid) -> None:
        if len(found) < MAX_LISTED:
            found.append({"ra": f"row {rid}", "problems": [f"{what} of a return that no longer exists"]})

    done = 0
    for done, r in enumerate(returns, 1):
        rid = r[0]
        while ahead is not None and ahead[0] < rid:
            orphans("history", ahead[0])
            ahead = next(events, None)
        if ahead is not None and ahead[0] == rid:
            line, problems = replay_return(conn, r, list(ahead[1]))
            ahead = next(events, None)
        else:
            line, problems = None, ["it has no history"]
        if line:
            if len(lines) < MAX_LIFE_LINES:
                lines.append(line)
            elif len(lines) == MAX_LIFE_LINES:
                lines.append("(more returns disagree: only the first are named)")
        if problems and len(found) < MAX_LISTED:
            found.append({"ra": _name(r), "problems": problems})
        if progress and done % 100_000 == 0:
            progress("replaying returns", done, total)
    while ahead is not None:
        orphans("history", ahead[0])
        ahead = next(events, None)
    for (rid,) in conn.execute(ORPHANS_SQL, span):
        orphans("ledger rows", rid)
    return lines, found


MMAP_BYTES = 1 << 31  # SQLite's own ceiling: doctor reads the whole file, mapped instead of copied page by page
REPLAY_HERE = 0.5  # the share of returns this process replays beside the workers (it also runs doctor's other checks)


def fast_reads(conn: sqlite3.Connection) -> sqlite3.Connection:
    conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
    return conn


def split(conn: sqlite3.Connection) -> int:
    """The return id up to which this process replays; a worker replays the rest."""
    low, high = conn.execute("SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM returns").fetchone()
    return low + int((high - low) * REPLAY_HERE)


def work(conn: sqlite3.Connection, task: str) -> dict:
    """One of doctor's parts: `integrity` (SQLite's full check), `chains` (both hash chains),
    `replay:AFTER:UPTO` (the returns with ids in that range)."""
    if task == "integrity":
        return {"integrity": integrity_check(conn)}
    if task == "chains":
        return {"chains": {table: verify(conn, table) for table in chain.CHAINED}}
    _, after, upto = task.split(":")
    lines, found = replay(conn, None, int(after), int(upto))
    return {"lines": lines, "found": found}


# A worker runs this package, from where this one was loaded, and nothing else: `-I` keeps the
# current folder, PYTHONPATH and the user's site-packages off its sys.path (`python -m` would
# import a `speco_returns/` planted in the folder doctor is run from, and run it as this account).
WORKER_CODE = ("import sys; sys.path.insert(0, sys.argv[1]); "
               "from speco_returns.integrity.sqlite_fanout import main; main(*sys.argv[2:])")


def worker_command(uri: str, task: str) -> list[str]:
    return [sys.executable, "-I", "-c", WORKER_CODE, str(Path(__file__).resolve().parents[2]), uri, task]


def start_chains(uri: str, upto: int) -> dict[str, subprocess.Popen] | None:
    """SQLite's integrity check, both chains and the replay of the returns after `upto`, each in
    its own process (`worker_command`) while this one replays the rest: they read the database
    side by side, so every core works and none waits on a single long part. None when no
    process can be started: then all of it is done here."""
    tasks = ["integrity", "chains", f"replay:{upto}:{ALL}"]
    started: dict[str, subprocess.Popen] = {}
    try:
        for task in tasks:
            started[task] = subprocess.Popen(worker_command(uri, task),
                                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError:
        stop(started)
        return None
    return started


def stop(workers: dict[str, subprocess.Popen] | None) -> None:
    """End any worker still running (an error on the way: no process is left behind)."""
    for proc in (workers or {}).values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _result(conn: sqlite3.Connection, task: str, workers: dict | None, progress) -> dict:
    """A task's result: its worker's, or worked out here when it has none or it failed."""
    proc = (workers or {}).get(task)
    if proc is not None:
        out, _ = proc.communicate()
        if proc.returncode == 0:
            return json.loads(out)
    if progress:
        progress(task.split(":")[0].replace("integrity", "integrity check"), 0, 0)
    return work(conn, task)


def _joined(parts: list[tuple[list[str], list[dict]]]) -> tuple[list[str], list[dict]]:
    """The replay's slices in return order, capped as one replay caps them."""
    more = "(more returns disagree: only the first are named)"
    lines = [line for part, _ in parts for line in part if line != more]
    if len(lines) > MAX_LIFE_LINES:
        lines = [*lines[:MAX_LIFE_LINES], more]
    return lines, [f for _, found in parts for f in found][:MAX_LISTED]


def audit(conn: sqlite3.Connection, progress: Progress | None = None,
          workers: dict[str, subprocess.Popen] | None = None, upto: int = ALL) -> tuple[dict, list[str]]:
    """The tamper-evidence part of doctor and SQLite's integrity check: (report keys, problems),
    the check's lines under "integrity" (doctor words them). `workers`: the processes started
    by `start_chains(uri, upto)`; this one replays the returns up to `upto`."""
    problems = []
    missing = missing_triggers(conn)
    if missing:
        problems.append(f"append-only trigger(s) missing or changed: {', '.join(missing)}")
    gaps = ra_gaps(conn)
    parts = [replay(conn, progress, -ALL, upto)]
    if upto < ALL:
        rest = _result(conn, f"replay:{upto}:{ALL}", workers, progress)
        parts.append((rest["lines"], rest["found"]))
    life_lines, disagree = _joined(parts)
    problems += life_lines
    broken = {}
    integrity = _result(conn, "integrity", workers, progress)["integrity"]
    chains = _result(conn, "chains", workers, progress)["chains"]
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


def main(uri: str, task: str) -> None:
    """A worker (`worker_command`): one of doctor's parts (`work`) as JSON."""
    conn = fast_reads(sqlite3.connect(uri, uri=True))
    try:
        print(json.dumps(work(conn, task)))
    finally:
        conn.close()
