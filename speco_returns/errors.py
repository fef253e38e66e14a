"""The one exception the tool raises below the CLI; `cli.py` catches it once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    """One problem: the rule it breaks (an ID of SPEC §2, or None) and a sentence."""

    rule: str | None
    message: str

    def line(self) -> str:
        return f"{self.rule}: {self.message}" if self.rule else self.message

    def as_json(self) -> dict:
        return {"rule": self.rule, "message": self.message}


class ReturnsError(Exception):
    """Refused by policy or bad data: exit 1, one line per problem, nothing written."""

    def __init__(self, *problems: Violation | str):
        self.problems = [p if isinstance(p, Violation) else Violation(None, p) for p in problems]
        super().__init__("\n".join(p.line() for p in self.problems))


class DatabaseBusy(ReturnsError):
    """Another process held the write lock past the busy timeout."""

    def __init__(self):
        super().__init__("database busy: another process is writing to it; try again")
