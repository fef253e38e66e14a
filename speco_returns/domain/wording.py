"""What the agent reads to the customer: the rules' text, the next steps, money in words."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING

from .inputs import format_usd

if TYPE_CHECKING:
    from .lifecycle import Move

# --- what the agent does about a row of the nightly check --------------------------------

# The hold-expiring notice of a replacement not yet shipped tells the customer a new e-biz
# link comes in a separate message (AR-2: it ships only on a hold in force): the overdue check
# (and notify, when it sends that notice) tells the team to send it. Once the replacement has
# shipped no new authorization is asked for: a charge after the lapse is a new charge.
NEW_LINK = "send a new e-biz link"


def action(state: str, shipped: bool) -> str | None:
    """What the team does about a row of the nightly check or a notice sent (None: nothing
    asked)."""
    return NEW_LINK if state == "hold-expiring" and not shipped else None

# --- what the agent reads to the customer ------------------------------------------------

NEXT_STEPS = {
    "standard": [
        "Give the customer the RA number; it goes on the outside of the package.",
        "The customer ships the product to Speco.",
        "When the unit arrives, Speco repairs or replaces it and ships it back (not before the unit is received).",
    ],
    "counter": [
        "Give the customer the Tech Ticket ID to take to their distributor.",
        "The distributor's own return policy and guidelines govern the return: make sure the customer understands them.",
        "The distributor may take time to send the item back to Speco.",
    ],
    "advanced": [
        "Give the customer the RA number.",
        "Speco sends an e-biz link; through it the customer authorizes a hold on a credit card for the non-discounted list price of the returned items.",
        "The hold may be more than the customer paid, because of discounts.",
        "Speco ships the replacement once the hold is authorized, before the defective unit comes back.",
        "The customer returns the defective unit within 30 days of receiving the replacement; otherwise the card is charged.",
    ],
    "virtual": [
        "Virtual returns are case by case, approved by a supervisor.",
        "Speco ships the replacement camera; the defective unit is not sent back.",
        "The return is complete once the replacement ships.",
    ],
}

# What the customer reads on the RA slip (`speco-returns slip`), in the article's words; the
# slip fills in the fields, `policy TYPE` shows them as [placeholders] (slip_steps).
SLIP_STEPS = {
    "standard": [
        "Write the RA number {ra} on the outside of the box and put this slip inside it.",
        "Send the product to Speco at {address}.",
        "When your unit arrives, Speco repairs or replaces it and ships it back to you: "
        "the replacement ships after your unit is received.",
    ],
    "counter": [
        "Give the Tech Ticket ID {ra} to your distributor{distributor}.",
        "The return takes place under your distributor's policies and return guidelines: the distributor's policy governs.",
        "The distributor may take time to return the item to Speco: please make sure you understand "
        "the distributor's policies in regards to Speco returns.",
    ],
    "advanced": [
        "Speco ships the replacement in advance of the non-functional unit being sent back.",
        "Before it ships, you receive an e-biz link, which gives Speco authorization to put a hold on the credit card "
        "you submit for the non-discounted list price of the items being returned: {hold}. "
        "The hold may be more than you initially spent on the items, due to discounts.",
        "Your card is charged only if the defective unit is not returned within 30 days of receiving the replacement: {due}.",
        "Write the RA number {ra} on the outside of the box, put this slip inside it with the defective unit, "
        "and send it to Speco at {address}.",
    ],
    "virtual": [
        "This is a virtual return: Speco ships out the replacement camera.",
        "No unit comes back: Speco does not expect the non-functional unit, so please do not send it.",
    ],
}
SLIP_PLACEHOLDERS = {"ra": "[number]", "address": "[the return address]", "distributor": " [(the distributor)]",
                     "hold": "[the hold amount]", "due": "[the due date]"}


def slip_steps(type_: str, **values: str) -> list[str]:
    """The slip's steps for this type with its facts filled in; a field not given is shown as its
    [placeholder] (`policy TYPE`). Only these fields are filled: the customer's own text never
    passes through a template."""
    filled = {**SLIP_PLACEHOLDERS, **values}
    return [step.format(**filled) for step in SLIP_STEPS[type_]]


RULES = {
    "standard": ["STD-1", "SER-1"],
    "counter": ["OTC-1", "OTC-2", "SER-1"],
    "advanced": ["AR-1", "AR-2", "AR-3", "AR-4", "SER-1"],
    "virtual": ["VR-1", "VR-2", "VR-3", "VR-4", "VR-5", "SER-1"],
}
RULE_TEXT = {
    "STD-1": "Speco issues an RA; the customer ships the product to Speco; Speco repairs or replaces it and ships it back after the unit arrives.",
    "OTC-1": "Speco gives the customer a Tech Ticket ID to take to their distributor; the record needs the ticket and the distributor. No RA number is issued.",
    "OTC-2": "The distributor's own return policy governs, and the distributor may take time to send the item to Speco.",
    "AR-1": "One serial number per unit is required, at opening and whenever the replacement ships.",
    "AR-2": "Before the replacement ships, the customer gets an e-biz link and authorizes a hold on a credit card.",
    "AR-3": "The hold is for the non-discounted list price of every unit; it can exceed what the customer paid. "
             "A model without a list price above zero cannot be opened as advanced.",
    "AR-4": "The card is charged only if the defective unit is not returned within 30 days of the customer receiving the replacement. "
             "A unit sent back but lost (stalled, past due) is charged only with a supervisor's reason.",
    "VR-1": "Case by case: needs the approving supervisor and a reason.",
    "VR-2": "Cameras only, 3 units or fewer on the RA.",
    "VR-3": "Never for PTZ or specialty cameras.",
    "VR-4": "One serial number per unit is required, at opening and whenever the replacement ships.",
    "VR-5": "Nothing comes back; the RA completes when the replacement ships.",
    "SER-1": "A serial already on another open return is refused. A late return (the unit is back) holds none.",
}

_NEXT_STEP = {
    ("standard", "authorized"): "Waiting for the customer to ship the unit to Speco (`unit-shipped`, or `receive` when it arrives).",
    ("standard", "unit-in-transit"): "The unit is on its way to Speco: `receive` when it arrives.",
    ("standard", "unit-received"): "Repair or replace the unit and ship it back (`ship`).",
    ("counter", "ticket-issued"): "The distributor handles the return under its own policy; `complete` when it is done.",
    ("advanced", "authorized"): "Send the customer the e-biz link (`link`).",
    ("advanced", "link-sent"): "Waiting for the customer to authorize the card hold (`hold --ref`).",
    ("advanced", "hold-authorized"): "Ship the replacement (`ship`).",
    ("advanced", "replacement-shipped"): "Record when the customer receives the replacement (`deliver`): that starts the 30-day clock.",
    ("advanced", "replacement-delivered"): "Waiting for the defective unit: due back by {due}. `unit-shipped` when it is sent, `receive` when it arrives.",
    ("advanced", "unit-in-transit"): "The defective unit is on its way back: `receive` when it arrives (the hold is then released).",
    ("advanced", "charged"): "The card was charged. If the unit still arrives, `receive` flags it for a supervisor.",
    ("advanced", "late-return"): "The unit arrived after the card was charged: a supervisor decides: "
                                 "`refund --ref` (the charge is refunded) or `complete --note` (the charge stands).",
    ("virtual", "authorized"): "Ship the replacement camera (`ship`); nothing comes back.",
}


def next_step(type_: str, status: str, due_on: date | None = None) -> str:
    if status in ("completed", "cancelled"):
        return f"Nothing: the return is {status}."
    return _NEXT_STEP.get((type_, status), "").format(due=due_on or "30 days after delivery")


_MOVE_WORDS = {
    "hold-authorized": "card hold {amount} authorized",
    "hold-released": "card hold {amount} released",
    "charged": "card charged {amount}",
    "refunded": "{amount} refunded to the card",
}


def describe(moves: Iterable[Move]) -> str:
    """The money in words, for the line an agent reads: 'card hold $1,299.00 released (ref H-1)'."""
    moves = list(moves)
    captured = {m.ref for m in moves if m.event == "charged"}
    said = []
    for m in moves:
        if m.event == "hold-authorized" and m.ref in captured:  # authorized and captured at once
            continue
        new = m.event == "charged" and any(n.event == "hold-authorized" and n.ref == m.ref
                                           for n in moves)
        words = "new charge on the card {amount}" if new else _MOVE_WORDS[m.event]
        ref = f" (ref {m.ref})" if m.ref else ""
        said.append(words.format(amount=format_usd(m.amount)) + ref)
    return "; ".join(said) if said else "no money moved"
