"""The `deliveries import` benchmark: a carrier report of 10,000 rows against the large database.

Most rows deliver a parcel an open return waits for (the replacement, or the customer's unit),
the rest are tracking numbers no return holds and parcels still in transit. The import is timed
with --dry-run, which does every lookup and every write of the real import in one transaction
and rolls it back, so each timed run does the same work on the same data.
"""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

ROWS = 10_000
MATCHED_SHARE = 0.8


def carrier_file(db: Path, dest: Path, rows: int = ROWS) -> dict:
    """An EasyPost tracker report (tracking_code,status,status_detail,datetime) for `db`'s open
    returns waiting for a parcel; counts of what it holds."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        waiting = conn.execute(
            """SELECT r.last_event_on,
                      (SELECT json_extract(e.detail, '$.tracking') FROM events e """
            """WHERE e.return_id = r.id
                         AND e.event = CASE r.status WHEN 'replacement-shipped' THEN 'ship' """
            """ELSE 'unit-shipped' END
                       ORDER BY e.id DESC LIMIT 1)
               FROM returns r WHERE r.status IN ('replacement-shipped', 'unit-in-transit') """
            """ORDER BY r.id LIMIT ?""",
            [int(rows * MATCHED_SHARE)]).fetchall()
    finally:
        conn.close()
    matched = [(day, t) for day, t in waiting if t]
    with dest.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(["tracking_code", "status", "status_detail", "datetime"])
        for day, tracking in matched:
            w.writerow([tracking, "delivered", "arrived_at_destination", f"{day}T15:30:00-06:00"])
        for i in range(rows - len(matched)):
            status = "in_transit" if i % 2 else "delivered"
            w.writerow([f"9400{i:018d}", status, "arrived_at_facility", "2026-11-20T08:00:00Z"])
    return {"rows": rows, "matched": len(matched)}
