"""Speco's return policy as pure code: no I/O, no clock (``today`` is always a parameter).

Every rule ID below is one of SPEC §2; the article in ``shared/source`` is the source.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from . import digits
from .errors import ReturnsError, Violation

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


def parse_type(text: str) -> str:
    key = text.strip().lower()
    key = ALIASES.get(key, key)
    if key not in TYPES:
        raise ReturnsError(
            f"unknown return type '{quote(text)}': use standard, counter (otc), advanced (ar) or virtual"
        )
    return key


def parse_category(text: str) -> str:
    key = text.strip().lower()
    if key not in CATEGORIES:
        raise ReturnsError(f"unknown category '{quote(text)}': use one of {', '.join(CATEGORIES)}")
    return key


# --- parsing what agents type --------------------------------------------------------

_MONEY = re.compile(r"\$?([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]{1,2}))?")
_SERIAL = re.compile(r"[A-Z0-9-]{4,32}")
_QTY = re.compile(r"[0-9]+")


def quote(text: str, width: int = 40) -> str:
    """Input quoted back in an error: one line, short, never a card number, never a run of
    13 or more digits, whatever separates them (SPEC §6), and never a control character
    (shown as a visible escape)."""
    text = text if len(text) <= width else text[: width - 1] + "…"  # cut first: scan only what is shown
    if has_long_number(text):
        return "(hidden: it holds a long number)"
    return visible(text.replace("\n", " ").replace("\r", " "))


# Control characters, by category: C0, DEL and C1 (Cc: what moves a terminal's cursor, clears
# its screen or writes its clipboard), format characters (Cf: bidi overrides and isolates that
# reorder what is shown, zero-width spaces and joiners, the soft hyphen) and the line and
# paragraph separators (Zl, Zp: a line break to a mail header or a JSON reader).
CONTROL_CATEGORIES = frozenset(("Cc", "Cf", "Zl", "Zp"))


def is_control(ch: str) -> bool:
    return unicodedata.category(ch) in CONTROL_CATEGORIES


def first_control(text: str) -> str | None:
    """The first control character of `text`, or None (isprintable runs at C speed and is
    false for all four categories)."""
    return None if text.isprintable() else next((ch for ch in text if is_control(ch)), None)


def has_control(text: str) -> bool:
    return first_control(text) is not None


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def named(ch: str) -> str:
    """A control character as a person can read it: `\\u202e RIGHT-TO-LEFT OVERRIDE`, `\\x1b`."""
    name = unicodedata.name(ch, "")
    return f"{_escape(ch)} {name}" if name else _escape(ch)


def refuse_control(label: str, text: str, *, secret: bool = False, shown: str | None = None) -> None:
    """A path, URL or environment value is refused whole when it holds a control character:
    one line naming where it came from, the escapes shown visibly (a secret never shown; `shown`,
    the text with its password masked, stands in for a URL). Bytes that are not UTF-8 (a C1
    escape to an 8-bit terminal, \x9b) are refused as in a text field."""
    require_utf8(label, text)
    bad = first_control(text)
    if bad is not None:
        shown = "" if secret else f" ({named(bad)} in '{quote(text if shown is None else shown, 80)}')"
        raise ReturnsError(f"{label} holds a control character{shown}: a line break, tab, terminal escape or "
                           "invisible format character; retype it" + (" (it is not shown)" if secret else ""))


def visible(text: str) -> str:
    """Control characters already stored, shown as escapes (`\\x1b`, `\\u202e`) instead of run."""
    if text.isprintable():
        return text
    return "".join(_escape(ch) if is_control(ch) else ch for ch in text)


# Every field has a bounded length, checked before any parsing or scanning: no input,
# however long, costs more than a glance (a 5,000-digit quantity, 128 KiB of digit groups).
MAX_NUMBER = 32  # money, quantities
MAX_SHORT = 64  # dates, models, tickets, serials


def _bounded(label: str, text: str, limit: int) -> str:
    if len(text) > limit:
        raise ReturnsError(f"{label} is too long (at most {limit} characters)")
    return text


def parse_money(text: str) -> int:
    """`1299`, `1,299.00` or `$1,299.00` -> integer cents. Never a float."""
    s = _bounded("amount", text, MAX_NUMBER).strip()
    if s.startswith(("-", "$-", "(")):
        raise ReturnsError(f"amount '{quote(s)}' is negative: amounts are never negative")
    m = _MONEY.fullmatch(s)
    if m and len(m.group(1)) > 16:  # before int(): Python refuses to convert 4,300+ digits
        raise ReturnsError(f"amount '{quote(s)}' is too large")
    if not m:
        raise ReturnsError(f"amount '{quote(s)}' is not money: write 1299, 1,299.00 or $1,299.00")
    whole, frac = m.group(1).replace(",", ""), (m.group(2) or "").ljust(2, "0")
    cents = int(whole) * 100 + int(frac)
    if cents > MAX_CENTS:
        raise ReturnsError(f"amount '{quote(s)}' is too large")
    return cents


def format_amount(cents: int) -> str:
    """Two decimals, no grouping: what JSON and CSV carry (`1299.00`, `-499.98`)."""
    sign, cents = ("-", -cents) if cents < 0 else ("", cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def format_usd(cents: int | None) -> str:
    if cents is None:
        return ""
    sign, cents = ("-", -cents) if cents < 0 else ("", cents)
    return f"{sign}${cents // 100:,}.{cents % 100:02d}"


def parse_serial(text: str) -> str:
    s = _bounded("serial", text, MAX_SHORT).strip().upper()
    if not text.isascii() or not _SERIAL.fullmatch(s):  # ASCII first: 'ﬁ'.upper() is 'FI'
        s = s if s.isprintable() else repr(s)
        raise ReturnsError(
            f"serial '{quote(s)}' is not valid: use 4 to 32 letters, digits or '-'"
        )
    return s


def normalize_model(text: str) -> str:
    s = _bounded("model", text, MAX_SHORT * 2).strip().upper()
    if not s:
        raise ReturnsError("model is empty")
    if len(s) > 64 or any(not ch.isprintable() for ch in s):
        raise ReturnsError(f"model '{quote(s)}' is not valid: at most 64 printable characters")
    problem = card_problem("model", s)  # standard and counter returns take any model string
    if problem:
        raise ReturnsError(problem)
    return s


def parse_serial_arg(text: str) -> tuple[str | None, str]:
    """`SERIAL` or `MODEL=SERIAL` -> (model or None, serial)."""
    if "=" in text:
        model, serial = text.split("=", 1)
        return normalize_model(model), parse_serial(serial)
    return None, parse_serial(text)


def parse_qty(text: str) -> int:
    s = _bounded("quantity", text, MAX_NUMBER).strip()
    if not _QTY.fullmatch(s) or len(s.lstrip("0")) > 4 or not 1 <= int(s) <= MAX_QTY:
        raise ReturnsError(f"quantity '{quote(s)}' must be a whole number from 1 to {MAX_QTY}")
    return int(s)


def parse_item(text: str) -> tuple[str, int]:
    """`MODEL` or `MODEL:QTY` -> (model, qty)."""
    model, sep, qty = _bounded("item", text, MAX_SHORT * 2 + MAX_NUMBER).rpartition(":")
    if not sep:
        return normalize_model(text), 1
    return normalize_model(model), parse_qty(qty)


def merge_items(items: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """The same model named twice is one line with the quantities added."""
    merged: dict[str, int] = {}
    for model, qty in items:
        merged[model] = merged.get(model, 0) + qty
        if merged[model] > MAX_QTY:
            raise ReturnsError(f"quantity of {model} must be at most {MAX_QTY}")
    return list(merged.items())


def parse_date(text: str) -> date:
    """ISO (`2026-11-26`) or the usual US forms (`11/26/2026`, `Nov 26 2026`).

    A date missing its year, month or day is refused rather than filled in from the
    clock: it is parsed against two different defaults and must give the same day.
    """
    s = _bounded("date", text, MAX_SHORT).strip()
    if not s:
        raise ReturnsError("the date is empty: write it as YYYY-MM-DD, or leave the option out for today")
    refuse_control("date", s)  # a tab or NEL inside reads as a space to the parser: refused, not stepped around
    if _NUMERIC_DATE.fullmatch(s):
        day = _parse_numeric_date(s)
    else:
        day = _parse_loose_date(s)
    if not MIN_DATE <= day <= MAX_DATE:
        raise ReturnsError(f"date '{quote(s)}' is out of range ({MIN_DATE} to {MAX_DATE})")
    return day


# A date written only with digits: ISO `YYYY-MM-DD`, or US month-first `M/D/YYYY`. Anything
# else (`13/01/2025`, `12/01/25`, `1/2/3`, `01-12-2025`, `2025/01/12`) reads differently in
# different countries, and on `deliver` that silently moves the 30-day clock: refused.
_NUMERIC_DATE = re.compile(r"[0-9]+(?:[^0-9A-Za-z]+[0-9]+)*")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_US_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")


def _parse_numeric_date(s: str) -> date:
    shown = quote(s)
    m = _ISO_DATE.fullmatch(s) or _US_DATE.fullmatch(s)
    if not m:
        raise ReturnsError(f"date '{shown}' is ambiguous: write it as YYYY-MM-DD (2026-11-26), "
                           "or month first as M/D/YYYY (11/26/2026)")
    if m.re is _ISO_DATE:
        year, month, day = (int(g) for g in m.groups())
    else:
        month, day, year = (int(g) for g in m.groups())
        if month > 12:
            raise ReturnsError(f"date '{shown}' is not month-first: slash dates are M/D/YYYY; write it as YYYY-MM-DD")
    try:
        return date(year, month, day)
    except ValueError:
        raise ReturnsError(f"date '{shown}' is not a date: write it as YYYY-MM-DD") from None


def _parse_loose_date(s: str) -> date:
    import warnings

    from dateutil import parser  # imported here: most commands never parse a date

    try:
        with warnings.catch_warnings():  # e.g. an unknown time zone word: refuse, do not warn
            warnings.simplefilter("error")
            a = parser.parse(s, default=datetime(2000, 1, 1))
            b = parser.parse(s, default=datetime(2001, 2, 2))
    except (ValueError, OverflowError, Warning):
        raise ReturnsError(f"date '{quote(s)}' is not a date: write YYYY-MM-DD (2026-11-26), M/D/YYYY (11/26/2026) or Nov 26 2026") from None
    if a.date() != b.date():
        raise ReturnsError(f"date '{quote(s)}' is incomplete: give a year, a month and a day")
    return a.date()


# --- payment card numbers (SPEC §6) ----------------------------------------------------
#
# Read by the digits (digits.py: every digit of any script; invisible characters separate
# nothing; a modifier letter such as ー is a mark, not a letter of a word):
#  - What lies between two digits joins them into one run when it is short (at most
#    MAX_JOIN characters once invisible ones are dropped and a run of spaces counts as one),
#    holds no letter of a word, and has either no space (`-`, `.`, `/`, `ー`, `ʼ`) or a space
#    at both ends (` `, ` - `).
#  - Punctuation written against one number (`, `, `; `, `) `, ` (`, ` $`: how lists and
#    sentences are typed) joins two runs only when both are groups of four digits, the way a
#    card is read out (`4111 1111 1111, 1111`); a word or a longer gap always ends a run. So
#    "call 555-0100 on 2026-11-26 re RA-000123" and "555-0100, 2026-11-26, $499.98" hold runs
#    of at most 8 digits.
#  - Any window of 13 to 19 consecutive digits of a run that passes the Luhn check is a card
#    number: whole groups or not (a card typed together with its CVV or expiry, a stray
#    digit before it). A bare run (nothing visible between its digits) of more than 19
#    digits may hide one: free text refuses that too (a tracking number goes in --tracking).
# Numbers joined only by a space, a dash, a slash or a dot read as one run, as a card's
# groups do, and so do lists of four-digit numbers: two that together hold a Luhn-valid
# window are refused (separate them with a word). Serials and tracking numbers are exempt:
# they never come here.

MAX_BARE_DIGITS = 19
MAX_JOIN = 3
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # a digit's Luhn weight when it is doubled


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        total += _DOUBLED[d] if i % 2 else d
    return total % 10 == 0


def _joins(gap: list[str]) -> bool:
    """Whether what lies between two digits joins them into one run (the rule above)."""
    return len(gap) <= MAX_JOIN and (digits.SPACE not in gap or (gap[0] == digits.SPACE and gap[-1] == digits.SPACE))


def digit_runs(text: str) -> tuple[list[list[int]], int]:
    """The runs of digits in `text` (the rule above), and the length of its longest bare run."""
    # First the runs joined by short gaps, each with its groups' sizes and whether what ends
    # it is short punctuation (it may join the next), then those joined in fours.
    parts: list[tuple[list[int], list[int], bool]] = []
    gap: list[str] = []  # what lies since the last digit: SPACE and MARK, invisibles dropped
    broken = True  # a letter since the last digit
    bare = longest = 0
    for _, kind, value in digits.read(text):
        if kind == digits.DIGIT:
            if not broken and not gap:
                parts[-1][1][-1] += 1
            elif not broken and _joins(gap):
                parts[-1][1].append(1)
            else:
                if parts and not broken:
                    parts[-1] = (parts[-1][0], parts[-1][1], len(gap) <= MAX_JOIN)
                parts.append(([], [1], False))
            parts[-1][0].append(value)
            bare = 1 if gap else bare + 1
            longest = max(longest, bare)
            gap, broken = [], False
        elif kind == digits.LETTER:
            gap, broken, bare = [], True, 0
        elif kind == digits.MARK or (kind == digits.SPACE and gap[-1:] != [digits.SPACE]):
            gap.append(kind)
    runs: list[list[int]] = []
    for i, (run, groups, _) in enumerate(parts):
        before = parts[i - 1] if i else None
        if before is not None and before[2] and all(size == 4 for size in (*before[1], *groups)):
            runs[-1].extend(run)
        else:
            runs.append(list(run))
    return runs, longest


def _luhn_window(run: list[int]) -> bool:
    """Any window of 13-19 consecutive digits of `run` passing the Luhn check. Prefix sums
    weigh each digit as it counts in a window whose last digit has even (or odd) index."""
    n = len(run)
    if n < 13:
        return False
    even, odd = [0] * (n + 1), [0] * (n + 1)
    for k, d in enumerate(run):
        plain, doubled = (d, _DOUBLED[d]) if k % 2 == 0 else (_DOUBLED[d], d)
        even[k + 1], odd[k + 1] = even[k] + plain, odd[k] + doubled
    for end in range(13, n + 1):  # the window run[start:end]
        sums = even if (end - 1) % 2 == 0 else odd
        if any((sums[end] - sums[start]) % 10 == 0 for start in range(max(0, end - 19), end - 12)):
            return True
    return False


def contains_card_number(text: str) -> bool:
    """A window of 13-19 consecutive digits of one run (the rule above) passing the Luhn check."""
    return any(_luhn_window(run) for run in digit_runs(text)[0])


def has_long_number(text: str) -> bool:
    """13 or more digits with no letter of a word between them, whatever else separates
    them: never echoed in a message."""
    return bool(digits.long_numbers(text, 13))


def card_problem(label: str, text: str) -> str | None:
    """Why free text may not be stored (a bare run that may hide a card number, or a card
    number), or None."""
    if digit_runs(text)[1] > MAX_BARE_DIGITS:
        return (f"{label} holds a number of more than {MAX_BARE_DIGITS} digits, which may hide a card number: "
                "a tracking number goes in --tracking")
    if contains_card_number(text):
        return (f"{label} looks like it holds a payment card number; card numbers are never stored: remove it "
                "(other numbers that happen to pass the card check: separate them with words)")
    return None


MAX_TEXT = 2_000


def require_utf8(label: str, text: str) -> None:
    """An argument typed in another encoding reaches Python with undecodable bytes
    (surrogate escapes) that SQLite and stdout cannot take: refuse it at the door."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ReturnsError(f"{label} is not valid text (not UTF-8): retype it") from None


def clean_text(label: str, value: str | None) -> str | None:
    """Trim a free-text field; refuse it when it holds a card number (never echoed)."""
    if value is None:
        return None
    if len(value) > MAX_TEXT * 2:  # before anything reads it (trimmed, it is checked again below)
        raise ReturnsError(f"{label} is too long (at most {MAX_TEXT} characters)")
    s = value.strip()
    if not s:
        return None
    require_utf8(label, s)
    if len(s) > MAX_TEXT:
        raise ReturnsError(f"{label} is too long (at most {MAX_TEXT} characters)")
    problem = card_problem(label, s)  # after the length check: never scan more than a field may hold
    if problem:  # before the control check: a card split by tabs is named as a card number
        raise ReturnsError(problem)
    bad = first_control(s)
    if bad is not None:  # a line break could forge a mail header; a bidi override reorders what is shown
        raise ReturnsError(f"{label} holds a control character ({named(bad)}): a line break, tab, terminal escape or "
                           "invisible format character; retype it on one line")
    return s


def parse_email(text: str | None) -> str | None:
    """One plain e-mail address (`name@example.com`), or None when empty: it becomes the To of
    the customer's notices (`notify`), so it is accepted only where `mail_address` is."""
    s = clean_text("email", text)
    if s is None:
        return None
    if email_refusal(s):
        raise ReturnsError(f"email '{quote(s)}' is not an e-mail address a notice can go to: write it like name@example.com")
    return s


EMAIL_MAX = 254  # RFC 5321: the longest path a mail server takes


def email_refusal(address: str) -> str | None:
    """Why a notice cannot go to `address`, or None when it can. The `email` package decides, as
    the message builder uses it (`mail_address`): the address is its addr-spec with no defect,
    written as it was typed (no quoting, comment or space for the package to drop), a host name
    with a dot, and a `To:` header under the SMTP policy reads back as the same address."""
    from email.errors import MessageError
    from email.headerregistry import Address
    from email.policy import SMTP

    if len(address) > EMAIL_MAX:
        return f"longer than {EMAIL_MAX} characters"
    try:
        parsed = Address(addr_spec=address)
        if f"{parsed.username}@{parsed.domain}" != address:
            return "not one plain address like name@example.com"
        if "." not in parsed.domain.strip(".") or parsed.domain.startswith("["):
            return "the part after @ is not a domain name like example.com"
        folded = SMTP.header_factory("To", parsed).fold(policy=SMTP)
        back = SMTP.header_factory("To", folded.partition(":")[2].strip())
    except (ValueError, MessageError, IndexError) as e:  # the parser's defect (a ValueError) or parse error
        return _parser_reason(e)
    if back.defects or [a.addr_spec for a in back.addresses] != [address]:
        return "a To: header would not read back as this address"
    return None


def mail_address(address: str, name: str = ""):
    """The `email.headerregistry.Address` a notice's header carries (`notices.message`), or
    ReturnsError when the `email` package cannot carry it. The one check of an address: `open`,
    `edit`, the prompts and the mail settings reach it through `parse_email`."""
    from email.headerregistry import Address

    refusal = email_refusal(address)
    if refusal:
        raise ReturnsError(f"'{quote(address)}' cannot be put in a To: header ({refusal})")
    return Address(name, addr_spec=address)


def _parser_reason(e: Exception) -> str:
    if isinstance(e, IndexError):
        return "the address ends too early"
    text = " ".join(str(e).split())
    if text.count(")") > text.count("("):  # one defect's text ends in a stray ")"
        text = text[:-1] if text.endswith(")") else text
    return text or type(e).__name__


HOLD_REF_MAX = 64
_HOLD_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./:-]*")


def parse_hold_ref(text: str | None, label: str = "hold reference") -> str:
    """A processor's reference (SPEC §5): letters, digits and `-_./:`, starting with a letter
    or digit. So no reference ever needs the CSV formula guard: the cell equals the reference."""
    s = clean_text(label, text)  # trimmed; a card number is refused first, never echoed
    if s is None:
        raise ReturnsError(f"{label} is empty: give the processor's reference")
    if has_long_number(s):  # shown in confirmations and exported: never 13 digits in a row (SPEC §6)
        raise ReturnsError(f"{label} holds a run of 13 or more digits, as a card number does: "
                           "give the processor's reference for the authorization")
    if len(s) > HOLD_REF_MAX or not s.isascii() or not _HOLD_REF.fullmatch(s):
        shown = quote(s) if s.isprintable() else quote(repr(s))
        raise ReturnsError(f"{label} '{shown}' is not a processor reference: use letters, digits and - _ . / : "
                           f"(starting with a letter or digit, at most {HOLD_REF_MAX} characters)")
    return s


def parse_ticket(text: str) -> str:
    """Tickets are keys, like serials: NFKC-normalised (full-width letters become ASCII) and
    then ASCII only, so a look-alike (Cyrillic, zero-width space) never opens a second ticket."""
    ticket = clean_text("ticket", _bounded("ticket ID", text, MAX_SHORT * 2))
    if ticket is None:
        raise ReturnsError(Violation("OTC-1", "the Tech Ticket ID is empty"))
    ticket = unicodedata.normalize("NFKC", ticket)
    if not ticket.isascii() or not ticket.isprintable():
        raise ReturnsError(Violation("OTC-1", f"ticket ID '{quote(ticket.encode('ascii', 'backslashreplace').decode())}' "
                                     "must be plain ASCII letters, digits and punctuation"))
    if ticket.upper().startswith("RA-"):
        raise ReturnsError(
            Violation("OTC-1", f"ticket ID '{quote(ticket)}' may not start with RA- (RA numbers are Speco's)")
        )
    if len(ticket) > 64:
        raise ReturnsError(Violation("OTC-1", "ticket ID is too long (at most 64 characters)"))
    return ticket


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
    """What the store knows that the rules need; gathered in the same transaction."""

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


def assign_serials(
    items: Iterable[tuple[str, int]], serials: Iterable[tuple[str | None, str]]
) -> dict[str, list[str]]:
    """Map each serial to its model: plain serials need a single-model RA, else MODEL=SERIAL."""
    out, problems = _assign_serials(items, serials)
    if problems:
        raise ReturnsError(*problems)
    return out


def _assign_serials(
    items: Iterable[tuple[str, int]], serials: Iterable[tuple[str | None, str]]
) -> tuple[dict[str, list[str]], list[str]]:
    qty = dict(items)
    out: dict[str, list[str]] = {model: [] for model in qty}
    seen: set[str] = set()
    problems = []
    for model, serial in serials:
        if model is None:
            if len(qty) != 1:
                problems.append(
                    f"serial {serial}: this return has several models, give it as MODEL={serial}"
                )
                continue
            model = next(iter(qty))
        if model not in qty:
            problems.append(f"serial {serial} names model {model}, which is not on this return")
            continue
        if serial in seen:
            problems.append(f"serial {serial} is given twice")
            continue
        seen.add(serial)
        out[model].append(serial)
    for model, found in out.items():
        if len(found) > qty[model]:
            problems.append(f"{len(found)} serials given for {model}, which has {qty[model]} unit(s)")
            del found[qty[model]:]
    return out, problems


def missing_fields(req: Request) -> list[Violation]:
    """Fields `open` needs before it can run the rules, each with the rule that needs it."""
    missing = []
    if not req.customer:
        missing.append(Violation(None, "missing --customer: the customer's name"))
    if not req.items:
        missing.append(Violation(None, "missing --item: at least one MODEL[:QTY]"))
    if req.type == "counter":
        if not req.ticket:
            missing.append(Violation("OTC-1", "missing --ticket: the Tech Ticket ID given to the customer"))
        if not req.distributor:
            missing.append(Violation("OTC-1", "missing --distributor: the distributor the customer returns through"))
    if req.type == "virtual":
        if not req.approved_by:
            missing.append(Violation("VR-1", "missing --approved-by: the supervisor who approved this virtual return"))
        if not req.reason:
            missing.append(Violation("VR-1", "missing --reason: why a virtual return was approved"))
    rule = SERIAL_RULE.get(req.type)
    if rule and req.items:
        given = len(req.serials)
        needed = sum(q for _, q in req.items)
        if given < needed:
            missing.append(Violation(rule, f"missing --serial: one serial number per unit ({needed} needed, {given} given)"))
    return missing


def item_problems(type_: str, items: Iterable[tuple[str, int]], catalog: Mapping[str, Product]) -> list[Violation]:
    """What the catalog says against these items for this type (AR-3, VR-2, VR-3): asked
    at the prompt as soon as the items are typed, and again by `check`."""
    items = list(items)
    v = []
    if type_ == "advanced":
        for model, _ in items:
            product = catalog.get(model)
            if product is None or product.list_price is None:
                v.append(Violation("AR-3", f"{model} has no list price in the catalog, so the card hold cannot be set; add it to the catalog first"))
            elif product.list_price <= 0:  # the catalog may hold a free part; a $0.00 hold protects nothing
                v.append(Violation("AR-3", f"{model} has a list price of $0.00 in the catalog: an advanced replacement needs a list price above zero for the card hold"))
    if type_ == "virtual":
        total = sum(q for _, q in items)
        if total > MAX_VIRTUAL_UNITS:
            v.append(Violation("VR-2", f"virtual returns are for {MAX_VIRTUAL_UNITS} cameras or fewer; this one has {total} units"))
        for model, _ in items:
            product = catalog.get(model)
            category = product.category if product else None
            if category in ("ptz", "specialty"):
                kind = "PTZ" if category == "ptz" else "specialty"
                v.append(Violation("VR-3", f"{model} is a {kind} camera: virtual returns are never offered for PTZ or specialty cameras"))
            elif category is None:
                v.append(Violation("VR-2", f"{model} is not in the catalog, so it cannot be confirmed as a camera eligible for a virtual return"))
            elif category != "camera":
                v.append(Violation("VR-2", f"{model} is a {category}: virtual returns are for cameras only"))
    return v


def ticket_problem(ticket: str, facts: Facts) -> Violation | None:
    return Violation("OTC-1", f"ticket {ticket} is already used by another counter return") if facts.ticket_owner else None


def serial_problem(serial: str, facts: Facts) -> Violation | None:
    owner = facts.serial_owners.get(serial)
    return Violation("SER-1", f"serial {serial} is already on open return {owner}") if owner else None


def check(req: Request, facts: Facts, *, missing_reported: bool = False) -> CheckResult:
    """Every rule the request breaks (not just the first), plus the VR-2 split warning.
    `missing_reported`: the fields `missing_fields` lists are left to it (one error lists both)."""
    t = req.type
    serials, serial_problems = _assign_serials(req.items, req.serials)
    v = [Violation(SERIAL_RULE.get(t), problem) for problem in serial_problems]
    warnings: list[Violation] = []
    presence = not missing_reported
    if t == "counter":
        if not req.ticket:
            if presence:
                v.append(Violation("OTC-1", "a counter return needs the Tech Ticket ID Speco gave the customer (--ticket)"))
        elif ticket_problem(req.ticket, facts):
            v.append(ticket_problem(req.ticket, facts))
        if not req.distributor and presence:
            v.append(Violation("OTC-1", "a counter return needs the distributor the customer returns through (--distributor)"))
    if t in SERIAL_RULE and presence:
        rule = SERIAL_RULE[t]
        for model, qty in req.items:
            have = len(serials[model])
            if have < qty:
                v.append(Violation(rule, f"one serial number per unit is required: {model} has {qty} unit(s) and {have} serial(s)"))
    if t == "virtual" and presence:
        if not req.approved_by:
            v.append(Violation("VR-1", "virtual returns are case by case: name the approving supervisor (--approved-by)"))
        if not req.reason:
            v.append(Violation("VR-1", "virtual returns are case by case: give the reason (--reason)"))
    v += item_problems(t, req.items, facts.catalog)
    if t == "virtual":
        total = sum(q for _, q in req.items)
        recent = facts.recent_virtual_units
        if req.customer and recent and recent + total > MAX_VIRTUAL_UNITS:
            warnings.append(Violation("VR-2", (
                f"{req.customer} already has {recent} unit(s) on virtual returns opened in the last 30 days; with this one "
                f"that is {recent + total}, more than {MAX_VIRTUAL_UNITS}: the approving supervisor decides"
            )))
    for serial in (s for found in serials.values() for s in found):
        if serial_problem(serial, facts):
            v.append(serial_problem(serial, facts))
    hold = None
    if t == "advanced" and not any(v_.rule == "AR-3" for v_ in v):
        hold = hold_amount((facts.catalog[m].list_price, q) for m, q in req.items)
    return CheckResult(v, warnings, serials, hold)


def hold_amount(items: Iterable[tuple[int | None, int]]) -> int:
    """AR-3: non-discounted list price x quantity, summed (cents)."""
    return sum(price * qty for price, qty in items if price is not None)


# --- life of a return (SPEC §3) ----------------------------------------------------------

INITIAL = {"standard": "authorized", "counter": "ticket-issued", "advanced": "authorized", "virtual": "authorized"}
CLOSED = ("completed", "cancelled", "charged")  # store.OPEN_SQL and migration m003 use this order
_HOLDING = ("hold-authorized", "replacement-shipped", "replacement-delivered", "unit-in-transit")

# (type, event) -> {state it may happen in: state after}. The only way states change.
MACHINE: dict[tuple[str, str], dict[str, str]] = {
    ("standard", "unit-shipped"): {"authorized": "unit-in-transit"},
    ("standard", "receive"): {"authorized": "unit-received", "unit-in-transit": "unit-received"},
    ("standard", "ship"): {"unit-received": "completed"},
    ("standard", "cancel"): {"authorized": "cancelled"},
    ("counter", "complete"): {"ticket-issued": "completed"},
    ("counter", "cancel"): {"ticket-issued": "cancelled"},
    ("advanced", "link"): {"authorized": "link-sent"},
    # a second `hold` re-authorizes (new reference and expiry) and keeps the state
    ("advanced", "hold"): {"link-sent": "hold-authorized", **{s: s for s in _HOLDING}},
    ("advanced", "ship"): {"hold-authorized": "replacement-shipped"},
    ("advanced", "deliver"): {"replacement-shipped": "replacement-delivered"},
    ("advanced", "unit-shipped"): {"replacement-delivered": "unit-in-transit"},
    ("advanced", "receive"): {
        "replacement-shipped": "completed",
        "replacement-delivered": "completed",
        "unit-in-transit": "completed",
        "charged": "late-return",
    },
    ("advanced", "charge"): {"replacement-delivered": "charged", "unit-in-transit": "charged"},
    ("advanced", "complete"): {"late-return": "completed"},
    ("advanced", "refund"): {"late-return": "completed"},
    ("advanced", "cancel"): {"authorized": "cancelled", "link-sent": "cancelled", "hold-authorized": "cancelled"},
    ("virtual", "ship"): {"authorized": "completed"},
    ("virtual", "cancel"): {"authorized": "cancelled"},
}
EVENTS = ("link", "hold", "ship", "deliver", "unit-shipped", "receive", "charge", "refund", "complete", "cancel")

# --- the ledger (SPEC §5): one row per money movement, signed so that sums reconcile -------

# event -> (sign on outstanding holds, sign on money kept). A row's `holds_change` is
# sign x amount, its `charges_change` likewise: over any range SUM(holds_change) is the
# change in outstanding holds and SUM(charges_change) the change in money kept. The hold
# sign also counts holds: +1 authorized, -1 settled (released, or converted to a charge).
LEDGER_SIGNS = {
    "hold-authorized": (1, 0),
    "hold-released": (-1, 0),
    "charged": (-1, 1),
    "refunded": (0, -1),
}


def ledger_changes(event: str, amount_cents: int) -> tuple[int, int]:
    """(holds_change, charges_change) of a ledger row: derived from its event and amount only."""
    holds, charges = LEDGER_SIGNS[event]
    return holds * amount_cents, charges * amount_cents


def refund_amount(requested: int | None, charged_cents: int, refunded_cents: int = 0) -> int:
    """A supervisor's refund of a charge: all that is left of it by default, never more, never $0."""
    left = charged_cents - refunded_cents
    amount = left if requested is None else requested
    if amount > left:
        raise ReturnsError(f"a refund of {format_usd(amount)} is more than was charged ({format_usd(left)})")
    if amount <= 0:
        raise ReturnsError("a refund of $0.00 refunds nothing: to let the charge stand, `complete --note`")
    return amount


def states(type_: str) -> list[str]:
    seen = [INITIAL[type_]]
    for (t, _), moves in MACHINE.items():
        if t == type_:
            for state in (*moves, *moves.values()):
                if state not in seen:
                    seen.append(state)
    return seen


def is_open(status: str) -> bool:
    return status not in CLOSED


# SER-1: the states whose return does not hold its serials: the closed ones, and a late return
# (the unit is back at Speco, SPEC §2). The store's check, migration m012's triggers (flag
# serials.held) and doctor all read this one list (store.HOLDS_SQL); changing it needs a new
# migration that re-creates those triggers and re-derives the flag.
SERIAL_FREE = (*CLOSED, "late-return")


def holds_serials(status: str) -> bool:
    return status not in SERIAL_FREE


def a_type(type_: str) -> str:
    """'a standard', 'an advanced': the type with its article, for sentences."""
    return f"{'an' if type_[:1] in 'aeiou' else 'a'} {type_}"


def _refusal(type_: str, status: str, event: str) -> Violation:
    """Why `event` cannot happen now, naming the rule where one applies."""
    if type_ == "standard" and event == "ship":
        return Violation("STD-1", "the replacement ships only after Speco receives the customer's unit; record `receive` first")
    if type_ == "advanced" and event in ("ship", "hold") and status in ("authorized", "link-sent"):
        first = "send the e-biz link (`link`)" if status == "authorized" else "record the authorized card hold (`hold`)"
        return Violation("AR-2", f"before the replacement ships the customer needs the e-biz link and an authorized card hold: {first}")
    if type_ == "advanced" and event == "charge":
        return Violation("AR-4", f"the card can be charged only when the unit is not back within {RETURN_WINDOW_DAYS} days of delivery; this return is {status}")
    if type_ == "virtual" and event in ("receive", "unit-shipped"):
        return Violation("VR-5", "nothing comes back on a virtual return")
    if type_ == "counter" and event != "cancel":
        return Violation("OTC-2", "the distributor handles a counter return under its own policy: record `complete` when it is done")
    if event == "complete":
        return Violation(None, "`complete` serves only counter returns and late returns")
    if event == "refund":
        return Violation(None, f"`refund` serves only a late return (a unit that came back after the charge); this return is {status}")
    allowed = [e for e in EVENTS if status in MACHINE.get((type_, e), {})]
    hint = f"; next: {', '.join(allowed)}" if allowed else ""
    return Violation(None, f"cannot {event} {a_type(type_)} return that is {status}{hint}")


def transition(type_: str, status: str, event: str) -> str:
    """The state after `event`, or ReturnsError naming the rule that refuses it."""
    moves = MACHINE.get((type_, event), {})
    if status not in moves:
        raise ReturnsError(_refusal(type_, status, event))
    return moves[status]


def check_event_date(on: date, today: date, last_event_on: date) -> None:
    """An event is never in the future, nor before the latest state-changing or money event
    of its return (its opening and any re-authorized hold included): SPEC §3."""
    if on > today:
        raise ReturnsError(f"date {on} is in the future")
    if on < last_event_on:
        raise ReturnsError(f"date {on} is before this return's latest event or hold ({last_event_on}): "
                           "events are recorded in the order they happened")


# --- the 30-day clock (AR-4) -----------------------------------------------------------


def due_date(delivered_on: date) -> date:
    return delivered_on + timedelta(days=RETURN_WINDOW_DAYS)


@dataclass(frozen=True)
class Clock:
    """What an advanced replacement's events dated on or before a day say."""

    shipped_on: date | None = None
    delivered_on: date | None = None
    unit_shipped_on: date | None = None
    received_on: date | None = None
    charged_on: date | None = None
    cancelled_on: date | None = None
    hold_active: bool = False
    hold_expires: date | None = None

    @property
    def due_on(self) -> date | None:
        return due_date(self.delivered_on) if self.delivered_on else None

    def returned_in_time(self) -> bool:
        """Received, or shipped back, on or before the due date (in transit is not late)."""
        due = self.due_on
        return due is not None and any(
            d is not None and d <= due for d in (self.received_on, self.unit_shipped_on)
        )

    def is_overdue(self, as_of: date) -> bool:
        due = self.due_on
        return due is not None and as_of > due and not self.returned_in_time() and self.received_on is None


def stalled_from(clock: Clock) -> date | None:
    """The day a unit shipped back but not received becomes `return-stalled` (SPEC §2)."""
    if clock.unit_shipped_on is None or clock.received_on is not None:
        return None
    return clock.unit_shipped_on + timedelta(days=STALLED_DAYS)


def ship_refusal(clock: Clock, on: date) -> Violation | None:
    """AR-2: a replacement ships only on a hold in force on its date. `clock` holds the
    events dated on or before `on`."""
    if not clock.hold_active:
        return Violation("AR-2", f"no card hold is in force on {on}: record the authorized hold (`hold --ref`) first")
    if clock.hold_expires and clock.hold_expires < on:
        return Violation("AR-2", f"the card hold expired on {clock.hold_expires}: re-authorize it "
                                 "(`hold --ref ... --expires ...`) before shipping")
    return None


def charge_refusal(clock: Clock, on: date, reason: str | None = None) -> Violation | None:
    """AR-4: None when the card may be charged on `on`, else why not.

    A unit sent back in time but never received (a lost parcel) may be charged once it is
    `return-stalled` and past its due date, with the supervisor's reason (SPEC §2)."""
    if clock.delivered_on is None:
        return Violation("AR-4", "no delivery is recorded, so the 30-day clock has not started; record `deliver` first")
    if clock.returned_in_time():
        back = clock.unit_shipped_on or clock.received_on
        stalled = stalled_from(clock)
        if stalled is None:
            return Violation("AR-4", f"the unit was sent back on {back}, within {RETURN_WINDOW_DAYS} days of delivery: the card is not charged")
        allowed = max(stalled, clock.due_on + timedelta(days=1))
        if on < allowed:
            return Violation("AR-4", f"the unit was sent back on {back}, within {RETURN_WINDOW_DAYS} days of delivery: "
                                     f"the card is not charged; if it never arrives (stalled from {stalled}) a supervisor "
                                     f"may charge it from {allowed} with `charge --reason`")
        if not reason:
            return Violation("AR-4", f"the unit was sent back on {back} and never received (stalled from {stalled}): "
                                     "charging it is a supervisor's decision: `charge RA --reason TEXT` naming who decided and why")
        return None
    if not clock.is_overdue(on):
        return Violation("AR-4", f"the unit is due back by {clock.due_on}; the card can be charged from {clock.due_on + timedelta(days=1)}")
    return None


OVERDUE_STATES = ("overdue", "due-soon", "delivery-unknown", "return-stalled", "hold-expiring")


def overdue_states(clock: Clock, as_of: date, within: int | None = None) -> list[tuple[str, int | None]]:
    """The nightly check's rows for one advanced replacement: (state, days overdue or None)."""
    if clock.cancelled_on or clock.received_on or clock.charged_on:
        return []
    rows: list[tuple[str, int | None]] = []
    due = clock.due_on
    if due is not None:
        if clock.is_overdue(as_of):
            rows.append(("overdue", (as_of - due).days))
        elif within is not None and not clock.returned_in_time() and (due - as_of).days <= within:
            rows.append(("due-soon", None))
    elif clock.shipped_on and (as_of - clock.shipped_on).days > DELIVERY_UNKNOWN_DAYS:
        rows.append(("delivery-unknown", None))
    if clock.unit_shipped_on and (as_of - clock.unit_shipped_on).days >= STALLED_DAYS:
        rows.append(("return-stalled", None))
    if clock.hold_active and clock.hold_expires and clock.hold_expires <= as_of + timedelta(days=HOLD_WARNING_DAYS):
        rows.append(("hold-expiring", None))
    return rows


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
