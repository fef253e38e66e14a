"""A return's use cases, each a function over the Database: check, open, record an event (and
preview it), void, edit, note, serials. Rules stay in the policy; the query modules read and
write; each write is one transaction (`db.write()`), whole or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from ..db import catalog as catalog_db
from ..db import codes as codes_db
from ..db import ledger, returns
from ..db.database import Database
from ..domain import clock, inputs, lifecycle, rules, types, voids
from ..domain.clock import Now
from ..domain.keys import customer_key, key_of
from ..domain.rules import Request
from ..errors import ReturnsError, SerialTaken, Violation
from . import codes as codes_service

# Fields `edit` corrects, and the type that uses each (None: every type). A field a rule
# requires (OTC-1, VR-1) or the customer's name can be corrected but not emptied.
EDITABLE = {"customer": None, "email": None, "phone": None, "distributor": "counter",
            "approved_by": "virtual", "reason": "virtual", "fault": None}
REQUIRED = {"customer": None, "distributor": "OTC-1", "approved_by": "VR-1", "reason": "VR-1"}


def _dated(detail: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in detail.items() if v is not None}


# --- opening ---------------------------------------------------------------------------------


def facts(db: Database, req: Request, on: date) -> rules.Facts:
    """What the policy needs to know from the database about a request, as of `on`."""
    found = rules.Facts(catalog=catalog_db.lookup(db, [m for m, _ in req.items]),
                         serial_owners=returns.serial_owners(db, [s for _, s in req.serials]),
                         fault_codes=codes_db.in_use(db, "fault"))
    if req.ticket:
        found.ticket_owner = req.ticket if returns.ticket_taken(db, req.ticket) else None
    if req.type == "virtual" and req.customer:
        found.recent_virtual_units = returns.recent_virtual_units(db, req.customer, on)
    return found


def check(db: Database, req: Request, on: date, *, missing_reported: bool = False) -> rules.CheckResult:
    """Eligibility only: reads, writes nothing."""
    with db.read():
        return rules.check(req, facts(db, req, on), missing_reported=missing_reported)


@contextmanager
def ser1_backstop(db: Database, serials: list[str], key: str | None = None) -> Iterator[None]:
    """Around a write that may hold serials: SER-1 refused by the database itself (m012's unique
    index over held serials) because a writer that skipped the check got there first. After the
    rollback, the same SER-1 line the check gives, naming the return that holds the serial now.
    `key`: the return written to (its own serials are the candidates when `serials` is empty)."""
    try:
        yield
    except SerialTaken as e:
        exclude = None
        if key is not None:
            r = returns.find(db, key)
            exclude = r["id"]
            serials = serials or returns.serials_of(db, exclude)
        taken = [e.serial] if e.serial else []
        owners = returns.serial_owners(db, list(dict.fromkeys([*taken, *serials])), exclude)
        if not owners:
            raise
        raise ReturnsError(*(Violation("SER-1", f"serial {s} is already on open return {o}")
                             for s, o in owners.items())) from None


def open_return(db: Database, req: Request, contact: dict, note: str | None, on: date, now: Now,
                expect_hold: int | None = None) -> tuple[str, list]:
    """Check and record a return whole in one transaction; returns (key, warnings).
    `expect_hold`: the hold amount the agent confirmed; refused if prices changed since."""
    lifecycle.check_event_date(on, now.today, types.MIN_DATE)
    with ser1_backstop(db, [s for _, s in req.serials]), db.write():
        fault = codes_service.require(db, "fault", req.fault) if req.fault else None
        found = facts(db, req, on)
        result = rules.check(req, found)
        if result.violations:
            raise ReturnsError(*result.violations)
        hold = result.hold_amount
        if expect_hold is not None and hold != expect_hold:
            raise ReturnsError(Violation("AR-3", f"a list price changed while you confirmed: the hold is now "
                                                f"{inputs.format_usd(hold)}; nothing was written, open it again"))
        status = lifecycle.INITIAL[req.type]
        ra_no = None if req.type == "counter" else returns.next_ra_no(db)  # a counter return: its ticket
        return_id = returns.insert(db, {
            "type": req.type, "status": status, "customer": req.customer, "email": contact.get("email"),
            "phone": contact.get("phone"), "ticket": req.ticket if req.type == "counter" else None,
            "distributor": req.distributor, "approved_by": req.approved_by, "reason": req.reason,
            "hold_amount_cents": hold, "opened_on": on.isoformat(), "opened_at": now.stamp, "opened_by": now.agent,
            "last_event_on": on.isoformat(), "ra_no": ra_no, "customer_key": customer_key(req.customer),
            **({"fault": fault} if fault else {})})
        for model, qty in req.items:
            item_id = returns.insert_item(db, return_id, model, found.catalog.get(model), qty)
            returns.insert_serials(db, [(return_id, item_id, s) for s in result.serials[model]])
        # The contact note ("call after 5pm") is kept in the history, beside the phone it is about;
        # the fault reported too.
        detail = {"note": note, "contact_note": contact.get("contact_note"), "fault": fault}
        returns.add_event(db, return_id, "open", on, now, status, {k: v for k, v in detail.items() if v})
    return key_of(req.type, ra_no, req.ticket), result.warnings


# --- events -------------------------------------------------------------------------------------


def record(db: Database, key: str, event: str, on: date, now: Now, **detail) -> tuple[str, list[lifecycle.Move]]:
    """Move a return through one event of SPEC §3; returns its key and the money it moved."""
    with db.write():
        r = returns.find(db, key)
        moves = record_in(db, r, event, on, now, _dated(detail))
    return returns.key(r), moves


def record_in(db: Database, r, event: str, on: date, now: Now, detail: dict) -> list[lifecycle.Move]:
    """`record` inside a write the caller holds (`r`: the return's row as read in it)."""
    lifecycle.check_event_date(on, now.today, date.fromisoformat(r["last_event_on"]))
    life, moves = _step(db, r, event, on, detail)
    _apply(db, r, life, moves, on, now)
    _review(db, r, event, life.status, on, now)
    if detail.get("finding"):  # `receive --finding`: the unit examined as it arrived
        returns.update(db, r["id"], {"finding": detail["finding"], "finding_on": on.isoformat()})
    returns.add_event(db, r["id"], event, on, now, life.status, detail)
    return moves


def preview(db: Database, key: str, event: str, on: date, **detail) -> tuple[str, object, list[lifecycle.Move]]:
    """What `event` would move (reads, writes nothing); refused as `record` would refuse it."""
    detail = _dated(detail)
    with db.read():
        r = returns.find(db, key)
        _, moves = _step(db, r, event, on, detail)
        return returns.key(r), r, moves


def _step(db: Database, r, event: str, on: date, detail: dict) -> tuple[lifecycle.Life, list[lifecycle.Move]]:
    """The state machine, then the rules the event needs beyond it, then its effect."""
    lifecycle.transition(r["type"], r["status"], event)
    _guard(db, r, event, on, detail)
    if event == "complete" and r["status"] == "late-return" and not detail.get("note"):
        raise ReturnsError("a late return is closed with the supervisor's decision: complete --note TEXT")
    return lifecycle.step(r["type"], lifecycle.Life.from_row(r), event, on, detail, r["hold_amount_cents"] or 0)


def _guard(db: Database, r, event: str, on: date, detail: dict) -> None:
    """The rules an event needs beyond the state machine: the hold's dates, serials, AR-2, AR-4,
    a finding's code."""
    if detail.get("finding"):
        detail["finding"] = codes_service.require(db, "finding", detail["finding"])
    if event == "hold":
        if detail.get("expires") and detail["expires"] < on.isoformat():
            raise ReturnsError(f"--expires {detail['expires']} is before the hold's date {on}")
        if detail.get("consent_on") and detail["consent_on"] > on.isoformat():
            raise ReturnsError(f"--consent-on {detail['consent_on']} is after the hold's date "
                               f"{on}: the customer consents through the e-biz link before the "
                               "hold is authorized")
        last_hold = returns.last_hold_on(db, r["id"])
        if last_hold and on.isoformat() < last_hold:
            raise ReturnsError(f"date {on} is before the hold it replaces ({last_hold})")
        _new_reference(db, r, detail["ref"], "a re-authorization has a new reference from the processor")
    if event == "ship" and r["type"] in types.SERIAL_RULE:
        _serials_complete(db, r)
    if event == "ship" and r["type"] == "advanced":  # AR-2: the hold in force on the ship date
        refusal = clock.ship_refusal(lifecycle.clock_from_events(returns.events_until(db, r["id"], on)), on)
        if refusal:
            raise ReturnsError(refusal)
    if event == "charge":
        if not r["hold_active"]:  # its charge was reversed at the processor, which used the hold up
            raise ReturnsError(Violation("AR-4", "no card hold is in force to charge: its charge was reversed "
                                                "at the processor; re-authorize with `hold --ref NEW` first"))
        refusal = clock.charge_refusal(lifecycle.clock_from_events(returns.events_until(db, r["id"], on)), on,
                                        detail.get("reason"))
        if refusal:
            raise ReturnsError(refusal)
        _charge_reference(db, r, on, detail)
    if event == "refund":
        charged, refunded = ledger.charged_and_refunded(db, r["id"])
        cents = rules.refund_amount(detail.get("amount"), charged, refunded)
        detail["amount"] = inputs.format_amount(cents)  # the history keeps what was refunded


def lapse_of(r, on: date) -> date | None:
    """The day the return's hold lapsed, when that is before `on` (a charge then is a new
    charge)."""
    if r["hold_active"] and r["hold_expires"] and r["hold_expires"] < on.isoformat():
        return date.fromisoformat(r["hold_expires"])
    return None


def new_charge_note(r, on: date) -> str | None:
    """What an agent is told before a charge on `on` is asked for, when the hold has lapsed."""
    lapsed = lapse_of(r, on)
    if lapsed is None:
        return None
    return (f"the authorization {r['hold_ref']} lapsed on {lapsed}: this is a new charge on the "
            "card, which may be declined")


def _charge_reference(db: Database, r, on: date, detail: dict) -> None:
    """A charge after the hold lapsed is a new charge: it needs that charge's own reference from
    the processor (`--ref`, new on the return); a charge of a hold in force captures it under the
    hold's reference. A declined charge keeps its reference when the processor gave one."""
    ref = detail.get("ref")
    note = new_charge_note(r, on)
    if note is None:
        if ref and not detail.get("declined"):
            raise ReturnsError("--ref is the reference of a new charge, after the authorization "
                               f"lapsed: the hold {r['hold_ref']} is in force on {on} and the "
                               "charge captures it under its reference")
        return
    if ref is None and not detail.get("declined"):
        raise ReturnsError(f"{note}: give the processor's reference of that charge "
                           "(`charge --ref REF`), or record a declined one "
                           "(`charge --declined --reason TEXT`)")
    if ref is not None:
        _new_reference(db, r, ref, "a new charge has its own reference from the processor")


def decline(db: Database, key: str, on: date, now: Now, reason: str, ref: str | None = None) -> str:
    """A charge the processor declined (after the hold lapsed, a new charge may be): recorded in
    the history (`charge-declined`), refused where a charge would be; it moves no money and
    leaves the return as it was, overdue and listed for a supervisor (`overdue`)."""
    detail = _dated({"reason": reason, "ref": ref, "declined": True})
    with db.write():
        r = returns.find(db, key)
        lifecycle.check_event_date(on, now.today, date.fromisoformat(r["last_event_on"]))
        lifecycle.transition(r["type"], r["status"], "charge")
        _guard(db, r, "charge", on, detail)
        del detail["declined"]
        returns.add_event(db, r["id"], "charge-declined", on, now, r["status"], detail)
    return returns.key(r)


def lapse_warning(db: Database, key: str, event: str) -> str | None:
    """Said once, at `hold` and at `ship`: the hold lapses before the earliest due date."""
    with db.read():
        r = returns.find(db, key)
    if r["type"] != "advanced" or not r["hold_active"] or not r["hold_expires"]:
        return None
    start = r["shipped_on"] if event == "ship" else r["last_event_on"]
    return clock.lapse_warning(date.fromisoformat(r["hold_expires"]), r["hold_estimated"],
                               date.fromisoformat(start))


def _new_reference(db: Database, r, ref: str, why: str) -> None:
    """A processor's reference names one movement on a return's ledger: a reference already
    there (any letter case; a voided hold's too) is refused, so the ledger and `export holds`
    keep one row per reference and authorization (SPEC §7)."""
    used = ledger.reference_used(db, r["id"], ref)
    if used:
        raise ReturnsError(f"reference {ref} is already on {returns.key(r)}'s ledger ({used[0]} on {used[1]}): {why}")


def _serials_complete(db: Database, r) -> None:
    """AR-1, VR-4: one serial per unit whenever the replacement ships (`serial remove` may have
    taken one off since the return was opened)."""
    rule = types.SERIAL_RULE[r["type"]]
    problems = [Violation(rule, f"one serial number per unit is required before the replacement ships: "
                                       f"{i['model']} has {i['qty']} unit(s) and {i['have']} serial(s); `serial add` first")
                for i in returns.items_short_of_serials(db, r["id"])]
    if problems:
        raise ReturnsError(*problems)


def _review(db: Database, r, event: str, new: str, on: date, now: Now) -> None:
    """A late return is not a money movement: the charge goes to a supervisor's review, and
    their decision (`refund`, or `complete --note`) closes it (SPEC §2, §5)."""
    if event == "receive" and new == "late-return":
        ledger.open_review(db, r["id"], on, now)
    elif r["status"] == "late-return":
        ledger.decide_review(db, r["id"], on, "refunded" if event == "refund" else "charge stands")


def _apply(db: Database, r, life: lifecycle.Life, moves: list, on: date, now: Now) -> None:
    """Store the columns the history decides and write the ledger rows it moved (SPEC §5)."""
    returns.update(db, r["id"], {c: v for c, v in life.columns().items() if v != r[c]})
    for move in moves:
        ledger.add(db, r["id"], move, on, now)


def plan_void(db: Database, key: str, on: date, ref: str | None = None) -> tuple[str, object, lifecycle.Replay]:
    """What `void` would undo (reads, writes nothing): (key, the return, the plan)."""
    with db.read():
        r = returns.find(db, key)
        return returns.key(r), r, _plan_void(db, r, on, ref=ref)


def _plan_void(db: Database, r, on: date, reason: str | None = None,
               ref: str | None = None) -> lifecycle.Replay:
    plan = voids.plan_void(r["type"], date.fromisoformat(r["opened_on"]),
                           r["hold_amount_cents"] or 0, returns.life_events(db, r["id"]), on,
                           reason, ref)
    if ref:
        _new_reference(db, r, ref, "a charge's reversal has its own reference from the processor")
    return plan


def void(db: Database, key: str, reason: str, on: date, now: Now, expect_event: int | None = None,
         ref: str | None = None) -> tuple[str, lifecycle.Replay]:
    """Undo the latest event of a return's life (SPEC §3): a `void` event, the state and columns
    before that event restored, the money it moved moved back. `expect_event`: the id of the
    event the agent saw and confirmed; refused if another agent wrote since. `ref`: the
    processor's reversal of a charge (a charge is voided only with it)."""
    with ser1_backstop(db, [], key), db.write():
        r = returns.find(db, key)
        plan = void_in(db, r, reason, on, now, expect_event, ref)
    return returns.key(r), plan


def void_in(db: Database, r, reason: str, on: date, now: Now, expect_event: int | None = None,
            ref: str | None = None) -> lifecycle.Replay:
    """`void` inside a write the caller holds (`r`: the return's row as read in it)."""
    lifecycle.check_event_date(on, now.today, types.MIN_DATE)
    plan = _plan_void(db, r, on, reason, ref)
    target = plan.voidable
    if expect_event is not None and target["id"] != expect_event:
        raise ReturnsError("the return changed while you confirmed: nothing was written, look at it again")
    if lifecycle.is_open(plan.life.status) and not lifecycle.is_open(r["status"]):  # serials held again
        owners = returns.serial_owners(db, returns.serials_of(db, r["id"]), r["id"])
        if owners:
            raise ReturnsError(*(Violation("SER-1", f"serial {s} is now on open return {o}: "
                                                  f"{returns.key(r)} cannot be reopened") for s, o in owners.items()))
    _apply(db, r, plan.life, plan.undo, on, now)
    returns.add_event(db, r["id"], "void", on, now, plan.life.status,
                      {"voided": target["event"], "voided_on": target["happened_on"], "reason": reason,
                       **({"ref": ref} if ref else {})})
    if target["event"] == "receive":  # a voided `receive` takes the findings on the unit with it
        codes_service.refresh_finding(db, r["id"])
    return plan


# --- corrections --------------------------------------------------------------------------------


def note(db: Database, key: str, text: str, on: date, now: Now) -> str:
    with db.write():
        r = returns.find(db, key)
        lifecycle.check_event_date(on, now.today, date.fromisoformat(r["last_event_on"]))
        returns.add_event(db, r["id"], "note", on, now, r["status"], {"note": text})
    return returns.key(r)


def edit(db: Database, key: str, fields: dict, now: Now) -> tuple[str, list[tuple[str, str | None, str | None]]]:
    """Correct contact and approval fields; an `edit` event keeps old and new (dated today, like
    serial edits: it does not bound later dates). Returns (key, [(field, old, new)])."""
    with db.write():
        r = returns.find(db, key)
        for name, value in fields.items():
            only = EDITABLE[name]
            if only and r["type"] != only:
                raise ReturnsError(f"{returns.key(r)} is {types.a_type(r['type'])} return: it has no "
                                   f"{name.replace('_', ' ')} ({types.a_type(only)} return's field)")
            if value is None and name in REQUIRED:
                raise ReturnsError(Violation(REQUIRED[name], f"{name.replace('_', ' ')} cannot be emptied"))
            if name == "fault" and value is not None:
                fields[name] = codes_service.require(db, "fault", value)
        changed = [(name, r[name], value) for name, value in fields.items() if r[name] != value]
        if changed:
            columns = {name: value for name, _, value in changed}
            if "customer" in columns:  # the key VR-2 and `list --customer` compare follows the name
                columns["customer_key"] = customer_key(columns["customer"])
            returns.update(db, r["id"], columns)
            returns.add_event(db, r["id"], "edit", now.today, now, r["status"],
                              {"changes": [{"field": n, "from": old, "to": new} for n, old, new in changed]})
    return returns.key(r), changed


def _open_for_serials(db: Database, key: str):
    r = returns.find(db, key)
    if not lifecycle.is_open(r["status"]):
        raise ReturnsError(f"{returns.key(r)} is {r['status']}: serials are edited only on open returns")
    return r


def add_serials(db: Database, key: str, serials: list[tuple[str | None, str]], now: Now) -> str:
    with ser1_backstop(db, [s for _, s in serials], key), db.write():
        r = _open_for_serials(db, key)
        items = returns.item_list(db, r["id"])
        have = returns.serials_with_models(db, r["id"])
        existing = {s["serial"] for s in have}
        for _, serial in serials:
            if serial in existing:
                raise ReturnsError(f"serial {serial} is already on {returns.key(r)}")
        combined = [(h["model"], h["serial"]) for h in have] + serials
        assigned = rules.assign_serials([(i["model"], i["qty"]) for i in items], combined)
        owners = returns.serial_owners(db, [s for _, s in serials], r["id"])
        if owners:
            raise ReturnsError(*(Violation("SER-1", f"serial {s} is already on open return {o}")
                                 for s, o in owners.items()))
        item_ids = {i["model"]: i["id"] for i in items}
        new = {s for _, s in serials}
        rows = [(r["id"], item_ids[m], s) for m, found in assigned.items() for s in found if s in new]
        returns.insert_serials(db, rows)
        returns.add_event(db, r["id"], "serial-add", now.today, now, r["status"], {"serials": [s for _, _, s in rows]})
    return returns.key(r)


def remove_serial(db: Database, key: str, serial: str, now: Now) -> str:
    with db.write():
        r = _open_for_serials(db, key)
        if not returns.remove_serial(db, r["id"], serial):
            raise ReturnsError(f"serial {serial} is not on {returns.key(r)}")
        returns.add_event(db, r["id"], "serial-remove", now.today, now, r["status"], {"serials": [serial]})
    return returns.key(r)
