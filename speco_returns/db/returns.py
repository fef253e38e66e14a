"""Queries about returns: finding one, reading its record and history, writing what a use case
decided (services/returns.py decides; this module reads and writes)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import TYPE_CHECKING

from ..domain import inputs, states
from ..domain.keys import bare_ra_no, customer_key, key_of, ra_no_of
from ..errors import ReturnsError
from . import chain
from .derived import holds

if TYPE_CHECKING:
    from ..domain.clock import Now
    from .connection import Database

# Word for word the WHERE of the partial indexes returns_advanced_open (m003) and returns_open
# (m005): the planner matches it literally (tests keep them equal).
OPEN_SQL = "status NOT IN ({})".format(", ".join(f"'{s}'" for s in states.CLOSED))
CHUNK = 500  # returns per `IN (...)` query


def key(r) -> str:
    """What an agent calls the return in row `r`."""
    return key_of(r["type"], r["ra_no"], r["ticket"])


def find(db: Database, typed: str):
    """The return an agent named: an RA number (any letter case) or a counter return's ticket."""
    import unicodedata

    typed = typed.strip()
    inputs.require_utf8("RA number", typed)
    typed = unicodedata.normalize("NFKC", typed[:200])  # tickets are stored NFKC (inputs.parse_ticket)
    ra_no = ra_no_of(typed)
    if ra_no is not None:
        row = db.one("SELECT * FROM returns WHERE ra_no = ?", [ra_no])
    else:
        row = db.one("SELECT * FROM returns WHERE ticket = ?", [typed])
        bare = bare_ra_no(typed)  # `show 2`: RA-000002, unless a counter ticket is called 2 (as before)
        if row is None and bare is not None:
            row = db.one("SELECT * FROM returns WHERE ra_no = ?", [bare])
    if row is None:
        raise ReturnsError(f"no return {inputs.quote(typed)}: give an RA number or a counter return's ticket ID")
    return row


def parts(db: Database, return_id: int) -> tuple[list, dict[int, list[str]], list]:
    """A return's items, its serials by item, and its history, in the order they were written."""
    items = db.all("SELECT * FROM items WHERE return_id = ? ORDER BY id", [return_id])
    serials: dict[int, list[str]] = {}
    for s in db.all("SELECT item_id, serial FROM serials WHERE return_id = ? ORDER BY id", [return_id]):
        serials.setdefault(s["item_id"], []).append(s["serial"])
    events = db.all("SELECT * FROM events WHERE return_id = ? ORDER BY id", [return_id])
    return items, serials, events


# --- opening -----------------------------------------------------------------------------


def next_ra_no(db: Database) -> int:
    """Under the write lock: gap-free (no sequence, which a rollback would burn)."""
    return db.scalar("SELECT coalesce(max(ra_no), 0) + 1 FROM returns")


def ticket_taken(db: Database, ticket: str) -> bool:
    return db.one("SELECT id FROM returns WHERE ticket = ?", [ticket]) is not None


def recent_virtual_units(db: Database, customer: str, on: date) -> int:
    """VR-2: units on this customer's virtual returns opened in the 30 days up to `on`."""
    return db.scalar(
        """SELECT coalesce(sum(i.qty), 0) FROM returns r JOIN items i ON i.return_id = r.id
           WHERE r.opened_on BETWEEN ? AND ? AND r.type = 'virtual'
             AND r.status != 'cancelled' AND r.customer_key = ?""",
        [(on - timedelta(days=30)).isoformat(), on.isoformat(), customer_key(customer)])


def serial_owners(db: Database, serials: list[str], exclude_id: int | None = None) -> dict[str, str]:
    """{serial: the open return holding it} (SER-1). A late return's unit is back at Speco: it
    holds no serial."""
    if not serials:
        return {}
    marks = ",".join("?" * len(serials))
    exclude = "" if exclude_id is None else " AND r.id != ?"
    rows = db.all(f"""SELECT s.serial, r.ra_no, r.type, r.ticket FROM serials s JOIN returns r ON r.id = s.return_id
                      WHERE s.serial IN ({marks}) AND {holds("r.status")}{exclude}""",
                  [*serials, *([] if exclude_id is None else [exclude_id])])
    return {r["serial"]: key(r) for r in rows}


def insert(db: Database, values: dict) -> int:
    names = list(values)
    return db.insert(f"INSERT INTO returns ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                     list(values.values()))


def insert_item(db: Database, return_id: int, model: str, product, qty: int) -> int:
    return db.insert("""INSERT INTO items (return_id, model, description, category, qty, list_price_cents)
                        VALUES (?, ?, ?, ?, ?, ?)""",
                     [return_id, model, product and product.description, product and product.category, qty,
                      product and product.list_price])


def insert_serials(db: Database, rows: list[tuple[int, int, str]]) -> None:
    """(return id, item id, serial) rows."""
    db.many("INSERT INTO serials (return_id, item_id, serial) VALUES (?, ?, ?)", rows)


# --- changing ------------------------------------------------------------------------------


def update(db: Database, return_id: int, columns: dict) -> None:
    if columns:
        sets = ", ".join(f"{c} = ?" for c in columns)
        db.execute(f"UPDATE returns SET {sets} WHERE id = ?", [*columns.values(), return_id])


def add_event(db: Database, return_id: int, event: str, on: date, now: Now, status: str, detail: dict) -> None:
    """The one place history is written: chained, with the digest of the return's record as the
    event leaves it, so every kind of event is covered."""
    chain.append(db, "events", {
        "return_id": return_id, "event": event, "happened_on": on.isoformat(), "recorded_at": now.stamp,
        "agent": now.agent, "status": status, "detail": json.dumps(detail, sort_keys=True) if detail else None,
        "digest": chain.digest(db, return_id)})


def events_until(db: Database, return_id: int, until: date) -> list:
    """The return's events dated on or before `until`: what was in force that day."""
    return db.all("SELECT return_id, event, happened_on, detail FROM events WHERE return_id = ? AND happened_on <= ? "
                  "ORDER BY id", [return_id, until.isoformat()])


def life_events(db: Database, return_id: int) -> list:
    return db.all("SELECT id, event, happened_on, detail FROM events WHERE return_id = ? ORDER BY id", [return_id])


def last_hold_on(db: Database, return_id: int) -> str | None:
    return db.scalar("SELECT max(happened_on) FROM events WHERE return_id = ? AND event = 'hold'", [return_id])


def items_short_of_serials(db: Database, return_id: int) -> list:
    """(model, qty, have) of each item with fewer serials than units."""
    return [i for i in db.all("""SELECT i.model, i.qty, (SELECT count(*) FROM serials s WHERE s.item_id = i.id) AS have
                                 FROM items i WHERE i.return_id = ? ORDER BY i.id""", [return_id])
            if i["have"] < i["qty"]]


def item_list(db: Database, return_id: int) -> list:
    return db.all("SELECT id, model, qty FROM items WHERE return_id = ?", [return_id])


def serials_with_models(db: Database, return_id: int) -> list:
    return db.all("SELECT i.model, s.serial FROM serials s JOIN items i ON i.id = s.item_id WHERE s.return_id = ?",
                  [return_id])


def serials_of(db: Database, return_id: int) -> list[str]:
    return [s for (s,) in db.all("SELECT serial FROM serials WHERE return_id = ?", [return_id])]


def remove_serial(db: Database, return_id: int, serial: str) -> bool:
    try:
        return db.engine.remove_serial(db.raw, return_id, serial)
    except db.engine.driver_errors as e:
        raise db.fail(e) from None


def status_of(db: Database, return_id: int) -> str:
    return db.scalar("SELECT status FROM returns WHERE id = ?", [return_id])


# --- many returns ---------------------------------------------------------------------------


def by_return(db: Database, sql: str, ids: list[int], *args) -> dict[int, list]:
    """Rows of `sql` (with `{ids}` for the placeholders) per return, CHUNK returns a query."""
    found: dict[int, list] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        for row in db.all(sql.format(ids=",".join("?" * len(chunk))), [*chunk, *args]):
            found.setdefault(row["return_id"], []).append(row)
    return found


def events_upto(db: Database, ids: list[int], day: str) -> dict[int, list]:
    return by_return(db, """SELECT return_id, event, happened_on, status, detail FROM events
                            WHERE return_id IN ({ids}) AND happened_on <= ? ORDER BY id""", ids, day)


def items_of(db: Database, ids: list[int]) -> dict[int, list]:
    return by_return(db, "SELECT * FROM items WHERE return_id IN ({ids}) ORDER BY id", ids)


def serials_by_return(db: Database, ids: list[int]) -> dict[int, list]:
    return by_return(db, "SELECT return_id, item_id, serial FROM serials WHERE return_id IN ({ids}) ORDER BY id", ids)


def advanced_as_of(db: Database, day: str) -> list:
    """Advanced returns open on `day` (and those closed after it, for a past night), by RA."""
    engine = db.engine
    # INDEXED BY: left to itself, SQLite's planner takes returns_opened_on and reads every row.
    rows = db.all(
        f"""SELECT id, ra_no, customer, email, phone, hold_amount_cents
            FROM returns{engine.indexed_by("returns_advanced_open")}
            WHERE type = 'advanced' AND {OPEN_SQL} AND opened_on <= :day
            UNION
            SELECT id, ra_no, customer, email, phone, hold_amount_cents
            FROM returns{engine.indexed_by("returns_advanced_closed")}
            WHERE type = 'advanced' AND closed_on > :day AND opened_on <= :day""",
        {"day": day})
    return sorted(rows, key=lambda r: (r["ra_no"] is not None, r["ra_no"] or 0))


def open_as_of(db: Database, day: str) -> list:
    """Every return open now and opened by `day`, through the partial index returns_open."""
    return db.all(f"SELECT * FROM returns{db.engine.indexed_by('returns_open')} WHERE {OPEN_SQL} "
                  "AND opened_on <= ? ORDER BY id", [day])


def closed_since(db: Database, since: str, day: str, types: tuple[str, ...]) -> list:
    """Returns of these types closed on or after `since` and opened by `day`, by id (the index
    returns_closed_type: a fortnight's closings, not the history)."""
    marks = ", ".join("?" for _ in types)
    return db.all(f"SELECT * FROM returns{db.engine.indexed_by('returns_closed_type')} WHERE closed_on >= ? "
                  f"AND type IN ({marks}) AND opened_on <= ? ORDER BY id", [since, *types, day])


def with_serial(db: Database, serial: str) -> list[dict]:
    rows = db.all("""SELECT r.ra_no, r.type, r.ticket, r.status, r.customer, r.opened_on, i.model
                     FROM serials s JOIN returns r ON r.id = s.return_id JOIN items i ON i.id = s.item_id
                     WHERE s.serial = ? ORDER BY r.id DESC""", [serial])
    return [{"ra": key(r), "type": r["type"], "status": r["status"], "customer": r["customer"],
             "opened_on": r["opened_on"], "model": r["model"], "open": states.is_open(r["status"])} for r in rows]
