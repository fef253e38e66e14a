"""E-mail notices to the customer, written from a return's facts: pure (no I/O, no clock).

Which notices are due as of a day (`due`), and what each one says (`compose`, `message`).
Every sentence below says only what Speco's article says (shared/source): the RA number,
the next steps of the return's type, the hold for the non-discounted list price, and the
30 days from receiving the replacement (AR-4 as SPEC reads it: a unit sent back by the due
date is on time). The store gathers the facts (`ReturnFacts`), the `notify` command sends,
and `show RA --notice KIND` prints the same message.

Every notice of a type whose unit comes back to Speco (standard, advanced) that asks for the
unit says where to send it and to write the RA number on the box; a counter return's goes
back through the distributor, a virtual return's not at all. `received` closes the story.

A notice is identified by (return, kind, days, about): `about` is the date it speaks of
(the opening, the shipment, the due date, the hold's expiry or the unit's arrival) and `days`
the reminder's days before the due date (0 for the other kinds). Each identity is sent at most once.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from ..errors import ReturnsError
from . import cards, inputs, lifecycle, tracking, types
from . import clock as domain_clock
from .clock import Clock

KINDS = ("opened", "shipped", "delivered", "reminder", "overdue", "hold-expiring", "received")
SHIPS_TO_SPECO = ("standard", "advanced")  # the types whose unit comes back to Speco
DEFAULT_REMIND = (7, 2)
# opened, shipped and delivered are news: sent within this many days of the event (a missed
# night or a week's outage still sends them), never months later to a customer who has
# moved on, e.g. on the first run over a database full of returns opened before notices.
EVENT_NOTICE_DAYS = 14
# The states in which the `opened` notice is still the customer's next step.
_BEFORE_SHIPMENT = {"authorized", "link-sent", "hold-authorized", "ticket-issued"}
SIGNATURE = "Speco Technical Support"


@dataclass(frozen=True)
class Item:
    model: str
    qty: int
    list_price: int | None  # cents
    serials: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReturnFacts:
    """What a notice needs to know of one return, as of the day it is computed for."""

    key: str  # RA number, or a counter return's ticket ID
    type: str
    status: str  # as of that day
    customer: str
    email: str | None
    phone: str | None
    opened_on: date
    items: tuple[Item, ...]
    clock: Clock = Clock()
    hold_amount: int | None = None  # cents, advanced only
    distributor: str | None = None
    tracking: str | None = None  # of Speco's shipment to the customer (`ship --tracking`)


@dataclass(frozen=True)
class Contact:
    """How the customer reaches Speco and where units go (mail settings; each optional)."""

    return_address: str | None = None  # lines separated by \n
    phone: str | None = None
    hours: str | None = None
    reply_to: str | None = None


@dataclass(frozen=True, order=True)
class Notice:
    kind: str
    about: date
    days: int = 0  # reminder: days before the due date

    @property
    def label(self) -> str:
        return f"reminder ({self.days} day{'s' if self.days != 1 else ''})" if self.kind == "reminder" else self.kind


def parse_remind(text: str) -> tuple[int, ...]:
    """`7,2` -> (7, 2): days before the due date, each from 1 to 29 (the window is 30 days)."""
    days = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or not 1 <= int(part) < types.RETURN_WINDOW_DAYS:
            raise ReturnsError(f"--remind '{inputs.quote(text)}': give days before the due date, "
                               f"whole numbers from 1 to {types.RETURN_WINDOW_DAYS - 1}, like 7,2")
        days.append(int(part))
    return tuple(sorted(set(days), reverse=True))


def due(f: ReturnFacts, as_of: date, remind: tuple[int, ...] = DEFAULT_REMIND) -> list[Notice]:
    """The notices due for this return as of `as_of`, whatever was sent before: the caller
    drops those already sent (level-triggered: a missed night still sends what is due)."""
    found: list[Notice] = []
    c = f.clock
    if _received_well(f) and _recent(c.received_on, as_of):
        found.append(Notice("received", c.received_on))
    if not lifecycle.is_open(f.status) or f.status == "late-return":
        return found
    if f.status in _BEFORE_SHIPMENT and _recent(f.opened_on, as_of):
        found.append(Notice("opened", f.opened_on))
    if f.type != "advanced":
        return found
    if f.status == "replacement-shipped" and c.shipped_on and _recent(c.shipped_on, as_of):
        found.append(Notice("shipped", c.shipped_on))
    due_on = c.due_on
    on_its_way = c.unit_shipped_on is not None or c.received_on is not None
    if due_on and not on_its_way and c.charged_on is None:
        if as_of <= due_on and _recent(c.delivered_on, as_of):
            found.append(Notice("delivered", due_on))
        # Only the nearest reminder whose day has come: a run that missed the 7-day one
        # on the day the 2-day one falls sends that one alone.
        passed = [d for d in remind if due_on - timedelta(days=d) <= as_of <= due_on]
        if passed:
            found.append(Notice("reminder", due_on, min(passed)))
    for state, _ in domain_clock.overdue_states(c, as_of):
        if state == "overdue":
            found.append(Notice("overdue", due_on))
        elif state == "hold-expiring" and not c.hold_estimated:  # the processor's date, not a guess
            found.append(Notice("hold-expiring", c.hold_expires))
    return found


def _recent(day: date | None, as_of: date) -> bool:
    return day is not None and 0 <= (as_of - day).days <= EVENT_NOTICE_DAYS


def _received_well(f: ReturnFacts) -> bool:
    """The unit came back to Speco and the story ends well: not after the card was charged
    (a late return is a supervisor's decision the article does not describe)."""
    return f.type in SHIPS_TO_SPECO and f.clock.received_on is not None and f.clock.charged_on is None \
        and f.status in ("unit-received", "completed")


def sendable(kind: str, status: str) -> bool:
    """Whether a notice found due may still go out in the return's state now (a claim checks):
    `received` in the states a receipt leads to, the others while the return is open."""
    return status in ("unit-received", "completed") if kind == "received" else lifecycle.is_open(status)


def applies(kind: str, type_: str) -> bool:
    if kind == "received":
        return type_ in SHIPS_TO_SPECO
    return kind == "opened" or type_ == "advanced"


def notice_for(f: ReturnFacts, kind: str, as_of: date, remind: tuple[int, ...] = DEFAULT_REMIND) -> Notice:
    """The notice of this kind as it would be sent for this return (`show RA --notice KIND`),
    due or not; refused where the return has no such notice (yet)."""
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise ReturnsError(f"unknown notice '{inputs.quote(kind)}': one of {', '.join(KINDS)}")
    if not applies(kind, f.type):
        who = "standard returns and advanced replacements" if kind == "received" else "advanced replacements"
        raise ReturnsError(f"{f.key} is {types.a_type(f.type)} return: only {who} get the {kind} notice")
    c = f.clock
    if kind == "opened":
        return Notice(kind, f.opened_on)
    if kind == "received":
        if c.received_on is None:
            raise ReturnsError(f"{f.key}: the unit has not been received, so there is no received notice yet")
        return Notice(kind, c.received_on)
    if kind == "shipped":
        if c.shipped_on is None:
            raise ReturnsError(f"{f.key}: the replacement has not shipped, so there is no shipped notice yet")
        return Notice(kind, c.shipped_on)
    if kind == "hold-expiring":
        if c.hold_expires is None or c.hold_estimated:
            raise ReturnsError(f"{f.key}: no card hold with an expiry date from the processor is "
                               "recorded (an estimated expiry is not sent to the customer)")
        return Notice(kind, c.hold_expires)
    if c.due_on is None:
        raise ReturnsError(f"{f.key}: no delivery is recorded, so there is no due date for the {kind} notice yet")
    if kind == "reminder":
        days = [n.days for n in due(f, as_of, remind) if n.kind == "reminder"]
        return Notice(kind, c.due_on, days[0] if days else max(remind, default=DEFAULT_REMIND[0]))
    return Notice(kind, c.due_on)


# --- what each notice says ---------------------------------------------------------------------


def compose(f: ReturnFacts, n: Notice, contact: Contact = Contact(), slip: str | None = None) -> tuple[str, str]:
    """(subject, plain-text body) of notice `n` for this return; `slip`: the file name of the RA
    slip the message carries, which the body then asks the customer to print."""
    ra, usd, window = f.key, inputs.format_usd(f.hold_amount), types.RETURN_WINDOW_DAYS
    no_charge = ("Your card will NOT be charged unless the defective unit is not returned within "
                 f"{window} days of receiving the replacement.")
    unit = f"the defective unit{_serials(f)}"
    if n.kind == "opened":
        subject, paragraphs = _opened(f, contact)
    elif n.kind == "shipped":
        subject = f"{ra}: your replacement is on its way"
        paragraphs = [
            f"Speco shipped your advanced replacement for return {ra} on {_date(n.about)}, ahead of the defective "
            "unit coming back.",
            *_tracking(f),
            f"The {window} days to return the defective unit start when you receive the replacement, not today. "
            f"Once it arrives, send {unit} back.",
            *_send_back(f, contact),
            no_charge,
        ]
    elif n.kind == "delivered":
        subject = f"{ra}: please send the unit back by {_date(n.about)}"
        paragraphs = [
            f"Our records show you received the replacement for return {ra} on {_date(f.clock.delivered_on)}.",
            f"Please return {unit} by {_day(n.about)}, {window} days after you received the replacement.",
            *_send_back(f, contact),
            no_charge + f" The hold is {usd}.",
        ]
    elif n.kind == "reminder":
        subject = f"Reminder {ra}: the unit is due back by {_date(n.about)}"
        paragraphs = [
            f"This is a reminder that {unit} for return {ra} is due back by {_day(n.about)}.",
            *_send_back(f, contact),
            no_charge + f" The hold is {usd}.",
            "If you have already sent it back, thank you.",
        ]
    elif n.kind == "overdue":
        charge_from = n.about + timedelta(days=1)
        subject = f"{ra}: the unit is overdue; your card may now be charged"
        paragraphs = [
            f"The defective unit{_serials(f)} for return {ra} was due back by {_date(n.about)}, {window} days after you "
            "received the replacement, and we have no record of it being sent back.",
            f"The unit is late: from {_day(charge_from)} the card hold of {usd} may be charged.",
            f"If the unit is already on its way back, reply with its tracking number{_or_call(contact)}: a unit sent "
            f"back by {_date(n.about)} is not late, and the card is not charged for it.",
            "If you still have it, send it back now.",
            *_send_back(f, contact),
        ]
    elif n.kind == "hold-expiring" and f.clock.shipped_on is None:  # AR-2: it ships on a hold
        subject = f"{ra}: please re-authorize the card hold"
        paragraphs = [
            f"The card authorization for return {ra} (a hold of {usd}) expires on {_date(n.about)}, "
            "while your advanced replacement is still open.",
            "Speco will send you a new e-biz link in a separate message, before the replacement "
            "ships. Please re-authorize the hold through it: it gives Speco authorization to put a "
            "hold on the card for the non-discounted price of the items being returned; this "
            "ensures the non-functional item is returned.",
            no_charge,
            f"If you have not sent {unit} back yet, please do.",
            *_send_back(f, contact),
        ]
    elif n.kind == "hold-expiring":  # shipped: no new authorization; a charge after it is new
        subject = f"{ra}: your card authorization expires on {_date(n.about)}"
        paragraphs = [
            f"The card authorization for return {ra} (a hold of {usd}) expires on "
            f"{_date(n.about)}, while your advanced replacement is still open. Speco will not ask "
            "you for a new authorization.",
            no_charge + f" If it is not, the card may be charged {usd} as a new charge, under the "
            "authorization you gave through the e-biz link.",
            f"If you have not sent {unit} back yet, please do.",
            *_send_back(f, contact),
        ]
    elif n.kind == "received":
        subject, paragraphs = _received(f, n)
    else:
        raise ReturnsError(f"unknown notice '{inputs.quote(n.kind)}': one of {', '.join(KINDS)}")
    if slip:
        paragraphs.append(f"Your Return Authorization slip is attached ({slip}): please print it and put it in "
                          f"the box with the unit, and write the RA number {ra} on the outside of the box.")
    body = "\n\n".join([f"Hello {one_line(f.customer)},", *(_wrap(p) for p in paragraphs), _signature(contact)]) + "\n"
    return subject.replace(_HELD, " "), body


# A date is never broken across two lines: its spaces are held together until the paragraph is wrapped.
_HELD = "\u00a0"


def _date(day: date) -> str:
    return f"{day:%B %-d, %Y}".replace(" ", _HELD)


def _day(day: date) -> str:
    return f"{day:%A, %B %-d, %Y}".replace(" ", _HELD)


def _send_back(f: ReturnFacts, contact: Contact) -> list[str]:
    """Where the unit goes, and the RA number on the box (the return address when it is set)."""
    on_box = f"Write the RA number {f.key} on the outside of the box."
    if not contact.return_address:
        return [f"Send it back to Speco. {on_box}"]
    return ["Send it to:\n" + textwrap.indent(contact.return_address, "    "), on_box]


def _tracking(f: ReturnFacts) -> list[str]:
    """Speco's tracking number, with the carrier's page where the number's form names it."""
    if not f.tracking:
        return []
    shown = one_line(f.tracking)
    page = tracking.tracking_page(shown)
    if page is None:
        return [f"Tracking number: {_unexplained(shown)}"]
    return [f"{page[0]} tracking number: {shown}\nTrack it at:\n    {page[1]}"]


def _unexplained(number: str) -> str:
    """A tracking number no carrier's form explains, as typed, unless it is itself a card's
    number (13 to 19 digits passing Luhn, however separated): then its last four. Longer ones
    (20 digits and more, as carriers issue) are identifiers, shown whole."""
    plain = "".join(ch for ch in number if ch.isalnum())
    card = cards.contains_card_number(number) if not plain.isascii() else \
        plain.isdigit() and 13 <= len(plain) <= 19 and cards.luhn_ok(plain)
    return f"ending {plain[-4:]}" if card else number


def _or_call(contact: Contact) -> str:
    return f" (or call {contact.phone})" if contact.phone else ""


def _signature(contact: Contact) -> str:
    """Who writes, and how to reach them: the support phone and its hours, and a reply."""
    lines = [SIGNATURE]
    if contact.phone:
        lines.append(f"Phone {contact.phone}" + (f", {contact.hours}" if contact.hours else ""))
    elif contact.hours:
        lines.append(f"Hours: {contact.hours}")
    if contact.reply_to:
        lines.append(f"Reply to this e-mail ({contact.reply_to}) with any question.")
    return "\n".join(lines)


def _received(f: ReturnFacts, n: Notice) -> tuple[str, list[str]]:
    subject = f"{f.key}: Speco received your unit"
    if f.type == "advanced":
        return subject, [
            f"Speco received the defective unit{_serials(f)} for return {f.key} on {_date(n.about)}.",
            f"Your advanced replacement is complete: Speco has released the card hold of {inputs.format_usd(f.hold_amount)}, "
            "and your card will not be charged.",
            "Thank you for sending it back.",
        ]
    arrived = f"Speco received your unit{_serials(f)} for return {f.key} on {_date(n.about)}."
    c = f.clock
    if c.shipped_on is not None and c.shipped_on >= n.about:  # repaired or replaced already
        return subject, [arrived, f"Speco shipped the repaired or replacement unit back to you on {_date(c.shipped_on)}.",
                         *_tracking(f)]
    return subject, [arrived, "Speco now repairs or replaces it and ships it back to you."]


def _opened(f: ReturnFacts, contact: Contact) -> tuple[str, list[str]]:
    items = "\n".join(f"  - {_item_line(i)}" for i in f.items)
    if f.type == "counter":
        return f"Speco Tech Ticket {f.key}: your over the counter return", [
            f"Speco Technical Support has given you Tech Ticket ID {f.key} for:\n{items}",
            f"Please provide this Tech Ticket ID to your distributor{' (' + one_line(f.distributor) + ')' if f.distributor else ''}. "
            "The return will take place under your distributor's policies and return guidelines: your "
            "distributor's policy governs. The distributor may take time to return the item to Speco, so please "
            "make sure you understand the distributor's policies in regards to Speco returns.",
            "The item goes back through your distributor: do not send it to Speco.",
        ]
    intro = f"Speco Technical Support has issued Return Authorization {f.key} for:\n{items}"
    if f.type == "standard":
        return f"Speco Return Authorization {f.key}", [
            intro,
            "Next steps: send the product back to Speco. When it arrives, Speco repairs or replaces it and ships "
            "it back to you.",
            *_send_back(f, contact),
        ]
    if f.type == "virtual":
        return f"Speco Return Authorization {f.key}: virtual return", [
            intro,
            "This is a virtual return: Speco ships out the replacement camera and does not expect the "
            "non-functional unit back. You do not need to send anything to Speco.",
        ]
    return f"Speco Return Authorization {f.key}: advanced replacement", [
        intro,
        "Speco will ship the replacement in advance of the non-functional unit being sent back.",
        "Before it ships, you will receive an e-biz link, which gives Speco authorization to put a hold on the "
        f"credit card you submit for the non-discounted price of the items being returned: {inputs.format_usd(f.hold_amount)}. "
        "The hold may be more than you initially spent on the items, due to discounts.",
        "Your card will NOT be charged unless you do not return the defective unit within "
        f"{types.RETURN_WINDOW_DAYS} days of receiving the replacement. When the replacement arrives, send the "
        "defective unit back.",
        *_send_back(f, contact),
    ]


def _item_line(i: Item) -> str:
    line = f"{i.model} x{i.qty}"
    if i.serials:
        line += f" (serial{'s' if len(i.serials) > 1 else ''} {', '.join(map(shown_serial, i.serials))})"
    return line


def _serials(f: ReturnFacts) -> str:
    serials = [shown_serial(s) for i in f.items for s in i.serials]
    return f" ({', '.join(serials)})" if serials else ""


def shown_serial(serial: str) -> str:
    """Serials are exempt from the card check (SPEC §6), but a message never carries a card
    number: one that looks like one is shown by its last four characters."""
    return f"ending {serial[-4:]}" if cards.contains_card_number(serial) else serial


def _wrap(paragraph: str) -> str:
    """Lines of at most 72 characters, broken between words only (an indented line, an address
    or a link, stays whole)."""
    return "\n".join(line if line.startswith(" ") else textwrap.fill(line, 72, break_long_words=False, break_on_hyphens=False)
                     for line in paragraph.split("\n")).replace(_HELD, " ")


def one_line(text: str) -> str:
    """Stored text goes into a message as one line of printable characters, whatever is stored
    (input refuses control characters; rows from before that rule are neutralised here)."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


# --- the message ----------------------------------------------------------------------------------


def message(f: ReturnFacts, n: Notice, *, sender: str | None, bcc: str | None, stamp: str | None,
            contact: Contact = Contact(), slip: str | None = None) -> EmailMessage:
    """The RFC 5322 message: headers encoded by the `email` package (a name with non-ASCII
    characters is RFC 2047-encoded; a header value with CR or LF is refused, never sent). An
    address the package cannot carry is ReturnsError (inputs.mail_address), as at input.
    `slip`: the name of the slip the caller attaches (the body says so)."""
    subject, body = compose(f, n, contact, slip)
    msg = EmailMessage(policy=SMTP)
    if sender:
        msg["From"] = inputs.mail_address(sender, SIGNATURE)
    if contact.reply_to:
        msg["Reply-To"] = inputs.mail_address(contact.reply_to, SIGNATURE)
    if f.email:
        msg["To"] = inputs.mail_address(f.email, one_line(f.customer))
    if bcc:
        msg["Bcc"] = bcc
    msg["Subject"] = subject
    if stamp:
        msg["Date"] = format_datetime(datetime.fromisoformat(stamp))
    msg["X-Speco-Return"] = f.key
    msg["X-Speco-Notice"] = n.kind if n.kind != "reminder" else f"reminder; days={n.days}"
    msg.set_content(body, cte="quoted-printable" if not body.isascii() else "7bit")
    return msg
