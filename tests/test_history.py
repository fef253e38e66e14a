"""The pure life of a return (lifecycle.py): which events a void may undo, what undoes each
ledger movement, and replay with voids over random walks through the state machine."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from speco_returns.domain import lifecycle, types
from speco_returns.domain.voids import plan_void, void_refusal
from speco_returns.errors import ReturnsError

OPENED = date(2026, 1, 1)
SIGNS = lifecycle.LEDGER_SIGNS


def balance(moves) -> tuple[int, int]:
    return (sum(SIGNS[m.event][0] * m.amount for m in moves), sum(SIGNS[m.event][1] * m.amount for m in moves))


# (type, state before, event, state after) for every move of the state machine
MOVES = [(t, before, e, after) for (t, e), moves in lifecycle.MACHINE.items() for before, after in moves.items()]


@pytest.mark.parametrize("type_, before, event, after", MOVES, ids=[f"{t}:{b}>{e}" for t, b, e, _ in MOVES])
def test_which_moves_of_the_state_machine_are_voidable(type_, before, event, after):
    refusal = void_refusal(event, before, after)
    # everything but a refund and a late return's events (the supervisor's record)
    expected_refused = event == "refund" or "late-return" in (before, after)
    assert (refusal is not None) == expected_refused, (refusal, type_)


@pytest.mark.parametrize("event", ["refund", "open", "note", "notice", "serial-add", "serial-remove", "edit", "void"])
def test_a_refund_and_what_is_not_a_life_event_are_not_voidable(event):
    refusal = void_refusal(event)
    assert refusal is not None and refusal.message


@pytest.mark.parametrize("event", sorted(lifecycle.REVERSAL))
def test_the_reversal_of_each_ledger_movement_cancels_it_in_both_balances(event):
    move = lifecycle.Move(event, 12_345, "H-1")
    undo = lifecycle.reversal([move])
    assert balance([move, *undo]) == (0, 0)
    assert all(m.amount == 12_345 and m.ref == "H-1" for m in undo)


def test_a_re_authorization_is_undone_in_reverse_order():
    moves = [lifecycle.Move("hold-released", 100, "OLD"), lifecycle.Move("hold-authorized", 100, "NEW")]
    assert lifecycle.reversal(moves) == [lifecycle.Move("hold-released", 100, "NEW"), lifecycle.Move("hold-authorized", 100, "OLD")]


def _walk(type_: str, choices: list[int]) -> list[dict]:
    """Events along the state machine, each chosen among those allowed, one day apart."""
    life, events, day = lifecycle.Life.opened(type_, OPENED), [], OPENED
    for n, pick in enumerate(choices):
        allowed = [e for e in lifecycle.EVENTS if life.status in lifecycle.MACHINE.get((type_, e), {})]
        if not allowed:
            break
        name = allowed[pick % len(allowed)]
        day += timedelta(days=1)
        detail = {"hold": {"ref": f"H-{n}"}, "complete": {"note": "n"}, "refund": {"ref": f"R-{n}", "amount": "10.00"}}.get(name, {})
        event = {"event": name, "happened_on": day.isoformat(), "detail": detail}
        life, _ = lifecycle.step(type_, life, name, day, detail, 5_000)
        events.append(event)
    return events


@given(type_=st.sampled_from(types.TYPES), choices=st.lists(st.integers(0, 9), max_size=12),
       undo=st.integers(1, 12), notes=st.booleans())
@example(type_="advanced", choices=[0, 0, 1, 1, 3, 0, 0], undo=1, notes=False)  # ends in a refund: not voidable
def test_voids_bring_back_the_state_and_balances_of_the_shorter_history(type_, choices, undo, notes):
    events = _walk(type_, choices)
    # Only the voids the tool would record: `void` refuses a refund and a late return's decision
    # (plan_void raises), so the property is about the run of voidable events at the end.
    allowed = 0
    while allowed < min(undo, len(events)):
        try:
            plan_void(type_, OPENED, 5_000, events[: len(events) - allowed], date(2027, 1, 1))
        except ReturnsError:
            break
        allowed += 1
    undo = allowed
    voids = [{"event": "void", "happened_on": "2027-01-01", "detail": None}] * undo
    extra = [{"event": "note", "happened_on": "2027-01-01", "detail": {"note": "x"}}] if notes else []
    full = lifecycle.replay(type_, OPENED, 5_000, [*events, *extra, *voids])
    kept = lifecycle.replay(type_, OPENED, 5_000, events[: len(events) - undo])
    moved_back = full.moves != lifecycle.replay(type_, OPENED, 5_000, events).moves
    expected = replace(kept.life, last_event_on=date(2027, 1, 1)) if moved_back else kept.life
    assert full.life == expected
    assert balance(full.moves) == balance(kept.moves)
    assert lifecycle.effective([*events, *extra, *voids]) == [*events[: len(events) - undo], *extra]


def test_plan_void_refuses_when_only_the_opening_is_recorded():
    with pytest.raises(ReturnsError, match="nothing to void"):
        plan_void("standard", OPENED, 0, [], OPENED)


def test_plan_void_names_the_event_and_the_state_it_found():
    events = _walk("advanced", [0, 0, 0])  # link, hold, then the first allowed: a re-hold or ship
    plan = plan_void("advanced", OPENED, 5_000, events, date(2026, 2, 1))
    assert plan.voidable is events[-1]
    assert plan.before == lifecycle.replay("advanced", OPENED, 5_000, events[:-1]).life
