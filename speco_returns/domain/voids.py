"""`void` (SPEC §3): which event of a return's life may be undone, and what undoing the latest
one would do (the state restored, the money moved back), replayed through lifecycle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from ..errors import ReturnsError, Violation
from .lifecycle import LIFE_EVENTS, NOT_VOIDABLE, Replay, replay, reverses_charge


def _on(event: Mapping) -> date:
    on = event["happened_on"]
    return on if isinstance(on, date) else date.fromisoformat(on)


CHARGE_NOT_VOIDED = ("a charge is money taken at the processor: it is given back only by a refund "
                     "there, recorded with `refund --ref REF` (its own reference); a charge the "
                     "processor reversed is voided by a supervisor with "
                     "`void --reason TEXT --ref REF` (the reversal's reference)")


def void_refusal(event: str, before: str | None = None,
                 after: str | None = None) -> Violation | None:
    """Why an event of a return's life cannot be voided, or None when it can. `before` and
    `after`: the states the event found and left. Not voidable: a refund (money paid out),
    and the events of a late return (the unit that came back after the charge, and the
    supervisor's decision on it): those are a supervisor's record, decided once."""
    if event not in LIFE_EVENTS and event not in NOT_VOIDABLE:
        return Violation(None, f"`{event}` is not an event of a return's life: "
                               "only those are voided")
    reason = NOT_VOIDABLE.get(event)
    if reason:
        return Violation(None, reason)
    if "late-return" in (before, after):
        return Violation(None, f"`{event}` of a late return is a supervisor's record and cannot be "
                               "voided: the supervisor decides with `refund` or `complete --note`")
    return None


def plan_void(type_: str, opened_on: date, hold_amount: int, events: Sequence[Mapping], on: date,
              reason: str | None = None, ref: str | None = None) -> Replay:
    """What `void` on `on` would do: the event undone, the state restored, the money moved
    back. ReturnsError when nothing can be voided. `ref`: the processor's reversal of the
    charge voided, the only way a charge is voided."""
    now = replay(type_, opened_on, hold_amount, events)
    if now.voidable is None:
        raise ReturnsError("nothing to void: only the opening is recorded "
                           "(to close the return, `cancel` it)")
    target = now.voidable
    refusal = void_refusal(target["event"], now.before.status, now.life.status)
    if refusal:
        raise ReturnsError(refusal)
    if target["event"] == "charge" and not ref:
        raise ReturnsError(CHARGE_NOT_VOIDED)
    if ref and target["event"] != "charge":
        raise ReturnsError(f"--ref is the processor's reversal of a charge: the event voided now "
                           f"is `{target['event']}` of {_on(target)}, which took no money")
    reversed_at = [i for i, e in enumerate(events) if reverses_charge(e)]
    if reversed_at and next(i for i, e in enumerate(events) if e is target) < reversed_at[-1]:
        raise ReturnsError(f"`{target['event']}` of {_on(target)} came before a charge the "
                           "processor reversed, whose hold was used up there: it cannot be voided")
    if on < _on(target):
        raise ReturnsError(f"date {on} is before the event it voids ({_on(target)})")
    undo = {"event": "void", "happened_on": on,
            "detail": {"reason": reason, **({"ref": ref} if ref else {})}}
    after = replay(type_, opened_on, hold_amount, [*events, undo])
    return Replay(after.life, after.moves, target, now.before, after.moves[len(now.moves):])
