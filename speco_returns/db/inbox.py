"""The carrier inbox (m017): aggregators' webhook events, each kept once, until `deliveries import
--inbox` applies them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..domain.webhooks import Event
    from .connection import Database


def store(db: Database, e: Event, stamp: str) -> bool:
    """Keep the event; False when this source's event id is kept already (a retried delivery)."""
    cursor = db.execute(
        """INSERT INTO carrier_inbox (source, event_id, tracking, words, at, detail, received_at)
           VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, event_id) DO NOTHING""",
        [e.source, e.event_id, e.tracking, json.dumps(list(e.words)), e.at, e.detail, stamp])
    return cursor.rowcount == 1


def pending(db: Database) -> list:
    return db.all("""SELECT id, source, event_id, tracking, words, at, detail FROM carrier_inbox
                     WHERE applied_at IS NULL ORDER BY id""")


def applied(db: Database, ids: list[int], stamp: str) -> None:
    db.many("UPDATE carrier_inbox SET applied_at = ? WHERE id = ?", [(stamp, i) for i in ids])
