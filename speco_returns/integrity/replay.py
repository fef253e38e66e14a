"""The one replay: every return's history stepped through the policy's state machine and money
rules (domain.lifecycle.replay_rows, voids included) and compared with what is stored: its
state and dates, its hold against its items, its ledger, its record's digest, its customer key
and its notices. Returns and events stream side by side in return order, as plain tuples, so
memory stays flat at any size; the same code runs on both engines (and in SQLite's workers).
"""

from __future__ import annotations

import hashlib
import itertools
import operator
from collections.abc import Callable
from datetime import date

from ..db import audit, chain
from ..db.audit import CUSTOMER, CUSTOMER_KEY, HOLD, LEDGER, LIFE, RECORD, SENT
from ..db.connection import Database
from ..domain import inputs, lifecycle
from ..domain.keys import NO_RA_NUMBER, customer_key, ra_text
from ..errors import ReturnsError

Progress = Callable[[str, int, int], None]
ALL = 1 << 62
MAX_LIFE_LINES = 20  # returns named one line each; the rest are said to exist
MAX_LISTED = 1000  # returns listed in doctor's JSON
MORE = "(more returns disagree: only the first are named)"


def name(r: tuple) -> str:
    if r[1] == "counter":
        return r[3]
    return ra_text(r[2]) if r[2] is not None else f"return id {r[0]} {NO_RA_NUMBER}"


def ledger_text(moves) -> str | None:
    """Moves as the database quotes ledger rows (None for none, as the string aggregate gives)."""
    try:
        return ";".join(f"{chain.sql_quote(m.event)},{chain.sql_quote(m.amount)},"
                        f"{chain.sql_quote(m.ref)}" for m in moves) or None
    # a history edited to hold a value the tool never writes: never the database's text
    except TypeError:
        return repr(moves)


def _moves(rows: list) -> str:
    return "; ".join(f"{event} {inputs.format_usd(amount)}"
                     for event, amount, _ in rows) or "no rows"


def customer_key_problem(stored, derived) -> str:
    """returns.customer_key (m013) is derived from the customer: VR-2 and `list --customer`
    compare it."""
    return (f"customer_key is '{inputs.quote(str(stored))}', "
            f"its customer gives '{inputs.quote(str(derived))}'")


def unrecorded(events: int) -> str:
    return f"its history has {events} `notice` event(s), more than its notices recorded as sent"


def _as_bytes(value) -> bytes:
    return (bytes(value) if isinstance(value, (bytes, memoryview))
            else str(value).encode("utf-8", "surrogatepass"))


def replay_return(db: Database, r: tuple, events: list) -> tuple[str | None, list[str]]:
    """One return (an audit.replay_rows row) and its history (audit.replay_events rows) replayed
    once: a line when its stored state or dates disagree, and what else disagrees."""
    life_line, problems, moves = None, [], None
    try:
        replayed = lifecycle.replay_rows(r[1], date.fromisoformat(r[4]), r[5] or 0, events)
        moves = replayed.moves
        stored = list(r[LIFE:HOLD])
        if replayed.life.stored() != stored:
            was = dict(zip(lifecycle._LIFE_COLUMNS, stored, strict=True))
            wrong = [f"{c} is {was[c]}, history says {v}"
                     for c, v in replayed.life.columns().items() if was[c] != v]
            life_line = f"{name(r)}: {'; '.join(wrong)}"
    except ReturnsError as e:
        life_line = f"{name(r)}: its history does not replay ({e.problems[0].message})"
    # a value edited outside the tool: a row not well formed
    except (ValueError, KeyError, TypeError) as e:
        life_line = (f"{name(r)}: its history holds a value the tool never writes "
                     f"({inputs.quote(str(e))})")
    if r[1] == "advanced" and r[5] != r[HOLD]:
        problems.append(f"hold is {inputs.format_usd(r[5])}, "
                        f"its items' list prices give {inputs.format_usd(r[HOLD])}")
    if moves is not None and (moves or r[LEDGER] is not None) and r[LEDGER] != ledger_text(moves):
        problems.append(f"its ledger has {_moves(audit.ledger_of(db, r[0]))}, its history gives "
                        f"{_moves([(m.event, m.amount, m.ref) for m in moves])}")
    digest = events[-1][4]
    if (digest is None
            or _as_bytes(digest) != hashlib.sha256(_as_bytes(r[RECORD])).hexdigest().encode()):
        problems.append("its record (return, items or serials) was changed outside the tool "
                        "since its last event")
    key = customer_key(r[CUSTOMER]) if isinstance(r[CUSTOMER], str) else None
    if r[CUSTOMER_KEY] != key:
        problems.append(customer_key_problem(r[CUSTOMER_KEY], key))
    notices = sum(1 for e in events if e[0] == "notice")
    if notices > r[SENT]:  # a sent notice's row removed: the next `notify` sends it again
        problems.append(unrecorded(notices))
    return life_line, problems


def replay(db: Database, progress: Progress | None = None, after: int = -ALL,
           upto: int = ALL) -> tuple[list[str], list[dict]]:
    """Every return (ids after..upto) replayed once: (lines for returns whose state disagrees,
    [{ra, problems}] for the rest)."""
    total = audit.returns_between(db, after, upto)
    returns = audit.replay_rows(db, after, upto)
    events = itertools.groupby(audit.replay_events(db, after, upto), key=operator.itemgetter(3))
    ahead = next(events, None)
    lines: list[str] = []
    found: list[dict] = []

    def orphans(what: str, rid) -> None:
        if len(found) < MAX_LISTED:
            found.append({"ra": f"row {rid}",
                          "problems": [f"{what} of a return that no longer exists"]})

    done = 0
    for done, r in enumerate(returns, 1):
        rid = r[0]
        while ahead is not None and ahead[0] < rid:
            orphans("history", ahead[0])
            ahead = next(events, None)
        if ahead is not None and ahead[0] == rid:
            line, problems = replay_return(db, r, list(ahead[1]))
            ahead = next(events, None)
        else:
            line, problems = None, ["it has no history"]
        if line:
            if len(lines) < MAX_LIFE_LINES:
                lines.append(line)
            elif len(lines) == MAX_LIFE_LINES:
                lines.append(MORE)
        if problems and len(found) < MAX_LISTED:
            found.append({"ra": name(r), "problems": problems})
        if progress and done % 100_000 == 0:
            progress("replaying returns", done, total)
    while ahead is not None:
        orphans("history", ahead[0])
        ahead = next(events, None)
    for rid in audit.orphan_ledger_returns(db, after, upto):
        orphans("ledger rows", rid)
    return lines, found


def joined(parts: list[tuple[list[str], list[dict]]]) -> tuple[list[str], list[dict]]:
    """The replay's slices in return order, capped as one replay caps them."""
    lines = [line for part, _ in parts for line in part if line != MORE]
    if len(lines) > MAX_LIFE_LINES:
        lines = [*lines[:MAX_LIFE_LINES], MORE]
    return lines, [f for _, found in parts for f in found][:MAX_LISTED]


def older_schema_problems(db: Database, limit: int = MAX_LIFE_LINES) -> list[str]:
    """A database not yet at this tool's schema (doctor migrates nothing): each history replayed
    against the stored state, from whatever columns that schema has."""
    returns, events = audit.history_of_all(db)
    pending = next(events, None)
    columns = [d[0] for d in returns.description]
    has_ra_no, has_key = "ra_no" in columns, "customer_key" in columns  # m004, m013
    problems: list[str] = []

    def label(r) -> str:
        if r["type"] == "counter":
            return r["ticket"]
        number = r["ra_no"] if has_ra_no else r["id"]
        return ra_text(number) if number is not None else f"return id {r['id']} {NO_RA_NUMBER}"

    for r in returns:
        mine = []
        while pending is not None and pending["return_id"] <= r["id"]:
            if pending["return_id"] == r["id"]:
                mine.append(pending)
            pending = next(events, None)
        try:
            life = lifecycle.replay(r["type"], date.fromisoformat(r["opened_on"]),
                                    r["hold_amount_cents"] or 0, mine).life
        except ReturnsError as e:
            problems.append(f"{label(r)}: its history does not replay ({e.problems[0].message})")
            continue
        except (ValueError, KeyError, TypeError) as e:
            problems.append(f"{label(r)}: its history holds a value the tool never writes "
                            f"({inputs.quote(str(e))})")
            continue
        stored = lifecycle.Life.from_row(r)
        if stored != life:
            was = stored.columns()
            wrong = [f"{c} is {was[c]}, history says {v}"
                     for c, v in life.columns().items() if was[c] != v]
            problems.append(f"{label(r)}: {'; '.join(wrong)}")
        key = customer_key(r["customer"]) if isinstance(r["customer"], str) else None
        if has_key and r["customer_key"] != key:
            problems.append(f"{label(r)}: {customer_key_problem(r['customer_key'], key)}")
        if len(problems) >= limit:
            problems.append(MORE)
            break
    return problems
