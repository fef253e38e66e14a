"""Reading catalog entries as agents and price lists give them."""

from __future__ import annotations

import csv
from pathlib import Path

from . import policy
from .errors import ReturnsError

MAX_PROBLEMS_SHOWN = 20


def product(model: str, category: str, list_price: str | None, description: str | None) -> policy.Product:
    return policy.Product(
        model=policy.normalize_model(model),
        category=policy.parse_category(category),
        list_price=policy.parse_money(list_price) if list_price and list_price.strip() else None,
        description=policy.clean_text("description", description),
    )


def read_csv(file: Path) -> list[policy.Product]:
    """Every line of a `model,category,list_price[,description]` file, or ReturnsError naming
    each bad line: the whole file is checked before anything is written."""
    try:
        handle = file.open(newline="", encoding="utf-8-sig")
    except OSError as e:
        raise ReturnsError(f"cannot read {file}: {e.strerror}") from None
    products: dict[str, policy.Product] = {}
    problems: list[str] = []
    with handle:
        try:
            reader = csv.DictReader(handle)
            header = [h.strip().lower() for h in reader.fieldnames or []]
            if not {"model", "category", "list_price"} <= set(header):
                raise ReturnsError(f"{file}: the header must be model,category,list_price[,description]")
            reader.fieldnames = header
            for row in reader:
                try:
                    p = product(row.get("model") or "", row.get("category") or "", row.get("list_price"), row.get("description"))
                    products[p.model] = p
                except ReturnsError as e:
                    problems.append(f"{file}, line {reader.line_num}: {e.problems[0].message}")
        except (UnicodeDecodeError, csv.Error) as e:
            raise ReturnsError(f"{file}: not a UTF-8 CSV file ({e})") from None
    if problems:
        more = len(problems) - MAX_PROBLEMS_SHOWN
        raise ReturnsError(*problems[:MAX_PROBLEMS_SHOWN], *([f"... and {more} more"] if more > 0 else []))
    return list(products.values())
