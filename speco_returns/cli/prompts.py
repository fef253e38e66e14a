"""At a terminal, `open` asks for what the agent left out and checks each answer as it is
given, against the catalog, the open returns and the policy (SPEC §4); money
moments ask before they move money.

Every line is read by `read` and every yes/no by `confirm`: change those two to change how
an agent types (line editing, history).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import replace

import typer

from ..domain import codes, inputs, rules, types
from ..errors import Discarded, ReturnsError, Violation
from .lines import say, width_of, wrapped

Lookup = Callable[[rules.Request], rules.Facts]  # what the database knows about a request


Complete = Callable[[str], list[str]]  # Tab at a question: the candidates for what was typed


def line_editing() -> None:
    """Arrow keys, Home/End and the answers already given (Up) at every prompt: input() (`read`)
    goes through readline once the module is imported; Tab completes."""
    try:
        import readline
    except ImportError:  # a Python built without it: plain input
        return
    readline.parse_and_bind("bind ^I rl_complete" if "libedit" in (readline.__doc__ or "") else "tab: complete")


def interactive(as_json: bool) -> bool:
    """Ask only a person at a terminal; never a pipe, a cron job or a script asking for JSON."""
    if as_json or not sys.stdin.isatty():
        return False
    line_editing()
    return True


def is_command_line(text: str) -> bool:
    """A line that is itself a command (`speco-returns list`, `$ speco-returns ...`,
    `python -m speco_returns ...`): pasted into a question, it is not an answer."""
    words = text.strip().removeprefix("$").split()
    if not words:
        return False
    program = words[0].rsplit("/", 1)[-1]
    return program in ("speco-returns", "speco_returns") or (
        program.startswith("python") and words[1:3] == ["-m", "speco_returns"])


def read(label: str, complete: Complete | None = None, delims: str = " ") -> str:
    """One line typed by the agent ('' when they just press Enter; `interactive` has turned line
    editing on). Tab offers `complete`'s candidates for the word being typed (`delims` end a
    word; '' for the whole answer). A pasted command line is refused and the question asked
    again, so a pasted block does not become the answers."""
    while True:
        with _completing(complete, delims):
            try:  # the prompt given to input(): readline redraws it with the answer (Tab, arrow keys)
                text = input(_prompt(label))
            except EOFError:  # Ctrl-D: nothing is written (the edge says so, exit 130)
                raise typer.Abort() from None
        if not is_command_line(text):
            return text
        say(f"error: that is a command line, not an answer to \"{label}\": answer it, or Ctrl-C to stop "
            "this command first", err=True)


def _prompt(label: str) -> str:
    """`label: `, wrapped between words to the window like every one-line message: the lines
    before the last are printed, the last is the prompt readline redraws."""
    *before, last = wrapped(f"{label}:", width_of(sys.stdout))
    for line in before:
        sys.stdout.write(line + "\n")
    return last + " "


@contextmanager
def _completing(complete: Complete | None, delims: str):
    """Tab completes with `complete` while the question is asked; the shell's own completer
    (or none) comes back after it."""
    try:
        import readline
    except ImportError:
        readline = None
    if readline is None or complete is None:
        yield
        return
    before, before_delims, matches = readline.get_completer(), readline.get_completer_delims(), []

    def completer(text: str, state: int) -> str | None:
        if state == 0:
            try:
                matches[:] = complete(text)
            except Exception:  # completing never breaks the answer being typed
                matches[:] = []
        return matches[state] if state < len(matches) else None

    readline.set_completer(completer)
    readline.set_completer_delims(delims)
    try:
        yield
    finally:
        readline.set_completer(before)
        readline.set_completer_delims(before_delims)


def confirm(question: str, default: bool) -> bool:
    """A yes/no question: y or yes, n or no, Enter for the default; anything else is asked again."""
    while True:
        answer = read(f"{question} [{'Y/n' if default else 'y/N'}]").strip().lower()
        if not answer:
            return default
        if answer in ("y", "yes", "n", "no"):
            return answer.startswith("y")
        say(f"error: answer y or n, not '{inputs.quote(answer)}'", err=True)


def say_refused(problems: list[Violation]) -> None:
    for p in problems:
        say(f"error: {inputs.visible(p.line())}", err=True)  # stored text may hold escapes


def ask(label: str, parse, *, optional: bool = False, complete: Complete | None = None, delims: str = " "):
    """Ask until `parse` accepts the answer; its refusal is shown and the question repeated.
    `optional`: Enter skips it (None). `complete`: what Tab offers (see `read`)."""
    while True:
        text = read(label, complete, delims)
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

FIELDS = ("type", "customer", "email", "phone", "contact_note", "items", "fault", "ticket", "distributor", "approved_by",
          "reason", "serials")
# What Tab completes at open's questions: {"type": ..., "customer": ..., "model": ..., "fault": ...},
# each text -> candidates (cli/completion.py `for_questions` makes them from the database).
Completers = dict[str, Complete]


def fill(req: rules.Request, contact: dict, lookup: Lookup, *, offer: bool,
         complete: Completers | None = None) -> tuple[rules.Request, dict]:
    """Every field the type needs, each checked as soon as it is known: a refused flag or
    answer is shown and asked again on the spot. `offer`: also ask what the flags may leave
    out (the fault reported, serials where no rule needs them, e-mail and phone)."""
    req = _ensure(req, lookup, offer=offer, complete=complete or {})
    if offer:
        contact = dict(contact)
        if contact.get("email") is None:
            contact["email"] = _ask_email(req.type)
        if contact.get("phone") is None:
            contact["phone"] = _ask_phone()
    return req, contact


def _ask_email(type_: str):
    # The e-biz link of an advanced replacement goes by e-mail: say so, but never insist.
    label = ("E-mail for the e-biz link (strongly advised; Enter to skip)" if type_ == "advanced"
             else "E-mail (Enter to skip)")
    return ask(label, inputs.parse_email, optional=True)


def _ask_phone():
    return ask("Phone (Enter to skip)", inputs.parse_phone, optional=True)


def _ask_contact_note():
    return ask("Contact note, e.g. call after 5pm (Enter for none)", lambda t: inputs.clean_text("contact note", t),
               optional=True)


def _ensure(req: rules.Request, lookup: Lookup, *, offer: bool, complete: Completers) -> rules.Request:
    if not req.type:
        req = replace(req, type=ask("Return type (standard, counter, advanced, virtual)", inputs.parse_type,
                                    complete=complete.get("type")))
    if not req.customer:
        req = replace(req, customer=ask("Customer", required("customer"), complete=complete.get("customer"), delims=""))
    req = _ensure_items(req, lookup, complete.get("model"))
    if offer or req.fault:  # asked with what may be left empty; a fault given as a flag is checked
        req = _ensure_fault(req, lookup, complete.get("fault"))
    if req.type == "counter":
        req = _ensure_ticket(req, lookup)
        if not req.distributor:
            req = replace(req, distributor=ask("Distributor (OTC-1)", required("distributor")))
    if req.type == "virtual":
        if not req.approved_by:
            req = replace(req, approved_by=ask("Approved by (VR-1)", required("approver")))
        if not req.reason:
            req = replace(req, reason=ask("Reason (VR-1)", required("reason")))
    if req.type in types.SERIAL_RULE or offer:
        req = replace(req, serials=_ensure_serials(req, lookup))
    return req


def _ensure_items(req: rules.Request, lookup: Lookup, complete: Complete | None = None) -> rules.Request:
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
    return replace(req, items=ask("Items (MODEL[:QTY], comma-separated)", parse, complete=complete, delims=", "))


def _ensure_fault(req: rules.Request, lookup: Lookup, complete: Complete | None = None) -> rules.Request:
    """The fault the customer reports, one of the codes in use (listed, and Tab completes them).
    A counter return may skip it: Enter, kept as "" so it is not asked again."""
    facts = lookup(replace(req, serials=()))
    if not facts.fault_codes or req.fault == "":  # not upgraded yet, or every fault retired; skipped
        return req
    if req.fault:
        problem = rules.fault_problem(req.fault, facts)
        if not problem:
            return req
        say_refused([problem])
    optional = req.type == "counter"
    listed = ", ".join(facts.fault_codes)

    def parse(text: str) -> str:
        if not text.strip():
            raise ReturnsError(f"a fault is required: one of {listed}")
        code = codes.parse_code(text, "fault")
        if code not in facts.fault_codes:
            raise ReturnsError(f"no fault code {code} in use: one of {listed}")
        return code

    label = f"Fault reported ({listed}" + ("; Enter to skip)" if optional else ")")
    return replace(req, fault=ask(label, parse, optional=optional, complete=complete) or "")


def _ensure_ticket(req: rules.Request, lookup: Lookup) -> rules.Request:
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


def _ensure_serials(req: rules.Request, lookup: Lookup) -> tuple:
    """Serials given as flags are kept where they fit and are free (SER-1); then one is
    asked per unit still without one, each checked as it is typed. Where a rule needs them
    (AR-1, VR-4) every unit gets one; elsewhere Enter stops asking (the rest stay without)."""
    rule = types.SERIAL_RULE.get(req.type)
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
            why = f"({rule})" if rule else "(optional; Enter: no more serials)"
            serial = ask(f"Serial of {model}, unit {n} of {qty} {why}", new_serial, optional=rule is None)
            if serial is None:
                return tuple(serials)
            serials.append((model, serial))
    return tuple(serials)


def summary(req: rules.Request, contact: dict, hold: int | None) -> str:
    """The confirm line: type, customer, each item with its serials, the card hold."""
    serials = rules.assign_serials(req.items, req.serials)
    parts = []
    for model, qty in req.items:
        listed = f" ({', '.join(serials[model])})" if serials[model] else ""
        parts.append(f"{model} x{qty}{listed}")
    line = f"Open {types.a_type(req.type)} return for {req.customer}: {', '.join(parts)}"
    if req.ticket:
        line += f"; ticket {req.ticket}"
    if req.fault:
        line += f"; fault {req.fault}"
    reach = ", ".join(x for x in (contact.get("email"), contact.get("phone")) if x)
    if contact.get("contact_note"):
        reach = f"{reach} ({contact['contact_note']})".strip()
    if reach:
        line += f"; contact {reach}"
    if hold is not None:
        line += f"; card hold {inputs.format_usd(hold)}"
    return line + "?"


DISCARD = "discard"


def change_one(req: rules.Request, contact: dict, lookup: Lookup,
               complete: Completers | None = None) -> tuple[rules.Request, dict]:
    """After a 'no': which field to change. Only that field is asked again; the others are
    kept and checked once more against it. Enter goes back to the summary unchanged;
    `discard` writes nothing and says so in one plain line (exit 0: a choice, not a refusal)."""
    names = [f for f in FIELDS if _applies(f, req.type)]

    def parse(text: str) -> str:
        name = text.strip().lower().replace("-", "_").replace(" ", "_")
        name = {"approved": "approved_by", "approver": "approved_by", "item": "items", "serial": "serials",
                "e_mail": "email", "note": "contact_note"}.get(name, name)
        if name != DISCARD and name not in names:
            raise ReturnsError(f"'{inputs.quote(text)}' is not a field here: one of {shown}, or {DISCARD}")
        return name

    shown = ", ".join(n.replace("_", "-") for n in names)
    choices = lambda text: [n for n in (*shown.split(", "), DISCARD) if n.startswith(text.lower())]  # noqa: E731
    say(f"Fields: {shown}; or {DISCARD} to write nothing")
    name = ask("Change which field (Enter: back to the summary)", parse, optional=True, complete=choices)
    if name is None:
        return req, contact
    if name == DISCARD:
        raise Discarded(f"{types.a_type(req.type)} return for {req.customer}")
    if name in ("email", "phone", "contact_note"):
        contact = dict(contact)
        contact[name] = {"email": lambda: _ask_email(req.type), "phone": _ask_phone, "contact_note": _ask_contact_note}[name]()
        return req, contact
    if name == "fault":
        return _ensure_fault(replace(req, fault=None), lookup, (complete or {}).get("fault")), contact
    empty = {"type": "", "items": (), "serials": ()}.get(name)
    return _ensure(replace(req, **{name: empty}), lookup, offer=name == "serials", complete=complete or {}), contact


def _applies(name: str, type_: str) -> bool:
    if name in ("ticket", "distributor"):
        return type_ == "counter"
    if name in ("approved_by", "reason"):
        return type_ == "virtual"
    return True


# --- money moments ---------------------------------------------------------------------------


def confirm_moment(key: str, customer: str, lines: list[str], question: str) -> None:
    """Show the return, the customer and what will move, and ask; 'no' writes nothing (exit 1)."""
    say(inputs.visible(f"{key}  {customer}"))  # stored by an older version: escapes shown, never run
    for line in lines:
        say(f"  {inputs.visible(line)}", indent="    ")
    if not confirm(question, default=False):
        raise ReturnsError("not confirmed: nothing was written")
