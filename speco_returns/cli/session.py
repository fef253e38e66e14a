"""One command's session, kept in the Typer context (`ctx.obj`): the database it names, who is
recording, and the clock, read here and nowhere below. `shell` passes one session to every
command it runs."""

from __future__ import annotations

import os
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..db.database import Database, open_database
from ..domain import inputs

if TYPE_CHECKING:
    from ..domain.clock import Now


def default_db() -> Path:
    return Path(typer.get_app_dir("speco-returns")) / "returns.db"


class Session:
    """What a command reads and writes through, who records and when. A plain class: every
    start creates this class, and as a dataclass that cost about 0.7 ms."""

    def __init__(self, db_path: Path | str, agent: str, *, keep: bool = False,
                 agent_given: bool = False):
        self.db_path = db_path  # a file, or a PostgreSQL URL (db.urls.is_url)
        self.agent = agent
        # `shell`: one session for every command it runs (a server: one connection too)
        self.keep = keep
        # --agent on the command line (a server records its login instead)
        self.agent_given = agent_given
        self._store: Database | None = None
        self._kept: Database | None = None
        self.pinned: date | None = None  # set once a write read a pinned today: the edge notes it
        # the connection's warnings are said once per session (the shell's too)
        self._warned = False

    @property
    def store(self) -> Database:
        """For a write: creates the database in an existing folder (the default one is made)."""
        return self._open(make_folder=self.db_path == default_db())

    @property
    def reader(self) -> Database:
        """For a read: never creates a database; reads one this account cannot write."""
        return self._open(read=True)

    @property
    def existing(self) -> Database:
        """For a write about returns already there (`notify`): never creates a database."""
        return self._open(create=False)

    def _open(self, **how) -> Database:
        """The command's database, opened on first use (the shell keeps it for the next command)."""
        if self._store is None:
            self._store = open_database(self.db_path, **how)
            if self.keep:
                self._kept = self._store
            self._warn(self._store)
        return self._store

    def _warn(self, db: Database) -> None:
        """Once: a server's connection without TLS over TCP, and --agent, which a server ignores."""
        if self._warned or not db.is_server:
            return
        self._warned = True
        lines = db.engine.notes(db.raw)
        if self.agent_given and self.agent != db.login:
            lines.append("--agent is ignored on a server: "
                         f"the recorded agent is the database login {db.login}")
        for line in lines:
            sys.stderr.write(f"warning: {inputs.visible(line)}\n")

    def diagnose(self) -> Database:
        """For `doctor`: the database as it is, neither migrated nor refused for a newer schema."""
        if self._store is None or self._store is self._kept:
            self._store = open_database(self.db_path, migrate=False, diagnose=True)
            self._warn(self._store)
        return self._store

    def classify(self, error: BaseException):
        """The one line a driver's error means, when this command's database raised it."""
        db = self._store
        return (db.engine.classify(error, db.where)
                if db is not None and isinstance(error, db.engine.driver_errors) else None)

    def done(self) -> None:
        """After each command: close its connection, unless it is the one the shell keeps."""
        if self._store is not None and self._store is not self._kept:
            self._store.close()
        self._store = self._kept
        # noted after a success; a refusal prints only its error (the shell goes on)
        self.pinned = None

    def today(self) -> date:
        """The one place the clock is read. SPECO_RETURNS_TODAY pins "today" (tests,
        back-filling)."""
        pinned = os.environ.get("SPECO_RETURNS_TODAY")
        return inputs.parse_date(pinned) if pinned else date.today()

    def now(self) -> Now:
        """The clock for a write: a pinned today is noted on stderr once the write succeeds."""
        from ..domain.clock import Now

        today = self.today()
        if os.environ.get("SPECO_RETURNS_TODAY"):
            self.pinned = today
        # a server records its login
        return Now(today=today, stamp=self.stamp(), agent=self.store.login or self.agent)

    def stamp(self) -> str:
        """The moment, in UTC, as every record writes it."""
        return datetime.now(timezone.utc).isoformat(timespec="seconds")
