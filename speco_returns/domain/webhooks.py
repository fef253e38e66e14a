"""Signed webhooks of tracking aggregators: the signature checked, the event read into the row
`deliveries import` applies (domain/carriers.py classifies it through the aggregator's table).

- AfterShip (Tracking webhooks, "Webhook Signature"): header `aftership-hmac-sha256`, the
  base64 HMAC-SHA256 of the raw body with the account's webhook secret; the body's `event_id`
  names the event, `msg` is the tracking (tracking_number, tag, subtag, shipment_delivery_date,
  checkpoints with checkpoint_time).
- EasyPost (Webhooks Guide, HMAC validation as its client libraries do it): header
  `X-Hmac-Signature`, `hmac-sha256-hex=` and the hex HMAC-SHA256 of the raw body with the
  webhook secret in Unicode NFKD; the Event's `id` names it, `result` is the Tracker
  (tracking_code, status, status_detail, tracking_details with datetime).

Pure: bytes and headers in; no clock, no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from . import carriers

SOURCES = {"aftership": carriers.AFTERSHIP, "easypost": carriers.EASYPOST}
SIGNATURE_HEADERS = {"aftership": "aftership-hmac-sha256", "easypost": "x-hmac-signature"}
MAX_BODY = 1 << 20  # an event is a few kilobytes; a megabyte is not one


def expected_signature(source: str, body: bytes, secret: str) -> str:
    if source == "aftership":
        return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    key = unicodedata.normalize("NFKD", secret).encode()
    return "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def signed(source: str, body: bytes, headers: Mapping[str, str], secret: str) -> bool:
    """The header the aggregator signs with matches the body, compared in constant time.
    `headers`: names in lower case."""
    given = headers.get(SIGNATURE_HEADERS[source], "").strip()
    return bool(given and secret) and hmac.compare_digest(
        given.encode(), expected_signature(source, body, secret).encode())


@dataclass(frozen=True)
class Event:
    """One aggregator event, as the inbox keeps it."""

    source: str
    event_id: str
    tracking: str
    words: tuple[str, ...]  # the status words, as a report's status columns would hold them
    at: str  # the event's date-time as the aggregator writes it ("" when it gives none)
    detail: str = ""


def event(source: str, body: bytes) -> Event:
    """The event in a webhook body; ValueError naming what is missing or not understood."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("the body is not JSON") from None
    if not isinstance(doc, dict):
        raise ValueError("the body is not a JSON object")
    if source == "aftership":
        found = _aftership(doc)
    else:
        found = _easypost(doc)
    event_id = (str(doc.get("event_id" if source == "aftership" else "id") or "")
                or hashlib.sha256(body).hexdigest()[:32])
    tracking, words, at, detail = found
    if not isinstance(tracking, str) or not tracking.strip():
        raise ValueError("the event names no tracking number")
    if not carriers.valid_tracking(tracking.strip()):
        raise ValueError("the tracking number is not one "
                         "(at most 64 letters, digits, spaces or hyphens)")
    if any("\x00" in text for text in (event_id, at or "", detail, *words)):
        raise ValueError("the event holds a NUL character (\\u0000): no text does")
    return Event(source, event_id[:100], tracking.strip(), tuple(w for w in words if w), at or "",
                 detail)


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _aftership(doc: dict):
    msg = doc.get("msg")
    if not isinstance(msg, dict):
        raise ValueError("no `msg` (the tracking) in the event")
    checkpoints = [c for c in msg.get("checkpoints") or [] if isinstance(c, dict)]
    last = checkpoints[-1] if checkpoints else {}
    at = _text(msg.get("shipment_delivery_date")) if _text(msg.get("tag")) == "Delivered" else ""
    return (msg.get("tracking_number"), (_text(msg.get("tag")), _text(msg.get("subtag"))),
            at or _text(last.get("checkpoint_time")),
            _text(msg.get("subtag_message")) or _text(last.get("message")))


def _easypost(doc: dict):
    result = doc.get("result")
    if not isinstance(result, dict) or result.get("object") != "Tracker":
        raise ValueError("not a tracker event (its `result` is no Tracker)")
    details = [d for d in result.get("tracking_details") or [] if isinstance(d, dict)]
    status = _text(result.get("status"))
    same = [d for d in details if _text(d.get("status")) == status]
    last = (same or details or [{}])[-1]
    return (result.get("tracking_code"), (status, _text(result.get("status_detail"))),
            _text(last.get("datetime")) or _text(result.get("updated_at")),
            _text(last.get("message")))


def row(e: Event, line: int, zones=None) -> carriers.Row:
    """The event as the row of a report in its aggregator's format: the import applies it as
    it applies a file's row (ValueError when its date is not one)."""
    fmt = SOURCES[e.source]
    kind, word, exception = carriers.classify(list(e.words), fmt)
    on = carriers.event_date(e.at, "", "", fmt, zones) if e.at and kind != carriers.OTHER else None
    if kind in (carriers.DELIVERED, carriers.UPDATED) and on is None:
        raise ValueError(f"a {kind} event without a date")
    return carriers.Row(line=line, tracking=e.tracking, key=carriers.tracking_key(e.tracking),
                        kind=kind, status=word, on=on, at=e.at,
                        digest=carriers.digest([e.source, e.event_id]),
                        exception=exception, detail=e.detail)
