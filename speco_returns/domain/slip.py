"""The RA slip and the box label as words and sizes: pure (no PDF, no I/O, no clock).

What the customer reads on the slip (`Slip`, from a return's `ReturnFacts`), what the codes
carry, the barcode's module width on a thermal printer's dots, and the RA number read back
from a scanner's line at the dock (`scanned_key`). services/slip_pdf.py draws a `Slip`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from ..errors import ReturnsError
from . import inputs, types, wording
from .notices import ReturnFacts, shown_serial

PAPERS = {"letter": (215.9, 279.4), "a4": (210.0, 297.0)}  # mm, portrait
LABEL_MM = (101.6, 152.4)  # 4 x 6 in
LABEL_DPI = 203  # thermal label printers
MM_PER_INCH = 25.4
LABEL_MIN_MODULE_MM = 0.33  # narrowest bar on the label: decodes from a 200 dpi scan
SLIP_MIN_MODULE_MM = 0.19  # on the slip (an office printer, 600 dpi): a 64-character ticket fits
QUIET_MODULES = 10  # clear space each side of a Code128 symbol (ISO/IEC 15417)

# The types whose customer sends a unit to Speco: their `opened` notice carries the slip.
SHIPS_TO_SPECO = ("standard", "advanced")


@dataclass(frozen=True)
class Line:
    """One item as the slip lists it."""

    model: str
    qty: int
    serials: str  # comma-separated, a card-number look-alike by its last four


@dataclass(frozen=True)
class Slip:
    key: str  # the RA number (a counter return: its Tech Ticket ID): the Code128's text
    type: str
    heading: str  # "Return Authorization" | "Tech Ticket"
    type_title: str
    customer: str
    opened_on: date
    items: tuple[Line, ...]
    steps: tuple[str, ...]
    address: tuple[str, ...]  # the return address's lines (empty: not configured, or nothing ships)
    contact: tuple[str, ...]  # how to reach Speco Technical Support
    distributor: str | None = None

    @property
    def qr(self) -> str:
        return qr_payload(self.key, self.type)

    @property
    def ships_to_speco(self) -> bool:
        return self.type in SHIPS_TO_SPECO


def qr_payload(key: str, type_: str) -> str:
    """What the QR code carries: the key and the type, no personal data (`RA-000123 standard`).
    A 2D scanner types it at the dock like the Code128: `scanned_key` finds the key in it."""
    return f"{key} {type_}"


def contact_lines(sender: str | None) -> tuple[str, ...]:
    """How the customer reaches Speco Technical Support (the mail settings' From address)."""
    return ("Speco Technical Support", *((f"E-mail: {sender}",) if sender else ()))


def printed(text: str) -> str:
    """Stored text as the slip prints it: as typed, on one line; a control character stored
    before input refused it is shown as an escape, never passed to the printer."""
    return " ".join(inputs.visible(text).split())


def slip(f: ReturnFacts, *, return_address: str | None, sender: str | None) -> Slip:
    """The slip of this return as of the day its facts were gathered, with the mail settings'
    return address and From address (the support contact)."""
    address = tuple(printed(line) for line in (return_address or "").splitlines() if line.strip())
    ships = f.type in SHIPS_TO_SPECO
    values = {"ra": f.key}
    if ships:
        values["address"] = ("the return address below" if address
                             else "the address Speco Technical Support gives you")
    if f.type == "counter":
        values["distributor"] = f" ({printed(f.distributor)})" if f.distributor else ""
    if f.type == "advanced":
        values["hold"] = (inputs.format_usd(f.hold_amount) if f.hold_amount is not None
                          else "the list price")
        due_on = f.clock.due_on
        values["due"] = (f"due back by {due_on:%A, %B %-d, %Y}" if due_on
                         else f"the due date is {types.RETURN_WINDOW_DAYS} days after the day "
                         "you receive it")
    items = tuple(Line(printed(i.model), i.qty,
                       ", ".join(printed(shown_serial(s)) for s in i.serials)) for i in f.items)
    return Slip(key=f.key, type=f.type,
                heading="Tech Ticket" if f.type == "counter" else "Return Authorization",
                type_title=types.TYPE_TITLES[f.type], customer=printed(f.customer),
                opened_on=f.opened_on, items=items,
                steps=tuple(wording.slip_steps(f.type, **values)),
                address=address if ships or f.type == "counter" else (),
                contact=tuple(printed(c) for c in contact_lines(sender)),
                distributor=printed(f.distributor) if f.distributor else None)


def module_mm(modules: int, room_mm: float, *, dpi: int | None, minimum: float, largest: float,
              what: str = "the code") -> float:
    """The width of one bar module for a symbol of `modules` modules (quiet zones included) in
    `room_mm`: as wide as fits up to `largest`, a whole number of printer dots when `dpi` is
    given (a thermal printer draws whole dots: a module between two dots prints uneven bars).
    ReturnsError when even `minimum` does not fit."""
    widest = min(largest, room_mm / modules)
    if dpi:
        dot = MM_PER_INCH / dpi
        dots = int(widest / dot + 1e-9)
        widest = dots * dot
    if widest + 1e-9 < minimum:
        raise ReturnsError(f"{what} is too long for its barcode: {modules} modules "
                           f"do not fit {room_mm:.0f} mm at {minimum} mm each")
    return widest


# --- at the dock -------------------------------------------------------------------------------

_RA_IN_LINE = re.compile(r"RA-?([0-9]{6,18})", re.IGNORECASE)
# A scanner's symbology identifier (AIM: `]` + letter + digit, e.g. `]C0` for Code128, `]Q1` QR).
_AIM = re.compile(r"\][A-Za-z][0-9]")


def scanned_key(line: str) -> str | None:
    """The return a scanner's line names: an RA number anywhere in it, with whatever prefix or
    suffix the scanner adds (`]C0RA-000123`, `*RA-000123*`, `RA-000123 standard`, a tab); else
    the line without its identifier and the characters around it that are not letters or
    digits, as a ticket ID. None for a line that holds nothing to look up."""
    text = "".join(ch for ch in line if ch.isprintable())
    found = _RA_IN_LINE.search(text)
    if found:
        return f"RA-{int(found.group(1)):06d}"
    text = _AIM.sub("", text, count=1) if text.startswith("]") else text
    text = text.strip()
    while text and not text[0].isalnum():
        text = text[1:]
    while text and not text[-1].isalnum():
        text = text[:-1]
    return text or None
