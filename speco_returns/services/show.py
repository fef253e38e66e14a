"""The `open` / `show` document of one return (SPEC §4 keys, and more)."""

from __future__ import annotations

import json
from datetime import date

from ..db.returns import find, key, parts
from ..domain import holds, inputs, states, types, wording
from ..errors import ReturnsError

__all__ = ["document", "show"]


def show(db, key: str, today: date | None = None) -> dict:
    """One return as the `show` document (SPEC §4); its hold's state as of `today`."""
    with db.read():
        r = find(db, key)
        return document(r, *parts(db, r["id"]), as_of=today)


def _amount(cents: int | None) -> str | None:
    return None if cents is None else inputs.format_amount(cents)


def _hold(r, events: list, as_of: date | None) -> dict:
    """The hold's state on `as_of` (holds.hold_state; None without a day) and the facts of the
    authorization in force: how its expiry is known, the customer's consent on record (the
    latest `hold` under the reference in force)."""
    hold = next((e for e in reversed(events) if e["event"] == "hold"
                 and _detail(key(r), e).get("ref") == r["hold_ref"]), None)
    detail = _detail(key(r), hold) if hold is not None else {}
    estimated = r["hold_estimated"]
    return {"hold_state": holds.state_of_row(r, as_of) if as_of else None,
            "hold_expires_estimated": None if estimated is None else bool(estimated),
            "hold_consent": detail.get("consent"), "hold_consent_on": detail.get("consent_on")}


def document(r, items: list, serials: dict[int, list[str]], events: list,
             as_of: date | None = None) -> dict:
    due = date.fromisoformat(r["due_on"]) if r["due_on"] else None
    doc_items = [
        {"model": i["model"], "description": i["description"], "category": i["category"], "qty": i["qty"],
         "list_price": _amount(i["list_price_cents"]), "serials": serials.get(i["id"], [])}
        for i in items
    ]
    warnings = []
    rule = types.SERIAL_RULE.get(r["type"])
    if rule and states.is_open(r["status"]):
        for item in doc_items:
            if len(item["serials"]) < item["qty"]:
                warnings.append({"rule": rule, "message": f"{item['model']} needs one serial per unit: "
                                 f"{item['qty']} unit(s), {len(item['serials'])} serial(s)"})
    details = [_detail(key(r), e) for e in events]
    contact_note = next((d["contact_note"] for d in reversed(details) if d.get("contact_note")), None)
    return {
        "ra": key(r), "type": r["type"], "status": r["status"], "customer": r["customer"],
        "email": r["email"], "phone": r["phone"], "contact_note": contact_note, "ticket": r["ticket"], "distributor": r["distributor"],
        "approved_by": r["approved_by"], "reason": r["reason"],
        # fault and finding codes (m020): None on a database this account may only read, not yet upgraded
        **{c: (r[c] if c in r.keys() else None) for c in ("fault", "finding", "finding_on")},
        "hold_amount": _amount(r["hold_amount_cents"]) if r["type"] == "advanced" else None,
        "hold_ref": r["hold_ref"], "hold_active": bool(r["hold_active"]), "hold_expires": r["hold_expires"],
        **_hold(r, events, as_of),
        "opened_on": r["opened_on"], "shipped_on": r["shipped_on"], "delivered_on": r["delivered_on"],
        "due_on": r["due_on"] if r["type"] == "advanced" else None,
        "unit_shipped_on": r["unit_shipped_on"], "received_on": r["received_on"],
        "charged_on": r["charged_on"], "closed_on": r["closed_on"],
        "next_step": wording.next_step(r["type"], r["status"], due),
        "warnings": warnings,
        "items": doc_items,
        "events": [
            {"event": e["event"], "on": e["happened_on"], "agent": e["agent"], "recorded_at": e["recorded_at"],
             "status": e["status"], **detail}
            for e, detail in zip(events, details, strict=True)
        ],
    }


def _detail(ra: str, event) -> dict:
    """An event's details; a row the tool never wrote (not a JSON object) is one line, not a traceback."""
    try:
        detail = json.loads(event["detail"] or "{}")
    except (TypeError, ValueError):
        detail = None
    if not isinstance(detail, dict):
        raise ReturnsError(f"{ra}: its history holds a row the tool cannot read (event {event['id']}, changed "
                           "outside the tool): run `speco-returns doctor`")
    return detail
