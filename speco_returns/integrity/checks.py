"""Doctor's checks of what the tool stored, each a function of the Database giving problem
lines, the same on both engines: derived tables against what they derive from, the serials'
SER-1 flags, RA numbers, e-mail addresses notices failed on, reviews and notices against the
history, the catalog against its digest, and the schema against what its migrations make.
`CHECKS` lists them with the first schema each applies to (doctor migrates nothing)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..db import audit, changes
from ..db.chain import catalog_digest
from ..db.connection import Database
from ..domain import inputs
from ..domain.keys import NO_RA_NUMBER
from .replay import unrecorded

MAX_NAMED = 5  # returns named in one problem line


@dataclass(frozen=True)
class Check:
    name: str
    since: int  # the first schema version it applies to
    run: Callable[[Database], list[str]]


def _line(what: str, rows: list, fix: str) -> list[str]:
    if not rows:
        return []
    named = "; ".join(f"{key}: {problem}" for key, problem in rows[:MAX_NAMED])
    return [f"{len(rows)} {what}: {named}{' ...' if len(rows) > MAX_NAMED else ''} ({fix})"]


def ledger_days(db: Database) -> list[str]:
    drift = audit.ledger_days_drift(db)
    if not drift:
        return []
    return [f"the ledger's daily totals (ledger_days) disagree with the ledger on {drift} day(s): "
            "`report` would be wrong; restore from a backup"]


def serial_flags(db: Database) -> list[str]:
    rows = audit.serial_flags_disagreeing(db)
    if not rows:
        return []
    named = "; ".join(f"{serial} on {ra} ({status}) is {'held' if held else 'not held'}"
                      for serial, ra, status, held in rows[:MAX_NAMED])
    return [f"{len(rows)} serial(s) disagree with their return's state under SER-1 (serials.held): {named}"
            f"{' ...' if len(rows) > MAX_NAMED else ''}: a serial on two open returns shows here; cancel one"]


def held_twice(db: Database) -> list[str]:
    rows = audit.duplicate_held_serials(db)
    return _line("serial(s) held by more than one open return (SER-1)", [(s, f"{n} open returns") for s, n in rows],
                 "the index that keeps SER-1 was changed outside the tool; cancel all but one")


def missing_ra(db: Database) -> list[str]:
    rows = audit.returns_without_ra(db)
    if not rows:
        return []
    named = ", ".join(f"id {rid} ({type_})" for rid, type_ in rows[:MAX_NAMED])
    return [f"{len(rows)} return(s) have no RA number (changed outside the tool): {named}"
            f"{', ...' if len(rows) > MAX_NAMED else ''}; they are listed as {NO_RA_NUMBER}"]


def ra_gaps(db: Database) -> list[str]:
    gaps = audit.ra_gaps(db)
    if not gaps:
        return []
    shown = ", ".join(f"RA-{n:06d}" for n in gaps[:20])
    return [f"RA numbers missing: {shown}{', ...' if len(gaps) > 20 else ''} (a return was erased)"]


def addresses(db: Database) -> list[str]:
    """Open returns whose notices failed on an e-mail on file the `email` package cannot carry."""
    found = []
    for ra, email in audit.failed_notice_emails(db):
        ra = ra or NO_RA_NUMBER
        refusal = inputs.email_refusal(email) if email else None
        if refusal:
            found.append(f"{ra}: its notices cannot be sent to the e-mail on file '{inputs.quote(email)}' ({refusal}): "
                         f"correct it with `speco-returns edit {ra} --email`")
    if len(found) > MAX_NAMED:
        found[MAX_NAMED:] = [f"{len(found) - MAX_NAMED} more open return(s) whose notices cannot be sent to the e-mail "
                             "on file: `speco-returns notify --dry-run` names them"]
    return found


def reviews(db: Database) -> list[str]:
    return _line("review(s) disagree with their return's history", audit.review_disagreements(db),
                 "`report` counts reviews; restore from a backup")


def hold_lapses(db: Database) -> list[str]:
    return _line("hold(s) disagree with their lapse records (hold_lapses)",
                 audit.hold_lapse_disagreements(db),
                 "`report` and the exports derive lapses from them; restore from a backup")


def sent_notices(db: Database) -> list[str]:
    found = [(key, f"notice {kind}{f' {days}d' if kind == 'reminder' else ''} about {about} is recorded as sent, "
                   "but its history has no `notice` event with its Message-ID")
             for key, kind, days, about in audit.sent_notices_without_event(db)]
    return _line("notice(s) recorded as sent were never recorded in a history", found,
                 "such a notice may never have been sent: `notify` will not send it")


def notice_events(db: Database) -> list[str]:
    """`notice` events without their sent notice: at this tool's schema the replay counts them."""
    return _line("return(s) have `notice` events without their sent notice",
                 [(k, unrecorded(n)) for k, n in audit.notice_events_without_notice(db)], "the next `notify` sends those again")


def catalog(db: Database) -> list[str]:
    head = audit.catalog_head(db)
    rows, digest = catalog_digest(db)
    if head is not None and (head[0], head[1]) == (rows, digest):
        return []
    return [f"the catalog was changed outside the tool ({rows} model(s); its digest was recorded with "
            f"{'no' if head is None else head[0]} row(s) and does not match): list prices and categories decide holds "
            "and VR-3; compare `catalog list` with the price list, then enter it again (`catalog import`)"]


def history_rows(db: Database) -> list[str]:
    return _line("history row(s) are not well-formed (their detail is not a JSON object)",
                 [(k, f"event {i} ({event})") for k, i, event in audit.malformed_history(db)],
                 "written outside the tool: `show` refuses those returns; restore from a backup")


def outside_changes(db: Database, limit: int = 20) -> list[str]:
    """A server's changes no tool event explains, each with its login (db/changes.py), at most
    `limit`, then one line for the rest."""
    rows = audit.unexplained_changes(db, limit + 1)
    lines = [changes.wording(r["key"], r["tbl"], r["op"], r["login"], r["at"], r["old"], r["new"]) for r in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"{audit.unexplained_count(db) - limit} more change(s) made outside speco-returns: "
                     f"SELECT * FROM {changes.TABLE} WHERE NOT explained")
    return lines


# Each applies from the schema that made what it reads (m002: the history; m004: RA numbers;
# m007: notices; m008: the signed ledger, ledger_days and reviews; m012: serials.held; m014:
# the catalog's digest; m018: a server's audit; m021: hold_lapses).
CHECKS = [
    Check("ledger_days", 8, ledger_days),
    Check("serial_flags", 12, serial_flags),
    Check("held_twice", 12, held_twice),
    Check("missing_ra", 4, missing_ra),
    Check("ra_gaps", 4, ra_gaps),
    Check("reviews", 8, reviews),
    Check("addresses", 7, addresses),
    Check("sent_notices", 7, sent_notices),
    Check("catalog", 14, catalog),
    Check("history_rows", 2, history_rows),
    Check("outside_changes", 18, outside_changes),
    Check("hold_lapses", 21, hold_lapses),
]
