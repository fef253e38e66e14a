"""Commands about one return or many: policy, check, open, serials (`show` is in show.py)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..db import returns as db_returns
from ..domain import codes, inputs, lifecycle, rules, wording
from ..domain import types as domain_types
from ..errors import ReturnsError, Violation
from ..services import returns as returns_service
from ..services import show as show_service
from . import prompts
from .completion import complete_model, complete_type, for_questions
from .edge import command, fail, session_of
from .lines import say
from .options import JsonOpt, LimitOpt, RaArg, day_or_today, rows_shown
from .output import emit_json, listing


@command("", "policy")
def policy_cmd(
    ctx: typer.Context,
    return_type: Annotated[Optional[str], typer.Argument(metavar="TYPE", help="standard, counter (otc), advanced (ar) or virtual; all when left out.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The return types, their rules and the next steps, as an agent reads them.

    Example: speco-returns policy advanced
    """
    types = [inputs.parse_type(return_type)] if return_type else list(domain_types.TYPES)
    if as_json:
        emit_json([{"type": t, "title": domain_types.TYPE_TITLES[t],
                    "rules": [{"rule": r, "text": wording.RULE_TEXT[r]} for r in wording.RULES[t]],
                    "next_steps": wording.NEXT_STEPS[t], "slip_steps": wording.slip_steps(t)} for t in types])
        return
    from . import render

    render.policy_view(types)


TypeOpt = Annotated[Optional[str], typer.Option(
    "--type", "-t", help="standard, counter (otc), advanced (ar) or virtual.", autocompletion=complete_type)]
ItemOpt = Annotated[Optional[list[str]], typer.Option(
    "--item", "-i", help="MODEL or MODEL:QTY; repeat for several models.", autocompletion=complete_model)]
SerialOpt = Annotated[Optional[list[str]], typer.Option(
    "--serial", "-s", help="A serial number, or MODEL=SERIAL when the RA has several models; repeat per unit.")]
ApproverOpt = Annotated[Optional[str], typer.Option("--approved-by", help="Virtual: the supervisor who approved it (VR-1).")]
ReasonOpt = Annotated[Optional[str], typer.Option("--reason", help="Virtual: why it was approved (VR-1).")]
TicketOpt = Annotated[Optional[str], typer.Option(
    "--ticket", help="Counter: the Tech Ticket ID given to the customer (OTC-1).")]
DistributorOpt = Annotated[Optional[str], typer.Option(
    "--distributor", help="Counter: the distributor the customer returns through (OTC-1).")]
FaultOpt = Annotated[Optional[str], typer.Option(
    "--fault", help="The fault the customer reports: a fault code (`codes list`); asked at a terminal, "
                    "where a counter return may skip it.")]

_REFUSED = "(refused)"  # stands in for a given value that was refused, so no rule calls it missing


def _parse_request(type_: str | None, customer, items, serials, approved_by, reason, ticket, distributor,
                   fault=None) -> tuple[rules.Request, list[Violation]]:
    """The request as far as it parses, and every input problem (not just the first)."""
    problems: list[Violation] = []

    def attempt(parse, *args, default=None):
        try:
            return parse(*args)
        except ReturnsError as e:
            problems.extend(e.problems)
            return default

    parsed_items = [it for it in (attempt(inputs.parse_item, i) for i in items or []) if it]
    parsed_serials = [sr for sr in (attempt(inputs.parse_serial_arg, x) for x in serials or []) if sr]
    req = rules.Request(
        type=(attempt(inputs.parse_type, type_, default="") if type_ else ""),
        customer=attempt(inputs.clean_text, "customer", customer, default=_REFUSED),
        items=tuple(attempt(inputs.merge_items, parsed_items, default=[])),
        serials=tuple(parsed_serials),
        approved_by=attempt(inputs.clean_text, "approver", approved_by, default=_REFUSED),
        reason=attempt(inputs.clean_text, "reason", reason, default=_REFUSED),
        ticket=attempt(inputs.parse_ticket, ticket, default=_REFUSED) if ticket and ticket.strip() else None,
        distributor=attempt(inputs.clean_text, "distributor", distributor, default=_REFUSED),
        fault=attempt(codes.parse_code, fault, "fault") if fault and fault.strip() else None,
    )
    return req, problems


def _request(type_: str | None, customer, items, serials, approved_by, reason, ticket, distributor,
             fault) -> rules.Request:
    req, problems = _parse_request(type_, customer, items, serials, approved_by, reason, ticket, distributor, fault)
    if problems:
        raise ReturnsError(*problems)
    return req


@command("", "check")
def check_cmd(
    ctx: typer.Context,
    return_type: TypeOpt = None,
    item: ItemOpt = None,
    serial: SerialOpt = None,
    approved_by: ApproverOpt = None,
    reason: ReasonOpt = None,
    customer: Annotated[Optional[str], typer.Option("--customer", help="Virtual: warn when this customer's recent virtual returns pass 3 units (VR-2).")] = None,
    ticket: TicketOpt = None,
    distributor: DistributorOpt = None,
    fault: FaultOpt = None,
    on: Annotated[Optional[str], typer.Option("--on", help="The day to check as of (default today).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Eligibility only, writes nothing: exit 0 eligible, 1 not, with every broken rule.

    Example: speco-returns check --type virtual --item O4B3:2 --serial SN-1001 --serial SN-1002 --approved-by "Dana Lee" --reason "install deadline"
    """
    session = session_of(ctx)
    problems = []
    if not return_type:
        problems.append(Violation(None, "missing --type: standard, counter (otc), advanced (ar) or virtual"))
    if not item:
        problems.append(Violation(None, "missing --item: at least one MODEL[:QTY]"))
    req, bad_input = _parse_request(return_type, customer, item, serial, approved_by, reason, ticket, distributor, fault)
    problems += bad_input
    try:
        day = day_or_today(on, session.today())
    except ReturnsError as e:
        problems += e.problems
        day = None
    try:
        store = session.reader  # never creates one: a missing database is a problem like the others
    except ReturnsError as e:
        problems += e.problems
        store = None
    if problems and not as_json:
        fail(problems)
    # With --json every problem, of input or of a rule, is a violation (rule null where none applies).
    result = returns_service.check(store, req, day) if store and req.type and day else rules.CheckResult([], [], {})
    result.violations[:0] = problems
    if as_json:
        emit_json({"eligible": result.eligible, "violations": [v.as_json() for v in result.violations],
                   "warnings": [w.as_json() for w in result.warnings]})
    else:
        from . import render

        render.check_view(result)
    if not result.eligible:
        raise typer.Exit(code=1)


@command("", "open")
def open_cmd(
    ctx: typer.Context,
    return_type: TypeOpt = None,
    customer: Annotated[Optional[str], typer.Option("--customer", "-c", help="The customer's name (or company).")] = None,
    email: Annotated[Optional[str], typer.Option("--email", help="The customer's email.")] = None,
    phone: Annotated[Optional[str], typer.Option("--phone", help="The customer's phone number.")] = None,
    contact_note: Annotated[Optional[str], typer.Option(
        "--contact-note", help="When or how to reach the customer (\"call after 5pm\"), kept beside the phone.")] = None,
    item: ItemOpt = None,
    serial: SerialOpt = None,
    ticket: TicketOpt = None,
    distributor: DistributorOpt = None,
    approved_by: ApproverOpt = None,
    reason: ReasonOpt = None,
    fault: FaultOpt = None,
    note: Annotated[Optional[str], typer.Option("--note", help="A note for the history.")] = None,
    on: Annotated[Optional[str], typer.Option("--on", help="The day the return was opened (default today; never in the future).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check, then record the return; print its RA number (counter: its ticket ID) and the next steps.

    Example: speco-returns open --type standard --customer "Acme Security" --phone 555-0100 --item O4B3 --serial SN-1001
    """
    session = session_of(ctx)
    now = session.now()
    day = day_or_today(on, now.today)
    lifecycle.check_event_date(day, now.today, domain_types.MIN_DATE)  # before any question is asked
    contact = {"email": inputs.parse_email(email), "phone": inputs.parse_phone(phone),
               "contact_note": inputs.clean_text("contact note", contact_note)}
    note = inputs.clean_text("note", note)
    req = _request(return_type, customer, item, serial, approved_by, reason, ticket, distributor, fault)
    asking = prompts.interactive(as_json)
    missing = ([Violation(None, "missing --type: standard, counter (otc), advanced (ar) or virtual")]
               if not req.type else []) + rules.missing_fields(req)
    store = session.store
    if not asking:  # never asks: what is missing and what the rules refuse, in one error
        if missing and req.type and req.items:
            missing += returns_service.check(store, req, day, missing_reported=True).violations
        if missing:
            fail(missing)
    confirmed_hold = None
    if asking and (missing or not yes):
        def lookup(r: rules.Request) -> rules.Facts:
            return returns_service.facts(store, r, day)

        complete = for_questions(store)
        req, contact = prompts.fill(req, contact, lookup, offer=not yes, complete=complete)
        while not yes:  # show what breaks before asking; open_return checks again
            result = returns_service.check(store, req, day)
            if result.violations:
                raise ReturnsError(*result.violations)
            from . import render

            render.warnings(result.warnings)
            if prompts.confirm(prompts.summary(req, contact, result.hold_amount), default=True):
                confirmed_hold = result.hold_amount
                break
            req, contact = prompts.change_one(req, contact, lookup, complete)
    key, warnings = returns_service.open_return(store, req, contact, note, day, now, expect_hold=confirmed_hold)
    doc = show_service.show(store, key, now.today)
    doc["warnings"] = [w.as_json() for w in warnings] + doc["warnings"]
    if as_json:
        emit_json(doc)
        return
    from . import render

    render.return_view(doc, opened=True)


LIST_COLUMNS = ["ra", "type", "status", "customer", "opened_on"]


@command("serial", "add")
def serial_add(
    ctx: typer.Context,
    ra: RaArg,
    serials: Annotated[list[str], typer.Argument(help="SERIAL or MODEL=SERIAL, one per unit.")],
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="The model these serials belong to (RAs with several models).")] = None,
) -> None:
    """Record serial numbers on an open return.

    Example: speco-returns serial add RA-000005 O4B3=SN-5009
    """
    parsed = [inputs.parse_serial_arg(s) for s in serials]
    if model:
        m = inputs.normalize_model(model)
        parsed = [(given or m, s) for given, s in parsed]
    session = session_of(ctx)
    key = returns_service.add_serials(session.store, ra, parsed, session.now())
    say(f"{inputs.visible(key)}: added {', '.join(s for _, s in parsed)}")


@command("serial", "remove")
def serial_remove(
    ctx: typer.Context, ra: RaArg, serial: Annotated[str, typer.Argument(help="The serial to take off the return.")]) -> None:
    """Take a serial number off an open return (to correct a typo).

    Example: speco-returns serial remove RA-000005 SN-5009
    """
    session = session_of(ctx)
    s = inputs.parse_serial(serial)
    key = returns_service.remove_serial(session.store, ra, s, session.now())
    say(f"{inputs.visible(key)}: removed {s}")


@command("serial", "find")
def serial_find(
    ctx: typer.Context, serial: Annotated[str, typer.Argument(help="The serial number.")], limit: LimitOpt = None,
                as_json: JsonOpt = False) -> None:
    """Every return, open or closed, that holds this serial.

    Example: speco-returns serial find SN-3001
    """
    fmt = "json" if as_json else "human"
    rows = db_returns.with_serial(session_of(ctx).reader, inputs.parse_serial(serial))
    shown = rows_shown(limit, fmt)
    listing(fmt, rows[:shown], LIST_COLUMNS + ["model"], f"Serial {inputs.parse_serial(serial)}", total=len(rows),
             more="--json for all of them")

