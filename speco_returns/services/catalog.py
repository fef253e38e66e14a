"""Reading catalog entries as agents and price lists give them."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from ..db import catalog as catalog_db
from ..db.database import Database
from ..domain import inputs
from ..domain.clock import Now
from ..domain.rules import Product
from ..errors import ReturnsError

MAX_PROBLEMS_SHOWN = 20


def product(model: str, category: str, list_price: str | None, description: str | None) -> Product:
    return Product(
        model=inputs.normalize_model(model),
        category=inputs.parse_category(category),
        list_price=inputs.parse_money(list_price) if list_price and list_price.strip() else None,
        description=inputs.clean_text("description", description),
    )


COLUMNS = ("model", "category", "list_price", "description")
# A price written with a thousands comma and not quoted, `1,299.00`, arrives as two cells:
# 1 to 3 digits (a `$` allowed), then exactly three digits (decimals allowed). When the row
# left a cell out (the description), it still has as many cells as the header, and would
# read as $1.00: such a pair is refused as ambiguous, whichever column follows the price.
_SPLIT_HEAD = re.compile(r"\s*\$?\s*\d{1,3}\s*")
_SPLIT_TAIL = re.compile(r"\s*\d{3}(?:\.\d*)?\s*")


def _split_price(header: list[str], cells: list[str]) -> str | None:
    """The problem when the list price and the cell after it could be one number split by
    an unquoted comma (`1` and `299.00`), else None."""
    at = header.index("list_price")
    if (at + 1 < len(cells) and _SPLIT_HEAD.fullmatch(cells[at])
            and _SPLIT_TAIL.fullmatch(cells[at + 1])):
        joined = f"{cells[at].strip()},{cells[at + 1].strip()}"
        return (f"list price {inputs.quote(cells[at].strip())} then {header[at + 1]} "
                f"{inputs.quote(cells[at + 1].strip())} "
                f"could be {inputs.quote(joined)} split by an unquoted comma: "
                f"quote the price (\"{inputs.quote(joined)}\"), "
                f"or give a {header[at + 1]} that is not three digits")
    return None


def _check_header(file: Path, header: list[str]) -> None:
    """Line 1 names each known column once: a repeated column would silently win, an unknown
    one would be silently dropped."""
    problem = None
    repeated = sorted({h for h in header if header.count(h) > 1})
    unknown = [h for h in header if h not in COLUMNS]
    if repeated:
        problem = f"column {inputs.quote(repeated[0])} is repeated"
    elif unknown:
        problem = f"unknown column '{inputs.quote(unknown[0])}'"
    elif not {"model", "category", "list_price"} <= set(header):
        problem = "a column is missing"
    if problem:
        raise ReturnsError(f"{file}, line 1: {problem}: "
                           "the header must be model,category,list_price[,description]")


def read_csv(file: Path) -> list[Product]:
    """Every line of a `model,category,list_price[,description]` file, or ReturnsError naming
    each bad line: the whole file is checked before anything is written."""
    try:
        handle = file.open(newline="", encoding="utf-8-sig")
    except OSError as e:
        raise ReturnsError(f"cannot read {file}: {e.strerror}") from None
    products: dict[str, Product] = {}
    problems: list[str] = []
    with handle:
        try:
            reader = csv.reader(handle)
            header = [h.strip().lower() for h in next(reader, [])]
            _check_header(file, header)
            for cells in reader:
                if not any(c.strip() for c in cells):  # a blank line, or a spreadsheet's empty row
                    continue
                # e.g. an unquoted 1,299.00: never drop or shift a cell
                if len(cells) != len(header):
                    problems.append(f"{file}, line {reader.line_num}: {len(cells)} cells "
                                    f"where the header has {len(header)} "
                                    "(a price with a comma must be quoted: \"1,299.00\")")
                    continue
                split = _split_price(header, cells)
                if split:
                    problems.append(f"{file}, line {reader.line_num}: {split}")
                    continue
                row = dict(zip(header, cells, strict=True))
                try:
                    p = product(row["model"], row["category"], row["list_price"],
                                row.get("description"))
                    products[p.model] = p
                except ReturnsError as e:
                    problems.append(f"{file}, line {reader.line_num}: {e.problems[0].message}")
        except (UnicodeDecodeError, csv.Error) as e:
            raise ReturnsError(f"{file}: not a UTF-8 CSV file ({e})") from None
    if problems:
        more = len(problems) - MAX_PROBLEMS_SHOWN
        raise ReturnsError(*problems[:MAX_PROBLEMS_SHOWN],
                           *([f"... and {more} more"] if more > 0 else []))
    return list(products.values())


def save(db: Database, products: list[Product], now: Now) -> int:
    """Add or update models in one write (and the catalog's digest with them)."""
    with db.write():
        return catalog_db.upsert(db, products, now)


def history(db: Database, model: str) -> list[dict]:
    """A model's recorded changes on a team's server, oldest first: when, who, what (old -> new),
    and whether the tool made it (db/changes.py)."""
    from ..db import changes

    if not db.is_server:
        raise ReturnsError("catalog history is recorded on a team's server (PostgreSQL): "
                           "a desk's catalog keeps each model's latest entry only (`catalog list`)")
    name = inputs.normalize_model(model)
    with db.read():
        rows = changes.catalog_history(db, name)
    if not rows:
        raise ReturnsError(f"no recorded change to {name} in the catalog")
    return [{"at": changes.when(r["at"]), "login": r["login"],
             "change": changes.what("catalog", r["op"], r["old"], r["new"]),
             "by_the_tool": r["explained"]} for r in rows]
