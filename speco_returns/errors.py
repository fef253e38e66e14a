"""The one exception the tool raises below the CLI; the command line's edge (cli/edge.py)
catches it once."""

from __future__ import annotations

from . import digits

# 13 or more digits with no letter of a word between them, whatever else separates them
# (SPEC §6), are never shown in a message, whatever quoted them (a card number typed as a
# model or a serial, an echo the author forgot to pass through inputs.quote).
LONG_NUMBER = 13


def hide_long_numbers(text: str) -> str:
    for start, end in reversed(digits.long_numbers(text, LONG_NUMBER)):
        text = f"{text[:start]}(a long number){text[end:]}"
    return text


class Violation:
    """One problem: the rule it breaks (an ID of SPEC §2, or None) and a sentence; never
    changed once made. A plain class, not a frozen dataclass: every command imports this
    module, and the dataclass (with the dataclasses module) cost about 1.5 ms of each start."""

    def __init__(self, rule: str | None, message: str):
        object.__setattr__(self, "rule", rule)
        object.__setattr__(self, "message", hide_long_numbers(message))

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"a Violation is not changed (its {name})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a Violation is not changed (its {name})")

    def __eq__(self, other) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.rule, self.message) == (other.rule, other.message)

    def __hash__(self) -> int:
        return hash((self.rule, self.message))

    def __repr__(self) -> str:
        return f"Violation(rule={self.rule!r}, message={self.message!r})"

    def line(self) -> str:
        return f"{self.rule}: {self.message}" if self.rule else self.message

    def as_json(self) -> dict:
        return {"rule": self.rule, "message": self.message}


class ReturnsError(Exception):
    """Refused by policy or bad data: exit 1, one line per problem, nothing written."""

    def __init__(self, *problems: Violation | str):
        self.problems = [p if isinstance(p, Violation) else Violation(None, p) for p in problems]
        super().__init__("\n".join(p.line() for p in self.problems))


class Discarded(Exception):
    """A person chose to write nothing (`discard` at open's summary): a choice, not a refusal
    (SPEC's exit 1 is "refused by policy or bad data"), so one plain line saying what was
    discarded, and exit 0."""

    def __init__(self, what: str):
        super().__init__(hide_long_numbers(f"discarded {what}: nothing was written"))


class DatabaseBusy(ReturnsError):
    """Another process held the write lock past the busy timeout."""

    def __init__(self, holder: str | None = None):
        super().__init__(f"database busy: {holder or 'another process'} is writing to it; "
                         "try again")


class SerialTaken(ReturnsError):
    """SER-1 refused by the database itself (migration m012's unique index over held serials);
    services.returns.ser1_backstop rewords it to name the return that holds the serial."""

    def __init__(self, serial: str | None = None):
        self.serial = serial
        super().__init__(Violation("SER-1", f"serial {serial} is already on another open return"
                                   if serial else "a serial is already on another open return: "
                                   "nothing was written"))
