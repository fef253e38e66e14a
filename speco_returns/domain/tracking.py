"""Which carrier a tracking number belongs to, read from its form: the one table (FORMS) the
notices use to give the carrier's tracking page. Pure. (Carrier delivery reports are carriers.py.)

A form names its carrier only with its check digit, computed as the carrier publishes it; a
number of no form below (or one two carriers share, like 20 digits: FedEx SmartPost and USPS)
is given as it was typed, without a page. Spaces and dashes typed between groups are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote


def _mod10(body: str, odd: int, even: int) -> int:
    """The check digit of the usual mod 10: the body's digits from the RIGHT weighted odd,
    even, odd... (first from the right is position 1), summed; the digit that makes it a ten."""
    total = sum(int(d) * (odd if i % 2 == 0 else even) for i, d in enumerate(reversed(body)))
    return -total % 10


def _ups(number: str) -> bool:
    """UPS `1Z`: the 15 characters after 1Z, letters as (code - 63) mod 10 (A=2 ... Z=7), odd
    positions from the left once and even ones twice; the check digit makes the sum a ten."""
    values = [int(ch) if ch.isdigit() else (ord(ch) - 63) % 10 for ch in number[2:17]]
    total = sum(v * (2 if i % 2 else 1) for i, v in enumerate(values))
    return number[17].isdigit() and -total % 10 == int(number[17])


def _fedex_express(number: str) -> bool:
    """FedEx Express, 12 digits: the first 11 weighted 1, 3, 7 from the right, mod 11 (10 is 0)."""
    total = sum(int(d) * (1, 3, 7)[i % 3] for i, d in enumerate(reversed(number[:11])))
    return total % 11 % 10 == int(number[11])


def _fedex_ground(number: str) -> bool:
    """FedEx Ground: mod 10 over the 14 digits before the check digit (a `96` barcode's last 15),
    weighted 3, 1 from the right."""
    return _mod10(number[-15:-1], 3, 1) == int(number[-1])


def _usps_impb(number: str) -> bool:
    """USPS Intelligent Mail package barcode: mod 10 over every digit before the check, 3, 1
    from the right."""
    return _mod10(number[:-1], 3, 1) == int(number[-1])


def _s10(number: str) -> bool:
    """UPU S10 (international mail, here those issued in the US): the 8 serial digits weighted
    8 6 4 2 3 5 9 7, 11 minus the sum mod 11 (10 is 0, 11 is 5)."""
    total = sum(int(d) * w for d, w in zip(number[2:10], (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
    check = 11 - total % 11
    return {10: 0, 11: 5}.get(check, check) == int(number[10])


@dataclass(frozen=True)
class Form:
    carrier: str
    form: str  # as the README's table names it
    pattern: re.Pattern
    check: Callable[[str], bool]
    source: str  # where the carrier publishes it


# Each carrier's tracking page takes the number in its query string.
PAGES = {
    "UPS": "https://www.ups.com/track?tracknum={}",
    "FedEx": "https://www.fedex.com/fedextrack/?trknbr={}",
    "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
}

FORMS = (
    Form("UPS", "1Z + 16 letters or digits (18 in all), its check digit last",
         re.compile(r"1Z[0-9A-Z]{16}"), _ups,
         "UPS, Guide to Labeling: the 1Z tracking number and its modified mod 10 check digit"),
    Form("FedEx", "12 digits (Express), check digit mod 11", re.compile(r"[0-9]{12}"),
         _fedex_express,
         "FedEx Express tracking number check digit (weights 1, 3, 7, mod 11)"),
    Form("FedEx", "15 digits (Ground), check digit mod 10", re.compile(r"[0-9]{15}"), _fedex_ground,
         "FedEx Ground Label Layout Specification, check digit calculation"),
    Form("FedEx", "22 digits starting 96 (Ground barcode), check digit mod 10",
         re.compile(r"96[0-9]{20}"), _fedex_ground,
         "FedEx Ground Label Layout Specification, the 96 barcode"),
    Form("USPS", "22 or 26 digits starting 91 to 95 (Intelligent Mail package barcode), "
         "check digit mod 10",
         re.compile(r"9[1-5](?:[0-9]{20}|[0-9]{24})"), _usps_impb,
         "USPS Publication 199, the Package Identification Code and its mod 10 check digit"),
    Form("USPS", "2 letters, 9 digits, US (international, UPU S10), check digit mod 11",
         re.compile(r"[A-Z]{2}[0-9]{9}US"), _s10,
         "UPU S10 standard: service indicator, serial, check digit, country"),
)

_TYPED_BETWEEN = re.compile(r"[ \-]")


def compact(number: str) -> str:
    """The number without the spaces and dashes typed between its groups, in capitals."""
    return _TYPED_BETWEEN.sub("", number).upper()


def carrier_of(number: str) -> Form | None:
    """The form this tracking number has, with its check digit right, or None."""
    plain = compact(number)
    if not plain.isascii():
        return None
    for form in FORMS:
        if form.pattern.fullmatch(plain) and form.check(plain):
            return form
    return None


def tracking_page(number: str) -> tuple[str, str] | None:
    """(carrier, the carrier's tracking page for this number), where its form names the carrier."""
    form = carrier_of(number)
    if form is None:
        return None
    return form.carrier, PAGES[form.carrier].format(quote(compact(number), safe=""))
