"""Options and arguments several commands share, each written once (Annotated aliases, one per
line), and the small readings of them."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..domain import inputs
from .completion import complete_ra

JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="CSV on stdout (RFC 4180).")]
OnOpt = Annotated[Optional[str], typer.Option(
    "--on", help="The date it happened, YYYY-MM-DD or M/D/YYYY (default today; never in the "
                 "future, never before the return's latest event).")]
RaArg = Annotated[str, typer.Argument(
    help="RA number (any letter case) or a counter return's ticket ID.",
    autocompletion=complete_ra)]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm (at a terminal).")]

TERMINAL_ROWS = 50  # a page at a terminal; JSON, CSV and pipes get every row unless --limit says
LimitOpt = Annotated[Optional[int], typer.Option(
    "--limit", min=0, max=10**9,
    help=f"At most N rows, 0 for all. At a terminal {TERMINAL_ROWS} by default; JSON, CSV and "
         "pipes get every row unless given.")]

FromOpt = Annotated[Optional[str], typer.Option(
    "--from", help="First day, inclusive (default: the beginning).")]
ToOpt = Annotated[Optional[str], typer.Option(
    "--to", help="Last day, inclusive (default: no end).")]
MonthOpt = Annotated[Optional[str], typer.Option(
    "--month",
    help="A calendar month, YYYY-MM: its first to its last day (instead of --from and --to).")]
OutputOpt = Annotated[Optional[Path], typer.Option(
    "--output", "-o", help="Write to this file (complete or not at all) instead of stdout.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite --output if it exists.")]
BomOpt = Annotated[bool, typer.Option(
    "--bom", help="Start with a UTF-8 byte-order mark (for spreadsheets that need it).")]


def out_format(as_json: bool, as_csv: bool = False) -> str:
    if as_json and as_csv:
        raise typer.BadParameter("choose one of --json and --csv")
    return "json" if as_json else "csv" if as_csv else "human"


def day_or_today(text: str | None, today: date) -> date:
    """An option's date, or today when the option is left out (an empty `--on ''` is refused)."""
    return today if text is None else inputs.parse_date(text)


def rows_shown(limit: int | None, fmt: str) -> int | None:
    """The rows to show: --limit as given (0: all), else a page when a person reads a terminal."""
    if limit is not None:
        return limit or None
    return TERMINAL_ROWS if fmt == "human" and sys.stdout.isatty() else None
