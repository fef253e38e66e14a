"""What accounting takes: the CSV exports and the period's report."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..domain import inputs
from ..errors import ReturnsError
from .edge import command, session_of
from .lines import say
from .options import BomOpt, CsvOpt, ForceOpt, FromOpt, JsonOpt, MonthOpt, OutputOpt, ToOpt, out_format
from .output import csv_output, emit_json, write_csv, write_dicts


def _period(start: str | None, end: str | None, month: str | None = None) -> tuple[date | None, date | None]:
    if month is not None:
        if start is not None or end is not None:
            given = " and ".join(o for o, v in (("--from", start), ("--to", end)) if v is not None)
            sys.stderr.write(f"error: --month names the whole period: give --month or {given}, not both\n")
            raise typer.Exit(code=2)  # a usage error, said in one line
        return inputs.parse_month(month)
    first = inputs.parse_date(start) if start is not None else None
    last = inputs.parse_date(end) if end is not None else None
    if first and last and first > last:
        raise ReturnsError(f"--from {first} is after --to {last}")
    return first, last


def _export(ctx: typer.Context, kind: str, start: str | None, end: str | None, month: str | None,
            output: Path | None, force: bool, bom: bool) -> None:
    from ..db import exports

    first, last = _period(start, end, month)
    session = session_of(ctx)
    store = session.reader
    if kind != "returns" and last is None:  # as of today: a hold lapses on its expiry, not before
        last = max(session.today(), first or session.today())
    header, rows = {"ledger": (exports.LEDGER_COLUMNS, exports.ledger_rows),
                    "holds": (exports.HOLDS_COLUMNS, exports.holds_rows),
                    "returns": (exports.RETURNS_COLUMNS, exports.return_rows)}[kind]
    rows = rows(store, first, last)
    with csv_output(output, force=force, bom=bom, protected=[store.path]) as stream:
        count = write_csv(stream, header, rows)
    if output:
        say(f"wrote {count} row(s) to {inputs.visible(str(output))}", err=True)


@command("export", "ledger")
def export_ledger(ctx: typer.Context, start: FromOpt = None, end: ToOpt = None, month: MonthOpt = None,
                  output: OutputOpt = None, force: ForceOpt = False, bom: BomOpt = False) -> None:
    """Money movements dated in the range: holds authorized and released, charges, refunds.

    Example: speco-returns export ledger --month 2026-11 --output ledger-2026-11.csv
    """
    _export(ctx, "ledger", start, end, month, output, force, bom)


@command("export", "holds")
def export_holds(ctx: typer.Context, start: FromOpt = None, end: ToOpt = None, month: MonthOpt = None,
                 output: OutputOpt = None, force: ForceOpt = False, bom: BomOpt = False) -> None:
    """One row per card hold authorized, settled or refunded in the range, as of its end: match by hold_ref.

    Example: speco-returns export holds --from 2026-11-01 --to 2026-11-30 --output holds-2026-11.csv
    """
    _export(ctx, "holds", start, end, month, output, force, bom)


ReportFrom = Annotated[Optional[str], typer.Option("--from", help="First day, inclusive (default: the first of this month).")]
ReportTo = Annotated[Optional[str], typer.Option("--to", help="Last day, inclusive (default: today).")]


def _month_to_date(session, start: str | None, end: str | None, month: str | None) -> tuple[date, date]:
    first, last = _period(start, end, month)
    last = last or session.today()  # default: this month to date (--to alone: its month to that day)
    first = first or last.replace(day=1)
    if first > last:
        raise ReturnsError(f"--from {first} is after --to {last}")
    return first, last


@command("report", "")
def report_cmd(
    ctx: typer.Context,
    start: ReportFrom = None,
    end: ReportTo = None,
    month: MonthOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """A period's holds and charges, balanced to the cent: opening + authorized - released - charged = closing.

    `report quality`: what a supervisor looks at.

    Example: speco-returns report --month 2026-11
    """
    if ctx.invoked_subcommand is not None:
        if start is not None or end is not None or month is not None or as_json or as_csv:
            raise typer.BadParameter(f"give the options after `{ctx.invoked_subcommand}`")
        return
    from ..services import report

    fmt = out_format(as_json, as_csv)
    session = session_of(ctx)
    first, last = _month_to_date(session, start, end, month)
    doc = report.build(session.reader, first, last)
    if fmt == "json":
        emit_json(doc)
    elif fmt == "csv":
        write_dicts(sys.stdout, report.CSV_COLUMNS, report.csv_rows(doc))
    else:
        from .render import report_view

        report_view(doc)


@command("export", "returns")
def export_returns(ctx: typer.Context, start: FromOpt = None, end: ToOpt = None, month: MonthOpt = None,
                   output: OutputOpt = None, force: ForceOpt = False, bom: BomOpt = False) -> None:
    """One row per item of every return opened in the range.

    Example: speco-returns export returns --from 2026-11-01 --to 2026-11-30 --output returns-2026-11.csv --bom
    """
    _export(ctx, "returns", start, end, month, output, force, bom)

@command("report", "quality")
def report_quality(
    ctx: typer.Context,
    start: ReportFrom = None,
    end: ReportTo = None,
    month: MonthOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    html: Annotated[Optional[Path], typer.Option(
        "--html", metavar="FILE", help="Write the report as one self-contained HTML page with charts (no script, "
                                      "no network): to open, print or send by e-mail.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the --html file if it exists.")] = False,
) -> None:
    """What a supervisor looks at: returns by type, model and fault, no fault found, time to close, ageing, money at risk.

    Example: speco-returns report quality --from 2026-11-01 --to 2026-11-30 --html quality-2026-11.html
    """
    from ..services import quality

    fmt = out_format(as_json, as_csv)
    if html is not None and fmt != "human":
        raise typer.BadParameter("--html writes a file: choose it or --json/--csv")
    session = session_of(ctx)
    first, last = _month_to_date(session, start, end, month)
    store = session.reader
    doc = quality.build(store, first, last)
    if html is not None:
        from .quality_html import write_html

        write_html(doc, html, force=force, protected=[store.path])
        sys.stderr.write(f"wrote {inputs.visible(str(html))}\n")
    elif fmt == "json":
        emit_json(doc)
    elif fmt == "csv":
        write_dicts(sys.stdout, quality.CSV_COLUMNS, quality.csv_rows(doc))
    else:
        from .quality_view import quality_view

        quality_view(doc)
