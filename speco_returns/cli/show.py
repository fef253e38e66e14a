"""`show`: one return, the command agents run most. Its own module, so that running it imports
only what reading one return needs (no opening interview, no rules, no ledger writes).
Its annotations are evaluated at import, not kept as strings (see root.py)."""

from typing import Annotated, Optional

import typer

from ..services.show import show
from .edge import command, session_of
from .options import JsonOpt, RaArg
from .output import emit_json


@command("", "show")
def show_cmd(
    ctx: typer.Context,
    ra: RaArg,
    notice: Annotated[Optional[str], typer.Option("--notice", metavar="KIND", help="Print this e-mail notice as it would be sent: "
                                                  "opened, shipped, delivered, reminder, overdue, hold-expiring or received.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """One return: items, serials, money, timeline, due date and the next step.

    Example: speco-returns show RA-000001
    """
    if notice is not None:
        from .nightly import show_notice

        show_notice(ctx, ra, notice, as_json)
        return
    session = session_of(ctx)
    doc = show(session.reader, ra, session.today())
    if as_json:
        emit_json(doc)
        return
    from . import render

    render.return_view(doc)
