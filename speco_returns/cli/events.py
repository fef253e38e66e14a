"""The events of a return's life (SPEC §3), and its corrections: void, edit, note."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from typing import Annotated, Optional

import typer

from ..domain import codes, inputs, lifecycle, notices, wording
from ..domain import types as domain_types
from ..errors import ReturnsError, Violation
from ..services import returns as returns_service
from ..services import show as show_service
from . import prompts
from .completion import complete_ra
from .edge import command, session_of
from .lines import say
from .options import JsonOpt, OnOpt, RaArg, YesOpt, day_or_today
from .output import emit_json

# Events that move money or end a return: at a terminal they show the RA, the customer and
# the money, and ask (`--yes` skips); without a terminal they never ask (SPEC §4).
MONEY_MOMENTS = ("receive", "charge", "cancel", "refund")


def _record(ctx: typer.Context, ra: str, event: str, on: str | None, as_json: bool, yes: bool = False, **detail) -> None:
    day, key, moves, doc = _apply(ctx, ra, event, on, as_json, yes, **detail)
    warning = (returns_service.lapse_warning(session_of(ctx).store, key, event)
               if event in ("hold", "ship") else None)
    if warning:
        doc["warnings"].append({"rule": None, "message": warning})
    if as_json:
        emit_json(doc)
    else:
        say(f"{inputs.visible(key)}: {event} on {day}: now {doc['status']}{_money(event, moves)}. Next: {doc['next_step']}")
        if warning:
            say(f"Warning: {warning}")


def _apply(ctx: typer.Context, ra: str, event: str, on: str | None, as_json: bool, yes: bool = False, **detail):
    """Record the event (asking first at a money moment, at a terminal): (day, key, moves, the return's document)."""
    session = session_of(ctx)
    now = session.now()
    day = day_or_today(on, now.today)
    store = session.store
    if event == "hold" and detail.get("expires") is None:  # estimated from the authorization window
        detail.update(expires=day + timedelta(days=_hold_days()), estimated=True)
    elif event == "hold":
        detail["estimated"] = False
    if detail.get("consent") and detail.get("consent_on") is None:
        detail["consent_on"] = day
    if event in MONEY_MOMENTS and prompts.interactive(as_json) and not yes:
        key, r, moves = returns_service.preview(store, ra, event, day, **detail)
        if event != "receive" or r["type"] == "advanced":
            from .prompts import confirm_moment

            note = returns_service.new_charge_note(r, day) if event == "charge" else None
            lines = [*([note] if note else []), f"{event} on {day}: {wording.describe(moves)}"]
            confirm_moment(key, r["customer"], lines, f"Record {event}?")
    key, moves = returns_service.record(store, ra, event, day, now, **detail)
    return day, key, moves, show_service.show(store, key, now.today)


def _money(event: str, moves) -> str:
    return f"; {wording.describe(moves)}" if moves or event in MONEY_MOMENTS else ""


def _hold_days() -> int:
    """SPECO_RETURNS_HOLD_DAYS: how many days a card authorization lasts, when the processor gave
    no expiry (types.HOLD_DAYS; the networks' windows are in the README)."""
    text = os.environ.get("SPECO_RETURNS_HOLD_DAYS", "").strip()
    if not text:
        return domain_types.HOLD_DAYS
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= domain_types.HOLD_DAYS_MAX):
        raise ReturnsError(f"SPECO_RETURNS_HOLD_DAYS '{inputs.quote(text[:40])}' is not a number "
                           "of days: the days a card authorization lasts, a whole number from 1 to "
                           f"{domain_types.HOLD_DAYS_MAX} (default {domain_types.HOLD_DAYS})")
    return int(text)


@command("", "link")
def link_cmd(
    ctx: typer.Context, ra: RaArg, on: OnOpt = None, as_json: JsonOpt = False) -> None:
    """Advanced: the e-biz link was sent to the customer (AR-2).

    Example: speco-returns link RA-000003
    """
    _record(ctx, ra, "link", on, as_json)


@command("", "hold")
def hold_cmd(
    ctx: typer.Context,
    ra: RaArg,
    ref: Annotated[str, typer.Option("--ref", help="The payment processor's reference for the hold (never a card number).")],
    expires: Annotated[Optional[str], typer.Option(
        "--expires", help="The day the authorization lapses, as the processor gives it "
        "(default: estimated, the hold's date + SPECO_RETURNS_HOLD_DAYS).")] = None,
    consent: Annotated[Optional[str], typer.Option(
        "--consent", metavar="REF", help="The e-biz link's reference of the "
        "customer's consent: what a later charge rests on.")] = None,
    consent_on: Annotated[Optional[str], typer.Option(
        "--consent-on", metavar="DATE", help="The day the customer consented "
        "(default: the hold's date).")] = None,
    on: OnOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Advanced: the card hold was authorized; run again to re-authorize (AR-2, AR-3).

    Example: speco-returns hold RA-000003 --ref AUTH-88231 --expires 2026-11-09 --consent EBZ-5521
    """
    reference = inputs.parse_hold_ref(ref)
    expiry = inputs.parse_date(expires) if expires is not None else None
    if consent_on is not None and consent is None:
        raise ReturnsError("--consent-on is the day of a consent: give its reference too "
                           "(--consent REF)")
    agreed = inputs.parse_hold_ref(consent, "consent reference") if consent is not None else None
    agreed_on = inputs.parse_date(consent_on) if consent_on is not None else None
    _record(ctx, ra, "hold", on, as_json, ref=reference, expires=expiry, consent=agreed,
            consent_on=agreed_on)


@command("", "ship")
def ship_cmd(
    ctx: typer.Context, ra: RaArg, tracking: Annotated[Optional[str], typer.Option("--tracking", help="The carrier's tracking number.")] = None,
             on: OnOpt = None, as_json: JsonOpt = False) -> None:
    """Speco shipped the repaired or replacement unit (STD-1, AR-2, VR-5).

    Example: speco-returns ship RA-000003 --tracking 1Z999AA10123456786
    """
    _record(ctx, ra, "ship", on, as_json, tracking=_tracking(tracking))


@command("", "deliver")
def deliver_cmd(
    ctx: typer.Context, ra: RaArg, on: OnOpt = None, as_json: JsonOpt = False) -> None:
    """Advanced: the customer received the replacement; the 30-day clock starts (AR-4).

    Example: speco-returns deliver RA-000003 --on 2026-11-02
    """
    _record(ctx, ra, "deliver", on, as_json)


@command("", "unit-shipped")
def unit_shipped_cmd(
    ctx: typer.Context, ra: RaArg, tracking: Annotated[Optional[str], typer.Option("--tracking", help="The carrier's tracking number.")] = None,
                     on: OnOpt = None, as_json: JsonOpt = False) -> None:
    """The customer shipped the defective unit to Speco.

    Example: speco-returns unit-shipped RA-000001 --tracking 1Z999AA10123456784
    """
    _record(ctx, ra, "unit-shipped", on, as_json, tracking=_tracking(tracking))


@command("", "receive")
def receive_cmd(
    ctx: typer.Context,
    ra: Annotated[Optional[str], typer.Argument(help="RA number (any letter case); leave it out with --scan.",
                                                autocompletion=complete_ra)] = None,
    scan: Annotated[bool, typer.Option("--scan", help="At the dock: read one scanned code per line and receive each box "
                                                      "(`done` or Ctrl-D stops).")] = False,
    finding: Annotated[Optional[str], typer.Option(
        "--finding", help="What Speco found examining the unit: a finding code (`codes list`); or later, `finding RA CODE`.")] = None,
    on: OnOpt = None, yes: YesOpt = False, as_json: JsonOpt = False) -> None:
    """Speco received the customer's unit (advanced: completes the return and releases the hold).

    Example: speco-returns receive RA-000001
    """
    if scan:
        if ra is not None:
            raise typer.BadParameter("give an RA number or --scan, not both", param_hint="RA")
        if as_json:
            raise typer.BadParameter("--scan prints one line per box", param_hint="--json")
        if finding is not None:
            raise typer.BadParameter("a finding is one unit's: `finding RA CODE` once it is in", param_hint="--finding")
        raise typer.Exit(code=_scan(ctx, on, yes))
    if ra is None:
        raise typer.BadParameter("give the RA number of the unit that arrived (or --scan at the dock)", param_hint="RA")
    code = codes.parse_code(finding, "finding") if finding is not None else None
    _record(ctx, ra, "receive", on, as_json, yes, finding=code)


STOP_WORDS = ("done", "exit", "quit")


def _scan(ctx: typer.Context, on: str | None, yes: bool) -> int:
    """`receive --scan`: each line a box's code as the scanner types it (prefix and suffix
    characters allowed, domain.slip.scanned_key), received with today's date (or --on), one line
    per box; an advanced replacement asks before its hold is released, as `receive` does. A code
    that names no open return is said and the next box goes on. Exit 1 when a box was not received."""
    from ..domain.slip import scanned_key

    at_terminal = sys.stdin.isatty()
    if at_terminal:
        prompts.line_editing()
        typer.echo("Scan each box's RA barcode (type `done` or press Ctrl-D to stop).")
    received = missed = 0
    while True:
        try:
            line = input("scan> ") if at_terminal else sys.stdin.readline()
        except EOFError:
            break
        if not at_terminal and not line:
            break
        if line.strip().lower() in STOP_WORDS:
            break
        code = scanned_key(line)
        if code is None:
            continue
        try:
            _, key, moves, doc = _scan_one(ctx, code, on, yes)
        except ReturnsError as e:
            missed += 1
            sys.stdout.flush()  # a log reads in order
            prompts.say_refused([Violation(p.rule, f"{inputs.quote(code, 70)}: {p.message}; not received") for p in e.problems])
            continue
        received += 1
        typer.echo(inputs.visible(f"{key}  {notices.one_line(doc['customer'])}  received: now {doc['status']}"
                                  f"{_money('receive', moves)}. Next: {doc['next_step']}"))
    if at_terminal or received or missed:
        typer.echo(f"{received} box{'es' if received != 1 else ''} received" + (f", {missed} not" if missed else "") + ".")
    return 1 if missed else 0


def _scan_one(ctx: typer.Context, code: str, on: str | None, yes: bool):
    """Receive one scanned box; a code naming no return, or a closed one, is said as such."""
    store = session_of(ctx).store
    try:
        doc = show_service.show(store, code)
    except ReturnsError:
        raise ReturnsError("no return has this RA number or ticket") from None
    if not lifecycle.is_open(doc["status"]):
        raise ReturnsError(f"{doc['ra']} is {doc['status']}: no open return has this code")
    return _apply(ctx, code, "receive", on, False, yes)


@command("", "charge")
def charge_cmd(
    ctx: typer.Context,
    ra: RaArg,
    reason: Annotated[Optional[str], typer.Option(
        "--reason", help="Who decided and why (required for a lost parcel: sent back, "
        "stalled past its due date, and for a declined charge).")] = None,
    ref: Annotated[Optional[str], typer.Option(
        "--ref", help="After the hold lapsed: the processor's reference of this new "
        "charge (required then; new on the return).")] = None,
    declined: Annotated[bool, typer.Option(
        "--declined", help="The processor declined the charge: record it (with --reason); "
        "nothing is kept and the return stays overdue.")] = False,
    on: OnOpt = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Advanced: charge the card the hold amount; only once the unit is overdue, or lost in transit with --reason (AR-4).

    After the hold lapsed, a charge is a new charge on the card: give its reference (--ref), or
    record that it was declined (--declined --reason).

    Example: speco-returns charge RA-000004 --ref CH-20261106-1
    """
    text = inputs.clean_text("reason", reason)
    reference = inputs.parse_hold_ref(ref, "charge reference") if ref is not None else None
    if not declined:
        _record(ctx, ra, "charge", on, as_json, yes, reason=text, ref=reference)
        return
    if not text:
        raise ReturnsError("a declined charge is recorded with why and who decides next: "
                           "--reason TEXT")
    session = session_of(ctx)
    now = session.now()
    day = day_or_today(on, now.today)
    key = returns_service.decline(session.store, ra, day, now, text, reference)
    doc = show_service.show(session.store, key, now.today)
    if as_json:
        emit_json(doc)
    else:
        say(inputs.visible(f"{key}: charge declined on {day}: nothing charged; "
                           f"still {doc['status']}, listed for a supervisor (`overdue`)."))


@command("", "refund")
def refund_cmd(
    ctx: typer.Context,
    ra: RaArg,
    ref: Annotated[str, typer.Option("--ref", help="The payment processor's reference for the refund.")],
    amount: Annotated[Optional[str], typer.Option("--amount", help="How much to refund (default: all that was charged; never more).")] = None,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why: the supervisor's decision, for the history and the ledger.")] = None,
    on: OnOpt = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Late return: a supervisor refunds the charge (a `refunded` ledger row); the return is completed.

    Example: speco-returns refund RA-000004 --ref RF-20261203-1 --reason "K. Alvarez: unit works, refund in full"
    """
    reference = inputs.parse_hold_ref(ref, "refund reference")
    cents = inputs.parse_money(amount) if amount is not None else None
    _record(ctx, ra, "refund", on, as_json, yes, ref=reference, amount=cents, reason=inputs.clean_text("reason", reason))


@command("", "complete")
def complete_cmd(
    ctx: typer.Context,
    ra: RaArg,
    note: Annotated[Optional[str], typer.Option("--note", help="The outcome (a late return: who let the charge stand, and why).")] = None,
    on: OnOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Counter: the distributor handled it. Late return: the charge stands and writes no ledger row.

    Example: speco-returns complete TT-55012 --note "distributor credited the customer"
    """
    _record(ctx, ra, "complete", on, as_json, note=inputs.clean_text("note", note))


@command("", "cancel")
def cancel_cmd(
    ctx: typer.Context, ra: RaArg, reason: Annotated[str, typer.Option("--reason", help="Why the return is cancelled.")],
               on: OnOpt = None, yes: YesOpt = False, as_json: JsonOpt = False) -> None:
    """Cancel a return that has not shipped (an authorized hold is released).

    Example: speco-returns cancel RA-000006 --reason "customer found the cable was loose"
    """
    _record(ctx, ra, "cancel", on, as_json, yes, reason=_reason(reason, "the return is cancelled"))


@command("", "void")
def void_cmd(
    ctx: typer.Context,
    ra: RaArg,
    reason: Annotated[str, typer.Option("--reason", help="Why the event is undone (kept in the history).")],
    on: Annotated[Optional[str], typer.Option("--on", help="The day of the void (default today; not before the event it undoes).")] = None,
    ref: Annotated[Optional[str], typer.Option("--ref", help="A charge only: the processor's reference for its reversal (a charge is voided only with it).")] = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Undo the latest event of a return (a slip): its state and money go back; the history keeps both.

    Example: speco-returns void RA-000006 --reason "receive was typed on the wrong RA"
    """
    text = _reason(reason, "the event is voided")
    reference = inputs.parse_hold_ref(ref, "reversal reference") if ref is not None else None
    session = session_of(ctx)
    now = session.now()
    day = day_or_today(on, now.today)
    store = session.store
    expect = None
    if prompts.interactive(as_json) and not yes:
        key, r, plan = returns_service.plan_void(store, ra, day, reference)
        target = plan.voidable
        from .prompts import confirm_moment

        confirm_moment(key, r["customer"], [
            f"void: undoes {target['event']} of {target['happened_on']} ({r['status']} -> {plan.life.status})",
            f"money: {wording.describe(plan.undo)}",
        ], f"Void {target['event']}?")
        expect = target["id"]
    key, plan = returns_service.void(store, ra, text, day, now, expect_event=expect, ref=reference)
    doc = show_service.show(store, key, now.today)
    if as_json:
        emit_json(doc)
    else:
        target = plan.voidable
        say(inputs.visible(f"{key}: voided {target['event']} of {target['happened_on']}: now {doc['status']}; "
                                  f"{wording.describe(plan.undo)}. Next: {doc['next_step']}"))


@command("", "edit")
def edit_cmd(
    ctx: typer.Context,
    ra: RaArg,
    customer: Annotated[Optional[str], typer.Option("--customer", "-c", help="The customer's name (or company).")] = None,
    email: Annotated[Optional[str], typer.Option("--email", help="The customer's email ('' clears it).")] = None,
    phone: Annotated[Optional[str], typer.Option("--phone", help="The customer's phone number ('' clears it).")] = None,
    distributor: Annotated[Optional[str], typer.Option("--distributor", help="Counter: the distributor (OTC-1).")] = None,
    approved_by: Annotated[Optional[str], typer.Option("--approved-by", help="Virtual: the approving supervisor (VR-1).")] = None,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Virtual: why it was approved (VR-1).")] = None,
    fault: Annotated[Optional[str], typer.Option("--fault", help="The fault the customer reported: a fault code ('' clears it).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Correct a return's contact, approval and fault fields; the history keeps old → new.

    Example: speco-returns edit RA-000004 --email dan@example.com --phone 555-0199
    """
    given = {"customer": customer, "email": email, "phone": phone, "distributor": distributor,
             "approved_by": approved_by, "reason": reason}
    parsers = {"email": inputs.parse_email, "phone": inputs.parse_phone}
    fields = {name: parsers[name](value) if name in parsers else inputs.clean_text(name.replace("_", " "), value)
              for name, value in given.items() if value is not None}
    if fault is not None:
        fields["fault"] = codes.parse_code(fault, "fault") if fault.strip() else None
    if not fields:
        raise ReturnsError("nothing to edit: give --customer, --email, --phone, --distributor, --approved-by, --reason "
                           "or --fault")
    session = session_of(ctx)
    key, changed = returns_service.edit(session.store, ra, fields, session.now())
    if as_json:
        emit_json(show_service.show(session.store, key, session.today()))
    elif changed:
        say(inputs.visible(f"{key}: " + "; ".join(f"{name.replace('_', ' ')} {old or '(none)'} → {new or '(none)'}"
                                                         for name, old, new in changed)))  # old: stored, may hold escapes
    else:
        say(f"{inputs.visible(key)}: nothing changed")


@command("", "note")
def note_cmd(
    ctx: typer.Context, ra: RaArg, text: Annotated[str, typer.Argument(help="The note.")], on: OnOpt = None) -> None:
    """Add a note to a return's history.

    Example: speco-returns note RA-000004 "left voicemail about the late unit"
    """
    session = session_of(ctx)
    now = session.now()
    body = inputs.clean_text("note", text)
    if not body:
        raise ReturnsError("the note is empty")
    key = returns_service.note(session.store, ra, body, day_or_today(on, now.today), now)
    say(f"{inputs.visible(key)}: note added")


def _reason(text: str, why: str) -> str:
    reason = inputs.clean_text("reason", text)
    if not reason:
        raise ReturnsError(f"--reason is empty: say why {why}")
    return reason


def _tracking(text: str | None) -> str | None:
    """Tracking numbers are exempt from the card check (SPEC §6) but kept tidy."""
    if text is None or not text.strip():
        return None
    value = text.strip()
    inputs.require_utf8("tracking number", value)
    if len(value) > 64 or not value.isprintable():
        raise ReturnsError("tracking number is not valid: at most 64 printable characters")
    return value

