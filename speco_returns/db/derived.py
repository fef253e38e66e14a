"""Columns derived from others, kept right by the database or the tool:

- `serials.held` (migration m012): 1 while the serial's return holds it under SER-1, that is
  while the return's state is not one of states.SERIAL_FREE (closed, or a late return). Kept
  by triggers on both backends, whoever writes: set when a serial row is written, and
  re-derived for a return's serials when its state moves into or out of SERIAL_FREE (an event,
  a void). A partial UNIQUE index over the serials with the flag set is SER-1's backstop: a
  writer that skipped the tool's check (a script, a race) gets a unique violation, which the
  tool turns into the usual SER-1 line (services.returns.ser1_backstop). The tool's own check still
  runs first, from the return's state (HOLDS_SQL), and names the return that holds the serial.
- `returns.customer_key` (migration m013): the customer's name NFKC-casefolded by Python
  (domain.keys.customer_key), written by the tool on `open` and on `edit` of the customer. VR-2's
  30-day count and `list --customer` compare it, so SQLite and a server give the same answers
  ('Straße' is 'STRASSE'; a final sigma is a sigma), which SQL's lower() does not.

Every SQL text here is generated from states.SERIAL_FREE, the one list: the tool's check,
the triggers and doctor cannot disagree on which states hold serials. Changing that list needs
a new migration that re-creates the triggers and re-derives the flag (doctor names a flag that
disagrees with its return's state).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain.states import CLOSED, SERIAL_FREE

if TYPE_CHECKING:
    from .connection import Database

BACKFILL_BATCH = 5000


def holds(column: str = "status") -> str:
    """SQL true where a return in state `column` holds its serials. Written as
    db.returns.OPEN_SQL and then the rest, so SQLite's planner can read the open returns through
    their partial index."""
    closed = ", ".join(f"'{s}'" for s in CLOSED)
    rest = ", ".join(f"'{s}'" for s in SERIAL_FREE if s not in CLOSED)
    return f"{column} NOT IN ({closed})" + (f" AND {column} NOT IN ({rest})" if rest else "")


HOLDS_SQL = holds()
_FLAG = "CASE WHEN {} THEN 1 ELSE 0 END"
_EXPECTED = f"(SELECT {_FLAG.format(holds('r.status'))} FROM returns r WHERE r.id = NEW.return_id)"

# The flag from the return's current state; a serial already held by another open return keeps
# its flag off (the first one written keeps it), so an older database that somehow has two open
# returns with one serial still upgrades, and doctor names the second (serial_hold_problems).
_BACKFILL = (f"""UPDATE serials SET held = 1 WHERE id IN (
    SELECT min(s.id) FROM serials s JOIN returns r ON r.id = s.return_id """
             f"""WHERE {holds('r.status')} GROUP BY s.serial)""")
_INDEX = "CREATE UNIQUE INDEX serials_held ON serials (serial) WHERE held = 1"

M012_SQLITE = [
    "ALTER TABLE serials ADD COLUMN held INTEGER NOT NULL DEFAULT 0",
    _BACKFILL,
    _INDEX,
    # A serial row written by anyone gets its flag from its return's state (the UPDATE meets the
    # index).
    f"""CREATE TRIGGER serials_held_insert AFTER INSERT ON serials WHEN NEW.held IS NOT {_EXPECTED}
        BEGIN UPDATE serials SET held = {_EXPECTED} WHERE id = NEW.id; END""",
    # ... and cannot be given another one later.
    "CREATE TRIGGER serials_held_follows BEFORE UPDATE OF held, return_id ON serials "
    f"""WHEN NEW.held IS NOT {_EXPECTED}
        BEGIN SELECT RAISE(ABORT, 'serials.held follows its return''s state (SER-1)'); END""",
    f"""CREATE TRIGGER returns_hold_serials AFTER UPDATE OF status ON returns
        WHEN ({holds('OLD.status')}) IS NOT ({holds('NEW.status')})
        BEGIN UPDATE serials SET held = {_FLAG.format(holds('NEW.status'))} """
        """WHERE return_id = NEW.id; END""",
]

M012_POSTGRES = [
    "ALTER TABLE serials ADD COLUMN held INTEGER NOT NULL DEFAULT 0",
    _BACKFILL,
    _INDEX,
    f"""CREATE FUNCTION speco_serial_held() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.held := {_EXPECTED}; RETURN NEW; END $$""",
    """CREATE TRIGGER serials_held_follows BEFORE INSERT OR UPDATE OF held, return_id ON serials
        FOR EACH ROW EXECUTE FUNCTION speco_serial_held()""",
    # SECURITY DEFINER: an agent (speco_agent, roles.py) moves a return's state but may not
    # UPDATE serials; the flag follows as the owner's doing.
    "CREATE FUNCTION speco_return_holds() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER "
    f"""SET search_path FROM CURRENT
        AS $$ BEGIN UPDATE serials SET held = {_FLAG.format(holds('NEW.status'))} """
        """WHERE return_id = NEW.id; RETURN NULL; END $$""",
    f"""CREATE TRIGGER returns_hold_serials AFTER UPDATE OF status ON returns FOR EACH ROW
        WHEN (({holds('OLD.status')}) IS DISTINCT FROM ({holds('NEW.status')})) """
        """EXECUTE FUNCTION speco_return_holds()""",
]


def backfill_customer_keys(db: Database) -> None:
    """m013 on either engine: every return's customer_key from Python's casefold, in batches
    (no SQL function on either engine equals it)."""
    from ..domain.keys import customer_key

    last = 0
    while True:
        rows = db.all("SELECT id, customer FROM returns WHERE id > ? ORDER BY id LIMIT ?",
                      [last, BACKFILL_BATCH])
        if not rows:
            return
        db.many("UPDATE returns SET customer_key = ? WHERE id = ?",
                [(customer_key(c), i) for i, c in rows])
        last = rows[-1][0]
