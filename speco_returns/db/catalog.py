"""The product catalog: categories and list prices (an advanced return's hold is snapshotted
from it when the return opens)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain.rules import Product
from .chain import record_catalog

if TYPE_CHECKING:
    from ..domain.clock import Now
    from .connection import Database


def upsert(db: Database, products: list[Product], now: Now) -> int:
    """Add or update models, inside the caller's write; a list price or description left out
    keeps the one it had."""
    db.many("""INSERT INTO catalog (model, description, category, list_price_cents, updated_at)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (model) DO UPDATE SET
                 description = coalesce(excluded.description, catalog.description),
                 category = excluded.category,
                 list_price_cents = coalesce(excluded.list_price_cents, catalog.list_price_cents),
                 updated_at = excluded.updated_at""",
            [(p.model, p.description, p.category, p.list_price, now.stamp) for p in products])
    record_catalog(db)  # doctor compares the catalog with it
    return len(products)


def everything(db: Database) -> list:
    return db.all("SELECT * FROM catalog ORDER BY model")


def lookup(db: Database, models: list[str]) -> dict[str, Product]:
    """The catalog's entries for these models (look-ups ignore case)."""
    if not models:
        return {}
    marks = ",".join("?" * len(models))
    return {r["model"].upper(): Product(r["model"].upper(), r["category"], r["list_price_cents"],
                                        r["description"])
            for r in db.all(f"SELECT * FROM catalog WHERE model IN ({marks})", models)}
