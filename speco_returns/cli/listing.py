"""`list`: the returns an agent steers to: filters, a date range, their own, an order."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..db import listing as db_listing
from ..domain import inputs, lifecycle
from ..domain import types as domain_types
from ..errors import ReturnsError
from .completion import complete_sort, complete_status, complete_type
from .edge import command, session_of
from .options import CsvOpt, JsonOpt, LimitOpt, out_format, rows_shown
from .output import listing

LIST_COLUMNS = ["ra", "type", "status", "customer", "opened_on", "opened_by", "due_on", "age_days",
                "fault", "finding", "hold_state"]


@command("", "list")
def list_cmd(
    ctx: typer.Context,
    return_type: Annotated[Optional[str], typer.Option("--type", "-t", help="Only this type.",
                                                       autocompletion=complete_type)] = None,
    status: Annotated[Optional[str], typer.Option("--status",
                                                  help="Only this state (closed states included).",
                                                  autocompletion=complete_status)] = None,
    customer: Annotated[Optional[str], typer.Option(
        "--customer", "-c", help="Customer name contains this text (any case).")] = None,
    include_all: Annotated[bool, typer.Option("--all", "-a", help="Closed returns too.")] = False,
    search: Annotated[Optional[str], typer.Option(
        "--search", help="3 or more characters anywhere in a customer, e-mail, phone, ticket, "
                         "serial, note, tracking number or hold reference (any case).")] = None,
    opened: Annotated[Optional[str], typer.Option(
        "--opened", metavar="FROM..TO", help="Opened in this range of days, both ends included "
                                             "(FROM.. or ..TO leave one open; one DATE: that "
                                             "day).")] = None,
    agent: Annotated[Optional[str], typer.Option(
        "--agent", help="Opened by this agent; 'me' for the one recording (--agent, "
                        "SPECO_RETURNS_AGENT, a server's login).")] = None,
    sort: Annotated[str, typer.Option(
        "--sort", metavar="ORDER", help="newest (default), oldest, due (soonest due back first), "
                                        "customer, status or type.",
        autocompletion=complete_sort)] = "newest",
    limit: LimitOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Open returns, newest first (--all for closed ones too), with each one's age and due date.

    Example: speco-returns list --search 555-01 --all
    """
    fmt = out_format(as_json, as_csv)
    session = session_of(ctx)
    order = sort.strip().lower()
    if order not in db_listing.SORTS:
        raise ReturnsError(f"unknown --sort '{inputs.quote(sort)}': "
                           f"one of {', '.join(db_listing.SORTS)}")
    if status is not None:
        known = {s for t in domain_types.TYPES for s in lifecycle.states(t)}
        if status.strip().lower() not in known:
            raise ReturnsError(f"unknown status '{inputs.quote(status)}': "
                               f"one of {', '.join(sorted(known))}")
        status = status.strip().lower()
    first, last = inputs.parse_date_range(opened) if opened is not None else (None, None)
    store = session.reader
    filters = db_listing.Filters(
        type=inputs.parse_type(return_type) if return_type else None, status=status,
        # bounded, plain text, like the name it looks for
        customer=inputs.clean_text("customer", customer),
        include_closed=include_all, search=search, opened_from=first, opened_to=last,
        agent=_agent(agent, session, store))
    shown = rows_shown(limit, fmt)
    rows = db_listing.listing(store, filters, session.today(), sort=order, limit=shown)
    if fmt != "human":  # streamed as the database reads them
        listing(fmt, rows, LIST_COLUMNS)
        return
    rows = list(rows)  # a page at a terminal; a pipe gets every row, as it always did
    total = len(rows) if shown is None or len(rows) < shown else db_listing.count(store, filters)
    empty = None
    if not rows and not include_all and status is None:
        closed = db_listing.count(store, filters, closed_only=True)
        if closed:
            empty = f"No open returns; {closed:,} closed: add --all."
    listing(fmt, rows, LIST_COLUMNS, total=total, empty=empty)


def _agent(given: str | None, session, store) -> str | None:
    """--agent NAME as typed, or `me`: who this command records as (a server: its login)."""
    name = inputs.clean_text("agent", given)
    if name is None:
        if given is not None:
            raise ReturnsError("--agent is empty: give an agent's name, or me")
        return None
    return (store.login or session.agent) if name.lower() == "me" else name
