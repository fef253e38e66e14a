"""What one migration step is: shared SQL, SQL per engine, or a Python function of the database."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from ..connection import Database

Statement = str | Callable[["Database"], None]


class Step(NamedTuple):
    """A step: its name (recorded in each database) and what each engine runs. A NamedTuple, not
    a dataclass: every command counts the steps, and a dataclass costs about 0.7 ms to create."""

    name: str
    sqlite: Sequence[Statement] = ()
    postgres: Sequence[Statement] = ()

    def statements(self, engine: str) -> Sequence[Statement]:
        return self.sqlite if engine == "sqlite" else self.postgres


def shared(name: str, *statements: Statement) -> Step:
    """A step both engines run as written."""
    return Step(name, statements, statements)
