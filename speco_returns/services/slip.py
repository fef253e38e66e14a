"""`slip`: a return's RA slip or box label as PDF, and the slip an `opened` notice carries."""

from __future__ import annotations

from datetime import date, datetime

from .. import mailer
from ..db.database import Database
from ..domain import slip as layout
from ..errors import ReturnsError
from . import notify


def render(db: Database, key: str, today: date, settings: mailer.Settings, *,
           paper: str | None = None, label: bool = False,
           made: datetime | None = None) -> tuple[str, bytes]:
    """(the return's key, the PDF): the slip on `paper` (default: the setting), or with `label`
    the 4x6 in box label."""
    from . import slip_pdf

    [(_, facts, _)] = notify.candidates(db, today, key=key)
    s = layout.slip(facts, return_address=settings.contact.return_address, sender=settings.sender)
    if label:
        if s.type != "virtual" and not s.address:
            raise ReturnsError("SPECO_RETURNS_RETURN_ADDRESS is not set: "
                               "the box label needs the address the box goes to")
        return s.key, slip_pdf.label(s, font=settings.slip_font, made=made)
    return s.key, slip_pdf.page(s, paper or settings.slip_paper, font=settings.slip_font, made=made)
