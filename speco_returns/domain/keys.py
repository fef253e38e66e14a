"""How a return is named and found: its RA number, a counter return's ticket, a customer's key.

The one home of the RA number's form (`RA-` and six digits, wider past 999999): every place
that shows one calls `ra_text` (and SQL that shows one calls the engine's `ra_text`, which
tests keep equal to this).
"""

from __future__ import annotations

import re
import unicodedata

_RA = r"RA-([0-9]{1,18})"


# What a return whose RA number was erased outside the tool is called (doctor names it as a
# problem): every view still shows it, never a traceback.
NO_RA_NUMBER = "(no RA number)"


def ra_text(ra_no: int | None) -> str:
    return NO_RA_NUMBER if ra_no is None else f"RA-{ra_no:06d}"


def key_of(type_: str, ra_no: int | None, ticket: str | None) -> str:
    """What an agent calls a return: its RA number, or a counter return's ticket ID."""
    return ticket if type_ == "counter" else ra_text(ra_no)


def ra_no_of(key: str) -> int | None:
    """The RA number a typed key names (`RA-000042`, `ra-42`), or None for a ticket."""
    m = re.fullmatch(_RA, key, re.IGNORECASE)
    return int(m.group(1)) if m else None


def bare_ra_no(key: str) -> int | None:
    """The RA number a bare number names (`2`, `000042`: RA-000002, RA-000042), or None. A
    counter ticket may be digits too: the caller looks for both."""
    return int(key) if key.isascii() and key.isdigit() and len(key) <= 18 and int(key) > 0 else None


def customer_key(text: str | None) -> str | None:
    """Customer names match NFKC-casefolded: 'ＡＣＭＥ', 'Acme' and 'ACME' are one customer
    ('Straße' is 'STRASSE'; a final sigma is a sigma). Stored as returns.customer_key."""
    if text is None:
        return None
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
