"""What agents, files and the environment type, parsed and refused at the door: text,
control and format characters, money, serials, models, items, dates, e-mail, tickets, references."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from ..errors import ReturnsError, Violation
from .cards import card_problem, has_long_number
from .types import ALIASES, CATEGORIES, MAX_CENTS, MAX_DATE, MAX_QTY, MIN_DATE, TYPES


def parse_type(text: str) -> str:
    key = text.strip().lower()
    key = ALIASES.get(key, key)
    if key not in TYPES:
        raise ReturnsError(f"unknown return type '{quote(text)}': use standard, counter (otc), "
                           "advanced (ar) or virtual")
    return key


def parse_category(text: str) -> str:
    key = text.strip().lower()
    if key not in CATEGORIES:
        raise ReturnsError(f"unknown category '{quote(text)}': use one of {', '.join(CATEGORIES)}")
    return key


# --- parsing what agents type --------------------------------------------------------

# The patterns here are text, compiled by `re` when first used (and kept in its cache): every
# command imports this module, and compiling them all cost each start about 1 ms.
_MONEY = r"\$?([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]{1,2}))?"
_SERIAL = r"[A-Z0-9-]{4,32}"
_QTY = r"[0-9]+"


def quote(text: str, width: int = 40) -> str:
    """Input quoted back in an error: one line, short, never a card number, never a run of
    13 or more digits, whatever separates them (SPEC §6), and never a control character
    (shown as a visible escape)."""
    # cut first: scan only what is shown
    text = text if len(text) <= width else text[: width - 1] + "…"
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
    return (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000
            else f"\\U{code:08x}")


def named(ch: str) -> str:
    """A control character as a person can read it: `\\u202e RIGHT-TO-LEFT OVERRIDE`, `\\x1b`."""
    name = unicodedata.name(ch, "")
    return f"{_escape(ch)} {name}" if name else _escape(ch)


def refuse_control(label: str, text: str, *, secret: bool = False,
                   shown: str | None = None) -> None:
    """A path, URL or environment value is refused whole when it holds a control character:
    one line naming where it came from, the escapes shown visibly (a secret never shown; `shown`,
    the text with its password masked, stands in for a URL). Bytes that are not UTF-8 (a C1
    escape to an 8-bit terminal, \x9b) are refused as in a text field."""
    require_utf8(label, text)
    bad = first_control(text)
    if bad is not None:
        shown = "" if secret else (
            f" ({named(bad)} in '{quote(text if shown is None else shown, 80)}')")
        raise ReturnsError(f"{label} holds a control character{shown}: a line break, tab, "
                           "terminal escape or invisible format character; retype it"
                           + (" (it is not shown)" if secret else ""))


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
    m = re.fullmatch(_MONEY, s)
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
    if not text.isascii() or not re.fullmatch(_SERIAL, s):  # ASCII first: 'ﬁ'.upper() is 'FI'
        s = s if s.isprintable() else repr(s)
        raise ReturnsError(f"serial '{quote(s)}' is not valid: use 4 to 32 letters, digits or '-'")
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
    if not re.fullmatch(_QTY, s) or len(s.lstrip("0")) > 4 or not 1 <= int(s) <= MAX_QTY:
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
        raise ReturnsError("the date is empty: write it as YYYY-MM-DD, "
                           "or leave the option out for today")
    # a tab or NEL inside reads as a space to the parser: refused, not stepped around
    refuse_control("date", s)
    if re.fullmatch(_NUMERIC_DATE, s):
        day = _parse_numeric_date(s)
    else:
        day = _parse_loose_date(s)
    if not MIN_DATE <= day <= MAX_DATE:
        raise ReturnsError(f"date '{quote(s)}' is out of range ({MIN_DATE} to {MAX_DATE})")
    return day


def parse_date_range(text: str) -> tuple[date | None, date | None]:
    """`FROM..TO`, both ends included; `FROM..` or `..TO` leaves one end open; one date is that
    day."""
    s = _bounded("date range", text, MAX_SHORT * 2).strip()
    if ".." not in s:
        day = parse_date(s)
        return day, day
    first, _, last = s.partition("..")
    if "..." in s or ".." in last:
        raise ReturnsError(f"date range '{quote(s)}' is not FROM..TO: two dots between the days")
    if not first.strip() and not last.strip():
        raise ReturnsError(f"date range '{quote(s)}' has no end: "
                           "write FROM..TO (2026-11-01..2026-11-30), FROM.. or ..TO")
    start = parse_date(first) if first.strip() else None
    end = parse_date(last) if last.strip() else None
    if start and end and end < start:
        # Named as two dates with a word between them: FROM..TO, digits and dots only, would be
        # hidden as a possible card number (errors.hide_long_numbers).
        raise ReturnsError(f"date range from {start} to {end} ends before it starts: "
                           "put the earlier day first")
    return start, end


# A date written only with digits: ISO `YYYY-MM-DD`, or US month-first `M/D/YYYY`. Anything
# else (`13/01/2025`, `12/01/25`, `1/2/3`, `01-12-2025`, `2025/01/12`) reads differently in
# different countries, and on `deliver` that silently moves the 30-day clock: refused.
_NUMERIC_DATE = r"[0-9]+(?:[^0-9A-Za-z]+[0-9]+)*"
_ISO_DATE = r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
_US_DATE = r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})"


def _parse_numeric_date(s: str) -> date:
    shown = quote(s)
    m = re.fullmatch(_ISO_DATE, s) or re.fullmatch(_US_DATE, s)
    if not m:
        raise ReturnsError(f"date '{shown}' is ambiguous: write it as YYYY-MM-DD (2026-11-26), "
                           "or month first as M/D/YYYY (11/26/2026)")
    if m.re.pattern == _ISO_DATE:
        year, month, day = (int(g) for g in m.groups())
    else:
        month, day, year = (int(g) for g in m.groups())
        if month > 12:
            raise ReturnsError(f"date '{shown}' is not month-first: slash dates are M/D/YYYY; "
                               "write it as YYYY-MM-DD")
    try:
        return date(year, month, day)
    except ValueError:
        raise ReturnsError(f"date '{shown}' is not a date: write it as YYYY-MM-DD") from None


_MONTH = r"([0-9]{4})-([0-9]{2})"


def parse_month(text: str) -> tuple[date, date]:
    """`2026-11` -> (2026-11-01, 2026-11-30): a calendar month's first and last day."""
    s = _bounded("month", text, MAX_SHORT).strip()
    m = re.fullmatch(_MONTH, s)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ReturnsError(f"--month '{quote(s)}' is not a month: "
                           "write it as YYYY-MM, like 2026-11")
    first = date(int(m.group(1)), int(m.group(2)), 1)
    if not MIN_DATE <= first <= MAX_DATE:
        raise ReturnsError(f"--month '{quote(s)}' is out of range "
                           f"({MIN_DATE:%Y-%m} to {MAX_DATE:%Y-%m})")
    return first, (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _parse_loose_date(s: str) -> date:
    import warnings

    from dateutil import parser  # imported here: most commands never parse a date

    try:
        with warnings.catch_warnings():  # e.g. an unknown time zone word: refuse, do not warn
            warnings.simplefilter("error")
            a = parser.parse(s, default=datetime(2000, 1, 1))
            b = parser.parse(s, default=datetime(2001, 2, 2))
    except (ValueError, OverflowError, Warning):
        raise ReturnsError(f"date '{quote(s)}' is not a date: write YYYY-MM-DD (2026-11-26), "
                           "M/D/YYYY (11/26/2026) or Nov 26 2026") from None
    if a.date() != b.date():
        raise ReturnsError(f"date '{quote(s)}' is incomplete: give a year, a month and a day")
    return a.date()


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
    # after the length check: never scan more than a field may hold
    problem = card_problem(label, s)
    if problem:  # before the control check: a card split by tabs is named as a card number
        raise ReturnsError(problem)
    bad = first_control(s)
    # a line break could forge a mail header; a bidi override reorders what is shown
    if bad is not None:
        raise ReturnsError(f"{label} holds a control character ({named(bad)}): a line break, tab, "
                           "terminal escape or invisible format character; retype it on one line")
    return s


def parse_email(text: str | None) -> str | None:
    """One plain e-mail address (`name@example.com`), or None when empty: it becomes the To of
    the customer's notices (`notify`), so it is accepted only where `mail_address` is."""
    s = clean_text("email", text)
    if s is None:
        return None
    if email_refusal(s):
        raise ReturnsError(f"email '{quote(s)}' is not an e-mail address a notice can go to: "
                           "write it like name@example.com")
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
    except (ValueError, MessageError, IndexError) as e:
        # the parser's defect (a ValueError) or parse error
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
_HOLD_REF = r"[A-Za-z0-9][A-Za-z0-9_./:-]*"


def parse_hold_ref(text: str | None, label: str = "hold reference") -> str:
    """A processor's reference (SPEC §5): letters, digits and `-_./:`, starting with a letter
    or digit. So no reference ever needs the CSV formula guard: the cell equals the reference."""
    s = clean_text(label, text)  # trimmed; a card number is refused first, never echoed
    if s is None:
        raise ReturnsError(f"{label} is empty: give the processor's reference")
    # shown in confirmations and exported: never 13 digits in a row (SPEC §6)
    if has_long_number(s):
        raise ReturnsError(f"{label} holds a run of 13 or more digits, as a card number does: "
                           "give the processor's reference for the authorization")
    if len(s) > HOLD_REF_MAX or not s.isascii() or not re.fullmatch(_HOLD_REF, s):
        shown = quote(s) if s.isprintable() else quote(repr(s))
        raise ReturnsError(f"{label} '{shown}' is not a processor reference: "
                           "use letters, digits and - _ . / : "
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
        raise ReturnsError(Violation(
            "OTC-1", f"ticket ID '{quote(ticket.encode('ascii', 'backslashreplace').decode())}' "
            "must be plain ASCII letters, digits and punctuation"))
    if ticket.upper().startswith("RA-"):
        raise ReturnsError(Violation("OTC-1", f"ticket ID '{quote(ticket)}' may not start with RA- "
                                     "(RA numbers are Speco's)"))
    if len(ticket) > 64:
        raise ReturnsError(Violation("OTC-1", "ticket ID is too long (at most 64 characters)"))
    return ticket


# --- phone numbers -------------------------------------------------------------------------

PHONE_DIGITS = (4, 15)  # a desk extension's short number up to E.164's longest
PHONE_MAX = 40
_PHONE_SEPARATORS = frozenset(" -.()/")
_PHONE_EXTENSION = r"(?:x|ext\.?|extension)\s*([0-9]{1,6})"  # read ignoring case


def parse_phone(text: str | None) -> str | None:
    """A phone number as people write one: digits with spaces, `-`, `.`, `/` and parentheses,
    a leading `+`, and an extension (`x123`, `ext. 123`); None when empty. Read by what it is,
    its digits: anything else (a name, a sentence, a pasted command line) is refused with a
    pointer to the contact note. Stored as typed, full-width digits made ASCII and the
    extension written ` x123`."""
    s = clean_text("phone", text)  # trimmed; a card number refused first, never echoed
    if s is None:
        return None
    s = unicodedata.normalize("NFKC", s)
    main, extension = s, ""
    found = re.search(r"[\s,;]*" + _PHONE_EXTENSION + r"$", s, re.IGNORECASE)
    if found:
        main, extension = s[:found.start()].rstrip(), f" x{found.group(1)}"
    problem = _phone_problem(main) if len(s) <= PHONE_MAX else f"longer than {PHONE_MAX} characters"
    if problem:
        raise ReturnsError(f"phone '{quote(s)}' is not a phone number ({problem}): "
                           "digits with spaces or - . / ( ), a leading +, x123 for an extension; "
                           "a note such as 'call after 5pm' goes in --contact-note")
    return main + extension


def _phone_problem(main: str) -> str | None:
    body = main[1:] if main.startswith("+") else main
    strange = next((ch for ch in body if not (ch in "0123456789" or ch in _PHONE_SEPARATORS)), None)
    if strange is not None:
        return (f"'{strange}' is not a digit or separator" if strange != "+"
                else "a + only at the start")
    digits = sum(ch.isdigit() for ch in body)
    low, high = PHONE_DIGITS
    if not low <= digits <= high:
        return f"{digits} digit{'s' if digits != 1 else ''}; a number has {low} to {high}"
    depth = 0
    for ch in body:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth not in (0, 1):
            return "unbalanced parentheses"
    if depth:
        return "unbalanced parentheses"
    if not body[0].isdigit() and body[0] != "(" or not body[-1].isdigit():
        return "it starts or ends with a separator"
    return None
