"""The return types, categories and limits (the data the rules take and give: rules.py)."""

from __future__ import annotations

from datetime import date

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
# A card-not-present authorization lapses at the issuer after its window: Visa merchant-initiated
# 5 days, Mastercard, Amex and Discover 7, extended authorizations at most 30 (some merchants
# only). A hold recorded without the processor's expiry is estimated with this many days
# (SPECO_RETURNS_HOLD_DAYS), from 1 to HOLD_DAYS_MAX.
HOLD_DAYS = 7
HOLD_DAYS_MAX = 30
DELIVERY_MIN_DAYS = 1  # the quickest delivery after shipping: the earliest due is ship + 1 + 30
MIN_DATE, MAX_DATE = date(2000, 1, 1), date(2999, 12, 31)

SERIAL_RULE = {"advanced": "AR-1", "virtual": "VR-4"}


def a_type(type_: str) -> str:
    """'a standard', 'an advanced': the type with its article, for sentences."""
    return f"{'an' if type_[:1] in 'aeiou' else 'a'} {type_}"
