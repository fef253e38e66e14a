"""The values Tab completes that live in the database: RA numbers and tickets of open returns,
catalog models. Read through the partial indexes over open returns (m009): a handful of rows,
milliseconds at a million returns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain.keys import ra_text
from .returns import OPEN_SQL

if TYPE_CHECKING:
    from .connection import Database

LIMIT = 200  # candidates offered at most; a shell lists them, nobody reads more


def ra_ranges(digits: str) -> list[tuple[int, int]]:
    """The RA numbers whose `RA-%06d` text starts with `digits`, as inclusive ranges."""
    if len(digits) > 18:
        return []
    ranges = [(int(digits.ljust(6, "0")), int(digits.ljust(6, "9")))] if len(digits) <= 6 else []
    if not digits:
        ranges.append((1_000_000, 10**18 - 1))
    elif not digits.startswith("0"):  # wider numbers, past RA-999999
        for width in range(max(7, len(digits)), 19):
            ranges.append((int(digits.ljust(width, "0")), int(digits.ljust(width, "9"))))
    return ranges


def open_keys(db: Database, incomplete: str) -> list[str]:
    """RA numbers and ticket IDs of open returns that start with what was typed (any case)."""
    engine = db.engine
    found: list[str] = []
    typed = incomplete.upper()
    digits = "" if "RA-".startswith(typed) else typed[3:] if typed.startswith("RA-") else None
    if digits is not None and (digits == "" or digits.isdigit()):
        for lo, hi in ra_ranges(digits):
            rows = db.all(f"SELECT ra_no FROM returns{engine.indexed_by('returns_open_ra')} "
                          f"WHERE {OPEN_SQL} AND ra_no BETWEEN ? AND ? ORDER BY ra_no LIMIT ?",
                          [lo, hi, LIMIT - len(found)])
            found += [ra_text(n) for (n,) in rows]
            if len(found) >= LIMIT:
                break
    if len(found) < LIMIT and not incomplete.upper().startswith("RA-"):
        # every text that starts with `incomplete` sorts below this
        upper = incomplete + "\U0010ffff"
        rows = db.all(f"SELECT ticket FROM returns{engine.indexed_by('returns_open_ticket')} "
                      f"WHERE {OPEN_SQL} AND ticket >= ? AND ticket < ? ORDER BY ticket LIMIT ?",
                      [incomplete, upper, LIMIT - len(found)])
        found += [t for (t,) in rows if t.lower().startswith(incomplete.lower())]
    return found


def models(db: Database, incomplete: str) -> list[str]:
    return [m for (m,) in db.all("SELECT model FROM catalog WHERE model >= ? COLLATE NOCASE "
                                 "ORDER BY model COLLATE NOCASE LIMIT ?", [incomplete, LIMIT])]


def customers(db: Database, incomplete: str) -> list[str]:
    """Customers' names that start with what was typed (any case), through the index on the
    name (m001; a server's returns_customer_nocase, m011), each once."""
    upper = incomplete + "\U0010ffff"
    return [c for (c,) in db.all("SELECT DISTINCT customer FROM returns "
                                 "WHERE customer COLLATE NOCASE >= ? "
                                 "AND customer COLLATE NOCASE < ? ORDER BY customer LIMIT ?",
                                 [incomplete, upper, LIMIT])]
