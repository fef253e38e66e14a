"""Queries of `deliveries import`: the parcels (ship and unit-shipped events) of open returns by
tracking number, through the index events_tracking_key (m016), and the open returns awaiting a
parcel, through returns_open."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .returns import CHUNK, OPEN_SQL, by_return

if TYPE_CHECKING:
    from .connection import Database

# The states in which a return waits for a parcel: the replacement on its way to the customer,
# the customer's unit on its way to Speco.
AWAITING = ("replacement-shipped", "unit-in-transit")


def tracking_key_sql(db: Database) -> str:
    """Word for word the expression of the index events_tracking_key (m016) on this engine:
    domain.carriers.tracking_key in SQL."""
    return f"upper(replace({db.engine.json_text('detail', 'tracking')}, ' ', ''))"


def parcels(db: Database, keys: list[str]) -> list:
    """(return_id, event_id, event, tkey) of every ship or unit-shipped event of an open return
    whose tracking number, as compared, is one of `keys`: one index range per key."""
    expr = tracking_key_sql(db)
    found: list = []
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start:start + CHUNK]
        found += db.all(
            f"""SELECT e.return_id, e.id AS event_id, e.event, {expr} AS tkey
                FROM events e JOIN returns r ON r.id = e.return_id
                WHERE e.event IN ('ship', 'unit-shipped') """
            f"""AND {expr} IN ({','.join('?' * len(chunk))})
                  AND r.{OPEN_SQL}""", chunk)
    return found


def returns_by_id(db: Database, ids: list[int]) -> dict[int, object]:
    rows: dict[int, object] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        for r in db.all(f"SELECT * FROM returns WHERE id IN ({','.join('?' * len(chunk))})", chunk):
            rows[r["id"]] = r
    return rows


def histories(db: Database, ids: list[int]) -> dict[int, list]:
    return by_return(db, """SELECT id, return_id, event, happened_on, agent, detail FROM events
                            WHERE return_id IN ({ids}) ORDER BY id""", ids)


def awaiting(db: Database) -> list:
    """Open returns waiting for a parcel (AWAITING), by id, through the partial index
    returns_open."""
    states = ", ".join(f"'{s}'" for s in AWAITING)
    return db.all("SELECT id, type, ra_no, ticket, status, customer "
                  f"""FROM returns{db.engine.indexed_by('returns_open')}
                      WHERE {OPEN_SQL} AND status IN ({states}) ORDER BY id""")



@contextmanager
def savepoint(db: Database) -> Iterator[None]:
    """One row's writes inside the file's transaction: a row refused part way (a void written,
    then the deliver refused) leaves nothing of itself; the file's other rows stand."""
    db.execute("SAVEPOINT carrier_row")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK TO SAVEPOINT carrier_row")
        db.execute("RELEASE SAVEPOINT carrier_row")
        raise
    db.execute("RELEASE SAVEPOINT carrier_row")
