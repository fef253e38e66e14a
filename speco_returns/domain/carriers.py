"""Carrier delivery reports (`deliveries import`): each format is a table of data (the columns
it names, the status words meaning delivered, an updated delivery date or an exception, where
the date and its time zone are), and one parser reads every format through its table. A new
format is a new table, not new code.

Pure: bytes in, rows out; a file that cannot be read whole is refused with its line number.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo

from ..errors import ReturnsError

# What happened to a parcel, as a row says it.
DELIVERED, UPDATED, EXCEPTION, OTHER = "delivered", "updated", "exception", "other"


@dataclass(frozen=True)
class Format:
    """One carrier file's shape. Each field lists the header names it may have (matched ignoring
    case and surrounding spaces); the first one the file has is read."""

    name: str
    tracking: tuple[str, ...]
    status: tuple[tuple[str, ...], ...]  # columns whose words say what happened, read in order
    at: tuple[str, ...]  # the event's date, or date and time (ISO 8601, or `day_format`)
    delivered: frozenset[str]
    # status word -> the kind listed: returned-to-sender, attempted, damaged, exception
    exceptions: Mapping[str, str]
    updated: frozenset[str] = frozenset()  # a carrier's correction of the delivery date
    updated_at: tuple[str, ...] = ()  # where an updated row keeps its new date (else `at`)
    time: tuple[str, ...] = ()  # a separate time column (HHMMSS or HH:MM[:SS])
    zone: tuple[str, ...] = ()  # a column naming the event's time zone (IANA name or UTC offset)
    detail: tuple[str, ...] = ()  # words shown with an exception (the carrier's description)
    day_format: str | None = None  # strptime format of a date without separators (UPS: YYYYMMDD)
    source: str = ""
    header: str = ""  # the header line this table reads, named when line 1 is not one
    # `deliveries import --time-zone`: the zone a time given only in UTC is read in
    utc_as: tzinfo | None = None


def _words(*words: str) -> frozenset[str]:
    return frozenset(w.casefold() for w in words)


# UPS Quantum View Data subscription files, CSV layout ("Quantum View Data Subscription Comma
# Separated Values (CSV) File Layout", UPS, July 2016; its summary of changes adds activity type
# UD = Updated Delivery Date to the Generic record). Record types: Delivery (D1), Exception (E1),
# Generic (G1: UR = undeliverable return, UD = updated delivery date, with the Rescheduled
# Delivery Date). Field names as UPS documents them for Quantum View (also in the Perl
# Net::Async::Webservice::UPS::Response::QV::{Delivery,Exception,Generic} documentation):
# Tracking Number, Date and Time of the activity, local to where it happened (no offset),
# YYYYMMDD and HHMMSS. UPS writes the file without a header line, one record per line, each
# record type with its own fields; the public copies of the layout give the record types and the
# field names but not the positions of the Delivery record's fields, so the table reads records
# of one layout under a header line naming their columns (docs/admin.md), and line 1 of a file
# without one is refused naming the line below and the way through --format generic --map.
UPS_QVD = Format(
    name="ups-qvd",
    tracking=("Tracking Number",),
    status=(("Record Type",), ("Activity Type",)),
    at=("Date", "Activity Date", "Delivery Date"),
    time=("Time", "Activity Time", "Delivery Time"),
    day_format="%Y%m%d",
    delivered=_words("D1", "Delivery"),
    updated=_words("UD", "Updated Delivery Date"),
    updated_at=("Rescheduled Delivery Date",),
    exceptions={"e1": "exception", "exception": "exception", "ur": "returned-to-sender",
                "undeliverable returns": "returned-to-sender"},
    detail=("Exception Reason Description", "Exception Status Description", "Activity Type"),
    source="UPS Quantum View Data Subscription CSV File Layout (July 2016)",
    header="Record Type,Tracking Number,Activity Type,Date,Time,Rescheduled Delivery Date,"
           "Exception Reason Description",
)

# EasyPost tracker report (Reports API, type `tracker`: a CSV of the trackers in a date range)
# with the Tracker's fields (docs.easypost.com/docs/trackers, /docs/reports): tracking_code,
# status (pre_transit, in_transit, out_for_delivery, delivered, available_for_pickup,
# return_to_sender, failure, cancelled, error, unknown), status_detail, and the tracking
# detail's `datetime`, ISO 8601 with the time zone EasyPost assigns from the event's location
# (UTC when the location is incomplete).
EASYPOST = Format(
    name="easypost",
    tracking=("tracking_code",),
    status=(("status",), ("status_detail",)),
    at=("datetime", "delivered_at", "updated_at"),
    delivered=_words("delivered"),
    exceptions={"return_to_sender": "returned-to-sender", "failure": "exception",
                "available_for_pickup": "attempted",
                "arrived_at_destination_facility_delivery_attempted": "attempted",
                "damaged": "damaged"},
    detail=("status_detail", "message"),
    source="EasyPost Reports API (tracker report) and Tracker object",
)

# AfterShip shipment CSV export (Tracking dashboard > Shipments > Export): Tracking number,
# Carrier, Status (the delivery status: Delivered, Exception, Failed attempt, ...), Sub-status
# (the subtag: Delivered_001.., Exception_011 returned to sender, ...), Issues, and the delivery
# date; the API names (tracking_number, tag, subtag, shipment_delivery_date, ISO 8601 local to
# the destination) are read too. Subtags from AfterShip's "Delivery Sub-statuses".
AFTERSHIP = Format(
    name="aftership",
    tracking=("Tracking number", "tracking_number"),
    status=(("Status", "tag"), ("Sub-status", "subtag"), ("Issues",)),
    at=("Delivered date", "Delivery date", "Delivered at", "shipment_delivery_date"),
    delivered=_words("Delivered", "Delivered_001", "Delivered_002", "Delivered_003",
                     "Delivered_004"),
    exceptions={"exception_011": "returned-to-sender", "returned to sender": "returned-to-sender",
                "exception_010": "returned-to-sender", "returning to sender": "returned-to-sender",
                "exception_013": "damaged", "shipment damaged": "damaged",
                "failed attempt": "attempted", "attemptfail": "attempted",
                "exception": "exception"},
    detail=("Sub-status", "subtag", "Issues", "Latest event"),
    source="AfterShip shipment CSV export; Delivery Statuses and Sub-statuses",
)

FORMATS = {f.name: f for f in (UPS_QVD, EASYPOST, AFTERSHIP)}
GENERIC_KEYS = ("tracking", "status", "delivered_at", "time_zone")
_GENERIC_EXCEPTIONS = {"returned to sender": "returned-to-sender",
                       "return to sender": "returned-to-sender",
                       "delivery attempted": "attempted", "attempted": "attempted",
                       "failed attempt": "attempted", "damaged": "damaged",
                       "exception": "exception"}
FORMAT_NAMES = (*FORMATS, "generic")


def generic(mapping: Mapping[str, str]) -> Format:
    """`--format generic --map tracking=COL,status=COL,delivered_at=COL[,time_zone=COL]`: without
    a status column, every row with a date is a delivery."""
    missing = [k for k in ("tracking", "delivered_at") if not mapping.get(k)]
    if missing:
        raise ReturnsError("--format generic needs "
                           f"--map {','.join(f'{k}=COLUMN' for k in missing)}")
    status = mapping.get("status")
    return Format(
        name="generic", tracking=(mapping["tracking"],), status=((status,),) if status else (),
        at=(mapping["delivered_at"],),
        zone=(mapping["time_zone"],) if mapping.get("time_zone") else (),
        delivered=_words("delivered"), updated=_words("updated delivery date"),
        exceptions=_GENERIC_EXCEPTIONS, source="the columns named by --map")


def parse_map(text: str | None) -> dict[str, str]:
    """`tracking=COL,status=COL,...` (a column name may hold spaces; `,` separates pairs)."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, sep, column = part.partition("=")
        key = key.strip().lower().replace("-", "_")
        if not sep or key not in GENERIC_KEYS or not column.strip():
            raise ReturnsError(f"--map takes KEY=COLUMN pairs, KEY one of "
                               f"{', '.join(GENERIC_KEYS)}: '{part.strip()[:40]}' is not one")
        out[key] = column.strip()
    return out


def format_named(name: str, mapping: Mapping[str, str] | None = None) -> Format:
    key = name.strip().lower()
    if key == "generic":
        return generic(mapping or {})
    if mapping:
        raise ReturnsError("--map serves --format generic only")
    if key not in FORMATS:
        raise ReturnsError(f"unknown format '{name[:40]}': use {', '.join(FORMAT_NAMES)}")
    return FORMATS[key]


# --- tracking numbers -----------------------------------------------------------------------

_TRACKING = re.compile(r"[A-Za-z0-9 -]{1,64}")


def valid_tracking(text: str) -> bool:
    """At most 64 letters, digits, spaces or hyphens: what a tracking number is made of."""
    return bool(_TRACKING.fullmatch(text))


def tracking_key(text: str) -> str:
    """A tracking number as compared: without spaces, upper case (ASCII, as both engines' upper()
    and the index events_tracking_key read it)."""
    return text.replace(" ", "").upper()


# --- rows --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    line: int  # where the row starts in the file (1 is the header)
    tracking: str  # as the file writes it
    key: str  # tracking_key(tracking)
    kind: str  # DELIVERED, UPDATED, EXCEPTION or OTHER
    status: str  # the word that decided the kind (or the first status word)
    on: date | None  # the event's date where it happened
    at: str  # the date (and time) as the file writes it
    digest: str  # of the row's cells: the same row in two files is one row
    exception: str | None = None  # the kind of exception
    detail: str = ""
    extra: dict = field(default_factory=dict)


class BadFile(ReturnsError):
    """A file that cannot be read whole: nothing of it is recorded."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line


def _text(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadFile(data[: e.start].count(b"\n") + 1,
                      "not UTF-8 text (save the report as UTF-8 CSV)") from None
    nul = text.find("\x00")
    if nul >= 0:  # no text holds one (UTF-16 without its mark does); a server's JSON cannot keep it
        raise BadFile(text.count("\n", 0, nul) + 1,
                      "a NUL character: not UTF-8 text (save the report as UTF-8 CSV)")
    return text


def _column(header: list[str], names: Sequence[str]) -> int | None:
    folded = [h.strip().casefold() for h in header]
    for name in names:
        if name.strip().casefold() in folded:
            return folded.index(name.strip().casefold())
    return None


_OFFSET = re.compile(r"(?:UTC|GMT)?\s*([+-])(\d{1,2}):?(\d{2})?$", re.IGNORECASE)


def parse_zone(text: str, zones=None):
    """A UTC offset (`-07:00`, `-0700`, `UTC-7`, `Z`, `UTC`) or, through `zones` (the caller's
    ZoneInfo, which reads the system's time-zone data), an IANA name; None when it is neither."""
    t = text.strip()
    if t.upper() in ("Z", "UTC", "GMT"):
        return timezone.utc
    m = _OFFSET.fullmatch(t)
    if m:
        sign, hours, minutes = m.group(1), int(m.group(2)), int(m.group(3) or 0)
        if hours > 14 or minutes > 59:
            return None
        delta = timedelta(hours=hours, minutes=minutes)
        return timezone(-delta if sign == "-" else delta)
    return zones(t) if zones and t else None


def event_date(at: str, time_text: str, zone_text: str, fmt: Format, zones=None) -> date:
    """The date at the delivery address. A date-time carrying its own offset is read in it (the
    carrier's local time), or in the row's named zone when the file gives one; a date-time with
    no offset is local already (UPS writes activity times local to the activity)."""
    text = at.strip()
    if fmt.day_format and re.fullmatch(r"\d{8}", text):
        day = datetime.strptime(text, fmt.day_format)
    else:
        iso = text.replace(" ", "T", 1) if re.match(r"\d{4}-\d{2}-\d{2} \d", text) else text
        if iso.endswith(("Z", "z")):
            iso = iso[:-1] + "+00:00"
        try:
            day = datetime.fromisoformat(iso)
        except ValueError:
            raise ValueError(f"'{at.strip()[:40]}' is not a date (YYYY-MM-DD, ISO 8601 date-time"
                             + (f" or {fmt.day_format.replace('%', '')}" if fmt.day_format else "")
                             + ")") from None
    if time_text.strip() and day.tzinfo is None:
        digits = time_text.strip().replace(":", "")
        if (not re.fullmatch(r"\d{4}(\d{2})?", digits) or int(digits[:2]) > 23
                or int(digits[2:4]) > 59):
            raise ValueError(f"'{time_text.strip()[:20]}' is not a time (HHMMSS or HH:MM)")
    if zone_text.strip():
        zone = parse_zone(zone_text, zones)
        if zone is None:
            raise ValueError(f"'{zone_text.strip()[:40]}' is not a time zone "
                             "(a UTC offset like -07:00, or a name like America/Chicago)")
        day = day.astimezone(zone) if day.tzinfo else day
    elif fmt.utc_as is not None and day.tzinfo is not None and day.utcoffset() == timedelta(0):
        # A time given only in UTC (EasyPost's `updated_at`, or a `datetime` whose location it
        # did not know) does not say the date where the parcel was delivered. Without
        # --time-zone the UTC date stands: for a delivery in the Americas it is that date or the
        # day after, never the day before, so no customer is charged early (AR-4). With it, the
        # time is read in the zone the office names (docs/admin.md: the easternmost zone its
        # customers live in, whose date is never earlier than theirs).
        day = day.astimezone(fmt.utc_as)
    return day.date()


def classify(words: list[str], fmt: Format) -> tuple[str, str, str | None]:
    """(kind, the deciding word, exception kind): an updated date first, then a delivery, then an
    exception; anything else is news the import does not act on (in transit, label created)."""
    folded = [w.casefold() for w in words if w]
    for w in folded:
        if w in fmt.updated:
            return UPDATED, w, None
    for w in folded:
        if w in fmt.delivered:
            return DELIVERED, w, None
    found = [w for w in folded if w in fmt.exceptions]
    if found:  # the most telling word: a sub-status (returned to sender) over the bare "exception"
        w = next((w for w in found if fmt.exceptions[w] != "exception"), found[0])
        return EXCEPTION, w, fmt.exceptions[w]
    if not fmt.status:  # generic without a status column: a dated row is a delivery
        return DELIVERED, "delivered", None
    return OTHER, folded[0] if folded else "", None


def digest(cells: Sequence[str]) -> str:
    return hashlib.sha256("\x1f".join(c.strip() for c in cells).encode()).hexdigest()[:20]


def parse(data: bytes, fmt: Format, zones=None) -> list[Row]:
    """Every row of a carrier file, or BadFile naming the first line that cannot be read: the
    header must name the format's columns, every row must have the header's number of fields, a
    tracking number is at most 64 letters, digits, spaces or hyphens, and a row acted on must
    have a date."""
    reader = csv.reader(io.StringIO(_text(data), newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as e:
        raise BadFile(1, f"not CSV ({e})") from None
    if header is None:
        return []
    need = {"tracking number": fmt.tracking, "date": fmt.at}
    cols = {label: _column(header, names) for label, names in need.items()}
    for label, index in cols.items():
        if index is None and fmt.header:
            raise BadFile(1, f"not the header line --format {fmt.name} reads: add the line "
                             f"'{fmt.header}' (in the file's own column order) above the records, "
                             "or a header line of your own and --format generic --map "
                             "tracking=COLUMN,status=COLUMN,delivered_at=COLUMN")
        if index is None:
            shown = ", ".join(h.strip()[:30] for h in header[:12])
            raise BadFile(1, f"no {label} column for --format {fmt.name} "
                             f"(one of: {', '.join(need[label])}); the header has: {shown}")
    status_cols = [c for c in (_column(header, names) for names in fmt.status) if c is not None]
    if fmt.status and not status_cols:
        raise BadFile(1, f"no status column for --format {fmt.name} (one of: "
                         f"{', '.join(n for names in fmt.status for n in names)})")
    time_col, zone_col = _column(header, fmt.time), _column(header, fmt.zone)
    updated_col = _column(header, fmt.updated_at)
    detail_cols = [c for c in (_column(header, (n,)) for n in fmt.detail) if c is not None]
    rows: list[Row] = []
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader, None)
        except csv.Error as e:
            raise BadFile(start, f"not CSV ({e})") from None
        if cells is None:
            break
        line, start = start, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue  # a blank line
        if len(cells) != len(header):
            raise BadFile(line, f"{len(cells)} fields where the header has {len(header)}")
        rows.append(_row(line, cells, fmt, cols, status_cols, time_col, zone_col, updated_col,
                         detail_cols, zones))
    return rows


def _row(line, cells, fmt, cols, status_cols, time_col, zone_col, updated_col, detail_cols,
         zones) -> Row:
    tracking = cells[cols["tracking number"]].strip()
    if tracking and not valid_tracking(tracking):
        raise BadFile(line, "the tracking number is not one "
                            "(at most 64 letters, digits, spaces or hyphens)")
    kind, word, exception = classify([cells[c].strip() for c in status_cols], fmt)
    at = cells[cols["date"]].strip()
    if kind == UPDATED and updated_col is not None and cells[updated_col].strip():
        at = cells[updated_col].strip()
    on = None
    if kind != OTHER and tracking:
        if not at and kind != EXCEPTION:
            raise BadFile(line, f"a {kind} row without a date")
        if at:
            try:
                on = event_date(at,
                                cells[time_col] if time_col is not None and kind != UPDATED else "",
                                cells[zone_col] if zone_col is not None else "", fmt, zones)
            except ValueError as e:
                raise BadFile(line, str(e)) from None
    detail = "; ".join(dict.fromkeys(cells[c].strip() for c in detail_cols if cells[c].strip()))
    return Row(line=line, tracking=tracking, key=tracking_key(tracking), kind=kind, status=word,
               on=on, at=at, digest=digest(cells), exception=exception, detail=detail)
