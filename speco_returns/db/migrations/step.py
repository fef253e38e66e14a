"""What one migration step is: shared SQL, SQL per engine, or a Python function of the database."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..connection import Database

Statement = str | Callable[["Database"], None]


@dataclass(frozen=True)
class Step:
    name: str
    sqlite: Sequence[Statement] = field(default_factory=tuple)
    postgres: Sequence[Statement] = field(default_factory=tuple)

    def statements(self, engine: str) -> Sequence[Statement]:
        return self.sqlite if engine == "sqlite" else self.postgres


def shared(name: str, *statements: Statement) -> Step:
    """A step both engines run as written."""
    return Step(name, statements, statements)
