"""What every database engine gives the rest of `db/`: one object, chosen once when a database
is opened (db/database.py), never switched on SQL text.

Query modules write their SQL once, with `?` or `:name` placeholders. An engine converts the
placeholders and nothing else. Where the two databases truly spell a thing differently, the
engine names it (`ra_text`, `amount_text`, `json_text`, `joined`, `contains`, `substring_match`,
`quoted`, `indexed_by`) and the query module calls that name in the open, so a reader sees which SQL runs
on which engine. Rows read both ways: by position (`(n,) = row`) and by column name.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

Params = Sequence[Any] | dict[str, Any] | None


class Engine:
    name: str
    # Where applied migrations are recorded: each engine keeps the table (and the names in it)
    # that 0.2 created, so a database made by 0.2 opens unchanged.
    migrations_table: str
    # The statements that begin a write (taking the write lock before anything is read, so
    # writers queue instead of failing) and a read (one consistent snapshot).
    begin_write: tuple[str, ...]
    begin_read: tuple[str, ...]
    # What a busy database is, as each driver reports it (db/database.py words it once).
    driver_errors: tuple[type[BaseException], ...] = ()
    # chain_heads written by the database's own triggers (a server), not by chain.append.
    heads_kept_by_trigger = False

    # --- the driver --------------------------------------------------------------------

    def execute(self, raw, sql: str, params: Params = None):
        raise NotImplementedError

    def executemany(self, raw, sql: str, rows: list) -> None:
        raise NotImplementedError

    def insert_id(self, raw, sql: str, params: Params) -> int:
        """Run an INSERT of one row and give the id the database chose for it."""
        raise NotImplementedError

    def stream(self, raw, sql: str, params: Params = None) -> Iterator:
        """Rows as the database reads them, in flat memory at any size."""
        raise NotImplementedError

    def tuples(self, raw, sql: str, params: Params = None) -> Iterator:
        """`stream`, as plain tuples (doctor reads millions of rows)."""
        return self.stream(raw, sql, params)

    def columns(self, raw, table: str) -> dict[str, str]:
        """A table's columns in their order (what the hash chain covers, what a copy moves),
        each with its kind as the table declares it (`integer`, `text`, ...)."""
        raise NotImplementedError

    def in_transaction(self, raw) -> bool:
        raise NotImplementedError

    def table_exists(self, raw, table: str) -> bool:
        raise NotImplementedError

    def details_not_objects(self, raw, limit: int) -> list[int]:
        """Ids of history rows whose detail is not a JSON object (empty is none), in id order."""
        raise NotImplementedError

    def remove_serial(self, raw, return_id: int, serial: str) -> bool:
        """`serial remove`'s one deletion (a server's logins have no DELETE: db/guards.py)."""
        raise NotImplementedError

    def notes(self, raw) -> list[str]:
        """Warnings about the connection itself (one line each)."""
        return []

    def who_writes(self, raw) -> str | None:
        """Who holds the write lock, where the database can tell (None: it cannot)."""
        return None

    def classify(self, error: BaseException, where: str, statement: tuple[str, Params] | None = None):
        """The one-line ReturnsError a driver error means (busy, SER-1 taken, damaged, lost
        connection, permission), or None for an error that is a bug. `statement` is the SQL and
        parameters that raised it, where known (a refused permission names what it needs)."""
        raise NotImplementedError

    # --- SQL the two engines spell differently ------------------------------------------

    def ra_text(self, column: str) -> str:
        """`RA-000042` from an RA number column (wider past 999999), as domain.keys.ra_text."""
        raise NotImplementedError

    def amount_text(self, column: str) -> str:
        """Integer cents as `1299.00` / `-499.98` text: never a float."""
        raise NotImplementedError

    def json_text(self, column: str, key: str) -> str:
        """A top-level key of a JSON text column, as text."""
        raise NotImplementedError

    def joined(self, expr: str, separator: str) -> str:
        """The aggregate joining `expr` with `separator` (in the order rows arrive)."""
        raise NotImplementedError

    def contains(self, haystack: str, needle: str) -> str:
        """True where the text `needle` occurs in `haystack` (case as stored)."""
        raise NotImplementedError

    def substring_match(self, column: str, param: str) -> str:
        """True where `column` of the search_terms table (db/search.py) holds the text that
        `substring_term` made `param` from, anywhere and in any case, through its trigram index."""
        raise NotImplementedError

    def substring_term(self, text: str) -> str:
        """The parameter `substring_match` compares with, for the text an agent typed."""
        raise NotImplementedError

    def has_control(self, column: str) -> str:
        """True where a text column holds a control character (C0, DEL, C1)."""
        raise NotImplementedError

    def quoted(self, column: str, kind: str) -> str:
        """SQLite's quote() text of a column ('text' or 'integer'): the hash chain's canonical
        form, the same bytes on both engines."""
        raise NotImplementedError

    def canonical(self, kinds: dict[str, str], columns, prefix: str = "") -> str:
        """A row's canonical text (SQLite's quote() of each column, comma-separated): what the
        hash chains and record digests cover. `kinds`: the table's columns (Database.kinds)."""
        return "||','||".join(self.quoted(f"{prefix}{c}", kinds[c]) for c in columns)

    def as_bytes(self, expr: str) -> str:
        """A text expression read back as its UTF-8 bytes (hashed as they come)."""
        raise NotImplementedError

    def fast_reads(self, raw) -> None:
        """Ready a connection for reading the whole database once (doctor)."""

    def days_between(self, later: str, earlier: str) -> str:
        """Whole days from one ISO date column to another (an integer)."""
        raise NotImplementedError

    def indexed_by(self, index: str) -> str:
        """A planner hint naming the index to read (SQLite's INDEXED BY); empty where the
        planner takes no hints."""
        return ""
