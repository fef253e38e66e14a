"""The schema against what its recorded migrations make, on either engine: a trigger dropped or
planted, an index (SER-1's) dropped or changed, a migration's record removed. SQLite's expected
schema is made by running the recorded migrations in memory; a server's is read from the
statements of those migrations (and `admin roles`', which may or may not have been applied)."""

from __future__ import annotations

from ..db import audit
from ..db.connection import Database
from ..db.migrations import STEPS


def migration_problems(recorded: set[str]) -> list[str]:
    """Every migration up to the newest one recorded must be recorded (a row removed: the next
    write would apply that migration again, and fail)."""
    known = [step.name for step in STEPS]
    upto = max((known.index(n) for n in recorded if n in known), default=-1)
    gaps = [n for n in known[:upto + 1] if n not in recorded]
    if not gaps:
        return []
    return [f"migration(s) {', '.join(gaps)} not recorded, though later ones are: "
            "its record was removed outside the tool, and every write would fail applying it "
            "again; restore from a backup"]


def differences(expected: dict, actual: dict, skip: set[str] = frozenset()) -> list[str]:
    out = []
    for kind, name in sorted({*expected, *actual}):
        if name in skip:
            continue
        if (kind, name) not in actual:
            out.append(f"missing {kind} {name}")
        elif (kind, name) not in expected:
            out.append(f"{kind} {name} is not the tool's")
        elif actual[kind, name] != expected[kind, name]:
            out.append(f"{kind} {name} is changed")
    return out


def schema_problems(db: Database, skip: set[str] = frozenset()) -> tuple[list[str], list[str]]:
    """(problems, differences) of the database's schema against its recorded migrations.
    `skip`: objects another check names in its own words (SQLite's chain triggers)."""
    recorded = audit.recorded_steps(db)
    problems = migration_problems(recorded)
    try:
        expected, optional = audit.expected_schema(db, recorded)
    except Exception as e:  # noqa: BLE001
        # recorded migrations that cannot run alone (a gap): named above
        return problems or [f"the recorded migrations cannot be replayed ({e})"], []
    actual = audit.schema_objects(db)
    for key, value in optional.items():
        if key in actual:
            expected.setdefault(key, value)
    found = differences(expected, actual, set(skip))
    if found:
        problems.append(f"the schema is not what its {len(recorded)} recorded migration(s) make: "
                        f"{'; '.join(found[:10])}{' ...' if len(found) > 10 else ''} "
                        "(changed outside the tool, or a migration's record removed)")
    return problems, found
