"""The nightly job's commands: `overdue` and the customers' e-mail notices (`notify`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..domain import inputs
from ..errors import ReturnsError
from ..services import overdue as overdue_service
from .edge import command, session_of
from .options import CsvOpt, JsonOpt, LimitOpt, day_or_today, out_format, rows_shown
from .output import emit_json, write_dicts

OVERDUE_COLUMNS = ["ra", "customer", "state", "delivered_on", "due_on", "days_overdue", "hold_amount",
                   "email", "phone", "shipped_on", "unit_shipped_on", "hold_expires", "unit_tracking",
                   "carrier_exception", "hold_state", "declined_on", "action"]


@command("", "overdue")
def overdue_cmd(
    ctx: typer.Context,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Report as of this day (default today; may be past or future).")] = None,
    within: Annotated[Optional[int], typer.Option("--within", min=0, max=3650, help="Also list returns due within this many days (due-soon).")] = None,
    check: Annotated[bool, typer.Option("--check", help="Exit 3 when a return is overdue (for cron).")] = False,
    limit: LimitOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Advanced replacements overdue, due soon, with unknown delivery, stalled, or with a lapsing hold.

    Example: speco-returns overdue --as-of 2026-12-02 --within 3
    """
    fmt = out_format(as_json, as_csv)
    session = session_of(ctx)
    day = day_or_today(as_of, session.today())
    rows = overdue_service.rows(session.reader, day, within)
    shown = rows_shown(limit, fmt)
    if fmt == "json":
        emit_json(rows[:shown])
    elif fmt == "csv":
        write_dicts(sys.stdout, OVERDUE_COLUMNS, rows[:shown])
    else:
        from . import render

        render.overdue_table(rows, day, shown)
    if check and any(r["state"] == "overdue" for r in rows):
        raise typer.Exit(code=3)


def _mail_settings():
    from .. import mailer

    return mailer.settings_from(os.environ)


def show_notice(ctx: typer.Context, ra: str, kind: str, as_json: bool) -> None:
    from ..services import notify

    session = session_of(ctx)
    store = session.reader  # a read: never creates a database (the clock below asks the database for its login)
    msg = notify.preview(store, ra, kind, session.now(), _mail_settings())
    body = msg.get_body(("plain",)).get_content()
    attached = [{"filename": part.get_filename(), "content_type": part.get_content_type(),
                 "size": len(part.get_payload(decode=True))} for part in msg.iter_attachments()]
    if as_json:
        emit_json({"ra": msg["X-Speco-Return"], "kind": kind.strip().lower(), "from": msg["From"] and str(msg["From"]),
                   "to": msg["To"] and str(msg["To"]), "reply_to": msg["Reply-To"] and str(msg["Reply-To"]),
                   "subject": str(msg["Subject"]), "body": body, "attachments": attached})
        return
    for header in ("From", "Reply-To", "To", "Subject", "Date"):
        if msg[header]:
            sys.stdout.write(f"{header}: {inputs.visible(str(msg[header]))}\n")
    for a in attached:  # the RA slip: `slip RA --output FILE.pdf` writes the same page
        sys.stdout.write(f"Attachment: {inputs.visible(a['filename'])} ({a['content_type']}, {a['size']:,} bytes)\n")
    sys.stdout.write("\n" + "\n".join(inputs.visible(line) for line in body.split("\n")))


@command("", "notify")
def notify_cmd(
    ctx: typer.Context,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Send what is due as of this day (default today; a later day only with --dry-run).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be sent; send and record nothing.")] = False,
    outbox: Annotated[Optional[Path], typer.Option("--outbox", help="Write each message as FOLDER/NAME.eml instead of sending it.")] = None,
    remind: Annotated[str, typer.Option("--remind", envvar="SPECO_RETURNS_REMIND", show_envvar=True,
                                        help="Reminders: days before the due date, comma-separated.")] = "7,2",
    no_attachments: Annotated[bool, typer.Option("--no-attachments", help="Send the opened notice without the RA slip (PDF), "
                                                 "for mail systems that strip attachments (or SPECO_RETURNS_MAIL_ATTACHMENTS=off).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """E-mail customers every notice due (opened, shipped, delivered, reminder, overdue, hold-expiring, received), each once.

    Example: speco-returns notify --dry-run
    """
    from .. import mailer
    from ..domain import notices
    from ..services import notify

    session = session_of(ctx)
    store = session.reader if dry_run else session.existing  # neither creates a database (SPEC §4)
    now = session.now()
    day = day_or_today(as_of, now.today)
    if day > now.today and not dry_run:
        raise ReturnsError(f"--as-of {day} is in the future: notices go out on their day (preview with --dry-run)")
    days = notices.parse_remind(remind)
    settings = _mail_settings()
    if no_attachments:
        from dataclasses import replace

        settings = replace(settings, attachments=False)
    transport = None
    if outbox is not None or not dry_run:
        if settings.sender is None:
            raise ReturnsError("SPECO_RETURNS_MAIL_FROM is not set: the address notices come from, like returns@example.com")
        if outbox is not None:
            transport = mailer.Outbox(outbox)
        elif settings.url is None:
            raise ReturnsError("SPECO_RETURNS_SMTP is not set: smtp://user@host:587 (or --outbox FOLDER, or --dry-run)")
        else:
            transport = mailer.Smtp(settings)
    from . import render

    mode = "quiet" if as_json else "terminal" if sys.stdout.isatty() else "lines"
    stamp = f"{now.stamp} as-of {day}" if mode == "lines" else ""  # a week of `>> notify.log` reads by run
    try:
        with render.notify_progress(mode, stamp) as (on_total, on_progress):
            outcomes = notify.run(store, settings, transport, now, day, days, dry_run,
                                  on_progress=on_progress, on_total=on_total)
    finally:
        if transport is not None:
            transport.close()
    counts = notify.summary(outcomes)
    if as_json:
        emit_json({"as_of": day.isoformat(), "dry_run": dry_run, "remind": list(days),
                   "notices": [dict(vars(o), label=o.label) for o in outcomes], "summary": counts})
    else:
        render.notify_report(outcomes, counts, at_terminal=mode == "terminal", stamp=stamp)
    failed: dict[str, list] = {}  # one line per cause: a server that is down is one line, not one per notice
    for o in outcomes:
        if o.status == "failed":
            failed.setdefault(o.error, []).append(o)
    for error, group in failed.items():
        if len(group) == 1:
            sys.stderr.write(inputs.visible(f"error: {group[0].ra} {group[0].label} to {group[0].to}: {error} (tried again on the next run)") + "\n")
        else:
            names = ", ".join(f"{o.ra} {o.label}" for o in group[:3]) + (", ..." if len(group) > 3 else "")
            sys.stderr.write(inputs.visible(f"error: {error}: {len(group)} notices not sent ({names}); tried again on the next run") + "\n")
    if failed:
        raise typer.Exit(code=4)

