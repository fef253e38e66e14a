"""Fault and finding codes: the lists (`codes list|add|retire`) and `finding RA CODE`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..domain import codes, inputs
from ..services import codes as codes_service
from ..services import returns as returns_service
from .edge import command, session_of
from .options import JsonOpt, OnOpt, RaArg, day_or_today
from .output import emit_json

KindArg = Annotated[str, typer.Argument(metavar="KIND", help="fault or finding.")]
CodeArg = Annotated[str, typer.Argument(metavar="CODE", help="The code: lowercase words joined by hyphens (no-video).")]


@command("codes", "list")
def codes_list(
    ctx: typer.Context,
    kind: Annotated[Optional[str], typer.Argument(metavar="KIND", help="fault or finding (default: both).")] = None,
    retired: Annotated[bool, typer.Option("--retired", help="Retired codes too (kept where they were used).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The fault and finding codes in use (--retired: retired ones too).

    Example: speco-returns codes list fault
    """
    rows = codes_service.listing(session_of(ctx).reader, codes.parse_kind(kind) if kind else None, retired=retired)
    if as_json:
        emit_json(rows)
        return
    from .render import Col, Fitted, console

    cells = [[r["kind"], r["code"], r["title"],
              f"retired {r['retired_on']}" if r["retired_on"] else (f"added {r['added_on']}" if r["added_on"] else "")]
             for r in rows]
    console.print(Fitted([Col("kind", True), Col("code", True), Col("title"), Col("status")], cells))


@command("codes", "add")
def codes_add(
    ctx: typer.Context, kind: KindArg, code: CodeArg,
    title: Annotated[Optional[str], typer.Option("--title", help="What people read (default: the code's words).")] = None,
) -> None:
    """Add a code to a list, or bring a retired one back (a supervisor's, on a team's server).

    Example: speco-returns codes add fault no-audio --title "No audio"
    """
    session = session_of(ctx)
    typer.echo(inputs.visible(codes_service.change(session.store, "add", kind, code, session.now(), title)))


@command("codes", "retire")
def codes_retire(ctx: typer.Context, kind: KindArg, code: CodeArg) -> None:
    """Retire a code: new records cannot use it; returns that have it keep it (a supervisor's, on a team's server).

    Example: speco-returns codes retire fault ir-night
    """
    session = session_of(ctx)
    typer.echo(codes_service.change(session.store, "retire", kind, code, session.now()))


@command("", "finding")
def finding_cmd(
    ctx: typer.Context, ra: RaArg,
    code: Annotated[str, typer.Argument(metavar="CODE", help="A finding code (`codes list finding`).")],
    on: OnOpt = None, as_json: JsonOpt = False,
) -> None:
    """What Speco found examining a received unit (replaces an earlier finding; the history keeps both).

    Example: speco-returns finding RA-000001 no-fault-found
    """
    session = session_of(ctx)
    now = session.now()
    found = codes.parse_code(code, "finding")
    key, found = codes_service.record_finding(session.store, ra, found, day_or_today(on, now.today), now)
    if as_json:
        emit_json(returns_service.show(session.store, key))
    else:
        typer.echo(f"{inputs.visible(key)}: finding {found}")
