"""The product catalog: add, import, list."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..db import catalog as catalog_db
from ..domain import inputs
from .completion import complete_category
from .edge import command, session_of
from .lines import say
from .options import CsvOpt, JsonOpt, LimitOpt, out_format, rows_shown
from .output import emit_json, write_dicts


@command("catalog", "add")
def catalog_add(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The model name (stored upper-case).")],
    category: Annotated[str, typer.Option("--category",
                                          help="camera, ptz, specialty, recorder or other.",
                                          autocompletion=complete_category)],
    list_price: Annotated[Optional[str], typer.Option(
        "--list-price",
        help="The non-discounted list price: 1299, 1,299.00 or $1,299.00.")] = None,
    description: Annotated[Optional[str], typer.Option("--description",
                                                       help="What the model is.")] = None,
) -> None:
    """Add a model, or update it (opened returns keep their snapshot).

    Example: speco-returns catalog add O4B3 --category camera --list-price 249.99
    --description "4MP bullet"
    """
    from ..services.catalog import product as make_product
    from ..services.catalog import save

    session = session_of(ctx)
    product = make_product(model, category, list_price, description)
    save(session.store, [product], session.now())
    say(f"{product.model}: {product.category}, "
        f"list price {inputs.format_usd(product.list_price) or 'none'}")


@command("catalog", "import")
def catalog_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(
        help="CSV with header model,category,list_price[,description].")]) -> None:
    """Add or update models from a CSV file; the whole file is checked before anything is written.

    Example: speco-returns catalog import models.csv
    """
    from ..services.catalog import read_csv, save

    products = read_csv(file)
    session = session_of(ctx)
    count = save(session.store, products, session.now())
    typer.echo(f"imported {count} model(s)")


@command("catalog", "list")
def catalog_list(
    ctx: typer.Context, limit: LimitOpt = None, as_json: JsonOpt = False,
    as_csv: CsvOpt = False) -> None:
    """The catalog: model, category, list price.

    Example: speco-returns catalog list --csv
    """
    fmt = out_format(as_json, as_csv)
    rows = [{"model": r["model"], "category": r["category"],
             "list_price": (None if r["list_price_cents"] is None
                            else inputs.format_amount(r["list_price_cents"])),
             "description": r["description"], "updated_at": r["updated_at"]}
            for r in catalog_db.everything(session_of(ctx).reader)]
    shown = rows_shown(limit, fmt)
    if fmt == "json":
        emit_json(rows[:shown])
    elif fmt == "csv":
        write_dicts(sys.stdout, ["model", "category", "list_price", "description"], rows[:shown])
    else:
        from . import render

        render.catalog_table(rows[:shown])
        render.shown(len(rows[:shown]), len(rows), "--csv for a file")


@command("catalog", "history")
def catalog_history(
    ctx: typer.Context, model: Annotated[str, typer.Argument(help="The model name.")],
    as_json: JsonOpt = False) -> None:
    """Every change to a model's catalog entry on a team's server: when, which login, old -> new.

    Example: speco-returns catalog history O4B3
    """
    from ..services.catalog import history

    rows = history(session_of(ctx).reader, model)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        outside = "" if r["by_the_tool"] else "  (outside speco-returns)"
        typer.echo(f"{r['at']}  {inputs.visible(r['login'])}  "
                   f"{inputs.visible(r['change'])}{outside}")
