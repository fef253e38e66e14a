"""At a terminal, `open` asks for what the agent left out (SPEC §4)."""

from __future__ import annotations

from dataclasses import replace

import typer

from . import policy
from .errors import ReturnsError


def line_editing() -> None:
    """Arrow keys, Home/End and the answers already given (Up) at every prompt: input(), which
    typer.prompt calls, goes through readline once the module is imported."""
    try:
        import readline  # noqa: F401
    except ImportError:  # a Python built without it: plain input
        pass


def ask(label: str, parse):
    """Ask until `parse` accepts the answer; its refusal is shown and the question repeated."""
    line_editing()

    def proc(text: str):
        try:
            return parse(text)
        except ReturnsError as e:
            raise typer.BadParameter(e.problems[0].message) from None

    return typer.prompt(label, value_proc=proc)


def required(label: str):
    def parse(text: str) -> str:
        value = policy.clean_text(label, text)
        if not value:
            raise ReturnsError(f"{label} is required")
        return value

    return parse


def items_line(text: str) -> tuple:
    items = tuple(policy.merge_items(policy.parse_item(p) for p in text.split(",") if p.strip()))
    if not items:
        raise ReturnsError("give at least one MODEL[:QTY]")
    return items


def ask_missing(req: policy.Request) -> policy.Request:
    """Each field the type needs and the agent left out, with the rule that needs it."""
    if not req.type:
        req = replace(req, type=ask("Return type (standard, counter, advanced, virtual)", policy.parse_type))
    if not req.customer:
        req = replace(req, customer=ask("Customer", required("customer")))
    if not req.items:
        req = replace(req, items=ask("Items (MODEL[:QTY], comma-separated)", items_line))
    if req.type == "counter":
        if not req.ticket:
            req = replace(req, ticket=ask("Tech Ticket ID (OTC-1)", policy.parse_ticket))
        if not req.distributor:
            req = replace(req, distributor=ask("Distributor (OTC-1)", required("distributor")))
    if req.type == "virtual":
        if not req.approved_by:
            req = replace(req, approved_by=ask("Approved by (VR-1)", required("approver")))
        if not req.reason:
            req = replace(req, reason=ask("Reason (VR-1)", required("reason")))
    if req.type in policy.SERIAL_RULE:
        req = replace(req, serials=_ask_serials(req))
    return req


def _ask_serials(req: policy.Request) -> tuple:
    assigned = policy.assign_serials(req.items, req.serials)
    serials = list(req.serials)
    taken = {serial for _, serial in serials}

    def new_serial(text: str) -> str:  # a repeat is asked again, not refused at the end
        serial = policy.parse_serial(text)
        if serial in taken:
            raise ReturnsError(f"serial {serial} is already given for this return")
        taken.add(serial)
        return serial

    rule = policy.SERIAL_RULE[req.type]
    for model, qty in req.items:
        for n in range(len(assigned[model]) + 1, qty + 1):
            serials.append((model, ask(f"Serial of {model}, unit {n} of {qty} ({rule})", new_serial)))
    return tuple(serials)
