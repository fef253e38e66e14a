"""Keeping the data safe and the team's server: backup, doctor, admin roles, admin copy."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..domain import inputs
from ..errors import ReturnsError
from .edge import command, session_of
from .lines import say
from .options import JsonOpt
from .output import emit_json


@command("", "backup")
def backup_cmd(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Where to write the copy (a new file).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite PATH if it exists.")] = False,
) -> None:
    """A consistent copy of the database, safe while others keep writing.

    Example: speco-returns backup /backups/returns-2026-11-26.db
    """
    from ..admin.backup import backup

    size = backup(session_of(ctx).reader, path, force=force)
    say(f"backed up to {inputs.visible(str(path))} ({size:,} bytes, quick check ok)")


@command("", "doctor")
def doctor_cmd(
    ctx: typer.Context, as_json: JsonOpt = False,
    anchor: Annotated[Optional[Path], typer.Option(
        "--anchor", help="A file outside the database (the nightly job's): check that the hash "
                         "chains still extend every anchor in it, then append today's verified "
                         "heads.")] = None,
) -> None:
    """Check the database: integrity, foreign keys, schema, sizes, counts, local disk. Exit 1 when
    something is wrong.

    Example: speco-returns doctor
    """
    from ..integrity.doctor import doctor

    session = session_of(ctx)
    if anchor is not None:
        inputs.refuse_control("--anchor", str(anchor))
    db = session.diagnose()  # the database as it is: neither migrated nor refused
    progress = _progress() if sys.stderr.isatty() else None
    report = doctor(db, progress=progress)
    if anchor is not None:
        _anchor(db, anchor, session.stamp(), report)
    if progress:
        sys.stderr.write("\r\x1b[K")  # the progress line gives way to the report
    if as_json:
        emit_json(report)
    else:
        from . import render

        render.doctor_view(report)
    for problem in report["problems"]:
        # names stored text: a tampered row may hold escapes
        say(f"error: {inputs.visible(problem)}", err=True)
    if not report["ok"]:
        raise typer.Exit(code=1)


def _anchor(store, path: Path, at: str, report: dict) -> None:
    """doctor --anchor: the anchors' problems join the report's; the heads are appended only
    when nothing is wrong and doctor walked the chains (at this tool's schema)."""
    from ..admin import anchors

    report["problems"] += anchors.run(store, path, at, report["ok"] and "chain_breaks" in report)
    report["anchors"] = str(path)
    report["ok"] = not report["problems"]


def _progress():
    """At a terminal, doctor says what it is checking (at a million returns it takes a while)."""
    def show(stage: str, done: int, total: int) -> None:
        count = f" {done:,} of {total:,}" if total else ""
        sys.stderr.write(f"\r\x1b[Kdoctor: {stage}{count}...")
        sys.stderr.flush()

    return show


@command("admin", "roles")
def admin_roles_cmd(
    ctx: typer.Context,
    apply: Annotated[bool, typer.Option(
        "--apply", help="Run it on the --db server, as the database's owner.")] = False,
) -> None:
    """The SQL for the team's roles: speco_agent, speco_supervisor (charge, refund, void, virtual
    approval), speco_accounting (read and export).

    Example: speco-returns admin roles --apply
    """
    from ..db import roles
    from ..db.urls import is_url

    if not apply:
        sys.stdout.write(roles.script())
        return
    session = session_of(ctx)
    if not is_url(session.db_path):
        raise ReturnsError("roles are a server's: give --db a PostgreSQL URL "
                           "(without --apply the SQL is printed)")
    roles.apply(session.store)
    typer.echo(f"roles {', '.join(roles.ROLES)} are set up; "
               "make each login a member of one (GRANT speco_agent TO ann)")


@command("admin", "copy")
def admin_copy_cmd(
    ctx: typer.Context,
    to: Annotated[str, typer.Option(
        "--to", help="An empty PostgreSQL database: postgresql://host/dbname or service=NAME.")],
    as_json: JsonOpt = False,
) -> None:
    """Copy this SQLite database (--db) whole to an empty server database, then verify counts and
    checksums per table.

    Example: speco-returns admin copy --to service=speco
    """
    from ..admin import copy as move
    from ..db.urls import has_password, is_url, shown

    inputs.refuse_control("--to", to, shown=shown(to))  # a target URL, like --db (paths: `command`)
    if not is_url(to):
        raise ReturnsError("--to takes a PostgreSQL URL (postgresql://host/dbname or service=NAME)")
    if has_password(to):
        sys.stderr.write("warning: a password in --to is visible to every user of this machine "
                         "(ps, shell history): keep it in ~/.pgpass, a service file or "
                         "PGPASSWORD\n")
    session = session_of(ctx)
    if isinstance(session.db_path, Path) and not session.db_path.exists():
        raise ReturnsError(f"no database at {session.db_path}")
    if sys.stderr.isatty() and not as_json:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with Progress(TextColumn("copying"), BarColumn(), MofNCompleteColumn(),
                      console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("rows", total=None)
            found = move.copy(session.store, to, lambda n: progress.update(task, total=n),
                              lambda n: progress.update(task, advance=n))
    else:
        found = move.copy(session.store, to)
    if as_json:
        emit_json(found)
        return
    for table, seen in found.items():
        # fits 80 columns
        typer.echo(f"{table:<12} {seen['rows']:>11,} rows  checksum {seen['checksum'][:16]}  "
                   "same on both")
    typer.echo("copied and verified: point everyone's SPECO_RETURNS_DB at the server")

