"""At a terminal, `open` asks for what the agent left out and checks each answer as it is
given, against the catalog, the open returns and the policy (SPEC §4); money
moments ask before they move money.

Every line is read by `read` and every yes/no by `confirm`: change those two to change how
an agent types (line editing, history).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace

import typer

from ..domain import inputs, rules, types
from ..errors import ReturnsError, Violation

Lookup = Callable[[types.Request], types.Facts]  # what the database knows about a request


def line_editing() -> None:
    """Arrow keys, Home/End and the answers already given (Up) at every prompt: input(), which
    typer.prompt calls, goes through readline once the module is imported."""
    try:
        import readline  # noqa: F401
    except ImportError:  # a Python built without it: plain input
        pass


def interactive(as_json: bool) -> bool:
    """Ask only a person at a terminal; never a pipe, a cron job or a script asking for JSON."""
    if as_json or not sys.stdin.isatty():
        return False
    line_editing()
    return True


def read(label: str) -> str:
    """One line typed by the agent ('' when they just press Enter; cli._interactive has
    turned line editing on)."""
    return typer.prompt(label, default="", show_default=False)


def confirm(question: str, default: bool) -> bool:
    return typer.confirm(question, default=default)


def say_refused(problems: list[Violation]) -> None:
    for p in problems:
        typer.echo(f"error: {inputs.visible(p.line())}", err=True)  # stored text may hold escapes


def ask(label: str, parse, *, optional: bool = False):
    """Ask until `parse` accepts the answer; its refusal is shown and the question repeated.
    `optional`: Enter skips it (None)."""
    while True:
        text = read(label)
        if optional and not text.strip():
            return None
        try:
            return parse(text)
        except ReturnsError as e:
            say_refused(e.problems)


def required(label: str):
    def parse(text: str) -> str:
        value = inputs.clean_text(label, text)
        if not value:
            raise ReturnsError(f"{label} is required")
        return value

    return parse


def items_line(text: str) -> tuple:
    items = tuple(inputs.merge_items(inputs.parse_item(p) for p in text.split(",") if p.strip()))
    if not items:
        raise ReturnsError("give at least one MODEL[:QTY]")
    return items


# --- open: each field asked, or checked when given as a flag --------------------------------

FIELDS = ("type", "customer", "email", "phone", "items", "ticket", "distributor", "approved_by", "reason", "serials")


def fill(req: types.Request, contact: dict, lookup: Lookup, *, ask_contact: bool) -> tuple[types.Request, dict]:
    """Every field the type needs, each checked as soon as it is known: a refused flag or
    answer is shown and asked again on the spot. `ask_contact`: offer e-mail and phone."""
    req = _ensure(req, lookup)
    if ask_contact:
        contact = dict(contact)
        if contact.get("email") is None:
            contact["email"] = _ask_email(req.type)
        if contact.get("phone") is None:
            contact["phone"] = ask("Phone (Enter to skip)", inputs.parse_phone, optional=True)
    return req, contact


def _ask_email(type_: str):
    # The e-biz link of an advanced replacement goes by e-mail: say so, but never insist.
    label = ("E-mail for the e-biz link (strongly advised; Enter to skip)" if type_ == "advanced"
             else "E-mail (Enter to skip)")
    return ask(label, inputs.parse_email, optional=True)


def _ensure(req: types.Request, lookup: Lookup) -> types.Request:
    if not req.type:
        req = replace(req, type=ask("Return type (standard, counter, advanced, virtual)", inputs.parse_type))
    if not req.customer:
        req = replace(req, customer=ask("Customer", required("customer")))
    req = _ensure_items(req, lookup)
    if req.type == "counter":
        req = _ensure_ticket(req, lookup)
        if not req.distributor:
            req = replace(req, distributor=ask("Distributor (OTC-1)", required("distributor")))
    if req.type == "virtual":
        if not req.approved_by:
            req = replace(req, approved_by=ask("Approved by (VR-1)", required("approver")))
        if not req.reason:
            req = replace(req, reason=ask("Reason (VR-1)", required("reason")))
    if req.type in types.SERIAL_RULE:
        req = replace(req, serials=_ensure_serials(req, lookup))
    return req


def _ensure_items(req: types.Request, lookup: Lookup) -> types.Request:
    """Items the type can take: a list price for an advanced one (AR-3), cameras of an
    eligible kind and count for a virtual one (VR-2, VR-3)."""

    def parse(text: str) -> tuple:
        items = items_line(text)
        problems = rules.item_problems(req.type, items, lookup(replace(req, items=items, serials=())).catalog)
        if problems:
            raise ReturnsError(*problems)
        return items

    if req.items:
        problems = rules.item_problems(req.type, req.items, lookup(replace(req, serials=())).catalog)
        if not problems:
            return req
        say_refused(problems)
    return replace(req, items=ask("Items (MODEL[:QTY], comma-separated)", parse))


def _ensure_ticket(req: types.Request, lookup: Lookup) -> types.Request:
    def parse(text: str) -> str:
        ticket = inputs.parse_ticket(text)
        problem = rules.ticket_problem(ticket, lookup(replace(req, ticket=ticket, serials=())))
        if problem:
            raise ReturnsError(problem)
        return ticket

    if req.ticket:
        problem = rules.ticket_problem(req.ticket, lookup(replace(req, serials=())))
        if not problem:
            return req
        say_refused([problem])
    return replace(req, ticket=ask("Tech Ticket ID (OTC-1)", parse))


def _ensure_serials(req: types.Request, lookup: Lookup) -> tuple:
    """Serials given as flags are kept where they fit and are free (SER-1); then one is
    asked per unit still without one, each checked as it is typed."""
    rule = types.SERIAL_RULE[req.type]
    try:
        rules.assign_serials(req.items, req.serials)
        serials = list(req.serials)
    except ReturnsError as e:  # they do not fit these items (changed since): ask them all
        say_refused([Violation(rule, p.message) for p in e.problems])
        serials = []
    facts = lookup(replace(req, serials=tuple(serials)))
    taken = [p for p in (rules.serial_problem(s, facts) for _, s in serials) if p]
    if taken:
        say_refused(taken)
        serials = [(m, s) for m, s in serials if not rules.serial_problem(s, facts)]
    given = {serial for _, serial in serials}

    def new_serial(text: str) -> str:
        serial = inputs.parse_serial(text)
        if serial in given:  # a repeat is asked again, not refused at the end
            raise ReturnsError(f"serial {serial} is already given for this return")
        problem = rules.serial_problem(serial, lookup(replace(req, serials=((None, serial),), items=())))
        if problem:
            raise ReturnsError(problem)
        given.add(serial)
        return serial

    assigned = rules.assign_serials(req.items, serials)
    for model, qty in req.items:
        for n in range(len(assigned[model]) + 1, qty + 1):
            serials.append((model, ask(f"Serial of {model}, unit {n} of {qty} ({rule})", new_serial)))
    return tuple(serials)


def summary(req: types.Request, contact: dict, hold: int | None) -> str:
    """The confirm line: type, customer, each item with its serials, the card hold."""
    serials = rules.assign_serials(req.items, req.serials)
    parts = []
    for model, qty in req.items:
        listed = f" ({', '.join(serials[model])})" if serials[model] else ""
        parts.append(f"{model} x{qty}{listed}")
    line = f"Open {types.a_type(req.type)} return for {req.customer}: {', '.join(parts)}"
    if req.ticket:
        line += f"; ticket {req.ticket}"
    reach = ", ".join(x for x in (contact.get("email"), contact.get("phone")) if x)
    if reach:
        line += f"; contact {reach}"
    if hold is not None:
        line += f"; card hold {inputs.format_usd(hold)}"
    return line + "?"


def change_one(req: types.Request, contact: dict, lookup: Lookup) -> tuple[types.Request, dict]:
    """After a 'no': which field to change (Enter: nothing is written). Only that field is
    asked again; the others are kept and checked once more against it."""
    names = [f for f in FIELDS if _applies(f, req.type)]

    def parse(text: str) -> str:
        name = text.strip().lower().replace("-", "_").replace(" ", "_")
        name = {"approved": "approved_by", "approver": "approved_by", "item": "items", "serial": "serials",
                "e_mail": "email"}.get(name, name)
        if name not in names:
            raise ReturnsError(f"'{inputs.quote(text)}' is not a field here: one of {shown}")
        return name

    shown = ", ".join(n.replace("_", "-") for n in names)
    name = ask(f"Change which field ({shown}; Enter to stop)", parse, optional=True)
    if name is None:
        raise ReturnsError("not confirmed: nothing was written")
    if name in ("email", "phone"):
        contact = dict(contact)
        contact[name] = (_ask_email(req.type) if name == "email"
                         else ask("Phone (Enter to skip)", inputs.parse_phone, optional=True))
        return req, contact
    empty = {"type": "", "items": (), "serials": ()}.get(name)
    return _ensure(replace(req, **{name: empty}), lookup), contact


def _applies(name: str, type_: str) -> bool:
    if name in ("ticket", "distributor"):
        return type_ == "counter"
    if name in ("approved_by", "reason"):
        return type_ == "virtual"
    if name == "serials":
        return type_ in types.SERIAL_RULE
    return True


# --- money moments ---------------------------------------------------------------------------


def confirm_moment(key: str, customer: str, lines: list[str], question: str) -> None:
    """Show the return, the customer and what will move, and ask; 'no' writes nothing (exit 1)."""
    typer.echo(inputs.visible(f"{key}  {customer}"))  # stored by an older version: escapes shown, never run
    for line in lines:
        typer.echo(f"  {inputs.visible(line)}")
    if not confirm(question, default=False):
        raise ReturnsError("not confirmed: nothing was written")
