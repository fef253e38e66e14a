"""`list --search TEXT`: the returns a piece of text points at, read through indexes.

An agent on the phone has whatever the caller reads out: a name, an e-mail, a phone number,
a ticket, a tracking number, a hold reference, a serial. TEXT matches the START of any of
those fields, ignoring case (A-Z: SQLite's NOCASE), so each field is one range scan of an
index (migration m011 adds the missing ones) and a search costs the same at 1k returns as at
1M. Phone numbers are compared on their digits alone, so `555-01`, `(201) 555` and
`201.555` find what was typed in any layout. A substring anywhere in the name is what
`list --customer` does (it reads every row).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain import inputs
from ..errors import ReturnsError

if TYPE_CHECKING:
    from .connection import Database

# Word for word the expression of the index returns_phone_digits (m011): the planner matches it literally.
PHONE_DIGITS = "replace(replace(replace(replace(replace(replace(phone, ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '+', '')"
_TOP = "\U0010ffff"  # sorts after every character: [text, text + _TOP) is "starts with text"


def where(db: Database, text: str) -> tuple[str, dict]:
    """`id IN (...)` for the returns table, and its parameters."""
    inputs.require_utf8("search", text)
    term = text.strip()
    if not term:
        raise ReturnsError("--search is empty: give a name, e-mail, phone, ticket, tracking number, hold reference or serial")
    tracking = db.engine.json_text("detail", "tracking")  # the index events_tracking's (m011; a server's m015)
    args = {"lo": term, "hi": term + _TOP, "up": term.upper(), "up_hi": term.upper() + _TOP}
    parts = [
        "SELECT id FROM returns WHERE customer COLLATE NOCASE >= :lo AND customer COLLATE NOCASE < :hi",
        "SELECT id FROM returns WHERE email COLLATE NOCASE >= :lo AND email COLLATE NOCASE < :hi",
        # The column is NOCASE; said again for a server, where it is citext compared with text.
        "SELECT id FROM returns WHERE ticket COLLATE NOCASE >= :lo AND ticket COLLATE NOCASE < :hi",
        "SELECT return_id FROM serials WHERE serial >= :up AND serial < :up_hi",  # stored upper-case
        "SELECT return_id FROM ledger WHERE hold_ref COLLATE NOCASE >= :lo AND hold_ref COLLATE NOCASE < :hi",
        f"""SELECT return_id FROM events WHERE event IN ('ship', 'unit-shipped')
            AND {tracking} COLLATE NOCASE >= :lo AND {tracking} COLLATE NOCASE < :hi""",
    ]
    digits = "".join(ch for ch in term if ch.isdigit())
    if len(digits) >= 3 and all(ch.isdigit() or ch in " -().+" for ch in term):
        args.update(digits=digits, digits_hi=digits + _TOP)
        parts.append(f"SELECT id FROM returns WHERE phone IS NOT NULL AND {PHONE_DIGITS} >= :digits AND {PHONE_DIGITS} < :digits_hi")
    return "id IN (" + " UNION ".join(parts) + ")", args
