"""`notify`: send every customer notice due as of a day, each at most once.

For each due notice: claim it (one write transaction: a second run skips it), send it,
then record it (the claim marked sent and a `notice` event with its Message-ID, in one
transaction). A notice that fails is marked failed and is due again on the next run; the
others go on. Level-triggered like `overdue`: a missed night still sends what is due.

A crash (or kill) between the send and the record leaves the claim `sending`. The next run
sends that notice again, with the same Message-ID, once the claim is stale: its process no
longer runs (same host) or it is older than CLAIM_LEASE. We prefer a rare duplicate, which
mail programs recognise by its Message-ID, to a lost deadline reminder.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from .. import mailer, notices
from ..db import outbox, returns
from ..db.database import Database
from ..domain.clock import Now, clock_from_events
from ..errors import ReturnsError
from ..notices import Notice, ReturnFacts
from ..policy import parse_email

CLAIM_LEASE = timedelta(minutes=15)  # far beyond one send (mailer.TIMEOUT_S per SMTP command)


@dataclass
class Outcome:
    """One due notice and what became of it (`notify --json` lists these)."""

    ra: str
    customer: str
    kind: str
    days: int | None
    about: str
    to: str | None
    phone: str | None
    subject: str
    status: str  # sent | written | would-send | skipped | failed | no-email
    message_id: str | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        return Notice(self.kind, date.fromisoformat(self.about), self.days or 0).label


STATUSES = ("sent", "written", "would-send", "skipped", "failed", "no-email")


def candidates(db: Database, as_of: date, key: str | None = None) -> list[tuple[int, ReturnFacts, set]]:
    """Open returns with their facts as of `as_of` and the notices already sent, each as
    (id, facts, {(kind, days, about)}). All of them through the partial index returns_open: the
    work grows with the open returns, not with the history. `key`: one return."""
    day = as_of.isoformat()
    with db.read():
        found = [returns.find(db, key)] if key is not None else returns.open_as_of(db, day)
        ids = [r["id"] for r in found]
        events = returns.events_upto(db, ids, day)
        items = returns.by_return(db, "SELECT * FROM items WHERE return_id IN ({ids}) ORDER BY id", ids)
        serials = returns.by_return(db, "SELECT return_id, item_id, serial FROM serials WHERE return_id IN ({ids}) "
                                        "ORDER BY id", ids)
        sent = outbox.sent_by_return(db, ids)
    out = []
    for r in found:
        history = events.get(r["id"], [])
        by_item: dict[int, list[str]] = {}
        for s in serials.get(r["id"], []):
            by_item.setdefault(s["item_id"], []).append(s["serial"])
        facts = ReturnFacts(
            key=returns.key(r), type=r["type"], status=history[-1]["status"] if history else r["status"],
            customer=r["customer"], email=r["email"], phone=r["phone"], opened_on=date.fromisoformat(r["opened_on"]),
            items=tuple(notices.Item(i["model"], i["qty"], i["list_price_cents"], tuple(by_item.get(i["id"], [])))
                        for i in items.get(r["id"], [])),
            clock=clock_from_events(history), hold_amount=r["hold_amount_cents"], distributor=r["distributor"])
        done = {(n["kind"], n["days"], date.fromisoformat(n["about_on"])) for n in sent.get(r["id"], [])}
        out.append((r["id"], facts, done))
    return out


def due(db: Database, as_of: date, remind: tuple[int, ...]) -> list[tuple[int, ReturnFacts, Notice]]:
    """Every notice due as of `as_of` that has not been sent, in RA order."""
    found = []
    for return_id, facts, sent in candidates(db, as_of):
        for n in notices.due(facts, as_of, remind):
            if (n.kind, n.days, n.about) not in sent:
                found.append((return_id, facts, n))
    return found


def usable_email(facts: ReturnFacts) -> str | None:
    """The stored address if a message can go to it (rows from before input checked it may not)."""
    try:
        return parse_email(facts.email) if facts.email else None
    except ReturnsError:
        return None


def is_stale(row, now: Now) -> bool:
    """A `sending` claim whose run is gone: its process is dead (this host) or it is past the lease."""
    host, _, pid = row["claimed_by"].rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            pass
    claimed = datetime.fromisoformat(row["claimed_at"])
    return datetime.fromisoformat(now.stamp) - claimed > CLAIM_LEASE


def run(db: Database, settings: mailer.Settings, transport, now: Now, as_of: date, remind: tuple[int, ...],
        dry_run: bool, on_progress: Callable[[Outcome], None] | None = None,
        on_total: Callable[[int], None] | None = None) -> list[Outcome]:
    """Send (or with `dry_run`, only compose) every due notice; one Outcome each."""
    work = due(db, as_of, remind)
    if on_total:
        on_total(len(work))
    outcomes = []
    down: str | None = None
    me = mailer.claimant()
    for return_id, facts, n in work:
        to = usable_email(facts)
        facts = facts if to == facts.email else replace(facts, email=None)
        msg = _message(facts, n, settings, now)
        o = Outcome(ra=facts.key, customer=facts.customer, kind=n.kind, days=n.days if n.kind == "reminder" else None,
                    about=n.about.isoformat(), to=to, phone=facts.phone, subject=str(msg["Subject"]), status="would-send")
        if to is None:
            o.status = "no-email"
        elif down:
            o.status, o.error = "failed", down
        elif dry_run:
            if transport is not None:
                msg["Message-ID"] = mailer.message_id(settings, facts.key)
                transport.send(msg, _name(facts, n))
                o.status = "written"
        else:
            try:
                _deliver(db, settings, transport, now, me, return_id, facts, n, msg, o)
            except mailer.Down as e:  # nothing was claimed: the rest fail alike, without waiting on the server again
                down = str(e)
                o.status, o.error = "failed", down
        outcomes.append(o)
        if on_progress:
            on_progress(o)
    return outcomes


def _deliver(db: Database, settings, transport, now: Now, me: str, return_id: int, facts: ReturnFacts, n: Notice,
             msg, o: Outcome) -> None:
    transport.connect()  # before claiming: a server that is down leaves nothing claimed (raises Down)
    mid = outbox.claim(db, return_id, n, mailer.message_id(settings, facts.key), now, me, lambda row: is_stale(row, now))
    if mid is None:
        o.status = "skipped"  # sent meanwhile, or being sent by another run, or the return closed
        return
    o.message_id = mid
    try:
        msg["Message-ID"] = mid
        transport.send(msg, _name(facts, n))
    except mailer.Failed as e:
        outbox.mark_failed(db, return_id, n, str(e))
        o.status, o.error = "failed", str(e)
        return
    detail = {"kind": n.kind, "about": n.about.isoformat(), "to": o.to, "message_id": mid, "via": transport.via}
    if n.kind == "reminder":
        detail["days"] = n.days
    outbox.mark_sent(db, return_id, n, now, detail)
    o.status = "sent" if transport.via == "smtp" else "written"


def _message(facts: ReturnFacts, n: Notice, settings: mailer.Settings, now: Now):
    """The message to send; its Message-ID is added once the notice is claimed."""
    return notices.message(facts, n, sender=settings.sender, bcc=settings.bcc, stamp=now.stamp,
                           return_address=settings.return_address)


def _name(facts: ReturnFacts, n: Notice) -> str:
    """The .eml file name: one per notice identity, so a retry rewrites the same file."""
    days = f"-{n.days}d" if n.kind == "reminder" else ""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in facts.key)
    return f"{safe}-{n.kind}{days}-{n.about.isoformat()}"


def summary(outcomes: list[Outcome]) -> dict[str, int]:
    return {s: sum(o.status == s for o in outcomes) for s in STATUSES}


def preview(db: Database, key: str, kind: str, now: Now, settings: mailer.Settings):
    """`show RA --notice KIND`: the message as it would be sent today (no Message-ID until it is)."""
    [(_, facts, _)] = candidates(db, now.today, key=key)
    n = notices.notice_for(facts, kind, now.today)
    facts = facts if usable_email(facts) == facts.email else replace(facts, email=None)
    return notices.message(facts, n, sender=settings.sender, bcc=None, stamp=now.stamp,
                           return_address=settings.return_address)
