"""The states and events of a return's life (SPEC §3): the one table of transitions, and which
states are closed or hold their serials. Data and small predicates only: reading a return
(`show`, lists, the database's partial indexes) needs these, not the `Life` that lifecycle steps."""

from __future__ import annotations

INITIAL = {"standard": "authorized", "counter": "ticket-issued", "advanced": "authorized", "virtual": "authorized"}
CLOSED = ("completed", "cancelled", "charged")  # db.returns.OPEN_SQL and migration m003 use this order
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
# (the unit is back at Speco, SPEC §2). The tool's check, migration m012's triggers (flag
# serials.held) and doctor all read this one list (db.derived.HOLDS_SQL); changing it needs a new
# migration that re-creates those triggers and re-derives the flag.
SERIAL_FREE = (*CLOSED, "late-return")


def holds_serials(status: str) -> bool:
    return status not in SERIAL_FREE
