"""What commands print for scripts: one JSON document (written row by row for long lists), and
CSV (RFC 4180, formula-safe) to stdout or to a file written whole or not at all."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from ..domain import inputs
from ..domain.inputs import visible


def json_text(data) -> str:
    """json escapes C0 itself; every other control character (DEL, C1, format characters,
    U+2028/U+2029, already stored) is written as its JSON escape too, never raw."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    # the indent's line breaks are the only C0 left
    if all(line.isprintable() for line in text.split("\n")):
        return text
    return "".join(json.dumps(ch)[1:-1] if ch != "\n" and inputs.is_control(ch) else ch
                   for ch in text)


def emit_json(data) -> None:
    sys.stdout.write(json_text(data) + "\n")


def emit_json_rows(rows) -> None:
    """A JSON list written row by row as it is read: the same bytes as emit_json(list(rows)),
    in flat memory (`list --all --json` at a million returns)."""
    out, first = sys.stdout, True
    for row in rows:
        out.write("[\n  " if first else ",\n  ")
        out.write(json_text(row).replace("\n", "\n  "))  # strings hold no raw newline
        first = False
    out.write("[]\n" if first else "\n]\n")


def listing(fmt: str, rows, columns: list[str], title: str | None = None, *,
            total: int | None = None, empty: str | None = None,
            more: str = "--csv for a file") -> None:
    if fmt == "json":
        emit_json_rows(rows)
    elif fmt == "csv":
        write_dicts(sys.stdout, columns, rows)
    else:
        from . import render
        from .pager import paged

        rows = list(rows)
        with paged():  # a long list at a terminal: through the pager
            render.returns_table(rows, title, empty=empty)
            render.shown(len(rows), total, more)


# --- CSV (SPEC §5) ---------------------------------------------------------------------------
# csv, the formula starts and the file writer are imported where used: `show` and the other
# commands that print no CSV never load them (startup).



def defuse(cell: object) -> object:
    """A text cell a spreadsheet would run as a formula is prefixed with `'`; a control
    character already stored is written as a visible escape, never raw."""
    if isinstance(cell, str):
        from ..db.exports import FORMULA_STARTS

        cell = "'" + cell if cell.startswith(FORMULA_STARTS) else cell
        return visible(cell)
    return cell


def write_csv(stream: IO[str], header: list[str], rows: Iterable[Iterable]) -> int:
    """Header always, then the rows as they come; returns how many rows were written."""
    import csv

    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(header)
    count = 0
    for count, row in enumerate(rows, 1):  # noqa: B007 - count is the result
        writer.writerow(row)
    return count


def write_dicts(stream: IO[str], header: list[str], rows: Iterable[dict]) -> int:
    """Listings (`list --csv`, `overdue --csv`): every text cell defused."""
    return write_csv(stream, header, ([defuse(r.get(c)) for c in header] for r in rows))


@contextmanager
def csv_output(path: Path | None, *, force: bool, bom: bool,
               protected: list[Path] = ()) -> Iterator[IO[str]]:
    """stdout, or a temporary file beside `path` renamed into place only when complete."""
    if path is None:
        stream = sys.stdout
        if bom:
            stream.write("\ufeff")
        yield stream
        stream.flush()
        return
    from ..files import write_whole

    with (write_whole(path, force=force, protected=protected) as tmp,
          open(tmp, "w", encoding="utf-8", newline="") as stream):
        if bom:
            stream.write("\ufeff")
        yield stream
