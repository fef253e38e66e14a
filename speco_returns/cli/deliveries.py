"""`deliveries import`: carrier delivery reports, one file or the day's folder (the nightly job)."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..domain import carriers, inputs
from ..errors import ReturnsError
from .edge import command, session_of
from .options import JsonOpt
from .output import emit_json

SHOWN = 20  # rows of each list at a terminal; --json has them all


def _zone(name: str):
    """An IANA time-zone name, read from the system's time-zone data (None when unknown)."""
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


@command("deliveries", "import")
def deliveries_import(
    ctx: typer.Context,
    path: Annotated[Optional[Path], typer.Argument(
        help="A carrier's report (CSV), or a folder of them: each file is imported whole and "
             "moved to its done/ folder.")] = None,
    fmt: Annotated[Optional[str], typer.Option(
        "--format", help=f"The report's format: {', '.join(carriers.FORMAT_NAMES)}.")] = None,
    from_inbox: Annotated[bool, typer.Option(
        "--inbox",
        help="Apply the webhook events `deliveries serve` kept (no FILE, no --format).")] = False,
    mapping: Annotated[Optional[str], typer.Option(
        "--map",
        help="For --format generic: "
             "tracking=COLUMN,status=COLUMN,delivered_at=COLUMN[,time_zone=COLUMN].")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Show what the import would do; record and move nothing.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="A supervisor's: the carrier's date replaces a date an agent typed "
                        "(with --reason).")] = False,
    reason: Annotated[Optional[str], typer.Option(
        "--reason", help="Why the carrier's date replaces an agent's (with --force).")] = None,
    done: Annotated[Optional[Path], typer.Option(
        "--done", help="Where a folder's imported files go (default: FOLDER/done).")] = None,
    time_zone: Annotated[Optional[str], typer.Option(
        "--time-zone", help="Read a time the report gives only in UTC in this zone (a name like "
                            "America/New_York, or an offset); without it such a time's UTC date "
                            "is the delivery date.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record the deliveries in a carrier's report: the replacement delivered starts the 30-day
    clock on the carrier's date; the customer's unit delivered to Speco stops it stalling. Importing
    a file again changes nothing. Exit 1 on a file that cannot be read (its line named; nothing
    recorded).

    Example: speco-returns deliveries import QVD_20261126.csv --format ups-qvd
    """
    force_reason = _force_reason(force, reason)
    if from_inbox:
        if path is not None or fmt or mapping or done or time_zone:
            raise ReturnsError("--inbox takes no FILE, --format, --map, --done or --time-zone: "
                               "each event's aggregator gives its format")
        return _import_inbox(ctx, dry_run, force_reason, as_json)
    if path is None or not fmt:
        raise ReturnsError("give the report (FILE or FOLDER) and its --format, or --inbox")
    fmt_table = carriers.format_named(fmt, carriers.parse_map(mapping))
    if time_zone is not None:
        zone = carriers.parse_zone(time_zone, _zone)
        if zone is None:
            raise ReturnsError(f"--time-zone {inputs.quote(time_zone, 40)} is not a time zone "
                               "(a name like America/New_York, or a UTC offset like -05:00)")
        fmt_table = dataclasses.replace(fmt_table, utc_as=zone)
    if done is not None and not path.is_dir():
        raise ReturnsError("--done serves a folder of reports")
    session = session_of(ctx)
    store = session.existing  # never creates a database: the parcels are on returns already there
    now = session.now()
    files = _files(path)
    target = None if dry_run or not path.is_dir() else (done or path / "done")
    if target is not None:
        _ready(target, path)
    reports, bad = [], []
    for file in files:
        try:
            report = _import_one(store, file, fmt_table, now, dry_run, force_reason)
        except ReturnsError as e:
            if not path.is_dir():
                raise
            bad.append((file, e))
            continue
        if target is not None:
            _move(file, target)
        reports.append(report)
    if as_json:
        docs = [r.document() for r in reports]
        emit_json(docs[0] if not path.is_dir() else {
            "folder": str(path), "files": docs,
            "bad": [{"file": f.name, "error": e.problems[0].line()} for f, e in bad]})
    else:
        for r in reports:
            _show(r)
        if path.is_dir() and not files:
            typer.echo(f"{inputs.visible(str(path))}: no reports to import")
    for _, e in bad:
        sys.stderr.write(f"error: {inputs.visible(e.problems[0].line())}; "
                         "it stays for the next run\n")
    if bad:
        raise typer.Exit(code=1)


def _import_inbox(ctx: typer.Context, dry_run: bool, force_reason: str | None,
                  as_json: bool) -> None:
    from ..services import webhooks

    session = session_of(ctx)
    reports = webhooks.apply_inbox(session.existing, session.now(), dry_run=dry_run,
                                   force_reason=force_reason, zones=_zone)
    if as_json:
        emit_json({"inbox": [r.document() for r in reports]})
        return
    for r in reports:
        _show(r)
    if not reports:
        typer.echo("the inbox holds no webhook event to apply")


@command("deliveries", "serve")
def deliveries_serve(
    ctx: typer.Context,
    listen: Annotated[str, typer.Option(
        "--listen",
        help="HOST:PORT to listen on (behind a reverse proxy with TLS).")] = "127.0.0.1:8765",
) -> None:
    """Receive tracking aggregators' signed webhooks (POST /aftership, POST /easypost): each event
    whose signature matches is kept once in the inbox; `deliveries import --inbox` applies them.
    The secrets come from SPECO_RETURNS_AFTERSHIP_WEBHOOK_SECRET and
    SPECO_RETURNS_EASYPOST_WEBHOOK_SECRET.

    Example: speco-returns deliveries serve --listen 127.0.0.1:8765
    """
    from ..services import webhooks

    secrets = {source: os.environ.get(f"SPECO_RETURNS_{source.upper()}_WEBHOOK_SECRET", "")
               for source in ("aftership", "easypost")}
    secrets = {k: v for k, v in secrets.items() if v}
    if not secrets:
        raise ReturnsError("set SPECO_RETURNS_AFTERSHIP_WEBHOOK_SECRET or "
                           "SPECO_RETURNS_EASYPOST_WEBHOOK_SECRET: "
                           "an event is kept only when its signature matches")
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536 or not host:
        raise ReturnsError("--listen takes HOST:PORT, like 127.0.0.1:8765 "
                           f"(not '{inputs.quote(listen)}')")
    session = session_of(ctx)
    db = session.existing

    def stamp() -> str:
        return session.now().stamp

    def log(line: str) -> None:
        sys.stderr.write(inputs.visible(line) + "\n")
        sys.stderr.flush()

    def ready(address) -> None:
        log(f"listening on http://{address[0]}:{address[1]}/ "
            f"for {', '.join('/' + s for s in secrets)}")

    webhooks.serve(db, secrets, host.strip("[]"), int(port), stamp, log, ready)


def _force_reason(force: bool, reason: str | None) -> str | None:
    text = inputs.clean_text("reason", reason) if reason is not None else None
    if force and not text:
        raise ReturnsError("--force needs --reason: say who decided and why the carrier's date "
                           "replaces the agent's")
    if text and not force:
        raise ReturnsError("--reason goes with --force (a supervisor's decision to replace a date "
                           "an agent typed)")
    return text if force else None


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    if not path.exists():
        raise ReturnsError(f"no file {inputs.quote(str(path), 80)}")
    return [path]


def _import_one(store, file: Path, fmt, now, dry_run: bool, force_reason: str | None):
    from ..services import deliveries

    try:
        rows = carriers.parse(file.read_bytes(), fmt, zones=_zone)
    except carriers.BadFile as e:
        raise ReturnsError(f"{inputs.quote(file.name, 80)} {e.problems[0].line()}: "
                           "nothing recorded from it") from None
    try:
        return deliveries.import_rows(store, rows, file.name, fmt.name, now, dry_run=dry_run,
                                      force_reason=force_reason)
    except ReturnsError as e:  # the database refused (busy, newer): the file is left as it is
        raise ReturnsError(f"{inputs.quote(file.name, 80)}: {e.problems[0].line()}") from None


def _ready(folder: Path, spool: Path) -> None:
    """done/ made and checked before any file is imported: a report is recorded only where it can
    then be moved, by one rename (a folder on the same filesystem as the day's)."""
    if folder.exists() and not folder.is_dir():
        raise ReturnsError(f"{inputs.quote(str(folder), 80)} is not a folder: "
                           "imported reports are moved there; nothing imported")
    probe = folder if folder.exists() else folder.parent  # nothing made where the files cannot go
    if probe.exists() and probe.stat().st_dev != spool.stat().st_dev:
        raise ReturnsError(f"{inputs.quote(str(folder), 80)} is on another filesystem than "
                           f"{inputs.quote(str(spool), 80)}: an imported report is moved by one "
                           "rename; give --done a folder on the same disk; nothing imported")
    folder.mkdir(mode=0o750, exist_ok=True)


def _move(file: Path, folder: Path) -> None:
    """Into done/ (made by `_ready`), under its own name (a name already there gets .1, .2 ...):
    one rename, so a file is in the day's folder or in done/, never half in each."""
    target, n = folder / file.name, 0
    while target.exists():
        n += 1
        target = folder / f"{file.name}.{n}"
    os.replace(file, target)


_LABELS = {"delivered": "delivered", "arrived": "unit arrived", "superseded": "superseded",
           "exception": "exception(s)", "already": "already recorded", "conflict": "conflict(s)",
           "ambiguous": "ambiguous", "unmatched": "unmatched", "not-a-delivery": "not deliveries",
           "no-tracking": "without tracking"}


def _show(report) -> None:
    from ..services.deliveries import NEEDS_A_PERSON

    counts = report.counts()
    said = ", ".join(f"{n} {_LABELS[k]}" for k, n in counts.items() if n)
    head = "dry run, nothing recorded: " if report.dry_run else ""
    typer.echo(f"{head}{inputs.visible(report.file)} ({report.format}): {report.rows} row(s)"
               + (f": {said}" if said else ""))
    for o in report.outcomes:
        if o.result in ("delivered", "arrived", "superseded"):
            typer.echo(f"  {o.ra} {o.parcel}: {inputs.visible(o.message)}")
    attention = [o for o in report.outcomes if o.result in NEEDS_A_PERSON]
    for o in attention[:SHOWN]:
        who = f"{o.ra} {o.parcel}" if o.ra else inputs.visible(o.tracking)
        typer.echo(f"  line {o.line}: {who}: {o.result}: {inputs.visible(o.message)}")
    if len(attention) > SHOWN:
        typer.echo(f"  ... and {len(attention) - SHOWN} more (--json lists them all)")
    if report.not_in_file:
        typer.echo(f"  {len(report.not_in_file)} open return(s) wait for a parcel "
                   "this file does not mention:")
        for w in report.not_in_file[:SHOWN]:
            typer.echo(f"    {w['ra']} {w['parcel']} {inputs.visible(w['tracking'])} "
                       f"(shipped {w['since']})")
        if len(report.not_in_file) > SHOWN:
            typer.echo(f"    ... and {len(report.not_in_file) - SHOWN} more "
                       "(--json lists them all)")
