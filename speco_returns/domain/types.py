"""The return types, categories, limits, and the plain data the rules take and give."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from ..errors import Violation

# --- return types and categories -------------------------------------------------

TYPES = ("standard", "counter", "advanced", "virtual")
ALIASES = {"otc": "counter", "ar": "advanced"}
TYPE_TITLES = {
    "standard": "Standard return (repair/replacement)",
    "counter": "Over the counter return (through a distributor)",
    "advanced": "Advanced replacement",
    "virtual": "Virtual return",
}
CATEGORIES = ("camera", "ptz", "specialty", "recorder", "other")

MAX_QTY = 9_999
MAX_CENTS = 99_999_999_999  # $999,999,999.99: keeps price x quantity inside SQLite's integer
MAX_VIRTUAL_UNITS = 3
RETURN_WINDOW_DAYS = 30  # AR-4
DELIVERY_UNKNOWN_DAYS = 10
STALLED_DAYS = 14
HOLD_WARNING_DAYS = 3
MIN_DATE, MAX_DATE = date(2000, 1, 1), date(2999, 12, 31)


# --- eligibility (check) -----------------------------------------------------------------


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


@dataclass
class Facts:
    """What the database knows that the rules need; gathered in the same transaction."""

    catalog: Mapping[str, Product] = field(default_factory=dict)
    serial_owners: Mapping[str, str] = field(default_factory=dict)  # serial -> open RA
    ticket_owner: str | None = None  # the return already using this ticket
    recent_virtual_units: int = 0  # same customer's virtual units, last 30 days


@dataclass
class CheckResult:
    violations: list[Violation]
    warnings: list[Violation]
    serials: dict[str, list[str]]  # model -> serials
    hold_amount: int | None = None  # advanced: AR-3, when every list price is known

    @property
    def eligible(self) -> bool:
        return not self.violations


SERIAL_RULE = {"advanced": "AR-1", "virtual": "VR-4"}


def a_type(type_: str) -> str:
    """'a standard', 'an advanced': the type with its article, for sentences."""
    return f"{'an' if type_[:1] in 'aeiou' else 'a'} {type_}"
