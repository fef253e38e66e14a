"""`slip`: the printable Return Authorization (and its box label) as PDF."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from typing import Annotated, Optional

import typer

from ..domain import inputs
from ..domain.slip import PAPERS
from ..errors import ReturnsError
from .edge import command, session_of
from .options import ForceOpt, RaArg


@command("", "slip")
def slip_cmd(
    ctx: typer.Context,
    ra: RaArg,
    output: Annotated[str, typer.Option(
        "--output", "-o", metavar="FILE.pdf",
        help="The PDF file to write (complete or not at all); - for stdout when it is not a "
             "terminal.")],
    paper: Annotated[Optional[str], typer.Option(
        "--paper", metavar="letter|a4",
        help="The slip's paper size (default: SPECO_RETURNS_SLIP_PAPER, else letter).")] = None,
    label: Annotated[bool, typer.Option(
        "--label",
        help="The 4x6 in box label (thermal printers, 203 dpi) instead of the slip.")] = False,
    force: ForceOpt = False,
) -> None:
    """The RA slip the customer prints and puts in the box: the RA as Code128 and QR, the items,
    what to do next.

    Example: speco-returns slip RA-000001 --output RA-000001.pdf
    """
    from .. import mailer
    from ..services import slip as slip_service

    if paper is not None:
        paper = paper.strip().lower()
        if paper not in PAPERS:
            raise typer.BadParameter(f"'{inputs.quote(paper)}': letter or a4", param_hint="--paper")
        if label:
            raise typer.BadParameter("a label is 4x6 in: --paper is for the slip",
                                     param_hint="--paper")
    to_stdout = output == "-"
    if to_stdout and sys.stdout.isatty():
        raise ReturnsError("a PDF is not for the terminal: give --output FILE.pdf, "
                           "or pipe it (--output - | lp)")
    if not to_stdout:
        inputs.refuse_control("--output", output)
    session = session_of(ctx)
    store = session.reader  # a read: never creates a database
    settings = mailer.settings_from(os.environ)
    key, pdf = slip_service.render(store, ra, session.today(), settings, paper=paper, label=label,
                                   made=datetime.now(timezone.utc).replace(microsecond=0))
    if to_stdout:
        sys.stdout.buffer.write(pdf)
        sys.stdout.flush()
        return
    from pathlib import Path

    from ..files import write_whole

    path = Path(output).expanduser()
    with write_whole(path, force=force) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(pdf)
    what = "box label" if label else f"slip ({paper or settings.slip_paper})"
    sys.stderr.write(inputs.visible(f"{key}: {what} written to {path}") + "\n")
