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

import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .. import mailer
from ..db import outbox, returns
from ..db.database import Database
from ..domain import inputs, notices, slip, wording
from ..domain.clock import Now
from ..domain.lifecycle import clock_from_events, effective
from ..domain.notices import Notice, ReturnFacts
from ..errors import ReturnsError

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
    action: str | None = None  # what the team does about it (wording.action)

    @property
    def label(self) -> str:
        return Notice(self.kind, date.fromisoformat(self.about), self.days or 0).label


STATUSES = ("sent", "written", "would-send", "skipped", "failed", "no-email")


def candidates(db: Database, as_of: date,
               key: str | None = None) -> list[tuple[int, ReturnFacts, set]]:
    """Open returns, and those of the types that ship to Speco closed since the news window
    began (a `received` notice may be due), with their facts as of `as_of` and the notices
    already sent, each as (id, facts, {(kind, days, about)}). Through the partial index
    returns_open and the index on closed_on: the work grows with the open returns, not with
    the history. `key`: one return."""
    day = as_of.isoformat()
    since = (as_of - timedelta(days=notices.EVENT_NOTICE_DAYS)).isoformat()
    with db.read():
        if key is not None:
            found = [returns.find(db, key)]
        else:
            found = returns.open_as_of(db, day)
            seen = {r["id"] for r in found}
            found += [r for r in returns.closed_since(db, since, day, notices.SHIPS_TO_SPECO)
                      if r["id"] not in seen]
        ids = [r["id"] for r in found]
        events = returns.events_upto(db, ids, day)
        items = returns.items_of(db, ids)
        serials = returns.serials_by_return(db, ids)
        sent = outbox.sent_by_return(db, ids)
    out = []
    for r in found:
        history = events.get(r["id"], [])
        by_item: dict[int, list[str]] = {}
        for s in serials.get(r["id"], []):
            by_item.setdefault(s["item_id"], []).append(s["serial"])
        facts = ReturnFacts(
            key=returns.key(r), type=r["type"],
            status=history[-1]["status"] if history else r["status"],
            customer=r["customer"], email=r["email"], phone=r["phone"],
            opened_on=date.fromisoformat(r["opened_on"]),
            items=tuple(notices.Item(i["model"], i["qty"], i["list_price_cents"],
                                     tuple(by_item.get(i["id"], [])))
                        for i in items.get(r["id"], [])),
            clock=clock_from_events(history), hold_amount=r["hold_amount_cents"],
            distributor=r["distributor"], tracking=shipment_tracking(history))
        done = {(n["kind"], n["days"], date.fromisoformat(n["about_on"]))
                for n in sent.get(r["id"], [])}
        out.append((r["id"], facts, done))
    return out


def shipment_tracking(history: list) -> str | None:
    """The tracking number of Speco's shipment to the customer (the `ship` in force), if
    recorded."""
    shipped = [e for e in effective(history) if e["event"] == "ship"]
    return json.loads(shipped[-1]["detail"] or "{}").get("tracking") if shipped else None


def due(db: Database, as_of: date,
        remind: tuple[int, ...]) -> list[tuple[int, ReturnFacts, Notice]]:
    """Every notice due as of `as_of` that has not been sent, in RA order."""
    found = []
    for return_id, facts, sent in candidates(db, as_of):
        for n in notices.due(facts, as_of, remind):
            if (n.kind, n.days, n.about) not in sent:
                found.append((return_id, facts, n))
    return found


def usable_email(facts: ReturnFacts) -> str | None:
    """The stored address if a message can go to it (rows written before input checked it may hold
    one the `email` package cannot carry: inputs.mail_address decides, as at input)."""
    return facts.email if facts.email and inputs.email_refusal(facts.email) is None else None


def is_stale(row, now: Now) -> bool:
    """A `sending` claim whose run is gone: its process is dead (this host) or it is past the
    lease."""
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


def run(db: Database, settings: mailer.Settings, transport, now: Now, as_of: date,
        remind: tuple[int, ...], dry_run: bool,
        on_progress: Callable[[Outcome], None] | None = None,
        on_total: Callable[[int], None] | None = None) -> list[Outcome]:
    """Send (or with `dry_run`, only compose) every due notice; one Outcome each."""
    work = due(db, as_of, remind)
    if on_total:
        on_total(len(work))
    outcomes = []
    down: str | None = None
    me = mailer.claimant()
    for return_id, facts, n in work:
        # the slip only on a message that goes somewhere (a preview without an outbox lists,
        # never renders)
        msg, problem = build(facts, n, settings, now,
                             attach=bool(facts.email) and transport is not None)
        o = Outcome(ra=facts.key, customer=facts.customer, kind=n.kind,
                    days=n.days if n.kind == "reminder" else None,
                    about=n.about.isoformat(), to=facts.email or None, phone=facts.phone,
                    subject=str(msg["Subject"]) if msg is not None else _subject(facts, n),
                    status="would-send",
                    action=wording.action(n.kind, facts.clock.shipped_on is not None))
        if not facts.email:
            o.status = "no-email"
        elif down:
            o.status, o.error = "failed", down
        elif dry_run:
            if problem:
                o.status, o.error = "failed", problem
            elif transport is not None:
                msg["Message-ID"] = mailer.message_id(settings, facts.key)
                try:
                    _send(transport, msg, facts, n)
                    o.status = "written"
                except mailer.Failed as e:
                    o.status, o.error = "failed", str(e)
        else:
            try:
                _deliver(db, settings, transport, now, me, return_id, facts, n, msg, problem, o)
            # nothing was claimed: the rest fail alike, without waiting on the server again
            except mailer.Down as e:
                down = str(e)
                o.status, o.error = "failed", down
        outcomes.append(o)
        if on_progress:
            on_progress(o)
    return outcomes


def _deliver(db: Database, settings, transport, now: Now, me: str, return_id: int,
             facts: ReturnFacts, n: Notice, msg, problem: str | None, o: Outcome) -> None:
    # before claiming: a server that is down leaves nothing claimed (raises Down)
    transport.connect()
    mid = outbox.claim(db, return_id, n, mailer.message_id(settings, facts.key), now, me,
                       lambda row: is_stale(row, now))
    if mid is None:
        o.status = "skipped"  # sent meanwhile, or being sent by another run, or the return closed
        return
    o.message_id = mid
    try:
        if problem:
            raise mailer.Failed(problem)
        msg["Message-ID"] = mid
        _send(transport, msg, facts, n)
    except mailer.Failed as e:  # recorded with its reason (doctor names it); tried again next run
        outbox.mark_failed(db, return_id, n, str(e))
        o.status, o.error = "failed", str(e)
        return
    detail = {"kind": n.kind, "about": n.about.isoformat(), "to": o.to, "message_id": mid,
              "via": transport.via}
    if n.kind == "reminder":
        detail["days"] = n.days
    outbox.mark_sent(db, return_id, n, now, detail)
    o.status = "sent" if transport.via == "smtp" else "written"


def _send(transport, msg, facts: ReturnFacts, n: Notice) -> None:
    """Send one message; whatever goes wrong with it fails this notice only (mailer.Failed)."""
    try:
        transport.send(msg, _name(facts, n))
    except mailer.Failed:
        raise
    # a message the transport chokes on must not stop the night
    except Exception as e:  # noqa: BLE001
        raise mailer.Failed(f"the message could not be sent: {type(e).__name__}: {e}") from None


def build(facts: ReturnFacts, n: Notice, settings: mailer.Settings, now: Now, attach: bool = True):
    """(message, None), or (None, why) when this return's stored values cannot make a message:
    an address the `email` package cannot carry (stored before input checked it the same way),
    or any header it refuses. Written out once here, as sending will, so it fails now."""
    if facts.email:
        refusal = inputs.email_refusal(facts.email)
        if refusal:
            return None, (f"the e-mail on file cannot be put in a To: header ({refusal}): "
                          f"correct it with `speco-returns edit {facts.key} --email`")
    try:
        msg = _message(facts, n, settings, now, attach)
        msg.as_bytes()
    except ReturnsError as e:
        return None, f"the message cannot be built: {e.problems[0].message}"
    # a stored value nobody foresaw fails its notice, never the night
    except Exception as e:  # noqa: BLE001
        return None, (f"the message cannot be built: {type(e).__name__}: "
                      f"{' '.join(str(e).split())[:200]}")
    return msg, None


def _subject(facts: ReturnFacts, n: Notice) -> str:
    try:
        return notices.compose(facts, n)[0]
    except Exception:  # noqa: BLE001 - only for the report of a notice that failed already
        return ""


def _message(facts: ReturnFacts, n: Notice, settings: mailer.Settings, now: Now, attach: bool):
    """The message to send; its Message-ID is added once the notice is claimed. The `opened`
    notice of a type that ships to Speco carries the RA slip as a PDF, unless the settings
    say no attachments (SPECO_RETURNS_MAIL_ATTACHMENTS=off, notify --no-attachments)."""
    page = name = None
    if attach and n.kind == "opened" and settings.attachments and facts.type in slip.SHIPS_TO_SPECO:
        from . import slip_pdf

        page = slip_pdf.page(slip.slip(facts, return_address=settings.contact.return_address,
                                       sender=settings.sender),
                             settings.slip_paper, font=settings.slip_font,
                             made=datetime.fromisoformat(now.stamp))
        name = f"{mailer.plain_key(facts.key)}-slip.pdf"
    msg = notices.message(facts, n, sender=settings.sender, bcc=settings.bcc, stamp=now.stamp,
                          contact=settings.contact, slip=name)
    if page is not None:
        msg.add_attachment(page, maintype="application", subtype="pdf", filename=name)
    return msg


def _name(facts: ReturnFacts, n: Notice) -> str:
    """The .eml file name, one per notice identity (a retry writes the same name) and never one
    for two (mailer.plain_key: two tickets never share a file)."""
    days = f"-{n.days}d" if n.kind == "reminder" else ""
    return f"{mailer.plain_key(facts.key)}-{n.kind}{days}-{n.about.isoformat()}"


def summary(outcomes: list[Outcome]) -> dict[str, int]:
    return {s: sum(o.status == s for o in outcomes) for s in STATUSES}


def preview(db: Database, key: str, kind: str, now: Now, settings: mailer.Settings):
    """`show RA --notice KIND`: the message as it would be sent today (no Message-ID until it is);
    ReturnsError (one line) when it cannot be built, as `notify` would fail it."""
    [(_, facts, _)] = candidates(db, now.today, key=key)
    n = notices.notice_for(facts, kind, now.today)
    msg, problem = build(facts, n, settings, now)
    if problem:
        raise ReturnsError(f"{facts.key} {n.label}: {problem}")
    return msg

