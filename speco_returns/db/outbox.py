"""The customer notices' outbox (the `notices` table): a notice is claimed, sent, then recorded,
each step one write transaction, so two `notify` runs never both send one."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..domain import notices
from . import returns

if TYPE_CHECKING:
    from ..domain.clock import Now
    from ..domain.notices import Notice
    from .connection import Database


def _key(return_id: int, n: Notice) -> list:
    return [return_id, n.kind, n.days, n.about.isoformat()]


def sent_by_return(db: Database, ids: list[int]) -> dict[int, list]:
    return returns.by_return(db, "SELECT return_id, kind, days, about_on FROM notices "
                                 "WHERE return_id IN ({ids}) AND state = 'sent'", ids)


def claim(db: Database, return_id: int, n: Notice, message_id: str, now: Now, claimant: str,
          is_stale: Callable[[object], bool]) -> str | None:
    """Claim a notice for sending, in one write transaction. Returns the Message-ID to send it
    with (a retry keeps the first one), or None when it was sent, is being sent by a live run
    (`is_stale` says which are not), or the return closed since it was found due (for
    `received`: left the states a receipt leads to, a void of the receipt)."""
    key = _key(return_id, n)
    with db.write():
        if not notices.sendable(n.kind, returns.status_of(db, return_id)):
            return None
        row = db.one("SELECT * FROM notices "
                     "WHERE return_id = ? AND kind = ? AND days = ? AND about_on = ?", key)
        if row is None:
            db.execute("INSERT INTO notices (return_id, kind, days, about_on, state, message_id, "
                       """claimed_by, claimed_at)
                          VALUES (?, ?, ?, ?, 'sending', ?, ?, ?)""",
                       [*key, message_id, claimant, now.stamp])
            return message_id
        if row["state"] == "sent" or (row["state"] == "sending" and not is_stale(row)):
            return None
        db.execute("UPDATE notices SET state = 'sending', claimed_by = ?, claimed_at = ? "
                   "WHERE id = ?",
                   [claimant, now.stamp, row["id"]])
        return row["message_id"]


def mark_sent(db: Database, return_id: int, n: Notice, now: Now, detail: dict) -> None:
    """The claimed notice is sent, and a `notice` event (with its Message-ID) joins the history."""
    with db.write():
        db.execute("UPDATE notices SET state = 'sent', sent_at = ?, attempts = attempts + 1, "
                   """last_error = NULL
                      WHERE return_id = ? AND kind = ? AND days = ? AND about_on = ?""",
                   [now.stamp, *_key(return_id, n)])
        returns.add_event(db, return_id, "notice", now.today, now,
                          returns.status_of(db, return_id), detail)


def mark_failed(db: Database, return_id: int, n: Notice, error: str) -> None:
    """A claimed notice that did not go out: due again on the next run."""
    with db.write():
        db.execute("""UPDATE notices SET state = 'failed', attempts = attempts + 1, last_error = ?
                      WHERE return_id = ? AND kind = ? AND days = ? AND about_on = ? """
                   """AND state = 'sending'""",
                   [error, *_key(return_id, n)])
