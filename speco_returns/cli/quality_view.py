"""`report quality` at a terminal: the document's figures as rich tables, with bar cells, each
table within 80 columns (a bar is at most BAR cells; names fold before a table grows)."""

from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text

from ..domain import inputs
from .render import console

BAR = 16
SHOWN = 10  # rows of the no-fault-found table (most units found working first); --json has every model
_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(value: float, most: float, width: int = BAR) -> Text:
    """A bar of `value` against `most` (the longest bar fills `width` cells), in eighths."""
    if most <= 0 or value <= 0:
        return Text("")
    eighths = max(1, round(width * 8 * value / most))
    return Text("█" * (eighths // 8) + (_EIGHTHS[eighths % 8] if eighths % 8 else ""), style="cyan")


def percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}%"


def _table(title: str, *columns: tuple[str, str]) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", title_style="bold",
                  min_width=min(78, len(title)))  # a title on one line where 80 columns allow
    for header, justify in columns:
        table.add_column(header, justify=justify, overflow="fold", no_wrap=justify == "right")
    return table


def _usd(amount: str) -> str:
    return inputs.format_usd(inputs.parse_money(amount))


def quality_view(doc: dict) -> None:
    console.print(Text(f"Quality report, {doc['from']} to {doc['to']}", style="bold"))
    opened = doc["opened"]
    t = _table(f"Returns opened: {opened['total']:,}", ("type", "left"), ("returns", "right"), ("share", "right"),
               ("", "left"))
    most = max(opened["by_type"].values(), default=0)
    for type_, n in opened["by_type"].items():
        t.add_row(type_, f"{n:,}", percent(n / opened["total"] if opened["total"] else 0), bar(n, most))
    console.print(t)

    models = doc["models"]
    t = _table("Top models", ("model", "left"), ("category", "left"), ("returns", "right"), ("share", "right"),
               ("", "left"))
    most = max((m["returns"] for m in models["top"]), default=0)
    for m in models["top"]:
        t.add_row(m["model"], m["category"] or "", f"{m['returns']:,}", percent(m["share"]), bar(m["returns"], most))
    if models["others"]["models"]:
        o = models["others"]
        t.add_row(f"{o['models']} other model(s)", "", f"{o['returns']:,}", percent(o["share"]), "")
    console.print(t if models["top"] else Text("No returns were opened in the period."))

    faults = doc["faults"]
    t = _table(f"Faults reported ({faults['recorded']:,} of {faults['returns']:,} returns)", ("fault", "left"),
               ("returns", "right"), ("share", "right"), ("", "left"))
    most = max((c["count"] for c in faults["by_code"]), default=0)
    for c in faults["by_code"]:
        t.add_row(c["code"], f"{c['count']:,}", percent(c["share"]), bar(c["count"], most))
    console.print(t)
    if faults["by_category"]:
        t = _table("Fault mix by category", ("category", "left"), ("items", "right"), ("faults", "left"))
        for cat in faults["by_category"]:
            mix = ", ".join(f"{c['code']} {percent(c['share'])}" for c in cat["codes"])
            t.add_row(cat["category"], f"{cat['items']:,}", mix)
        console.print(t)

    f = doc["findings"]
    t = _table(f"No fault found: {f['no_fault_found']:,} of {f['examined']:,} examined ({percent(f['rate'])})",
               ("model", "left"), ("examined", "right"), ("no fault", "right"), ("rate", "right"), ("", "left"))
    for m in f["by_model"][:SHOWN]:
        t.add_row(m["model"], f"{m['examined']:,}", f"{m['no_fault_found']:,}", percent(m["rate"]), bar(m["rate"], 1.0))
    if len(f["by_model"]) > SHOWN:
        t.add_row(f"{len(f['by_model']) - SHOWN} more model(s)", "", "", "", Text("--json for all", style="dim"))
    console.print(t if f["by_model"] else Text("No unit was examined in the period."))

    t = _table("Days from open to closed (cancelled left out)", ("type", "left"), ("closed", "right"),
               ("median", "right"), ("90th pct", "right"))
    for row in doc["time_to_close"]:
        t.add_row(row["type"], f"{row['closed']:,}", _days(row["median_days"]), _days(row["p90_days"]))
    console.print(t)

    ages = doc["open_by_age"]
    t = _table(f"Open returns by state and age in days, as of {ages['as_of']}", ("state", "left"),
               *((b, "right") for b in ages["buckets"]), ("total", "right"))
    for s in ages["states"]:
        t.add_row(s["state"], *(f"{s[b]:,}" for b in ages["buckets"]), f"{s['total']:,}")
    t.add_section()
    t.add_row(Text("all open", style="bold"), *(f"{ages['totals'][b]:,}" for b in ages["buckets"]),
              Text(f"{ages['totals']['total']:,}", style="bold"))
    console.print(t)

    risk = doc["money_at_risk"]
    t = _table(f"Money at risk on advanced replacements (USD), as of {risk['as_of']}", ("", "left"),
               ("count", "right"), ("amount", "right"))
    t.add_row("card holds in force", f"{risk['active_holds']['count']:,}", _usd(risk["active_holds"]["amount"]))
    lapsing = risk["holds_lapsing"]
    t.add_row(f"  expiring within {lapsing['within_days']} days", f"{lapsing['count']:,}", _usd(lapsing["amount"]))
    t.add_row("overdue units, list value", f"{risk['overdue_units']['count']:,}",
              _usd(risk["overdue_units"]["list_value"]))
    t.add_row("charged in the period", f"{risk['charged']['count']:,}", _usd(risk["charged"]["amount"]))
    t.add_row("refunded in the period", f"{risk['refunded']['count']:,}", _usd(risk["refunded"]["amount"]))
    console.print(t)

    repeats = doc["repeat_serials"]
    if repeats["count"]:
        t = _table(f"Serials back again: {repeats['count']:,}", ("serial", "left"), ("model", "left"), ("ra", "left"),
                   ("times", "right"))
        for r in repeats["serials"]:
            t.add_row(r["serial"], r["model"], r["ra"], str(r["times"]))
        console.print(t)
    else:
        console.print(Text("Serials back again: none."))


def _days(n: int | None) -> str:
    return "" if n is None else f"{n:,} d"
