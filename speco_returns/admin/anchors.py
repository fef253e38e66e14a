"""Chains anchored outside the database (`doctor --anchor FILE`, the nightly job's).

Anyone who can write the database file, or owns the server's schema, can recompute a hash
chain, and deleting the newest rows needs no hashing at all. So the verified heads of both
chains are appended, one line each, to a file kept where agents cannot write (a folder only
the nightly job's account writes, or the nightly log mailed away), and every run first checks
that the chains still extend each anchor the file holds: the anchored row is still there, with
the same hash and the same number of rows up to it. A chain rewritten from any earlier row
changes that hash; rows removed from the end remove or move the anchored row.

A line: `speco-returns anchor v1 at=2026-12-07T23:00:00Z table=events rows=1234 last_id=1234
hash=<64 hex digits>` (one line; the file is plain text, appended to, never rewritten).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ReturnsError

if TYPE_CHECKING:
    from ..db.connection import Database

PREFIX = "speco-returns anchor v1"
_LINE = re.compile(rf"{re.escape(PREFIX)} at=(?P<at>\S+) table=(?P<table>events|ledger) "
                   r"rows=(?P<rows>\d+) last_id=(?P<last_id>\d+) hash=(?P<hash>[0-9a-f]{64})")


@dataclass(frozen=True)
class Anchor:
    at: str
    table: str
    rows: int
    last_id: int
    hash: str


def line(anchor: Anchor) -> str:
    return (f"{PREFIX} at={anchor.at} table={anchor.table} rows={anchor.rows} "
            f"last_id={anchor.last_id} hash={anchor.hash}")


def parse(text: str, source: str = "the anchor file") -> list[Anchor]:
    """Every anchor of a file's text; a line that is not one is refused, naming it (a file
    edited by hand is not trusted in part)."""
    anchors = []
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        m = _LINE.fullmatch(raw.strip())
        if m is None:
            raise ReturnsError(f"line {n} of {source} is not an anchor "
                               f"({PREFIX} at=... table=... rows=... last_id=... hash=...): "
                               "the file was changed by hand")
        anchors.append(Anchor(m["at"], m["table"], int(m["rows"]), int(m["last_id"]), m["hash"]))
    return anchors


def problems(anchors: list[Anchor],
             found: dict[tuple[str, int], tuple[str | None, int]]) -> list[str]:
    """What breaks each anchor, given `found[(table, last_id)]` = (that row's hash now, or None;
    the rows up to it now). One line per anchor broken."""
    out = []
    for a in anchors:
        now_hash, rows = found[(a.table, a.last_id)]
        if now_hash is None:
            out.append(f"the {a.table} chain no longer has row {a.last_id}, anchored at {a.at}: "
                       "rows were removed")
        elif now_hash != a.hash:
            out.append(f"the {a.table} chain does not extend its anchor of {a.at}: "
                       f"row {a.last_id}'s hash changed (the chain was rewritten)")
        elif rows != a.rows:
            out.append(f"the {a.table} chain does not extend its anchor of {a.at}: "
                       f"{rows} row(s) up to row {a.last_id}, anchored with {a.rows} "
                       "(rows were removed or inserted)")
    return out


def read(path: Path) -> list[Anchor]:
    """The anchors a file holds (none when it does not exist yet)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as e:
        raise ReturnsError(f"cannot read the anchor file {path}: {e}") from None
    return parse(text, str(path))


def check(db: Database, anchors: list[Anchor]) -> list[str]:
    """doctor's lines for the anchors the chains no longer extend."""
    from ..db.chain import anchored_row

    found = {(a.table, a.last_id): anchored_row(db, a.table, a.last_id) for a in anchors}
    return problems(anchors, found)


def append(path: Path, anchors: list[Anchor]) -> None:
    """Add lines to the file (made private, 0600, when new), flushed to disk."""
    if not anchors:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, "".join(line(a) + "\n" for a in anchors).encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def current(db: Database, at: str) -> list[Anchor]:
    """The chains' recorded heads as anchors (doctor appends them once the chains verified)."""
    from ..db.chain import heads

    return [Anchor(at, table, rows, last_id, hash_)
            for table, (last_id, rows, hash_) in sorted(heads(db).items())
            if rows]  # an empty chain has nothing to anchor


def run(db: Database, path: Path, at: str, chains_ok: bool) -> list[str]:
    """`doctor --anchor FILE`: check every anchor the file holds; when they all hold and the
    chains verified (`chains_ok`), append today's heads. Returns the problems."""
    found = check(db, read(path))
    if not found and chains_ok:
        append(path, current(db, at))
    return found
