"""Fault and finding codes: the lists (`codes list|add|retire`, a supervisor's on a server) and
their use on a return (`open --fault`, `receive --finding`, `finding RA CODE`).

Every change to the lists goes through `change` (one use case: on a server only a supervisor
may make it, db/roles.py); every code recorded on a return is checked by `require`.
"""

from __future__ import annotations

from datetime import date

from ..db import codes as codes_db
from ..db import returns
from ..db.database import Database
from ..domain import codes, inputs, lifecycle
from ..domain.clock import Now
from ..errors import ReturnsError


def listing(db: Database, kind: str | None = None, *, retired: bool = False) -> list[dict]:
    with db.read():
        rows = codes_db.listing(db, kind, retired=retired)
    return [{"kind": r["kind"], "code": r["code"], "title": r["title"], "added_on": r["added_on"],
             "added_by": r["added_by"], "retired_on": r["retired_on"], "retired_by": r["retired_by"]} for r in rows]


def require(db: Database, kind: str, code: str) -> str:
    """`code` (as typed) when the list of `kind` holds it in use; else one line saying what
    the list holds. Runs inside the caller's transaction."""
    parsed = codes.parse_code(code, kind)
    row = codes_db.find(db, kind, parsed)
    if row is not None and row["retired_on"] is None:
        return parsed
    in_use = ", ".join(r["code"] for r in codes_db.listing(db, kind))
    if row is not None:
        raise ReturnsError(f"{kind} code {parsed} was retired on {row['retired_on']}: use one of {in_use}")
    raise ReturnsError(f"no {kind} code {inputs.quote(parsed)}: use one of {in_use} "
                       "(`speco-returns codes list`; a supervisor adds codes)")


def change(db: Database, action: str, kind: str, code: str, now: Now, title: str | None = None) -> str:
    """`add` a code (or bring a retired one back) or `retire` one; returns what was done."""
    kind = codes.parse_kind(kind)
    code = codes.parse_code(code, kind)
    on = now.today.isoformat()
    with db.write():
        row = codes_db.find(db, kind, code)
        if action == "add":
            text = codes.parse_title(title, code) if title is not None or row is None else row["title"]
            if row is None:
                codes_db.add(db, kind, code, text, on, now.agent)
                return f"{kind} code {code} added: {text}"
            if row["retired_on"] is None:
                raise ReturnsError(f"{kind} code {code} is already in use ({row['title']})")
            codes_db.revive(db, kind, code, text, on, now.agent)
            return f"{kind} code {code} is in use again (retired on {row['retired_on']}): {text}"
        if row is None:
            raise ReturnsError(f"no {kind} code {code} to retire")
        if row["retired_on"] is not None:
            raise ReturnsError(f"{kind} code {code} was already retired on {row['retired_on']}")
        codes_db.retire(db, kind, code, on, now.agent)
        return f"{kind} code {code} retired: returns that have it keep it; new ones cannot use it"


def record_finding(db: Database, key: str, code: str, on: date, now: Now) -> tuple[str, str]:
    """`finding RA CODE`: what Speco found when it examined the unit, after `receive`.
    Returns (key, code)."""
    with db.write():
        r = returns.find(db, key)
        if not r["received_on"]:
            raise ReturnsError(f"{returns.key(r)} has no unit received: a finding is recorded once Speco has the "
                               "unit (`receive RA --finding CODE`)")
        found = require(db, "finding", code)
        lifecycle.check_event_date(on, now.today, date.fromisoformat(r["received_on"]))
        returns.update(db, r["id"], {"finding": found, "finding_on": on.isoformat()})
        returns.add_event(db, r["id"], "finding", on, now, r["status"], {"finding": found})
    return returns.key(r), found


def refresh_finding(db: Database, return_id: int) -> None:
    """After a void of a `receive`: the finding the events in force say (codes.current_finding)."""
    found, on = codes.current_finding(lifecycle.effective(returns.life_events(db, return_id)))
    returns.update(db, return_id, {"finding": found, "finding_on": on})
