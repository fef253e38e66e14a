"""Assertions the CLI tests share."""

from __future__ import annotations

import functools
import sqlite3
from contextlib import contextmanager

import typer.main

TABLES = ("catalog", "returns", "items", "serials", "events", "ledger")


# CliRunner rebuilds the click command from `app` on every invoke (about 15 ms, most of a
# read command's time); the app never changes, so conftest patches this cached one in.
cached_command = functools.cache(typer.main.get_command)


def late_return(ra: str, customer: str, serial: str) -> list[tuple[str, ...]]:
    """The commands of an advanced return opened 2026-08-01 as `ra`, charged 2026-09-10, whose
    unit then arrived on 2026-09-20: a late return, its charge in review."""
    return [
        ("open", "-t", "advanced", "-c", customer, "-i", "CAM-1", "-s", serial, "--on", "2026-08-01", "-y"),
        ("link", ra, "--on", "2026-08-01"),
        ("hold", ra, "--ref", f"AUTH-{ra[-1]}", "--expires", "2099-12-31", "--on", "2026-08-02"),
        ("ship", ra, "--on", "2026-08-03"),
        ("deliver", ra, "--on", "2026-08-05"),
        ("charge", ra, "--on", "2026-09-10"),
        ("receive", ra, "--on", "2026-09-20"),
    ]


def ok(result):
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def refused(result, code: int = 1) -> list[str]:
    """Exit `code`, one `error:` line per problem on stderr, no traceback; returns the lines."""
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), result.stderr
    return lines


def query(db, sql: str, params=()) -> list:
    """Rows (tuples) of `sql` (`?` placeholders) on the test's database, a file or a server (URL):
    on a server through the tool's own engine, which converts the placeholders."""
    if isinstance(db, str):
        with raw(db) as conn:
            return [tuple(r) for r in conn.execute(sql, params).fetchall()]
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@contextmanager
def raw(db):
    """A connection to the test's database, a file or a server (URL), that commits each statement:
    sqlite3's own, or on a server the tool's Database (its errors are one-line ReturnsErrors)."""
    if isinstance(db, str):
        from speco_returns.db.database import Database
        from speco_returns.db.engines.postgres import ENGINE

        conn = Database(ENGINE, ENGINE.connect(db), url=db)
    else:
        conn = sqlite3.connect(db, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def counts(db_path) -> dict[str, int]:
    """Rows per table, read without creating the file (a missing database holds nothing)."""
    if isinstance(db_path, str):  # one connection for every table: a server's costs a round trip or more
        with raw(db_path) as conn:
            return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    if not db_path.exists():
        return dict.fromkeys(TABLES, 0)
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        conn.close()
