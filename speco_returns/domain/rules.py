"""Eligibility (SPEC §2): every rule a request breaks, not just the first."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..errors import ReturnsError, Violation
from .inputs import format_usd
from .types import MAX_VIRTUAL_UNITS, SERIAL_RULE

# --- what the rules take and give (here, not in types.py: reading a return never makes them) ----


@dataclass(frozen=True)
class Product:
    """What the catalog knows of a model (list price in cents, or None)."""

    model: str
    category: str | None
    list_price: int | None
    description: str | None = None


@dataclass(frozen=True)
class Request:
    type: str
    items: tuple[tuple[str, int], ...]
    serials: tuple[tuple[str | None, str], ...] = ()
    approved_by: str | None = None
    reason: str | None = None
    ticket: str | None = None
    distributor: str | None = None
    customer: str | None = None
    fault: str | None = None  # the fault code the customer reports (domain/codes.py)


@dataclass
class Facts:
    """What the database knows that the rules need; gathered in the same transaction."""

    catalog: Mapping[str, Product] = field(default_factory=dict)
    serial_owners: Mapping[str, str] = field(default_factory=dict)  # serial -> open RA
    ticket_owner: str | None = None  # the return already using this ticket
    recent_virtual_units: int = 0  # same customer's virtual units, last 30 days
    fault_codes: tuple[str, ...] | None = None  # the fault codes in use (None: not looked up)


@dataclass
class CheckResult:
    violations: list[Violation]
    warnings: list[Violation]
    serials: dict[str, list[str]]  # model -> serials
    hold_amount: int | None = None  # advanced: AR-3, when every list price is known

    @property
    def eligible(self) -> bool:
        return not self.violations


def assign_serials(
    items: Iterable[tuple[str, int]], serials: Iterable[tuple[str | None, str]]
) -> dict[str, list[str]]:
    """Map each serial to its model: plain serials need a single-model RA, else MODEL=SERIAL."""
    out, problems = _assign_serials(items, serials)
    if problems:
        raise ReturnsError(*problems)
    return out


def _assign_serials(
    items: Iterable[tuple[str, int]], serials: Iterable[tuple[str | None, str]]
) -> tuple[dict[str, list[str]], list[str]]:
    qty = dict(items)
    out: dict[str, list[str]] = {model: [] for model in qty}
    seen: set[str] = set()
    problems = []
    for model, serial in serials:
        if model is None:
            if len(qty) != 1:
                problems.append(
                    f"serial {serial}: this return has several models, give it as MODEL={serial}"
                )
                continue
            model = next(iter(qty))
        if model not in qty:
            problems.append(f"serial {serial} names model {model}, which is not on this return")
            continue
        if serial in seen:
            problems.append(f"serial {serial} is given twice")
            continue
        seen.add(serial)
        out[model].append(serial)
    for model, found in out.items():
        if len(found) > qty[model]:
            problems.append(f"{len(found)} serials given for {model}, which has {qty[model]} unit(s)")
            del found[qty[model]:]
    return out, problems


def missing_fields(req: Request) -> list[Violation]:
    """Fields `open` needs before it can run the rules, each with the rule that needs it."""
    missing = []
    if not req.customer:
        missing.append(Violation(None, "missing --customer: the customer's name"))
    if not req.items:
        missing.append(Violation(None, "missing --item: at least one MODEL[:QTY]"))
    if req.type == "counter":
        if not req.ticket:
            missing.append(Violation("OTC-1", "missing --ticket: the Tech Ticket ID given to the customer"))
        if not req.distributor:
            missing.append(Violation("OTC-1", "missing --distributor: the distributor the customer returns through"))
    if req.type == "virtual":
        if not req.approved_by:
            missing.append(Violation("VR-1", "missing --approved-by: the supervisor who approved this virtual return"))
        if not req.reason:
            missing.append(Violation("VR-1", "missing --reason: why a virtual return was approved"))
    rule = SERIAL_RULE.get(req.type)
    if rule and req.items:
        given = len(req.serials)
        needed = sum(q for _, q in req.items)
        if given < needed:
            missing.append(Violation(rule, f"missing --serial: one serial number per unit ({needed} needed, {given} given)"))
    return missing


def item_problems(type_: str, items: Iterable[tuple[str, int]], catalog: Mapping[str, Product]) -> list[Violation]:
    """What the catalog says against these items for this type (AR-3, VR-2, VR-3): asked
    at the prompt as soon as the items are typed, and again by `check`."""
    items = list(items)
    v = []
    if type_ == "advanced":
        for model, _ in items:
            product = catalog.get(model)
            if product is None or product.list_price is None:
                v.append(Violation("AR-3", f"{model} has no list price in the catalog, so the card hold cannot be set; add it to the catalog first"))
            elif product.list_price <= 0:  # the catalog may hold a free part; a $0.00 hold protects nothing
                v.append(Violation("AR-3", f"{model} has a list price of $0.00 in the catalog: an advanced replacement needs a list price above zero for the card hold"))
    if type_ == "virtual":
        total = sum(q for _, q in items)
        if total > MAX_VIRTUAL_UNITS:
            v.append(Violation("VR-2", f"virtual returns are for {MAX_VIRTUAL_UNITS} cameras or fewer; this one has {total} units"))
        for model, _ in items:
            product = catalog.get(model)
            category = product.category if product else None
            if category in ("ptz", "specialty"):
                kind = "PTZ" if category == "ptz" else "specialty"
                v.append(Violation("VR-3", f"{model} is a {kind} camera: virtual returns are never offered for PTZ or specialty cameras"))
            elif category is None:
                v.append(Violation("VR-2", f"{model} is not in the catalog, so it cannot be confirmed as a camera eligible for a virtual return"))
            elif category != "camera":
                v.append(Violation("VR-2", f"{model} is a {category}: virtual returns are for cameras only"))
    return v


def ticket_problem(ticket: str, facts: Facts) -> Violation | None:
    return Violation("OTC-1", f"ticket {ticket} is already used by another counter return") if facts.ticket_owner else None


def fault_problem(fault: str | None, facts: Facts) -> Violation | None:
    """A fault code the list does not hold in use (`codes list`)."""
    if not fault or facts.fault_codes is None or fault in facts.fault_codes:
        return None
    return Violation(None, f"no fault code {fault} in use: one of {', '.join(facts.fault_codes)} "
                           "(`speco-returns codes list`)")


def serial_problem(serial: str, facts: Facts) -> Violation | None:
    owner = facts.serial_owners.get(serial)
    return Violation("SER-1", f"serial {serial} is already on open return {owner}") if owner else None


def check(req: Request, facts: Facts, *, missing_reported: bool = False) -> CheckResult:
    """Every rule the request breaks (not just the first), plus the VR-2 split warning.
    `missing_reported`: the fields `missing_fields` lists are left to it (one error lists both)."""
    t = req.type
    serials, serial_problems = _assign_serials(req.items, req.serials)
    v = [Violation(SERIAL_RULE.get(t), problem) for problem in serial_problems]
    warnings: list[Violation] = []
    presence = not missing_reported
    if t == "counter":
        if not req.ticket:
            if presence:
                v.append(Violation("OTC-1", "a counter return needs the Tech Ticket ID Speco gave the customer (--ticket)"))
        elif ticket_problem(req.ticket, facts):
            v.append(ticket_problem(req.ticket, facts))
        if not req.distributor and presence:
            v.append(Violation("OTC-1", "a counter return needs the distributor the customer returns through (--distributor)"))
    if t in SERIAL_RULE and presence:
        rule = SERIAL_RULE[t]
        for model, qty in req.items:
            have = len(serials[model])
            if have < qty:
                v.append(Violation(rule, f"one serial number per unit is required: {model} has {qty} unit(s) and {have} serial(s)"))
    if t == "virtual" and presence:
        if not req.approved_by:
            v.append(Violation("VR-1", "virtual returns are case by case: name the approving supervisor (--approved-by)"))
        if not req.reason:
            v.append(Violation("VR-1", "virtual returns are case by case: give the reason (--reason)"))
    v += item_problems(t, req.items, facts.catalog)
    if fault_problem(req.fault, facts):
        v.append(fault_problem(req.fault, facts))
    if t == "virtual":
        total = sum(q for _, q in req.items)
        recent = facts.recent_virtual_units
        if req.customer and recent and recent + total > MAX_VIRTUAL_UNITS:
            warnings.append(Violation("VR-2", (
                f"{req.customer} already has {recent} unit(s) on virtual returns opened in the last 30 days; with this one "
                f"that is {recent + total}, more than {MAX_VIRTUAL_UNITS}: the approving supervisor decides"
            )))
    for serial in (s for found in serials.values() for s in found):
        if serial_problem(serial, facts):
            v.append(serial_problem(serial, facts))
    hold = None
    if t == "advanced" and not any(v_.rule == "AR-3" for v_ in v):
        hold = hold_amount((facts.catalog[m].list_price, q) for m, q in req.items)
    return CheckResult(v, warnings, serials, hold)


def hold_amount(items: Iterable[tuple[int | None, int]]) -> int:
    """AR-3: non-discounted list price x quantity, summed (cents)."""
    return sum(price * qty for price, qty in items if price is not None)


def refund_amount(requested: int | None, charged_cents: int, refunded_cents: int = 0) -> int:
    """A supervisor's refund of a charge: all that is left of it by default, never more, never
    $0."""
    left = charged_cents - refunded_cents
    amount = left if requested is None else requested
    if amount > left:
        raise ReturnsError(f"a refund of {format_usd(amount)} is more than was charged "
                           f"({format_usd(left)})")
    if amount <= 0:
        raise ReturnsError("a refund of $0.00 refunds nothing: to let the charge stand, "
                           "`complete --note`")
    return amount
