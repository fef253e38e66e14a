"""A return's life (SPEC §3): its states and events (states.py, named here too), the ledger's signs, one `Life` stepped by one
event (`step`), a whole history replayed (`replay`); `void`'s plan is voids.py's."""

from __future__ import annotations

import json
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date

from ..errors import ReturnsError, Violation
from .clock import Clock, due_date
from .inputs import parse_money
from .states import CLOSED, EVENTS, INITIAL, MACHINE, SERIAL_FREE, holds_serials, is_open, states  # noqa: F401 (lifecycle.is_open ...)
from .types import RETURN_WINDOW_DAYS, a_type

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

# The events of a return's life (SPEC §3): each changes its state or moves money. `open`,
# notes, serial edits and field edits (`edit`) are not: they are never voided and never
# stand in the way of a void.
LIFE_EVENTS = EVENTS
# Money paid out to a customer cannot be taken back by the tool: a refund is final.
NOT_VOIDABLE = {"refund": "a refund is money paid back to the customer: it cannot be voided"}

# What undoes each ledger movement. A refund is never undone (NOT_VOIDABLE). A charge is
# undone only with the processor's reference for its reversal (`void --ref`): one `refunded`
# row under that reference, and the hold stays settled, used up by the charge (SPEC §7:
# one ledger row per reference and authorization). The `charged` entry here serves only
# histories recorded before that rule, whose void of a charge gave the money back under the
# hold's reference and put the hold back.
REVERSAL = {
    "hold-authorized": ("hold-released",),
    "hold-released": ("hold-authorized",),
    "charged": ("refunded", "hold-authorized"),
}

_DATE_COLUMNS = {"ship": "shipped_on", "deliver": "delivered_on", "unit-shipped": "unit_shipped_on",
                 "receive": "received_on", "charge": "charged_on"}


@dataclass(frozen=True)
class Move:
    """One ledger movement: event (hold-authorized, hold-released, charged, refunded), amount
    in cents, the processor's reference (the hold's; a refund's own)."""

    event: str
    amount: int
    ref: str | None
    reason: str | None = None  # a supervisor's decision, kept on the row (a lost parcel's charge)
    lapses_on: date | None = None  # the expiry of the hold it opens or settles (the lapse rule)


@dataclass(frozen=True)
class Life:
    """The columns of a return that its history decides (names as in the `returns` table)."""

    status: str
    last_event_on: date
    shipped_on: date | None = None
    delivered_on: date | None = None
    due_on: date | None = None
    unit_shipped_on: date | None = None
    received_on: date | None = None
    charged_on: date | None = None
    closed_on: date | None = None
    hold_active: bool = False
    hold_ref: str | None = None
    hold_expires: date | None = None
    # The hold's expiry given (False) or estimated (True); None: no hold, or one recorded before
    # the lapse rule, whose books stay as recorded (it leaves the holds when released or charged).
    hold_estimated: bool | None = None

    @classmethod
    def opened(cls, type_: str, opened_on: date) -> Life:
        return _with(_BLANK, {"status": INITIAL[type_], "last_event_on": opened_on})  # as cls(...), quicker

    @classmethod
    def from_row(cls, row: Mapping) -> Life:
        """The stored columns of a `returns` row."""
        values = {}
        for name in _LIFE_COLUMNS:
            try:
                value = row[name]
            except (IndexError, KeyError):  # a column an older database lacks (doctor reads it)
                value = None
            if name == "hold_active" or (name == "hold_estimated" and value is not None):
                value = bool(value)
            elif name in _LIFE_DATES:
                value = date.fromisoformat(value) if value else None
            values[name] = value
        return cls(**values)

    def columns(self) -> dict:
        """As stored: ISO dates, hold_active 0 or 1."""
        out = {}
        for name in _LIFE_COLUMNS:
            value = getattr(self, name)
            out[name] = int(value) if isinstance(value, bool) else value.isoformat() if isinstance(value, date) else value
        return out

    def stored(self) -> list:
        """columns()'s values in order, quicker (`doctor` compares one with every returns row);
        hold_active stays a bool, which compares equal to the stored 0 or 1 only."""
        return [v.isoformat() if isinstance(v, date) else v for v in _LIFE_VALUES(self)]


def _with(life: Life, changes: dict) -> Life:
    """dataclasses.replace for Life, without its per-field __init__ (see _life)."""
    values = life.__dict__.copy()
    values.update(changes)
    return _life(values)


def _life(values: dict) -> Life:
    """A Life over `values` (its own dict from now on): Life has no __post_init__ and no
    validation, so this is all its __init__ would do, without the per-field calls."""
    new = object.__new__(Life)
    object.__setattr__(new, "__dict__", values)  # Life is frozen: its own __setattr__ refuses
    return new


_BLANK = Life(status="", last_event_on=date.min)  # every other field at its default, for Life.opened
_LIFE_COLUMNS = tuple(f.name for f in fields(Life))
_LIFE_VALUES = operator.attrgetter(*_LIFE_COLUMNS)
_LIFE_DATES = frozenset(n for n in _LIFE_COLUMNS if n.endswith("_on") or n == "hold_expires")
_WITH_DETAIL = ("hold", "charge", "refund")  # the events whose detail step() reads


def _on(event: Mapping) -> date:
    return _date(event["happened_on"])


def _detail(event: Mapping) -> dict:
    return _json(event["detail"])


def _date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _json(value) -> dict:
    return json.loads(value) if isinstance(value, str) else dict(value or {})


def step(type_: str, life: Life, event: str, on: date, detail: Mapping, hold_amount: int) -> tuple[Life, list[Move]]:
    """The state after one event of SPEC §3 and the money it moves; ReturnsError (naming the
    rule) when the state machine refuses it. Dates and AR-2/AR-4 are checked by the caller."""
    values = life.__dict__.copy()
    moves = _apply(type_, values, event, on, detail, hold_amount)
    return _life(values), moves


def _apply(type_: str, values: dict, event: str, on: date, detail: Mapping, hold_amount: int) -> list[Move]:
    """`step` on a Life's columns as a dict, changed in place: a replay keeps one dict per
    return instead of a new Life per event (`doctor` replays 5M events at 1M returns)."""
    status = values["status"]
    new = transition(type_, status, event)
    values["status"] = new
    if new != status or event == "hold":  # state-changing and money events (a re-authorized
        values["last_event_on"] = on      # hold included) bound later dates (SPEC §3)
    moves: list[Move] = []
    if type_ == "advanced":
        amount, ref, active = hold_amount, values["hold_ref"], values["hold_active"]
        lapses_on = values["hold_expires"] if values.get("hold_estimated") is not None else None
        # under the lapse rule a hold left the open holds on its expiry: nothing settles it after
        lapsed = active and values["hold_expires"] is not None and on > values["hold_expires"]
        settles = active and not (lapsed and lapses_on is not None)
        if event == "hold":
            if settles:  # re-authorization: the old hold is released, never counted twice
                moves.append(Move("hold-released", amount, ref, lapses_on=lapses_on))
            expires = detail.get("expires")
            expires = date.fromisoformat(expires) if isinstance(expires, str) else expires
            estimated = detail.get("estimated")  # absent: recorded before the lapse rule
            moves.append(Move("hold-authorized", amount, detail["ref"],
                              lapses_on=expires if estimated is not None else None))
            values.update(hold_active=True, hold_ref=detail["ref"], hold_expires=expires,
                          hold_estimated=None if estimated is None else bool(estimated))
        elif event == "charge":  # a lost parcel's charge keeps the supervisor's reason on its ledger row
            reason = detail.get("reason")
            if lapsed and lapses_on is not None:  # a new charge on the card, its own reference:
                new = detail.get("ref") or ref  # authorized and captured at once (a sale)
                moves += [Move("hold-authorized", amount, new),
                          Move("charged", amount, new, reason)]
            elif lapsed:  # a hold from before the lapse rule: the new charge settles it
                moves.append(Move("charged", amount, detail.get("ref") or ref, reason))
            else:
                moves.append(Move("charged", amount, ref, reason, lapses_on=lapses_on))
            values["hold_active"] = False
        elif event == "refund":  # a supervisor's refund of a late return's charge (its own reference)
            moves.append(Move("refunded", parse_money(detail["amount"]), detail["ref"], detail.get("reason")))
        elif event in ("receive", "cancel") and active:
            if settles:
                moves.append(Move("hold-released", amount, ref, lapses_on=lapses_on))
            values["hold_active"] = False
    column = _DATE_COLUMNS.get(event)
    if column:
        values[column] = on
    if event == "deliver":
        values["due_on"] = due_date(on)
    if new in CLOSED:
        values["closed_on"] = on
    elif new == "late-return":
        values["closed_on"] = None
    return moves


def reversal(moves: Iterable[Move], reason: str | None = None, ref: str | None = None,
             on: date | None = None) -> list[Move]:
    """The ledger rows that undo `moves`, last first (`reason`: the void's, kept on each row).
    `ref`: the processor's reversal of a charge, which gives the charge back under its own
    reference. A refund has none: it is never voided (voids.plan_void refuses it first). `on`: the
    void's day (an authorization past its expiry by then has lapsed: `hold-lapsed`)."""
    moves = list(moves)
    captured, undo = {m.ref for m in moves if m.event == "charged"}, []
    for m in reversed(moves):
        if m.event == "charged" and ref:
            undo.append(Move("refunded", m.amount, ref, reason))
        elif m.event == "hold-authorized" and ref and m.ref in captured:
            continue  # a new charge's own authorization, used up by its capture
        elif (m.lapses_on is not None and on is not None and on > m.lapses_on
              and m.event != "charged"):
            continue  # lapsed by the void's day: nothing to release or re-open
        else:
            undo += [Move(event, m.amount, m.ref, reason, m.lapses_on)
                     for event in REVERSAL.get(m.event, ())]
    return undo


@dataclass(frozen=True)
class Replay:
    life: Life
    moves: list[Move]  # every ledger movement the history implies, in order
    voidable: Mapping | None  # the event a `void` would undo now (None: nothing to undo)
    before: Life | None  # the state that event found
    undo: list[Move]  # the ledger rows a `void` now would write


def replay(type_: str, opened_on: date, hold_amount: int, events: Sequence[Mapping]) -> Replay:
    """Apply a return's history in order. A `void` undoes the latest life event not yet
    voided: the state goes back to what that event found, and the money it moved is moved
    back. Voids stack: a second one undoes the event before, back to the opening."""
    rows = [(e["event"], e["happened_on"], e["detail"] if e["event"] in _READS_DETAIL else None, e) for e in events]
    done = replay_rows(type_, opened_on, hold_amount, rows)
    if done.voidable is None:
        return done
    return Replay(done.life, done.moves, done.voidable[3], done.before, done.undo)


_STEPPED = frozenset((*LIFE_EVENTS, *NOT_VOIDABLE))
_READS_DETAIL = frozenset((*_WITH_DETAIL, "void"))


def replay_rows(type_: str, opened_on: date, hold_amount: int, rows: Iterable[Sequence]) -> Replay:
    """`replay` on rows whose first three values are the event, its date (ISO text or a date)
    and its detail: `doctor` replays every return's history as plain tuples from SQLite.
    `voidable` is then the row itself."""
    values = vars(Life.opened(type_, opened_on))  # that Life is dropped: its dict is the replay's own
    stack: list[tuple[dict, Sequence, list[Move]]] = []  # (the columns before, event, its moves)
    moves: list[Move] = []
    money_floor = opened_on  # a void that moved money bounds later dates like any money event
    for row in rows:
        name = row[0]
        if name in _STEPPED:
            before = values.copy()
            moved = _apply(type_, values, name, _date(row[1]), _json(row[2]) if name in _WITH_DETAIL else {}, hold_amount)
            stack.append((before, row, moved))
            if moved:
                moves += moved
        elif name == "void":
            if not stack:
                raise ReturnsError("the history voids an event that does not exist")
            values, _, moved = stack.pop()  # the state the voided event found (no one else holds it)
            detail = _json(row[2])
            reason, ref = detail.get("reason"), detail.get("ref")
            undo = reversal(moved, f"void: {reason}" if reason else None, ref, _date(row[1]))
            if ref:  # a charge reversed at the processor: its hold was used up there
                values["hold_active"] = False
            if undo:
                money_floor = max(money_floor, _date(row[1]))
            values["last_event_on"] = max(values["last_event_on"], money_floor)
            moves += undo
    if stack:
        before, target, moved = stack[-1]
        return Replay(_life(values), moves, target, _life(before), reversal(moved) if moved else [])
    return Replay(_life(values), moves, None, None, [])


def effective(events: Sequence[Mapping]) -> list[Mapping]:
    """The events still in force: every void and the event it undid left out, but for the void
    of a charge the processor reversed (`ref`), kept as the event that ended its hold."""
    kept: list[Mapping] = []
    life_positions: list[int] = []
    voided: set[int] = set()
    for e in events:
        name = e["event"]
        if name == "void":
            if life_positions:
                voided.add(life_positions.pop())
            if reverses_charge(e):
                kept.append(e)
            continue
        if name in LIFE_EVENTS or name in NOT_VOIDABLE:
            life_positions.append(len(kept))
        kept.append(e)
    return [e for i, e in enumerate(kept) if i not in voided]


def reverses_charge(event: Mapping) -> bool:
    """A void that undid a charge with the processor's reversal reference (`void --ref`)."""
    return event["event"] == "void" and bool(_detail(event).get("ref"))


def clock_from_events(events) -> Clock:
    """The 30-day clock as the given events say (the overdue check passes only those up to its
    as-of date). A voided event never happened, for the clock too."""
    import json

    f: dict = {"hold_active": False}
    pending: dict[str, tuple[str, str, date]] = {}  # carrier exceptions not yet resolved, by parcel
    for e in effective(events):
        name, on = e["event"], date.fromisoformat(e["happened_on"])
        if name in _DATES:
            f[_DATES[name]] = on
        if name in _RESOLVES:  # a new parcel, or this one delivered
            pending.pop(_RESOLVES[name], None)
        if name == "unit-shipped":
            f["unit_arrived_on"] = None
        elif name == "unit-arrived":  # the carrier delivered the unit to Speco (the latest report counts)
            f["unit_arrived_on"] = on
        elif name == "carrier-exception":
            detail = json.loads(e["detail"] or "{}")
            pending[detail.get("parcel", "replacement")] = (detail.get("parcel", "replacement"),
                                                            detail.get("exception", "exception"), on)
        if name == "receive":
            f.setdefault("received_on", on)
        if name == "charge-declined":
            f["declined_on"] = on
        if name == "hold":
            detail = json.loads(e["detail"] or "{}")
            expires, estimated = detail.get("expires"), detail.get("estimated")
            f["hold_active"], f["hold_expires"] = True, date.fromisoformat(expires) if expires else None
            f["hold_estimated"] = None if estimated is None else bool(estimated)
        if name in ("receive", "charge", "cancel", "void"):  # a void kept here: a charge reversed at the processor
            f["hold_active"] = False
    moved_on = {"replacement": f.get("delivered_on"), "unit": f.get("unit_arrived_on") or f.get("received_on")}
    pending = [p for p in pending.values() if not (moved_on[p[0]] and moved_on[p[0]] >= p[2])]  # delivered since
    if pending:
        f["carrier_exception"] = max(pending, key=lambda p: p[2])
    return Clock(**f)


_RESOLVES = {"ship": "replacement", "deliver": "replacement", "unit-shipped": "unit", "unit-arrived": "unit",
             "receive": "unit"}
_DATES = {"ship": "shipped_on", "deliver": "delivered_on", "unit-shipped": "unit_shipped_on",
          "charge": "charged_on", "cancel": "cancelled_on"}
