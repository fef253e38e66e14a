"""Carrier delivery reports read through their format tables (domain/carriers.py): pure, no
database. Files shaped like each carrier's documented report: BOM, CRLF, quoted commas, a time
zone offset that moves the date across midnight, a line that cannot be read."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from speco_returns.domain import carriers
from speco_returns.domain.carriers import BadFile, parse, tracking_key
from speco_returns.errors import ReturnsError

BOM = b"\xef\xbb\xbf"

UPS = (
    "Record Type,Tracking Number,Activity Type,Date,Time,Rescheduled Delivery Date,"
    "Exception Reason Description\r\n"
    "D1,1Z999AA10123456784,,20261104,213000,,\r\n"
    'E1,1Z999AA10123456785,,20261104,101500,,"RETURNED TO SHIPPER, REFUSED"\r\n'
    "G1,1Z999AA10123456784,UD,20261106,090000,20261103,\r\n"
    "M1,1Z999AA10123456786,,20261104,080000,,\r\n"
)
EASYPOST = (
    "id,tracking_code,status,status_detail,carrier,datetime,message\r\n"
    # 21:30 at UTC-6 is 03:30 UTC the next day: the date at the delivery address is the 4th
    'trk_1,EZ1000000001,delivered,arrived_at_destination,USPS,2026-11-04T21:30:00-06:00,'
    '"Delivered, front porch"\r\n'
    "trk_2,EZ1000000002,return_to_sender,return,USPS,2026-11-05T10:00:00Z,Returned\r\n"
    "trk_3,EZ1000000003,in_transit,arrived_at_facility,USPS,2026-11-05T10:00:00Z,Moving\r\n"
)
AFTERSHIP = (
    "Tracking number,Carrier,Status,Sub-status,Issues,Delivered date\r\n"
    # 00:30 at UTC+9 is the 4th in UTC: the date at the delivery address is the 5th
    "92748999983456000000000011,usps,Delivered,Delivered_001,,2026-11-05T00:30:00+09:00\r\n"
    '1Z 999 AA1 01 2345 6787,ups,Exception,Exception_011,"Returned to sender, address unknown",\r\n'
    "1Z999AA10123456788,ups,Failed attempt,AttemptFail_001,,\r\n"
)


def test_ups_quantum_view_delivery_exception_and_updated_delivery_date():
    rows = parse(BOM + UPS.encode(), carriers.UPS_QVD)
    assert [(r.line, r.kind, r.on) for r in rows] == [
        (2, "delivered", date(2026, 11, 4)), (3, "exception", date(2026, 11, 4)),
        # the Rescheduled Delivery Date, not the activity's own date
        (4, "updated", date(2026, 11, 3)),
        (5, "other", None)]
    assert rows[1].exception == "exception" and rows[1].detail == "RETURNED TO SHIPPER, REFUSED"
    assert rows[0].key == rows[2].key == "1Z999AA10123456784"


def test_easypost_reads_the_date_in_the_events_own_offset():
    rows = parse(EASYPOST.encode(), carriers.EASYPOST)
    assert rows[0].kind == "delivered" and rows[0].on == date(2026, 11, 4)  # not the 5th (UTC)
    assert (rows[1].kind, rows[1].exception) == ("exception", "returned-to-sender")
    assert rows[2].kind == "other"


def test_aftership_export_with_a_bom_crlf_and_quoted_commas():
    rows = parse(BOM + AFTERSHIP.encode(), carriers.AFTERSHIP)
    assert rows[0].on == date(2026, 11, 5)  # not the 4th (UTC)
    assert ((rows[1].kind, rows[1].exception, rows[1].key)
            == ("exception", "returned-to-sender", "1Z999AA10123456787"))
    assert rows[1].detail.startswith("Exception_011; Returned to sender, address unknown")
    assert (rows[2].kind, rows[2].exception) == ("exception", "attempted")


def test_generic_with_a_time_zone_column_moves_a_utc_time_back_across_midnight():
    fmt = carriers.format_named("generic",
                                carriers.parse_map("tracking=Parcel,delivered_at=When,"
                                                   "time_zone=Zone,status=What"))
    data = "Parcel,What,When,Zone\n" \
           "AB 12,Delivered,2026-11-05T04:00:00Z,America/Los_Angeles\n" \
           "CD 34,delivered,2026-11-05T04:00:00Z,-03:00\n" \
           "EF 56,in transit,,\n"
    zone = pytest.importorskip("zoneinfo").ZoneInfo
    rows = parse(data.encode(), fmt, zones=zone)
    assert [(r.key, r.kind, r.on) for r in rows] == [
        ("AB12", "delivered", date(2026, 11, 4)), ("CD34", "delivered", date(2026, 11, 5)),
        ("EF56", "other", None)]


def test_generic_without_a_status_column_takes_every_dated_row_as_a_delivery():
    fmt = carriers.generic({"tracking": "t", "delivered_at": "d"})
    assert [r.kind for r in parse(b"t,d\nX1,2026-11-01\n", fmt)] == ["delivered"]


@pytest.mark.parametrize("data, line, words", [
    (b"tracking_code,status\nA,delivered\n", 1, "no date column"),
    (b"tracking_code,status,datetime\nA,delivered,2026-11-01\nB,delivered\n", 3,
     "2 fields where the header has 3"),
    (b"tracking_code,status,datetime\nA,delivered,2026-11-01\nB,delivered,yesterday\n", 3,
     "'yesterday' is not a date"),
    (b"tracking_code,status,datetime\nA,delivered,\n", 2, "a delivered row without a date"),
    (b"tracking_code,status,datetime\nA,delivered,2026-11-01\nB\xff,delivered,2026-11-01\n", 3,
     "not UTF-8"),
    # a quoted line break inside a message: the next row starts on line 4
    (b'tracking_code,status,datetime,message\nA,in_transit,,"two\nlines"\n'
     b'C;D,delivered,2026-11-01,x\n', 4, "is not one"),
    (b'tracking_code,status,datetime\nA,delivered,2026-11-01T10:00:00+99:00\n', 2, "is not a date"),
    (b'tracking_code,status,datetime,message\nA,delivered,2026-11-01,x\n'
     b'B,failure,2026-11-01,"dam\x00aged"\n', 3, "a NUL"),
    # UTF-16 without its byte-order mark
    ("tracking_code,status,datetime\n".encode("utf-16-le"), 1, "a NUL"),
])
def test_a_file_that_cannot_be_read_whole_names_its_line(data, line, words):
    with pytest.raises(BadFile) as e:
        parse(data, carriers.EASYPOST)
    assert e.value.line == line and words in str(e.value.problems[0].message)


def test_format_names_and_maps_are_refused_with_one_line():
    with pytest.raises(ReturnsError, match="unknown format 'fedex'"):
        carriers.format_named("fedex")
    with pytest.raises(ReturnsError, match="needs --map tracking=COLUMN,delivered_at=COLUMN"):
        carriers.format_named("generic", {})
    with pytest.raises(ReturnsError, match="KEY one of tracking, status, delivered_at, time_zone"):
        carriers.parse_map("parcel=Parcel")
    with pytest.raises(ReturnsError, match="--map serves --format generic only"):
        carriers.format_named("easypost", {"tracking": "x"})


_TRACKING = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz0123456789 -",
                    min_size=1, max_size=30).filter(str.strip)


@given(st.lists(st.tuples(_TRACKING, st.sampled_from(["delivered", "in_transit", "failure"]),
                          st.text(st.characters(blacklist_characters="\x00"), max_size=20),
                          st.dates(date(2020, 1, 1), date(2030, 12, 31))), max_size=8),
       st.booleans(), st.sampled_from(["\r\n", "\n"]))
def test_bom_and_line_ends_change_no_row_and_no_digest(rows, bom, end):
    """Whatever the carrier quotes (commas, quotes, line breaks inside a message), the same rows
    with or without a BOM, with CRLF or LF, read the same, digests included: a file saved again
    by a spreadsheet is the same file."""
    def written(terminator: str, with_bom: bool) -> bytes:
        out = io.StringIO()
        # Quoted as little as RFC 4180 lets with CRLF; every field quoted with LF (a bare CR in
        # a message would otherwise end its line).
        w = csv.writer(out, lineterminator=terminator,
                       quoting=csv.QUOTE_MINIMAL if terminator == "\r\n" else csv.QUOTE_ALL)
        w.writerow(["tracking_code", "status", "message", "datetime"])
        for t, s, m, d in rows:
            w.writerow([t, s, m, d.isoformat()])
        return (BOM if with_bom else b"") + out.getvalue().encode()

    plain = parse(written("\n", False), carriers.EASYPOST)
    other = parse(written(end, bom), carriers.EASYPOST)
    key = [(r.key, r.kind, r.on, r.digest) for r in plain]
    assert key == [(r.key, r.kind, r.on, r.digest) for r in other]
    assert ([r.key for r in plain] == [t.replace(" ", "").upper() for t, *_ in rows if t.strip()]
            or not rows)


@given(_TRACKING)
def test_a_tracking_number_is_compared_without_spaces_or_case(text):
    key = tracking_key(text)
    assert " " not in key and key == key.upper()
    assert tracking_key(text.lower().replace(" ", "  ")) == key


# A Quantum View Data CSV file as UPS writes it: no header line, one record per line, each record
# type (manifest, origin, delivery, exception) with its own number of fields, CRLF.
QVD_AS_WRITTEN = (
    '"M1","A1B2C3","1Z999AA10123456784","20261102","Ann Lee","Springfield"\r\n'
    '"O1","A1B2C3","1Z999AA10123456784","20261102","080000"\r\n'
    '"D1","A1B2C3","1Z999AA10123456784","20261104","213000","FRONT DOOR","LEE"\r\n'
    '"E1","A1B2C3","1Z999AA10123456785","20261104","101500","RETURNED TO SHIPPER, REFUSED"\r\n'
)


def test_a_quantum_view_file_without_its_header_line_is_refused_at_line_1_with_the_way_through():
    with pytest.raises(BadFile) as e:
        parse(QVD_AS_WRITTEN.encode(), carriers.UPS_QVD)
    message = str(e.value)
    assert e.value.line == 1 and "\n" not in message
    assert carriers.UPS_QVD.header in message and "--format generic --map tracking=" in message
    # the same records under the header line the table names are read (the form the tests above use)
    header = ("Record Type,Tracking Number,Activity Type,Date,Time,Rescheduled Delivery Date,"
              "Exception Reason Description\r\n")
    assert header.strip() == carriers.UPS_QVD.header
    rows = parse((header + "D1,1Z999AA10123456784,,20261104,213000,,\r\n").encode(),
                 carriers.UPS_QVD)
    assert [(r.kind, r.on) for r in rows] == [("delivered", date(2026, 11, 4))]


EASYPOST_UPDATED_AT = (
    "id,tracking_code,status,status_detail,carrier,updated_at\r\n"
    # delivered 21:30 in Chicago (UTC-6) on the 4th: EasyPost's updated_at says 03:30 UTC on the 5th
    "trk_1,EZ1000000001,delivered,arrived_at_destination,USPS,2026-11-05T03:30:00Z\r\n"
    # 14:00 UTC is the same day in every zone of the Americas
    "trk_2,EZ1000000002,delivered,arrived_at_destination,USPS,2026-11-05T14:00:00Z\r\n"
    # a time with its own offset is read in it, whatever zone the office names
    "trk_3,EZ1000000003,delivered,arrived_at_destination,USPS,2026-11-05T00:30:00+09:00\r\n"
)


@pytest.mark.parametrize("utc_as, days", [
    (None, [5, 5, 5]),  # the UTC date stands: never before the date in the Americas
    (ZoneInfo("America/New_York"), [4, 5, 5]),
    (carriers.parse_zone("-06:00"), [4, 5, 5]),
])
def test_a_time_given_only_in_utc_is_read_in_the_zone_the_office_names(utc_as, days):
    fmt = replace(carriers.EASYPOST, utc_as=utc_as)
    assert ([r.on for r in parse(EASYPOST_UPDATED_AT.encode(), fmt)]
            == [date(2026, 11, d) for d in days])
