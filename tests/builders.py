"""What tests build their databases from, written once: an older tool's schema, the names of the
migrations, a store opened as a command opens it, a catalog, an advanced replacement at a given
step. The builders that take `cli` work through the CLI, on whichever engine the test runs."""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

from clihelpers import ok

from speco_returns.db.database import Database, open_database
from speco_returns.db.migrations import STEPS, migrate

MIGRATION_NAMES = [step.name for step in STEPS]


def migration_named(suffix: str) -> str:
    return next(name for name in MIGRATION_NAMES if name.endswith(suffix))


def older_database(target: str | Path, stop_before: str):
    """The database an older tool made: every migration before `stop_before`, none after. A
    SQLite file comes back as a sqlite_utils.Database (to insert what that tool wrote); a
    server's URL as this tool's Database, not migrated further."""
    db = open_database(target, migrate=False)
    migrate(db, stop_before=stop_before)
    if db.is_server:
        return db
    db.close()
    from sqlite_utils import Database as Tables

    return Tables(target)


def opened(target: str | Path) -> Database:
    """The database as a write command opens it (created and migrated when new)."""
    return open_database(target)


# --- a catalog ----------------------------------------------------------------------------------

MODELS = {  # model: (category, list price as an agent types it); None: no list price
    "CAM-1": ("camera", "100"), "CAM-2": ("camera", "1,299.99"), "PTZ-1": ("ptz", "900"),
    "NVR-1": ("recorder", "700"), "SPEC-1": ("specialty", "500"),
    "NOPRICE": ("camera", None), "NOPRICE-1": ("camera", None),
}


def catalog(cli, *models: str) -> None:
    """Add `models` to the catalog through the CLI, in one `catalog import`: each `MODEL` (its
    category and price in MODELS) or `MODEL=PRICE` (another price); none given: CAM-1 at 100.00."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "catalog.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            rows = csv.writer(f)
            rows.writerow(["model", "category", "list_price"])
            for spec in models or ("CAM-1",):
                model, _, price = spec.partition("=")
                category, usual = MODELS[model]
                rows.writerow([model, category, price or usual or ""])
        ok(cli("catalog", "import", str(path)))


# --- an advanced replacement at a given step ----------------------------------------------------

ADVANCED_STEPS = {"opened": None, "linked": "link", "held": "hold", "shipped": "ship",
                  "delivered": "deliver", "unit-shipped": "unit-shipped", "received": "receive"}


def advanced(cli, serials: str | list[str], *, step: str = "delivered", on: str = "2026-10-01",
             customer: str = "Acme", model: str = "CAM-1", email: str | None = None,
             ref: str = "AUTH-1", expires: str | None = None,
             then: tuple[tuple[str, ...], ...] = (), **days: str) -> str:
    """An advanced replacement (SPEC §3) of `serials` (one or a list: qty is their number), opened
    on `on` and taken through the CLI along its life, link, hold (`ref`, `expires`), ship,
    deliver, unit-shipped, receive, up to `step`. Each event is recorded on its own day, given
    by its name (`ship="2026-10-02"`, `unit_shipped=...`), else on the day of the one before;
    `then`: more events after, each (day, command, *arguments). Returns its RA number."""
    serials = [serials] if isinstance(serials, str) else list(serials)
    doc = json.loads(ok(cli("open", "--type", "ar", "--customer", customer,
                            *(("--email", email) if email else ()), "--item",
                            f"{model}:{len(serials)}", *(f"--serial={s}" for s in serials),
                            "--json", today=on)).stdout)
    names = list(ADVANCED_STEPS.values())[1:list(ADVANCED_STEPS).index(step) + 1]
    unknown = set(days) - {name.replace("-", "_") for name in names}
    assert not unknown, f"days given for events past {step}: {sorted(unknown)}"
    day = on
    for name in names:
        day = days.get(name.replace("-", "_"), day)
        extra = (("--ref", ref, *(("--expires", expires) if expires else ()))
                 if name == "hold" else ())
        ok(cli(name, doc["ra"], *extra, "--on", day, today=day))
    for day, name, *extra in then:
        ok(cli(name, doc["ra"], *extra, "--on", day, today=day))
    return doc["ra"]
