"""`deliveries import`: a carrier's delivery report moves the 30-day clock (AR-4) to the carrier's
date. Each row is matched by its tracking number to the parcel an open return is waiting for:
the replacement (`ship --tracking`) or the customer's unit (`unit-shipped --tracking`).

- The replacement delivered: `deliver` on the carrier's date, source "carrier", with the file
  and the row's digest in the history.
- The unit delivered to Speco: `unit-arrived` (no longer return-stalled; on time if by the due
  date); `receive` stays the dock's act.
- A later, different carrier date supersedes a carrier's date through `void` + `deliver`; a date
  an agent typed is superseded only with a supervisor's `--force --reason`.
- Exceptions (returned to sender, delivery attempted, damaged) are recorded as
  `carrier-exception` and shown by `overdue` until the parcel moves on.
- A file is applied whole in one transaction: importing it again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date

from ..db import deliveries as q
from ..db import returns
from ..db.database import Database
from ..domain import carriers, lifecycle
from ..domain.clock import Now
from ..errors import ReturnsError
from . import returns as use

# What became of each row (the report counts them in this order).
RESULTS = ("delivered", "arrived", "superseded", "exception", "already", "conflict", "ambiguous",
           "unmatched", "not-a-delivery", "no-tracking")
NEEDS_A_PERSON = ("exception", "conflict", "ambiguous", "unmatched")


@dataclass
class Outcome:
    line: int
    tracking: str
    result: str
    ra: str | None = None
    parcel: str | None = None  # replacement | unit
    on: str | None = None  # the carrier's date
    message: str = ""


@dataclass
class Report:
    file: str
    format: str
    dry_run: bool
    rows: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    not_in_file: list[dict] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        found = dict.fromkeys(RESULTS, 0)
        for o in self.outcomes:
            found[o.result] += 1
        return found

    def document(self) -> dict:
        return {"file": self.file, "format": self.format, "dry_run": self.dry_run,
                "rows": self.rows, "counts": self.counts(),
                "rows_by_line": [asdict(o) for o in self.outcomes],
                "not_in_file": self.not_in_file}


class _DryRun(Exception):
    pass


def import_rows(db: Database, rows: list[carriers.Row], file_name: str, fmt: str, now: Now, *,
                dry_run: bool = False, force_reason: str | None = None,
                after: Callable[[Database, Report], None] | None = None) -> Report:
    """Apply a parsed file in one write transaction (rolled back for a dry run). `after`: what
    else the same transaction records once the rows are applied (the inbox marks its events)."""
    report = Report(file=file_name, format=fmt, dry_run=dry_run, rows=len(rows))
    try:
        with db.write():
            _apply_all(db, rows, report, now, force_reason)
            if after is not None:
                after(db, report)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return report


# --- matching -----------------------------------------------------------------------------------


def _current_parcels(events: list) -> dict[str, object]:
    """{replacement|unit: the ship / unit-shipped event in force} of one history."""
    found: dict[str, object] = {}
    for e in lifecycle.effective(events):
        if e["event"] == "ship":
            found["replacement"] = e
        elif e["event"] == "unit-shipped":
            found["unit"] = e
    return found


def _detail(e) -> dict:
    import json

    return json.loads(e["detail"] or "{}")


def _apply_all(db: Database, rows: list[carriers.Row], report: Report, now: Now,
               force_reason: str | None) -> None:
    keys = sorted({r.key for r in rows if r.key})
    hits = q.parcels(db, keys)
    ids = sorted({h["return_id"] for h in hits})
    found = q.returns_by_id(db, ids)
    history = q.histories(db, ids)
    matches: dict[str, list[tuple[int, str]]] = {}
    for h in hits:
        parcel = "replacement" if h["event"] == "ship" else "unit"
        current = _current_parcels(history.get(h["return_id"], [])).get(parcel)
        # a voided or earlier parcel is not awaited
        if current is not None and current["id"] == h["event_id"]:
            matches.setdefault(h["tkey"], []).append((h["return_id"], parcel))
    # each return as read, or as written so far
    state = {i: (found[i], history.get(i, [])) for i in ids}
    written: set[int] = set()  # read again only when a later row of the file names it
    for row in rows:
        report.outcomes.append(_one(db, row, matches, state, written, report.file, now,
                                    force_reason))
    mentioned = {m for r in rows if r.key for m in matches.get(r.key, [])}
    report.not_in_file = _not_in_file(db, mentioned)


def _one(db: Database, row: carriers.Row, matches, state, written: set[int], file_name: str,
         now: Now, force_reason: str | None) -> Outcome:
    out = Outcome(line=row.line, tracking=row.tracking, result="",
                  on=row.on.isoformat() if row.on else None)
    if not row.key:
        out.result, out.message = "no-tracking", "no tracking number on this row"
        return out
    candidates = matches.get(row.key, [])
    if not candidates:
        out.result, out.message = "unmatched", "no open return is waiting for this parcel"
        return out
    if len(candidates) > 1:
        names = ", ".join(dict.fromkeys(returns.key(state[i][0]) for i, _ in candidates))
        out.result, out.message = "ambiguous", ("the tracking number is on several open returns "
                                                f"({names}): record by hand")
        return out
    return_id, parcel = candidates[0]
    if return_id in written:
        state[return_id] = (q.returns_by_id(db, [return_id])[return_id],
                            q.histories(db, [return_id])[return_id])
        written.discard(return_id)
    r, events = state[return_id]
    out.ra, out.parcel = returns.key(r), parcel
    if row.kind == carriers.OTHER:
        out.result, out.message = "not-a-delivery", row.status or "no status"
        return out
    source = {"source": "carrier", "file": file_name, "line": row.line, "row": row.digest,
              "tracking": row.tracking, "carrier_at": row.at, "carrier_status": row.status}
    try:
        with q.savepoint(db):
            if row.kind == carriers.EXCEPTION:
                _exception(db, r, events, parcel, row, source, now, out)
            elif parcel == "replacement":
                _replacement(db, r, events, row, source, now, force_reason, out)
            else:
                _unit(db, r, events, row, source, now, out)
    except ReturnsError as e:  # the state machine or a rule refused: a person looks at it
        out.result, out.message = "conflict", "; ".join(p.line() for p in e.problems)
    if out.result in _WROTE:
        written.add(return_id)
    return out


_WROTE = ("delivered", "arrived", "superseded", "exception")


def _seen(events: list, digest: str) -> bool:
    """This very row was applied before (a file imported twice, or the row repeated in a later
    file)."""
    return any(e["event"] in ("deliver", "unit-arrived", "carrier-exception")
               and _detail(e).get("row") == digest
               for e in events)


def _after(events: list, parcel_event) -> list:
    """The events in force recorded after the parcel's own event."""
    return [e for e in lifecycle.effective(events) if e["id"] > parcel_event["id"]]


def _parcel_event(events: list, parcel: str):
    return _current_parcels(events)[parcel]


def _exception(db, r, events, parcel, row, source, now, out) -> None:
    if _seen(events, row.digest):
        out.result, out.message = "already", "recorded from an earlier import"
        return
    start = date.fromisoformat(_parcel_event(events, parcel)["happened_on"])
    on = row.on if row.on and start <= row.on <= now.today else now.today
    returns.add_event(db, r["id"], "carrier-exception", on, now, r["status"],
                      {**source, "parcel": parcel, "exception": row.exception,
                       **({"carrier_detail": row.detail} if row.detail else {})})
    out.result = "exception"
    out.message = f"{row.exception}: {row.detail or row.status}"


def _replacement(db, r, events, row, source, now, force_reason, out) -> None:
    ship = _parcel_event(events, "replacement")
    delivered = [e for e in _after(events, ship) if e["event"] == "deliver"]
    if _seen(events, row.digest):
        out.result, out.message = "already", "recorded from an earlier import"
        return
    if not delivered:
        if row.kind == carriers.UPDATED:
            out.result, out.message = "not-a-delivery", ("an updated delivery date for a parcel "
                                                         "not delivered yet (an estimate)")
            return
        _check_day(row.on, now, ship)
        use.record_in(db, r, "deliver", row.on, now, source)
        out.result, out.message = "delivered", (f"delivered {row.on}: "
                                                f"due back by {lifecycle.due_date(row.on)}")
        return
    last = delivered[-1]
    was = date.fromisoformat(last["happened_on"])
    by_carrier = _detail(last).get("source") == "carrier"
    if was == row.on:
        out.result = "already"
        out.message = ("the carrier's date is already recorded" if by_carrier
                       else f"agrees with the date {last['agent']} recorded")
        return
    later = [e["event"] for e in _after(events, last) if e["event"] in lifecycle.LIFE_EVENTS]
    if later:
        out.result = "conflict"
        out.message = (f"delivery is recorded on {was}, the carrier says {row.on}, "
                       f"and `{later[-1]}` came since: "
                       "correct it by hand (void back to the delivery, then deliver --on)")
        return
    if not by_carrier and not force_reason:
        out.result = "conflict"
        out.message = (f"{last['agent']} recorded delivery on {was}, the carrier says {row.on}: "
                       "a supervisor applies the carrier's date with --force --reason")
        return
    _check_day(row.on, now, ship)
    reason = (f"carrier's delivery date {row.on} ({source['file']} line {row.line})" if by_carrier
              else f"carrier's delivery date {row.on} over {last['agent']}'s {was}: {force_reason}")
    use.void_in(db, r, reason, now.today, now, expect_event=last["id"])
    r = q.returns_by_id(db, [r["id"]])[r["id"]]
    use.record_in(db, r, "deliver", row.on, now,
                  {**source, "supersedes": was.isoformat(),
                   **({"reason": force_reason} if not by_carrier else {})})
    out.result = "superseded"
    out.message = f"delivery {was} -> {row.on}: due back by {lifecycle.due_date(row.on)}"


def _check_day(on: date, now: Now, parcel_event) -> None:
    if on > now.today:
        raise ReturnsError(f"the carrier's date {on} is after today ({now.today})")
    shipped = date.fromisoformat(parcel_event["happened_on"])
    if on < shipped:
        raise ReturnsError(f"the carrier's date {on} is before the parcel was recorded shipped "
                           f"({shipped})")


def _unit(db, r, events, row, source, now, out) -> None:
    shipped = _parcel_event(events, "unit")
    after = _after(events, shipped)
    if any(e["event"] == "receive" for e in after) or r["received_on"]:
        out.result, out.message = "already", "the dock recorded `receive`"
        return
    if _seen(events, row.digest):
        out.result, out.message = "already", "recorded from an earlier import"
        return
    arrived = [e for e in after if e["event"] == "unit-arrived"]
    if arrived and date.fromisoformat(arrived[-1]["happened_on"]) == row.on:
        out.result, out.message = "already", "the carrier's date is already recorded"
        return
    if not arrived and row.kind == carriers.UPDATED:
        out.result, out.message = "not-a-delivery", ("an updated delivery date for a parcel "
                                                     "not delivered yet (an estimate)")
        return
    _check_day(row.on, now, shipped)
    was = arrived[-1]["happened_on"] if arrived else None
    returns.add_event(db, r["id"], "unit-arrived", row.on, now, r["status"],
                      {**source, **({"supersedes": was} if was else {})})
    due = r["due_on"]
    late = due is not None and row.on.isoformat() > due
    out.result = "superseded" if was else "arrived"
    out.message = (f"unit delivered to Speco {row.on}" + (f" (was {was})" if was else "")
                   + (f", after its due date {due}" if late else "") + ": `receive` it at the dock")


def _not_in_file(db: Database, mentioned: set) -> list[dict]:
    """Open returns waiting for a parcel with a tracking number that the file does not mention."""
    waiting = q.awaiting(db)
    history = q.histories(db, [w["id"] for w in waiting])
    out = []
    for w in waiting:
        parcel = "replacement" if w["status"] == "replacement-shipped" else "unit"
        event = _current_parcels(history.get(w["id"], [])).get(parcel)
        tracking = _detail(event).get("tracking") if event is not None else None
        if tracking and (w["id"], parcel) not in mentioned:
            out.append({"ra": returns.key(w), "parcel": parcel, "tracking": tracking,
                        "since": event["happened_on"], "status": w["status"]})
    return out

