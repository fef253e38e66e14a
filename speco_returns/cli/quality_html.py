"""`report quality --html FILE`: the report's document as one self-contained page.

No script and no request: inline CSS, inline SVG charts (quality_charts.py), and a Content
Security Policy that forbids loading anything, so a browser opening the file (or a mail
client showing it) fetches nothing. Every chart is a <figure> whose caption is its title (drawn
in the chart itself; the caption is for screen readers) and whose table holds its figures: what it shows can be read, printed and checked as data.
Laid out for a laptop's window and for one or two printed pages.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from ..domain import inputs
from ..files import write_whole
from . import quality_charts as charts

SHOWN = 10  # rows of the no-fault-found table (most units found working first)
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
CSS = """
@page { size: auto; margin: 12mm; }
* { box-sizing: border-box; }
body { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1d2731;
       margin: 0 auto; max-width: 1000px; padding: 16px 20px; }
h1 { font-size: 20px; margin: 0 0 2px; }
h2 { font-size: 14px; margin: 18px 0 6px; border-bottom: 1px solid #d5dde3; padding-bottom: 2px; }
.period { color: #52606d; margin: 0 0 10px; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 8px; margin: 8px 0 4px; }
.card { border: 1px solid #d5dde3; border-radius: 6px; padding: 6px 10px; }
.card b { display: block; font-size: 18px; }
.card span { color: #52606d; font-size: 11px; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 10px 18px; }
figure { margin: 0; break-inside: avoid; }
figure.wide { grid-column: 1 / -1; }
figcaption { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
figure svg { max-width: 100%; height: auto; display: block; }
table { border-collapse: collapse; width: 100%; font-size: 11.5px; margin-top: 2px; }
th, td { text-align: left; padding: 2px 6px; border-bottom: 1px solid #e4e9ed; }
th { color: #52606d; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
details summary { cursor: default; color: #52606d; font-size: 11px; }
.note { color: #52606d; font-size: 11px; }
@media (max-width: 700px) { .grid, .cards { grid-template-columns: 1fr; } }
@media print { body { padding: 0; max-width: none; font-size: 11px; } h2 { margin-top: 10px; }
               details { display: block; } .grid { gap: 6px 14px; } }
"""


def _usd(amount: str) -> str:
    return inputs.format_usd(inputs.parse_money(amount))


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def _table(headers: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    """Every cell escaped twice over: control characters stored outside the tool as `\x1b`
    (inputs.visible), then HTML's own characters."""
    head = "".join(f'<th{" class=n" if i in numeric else ""}>{escape(h)}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td{" class=n" if i in numeric else ""}>{escape(inputs.visible(str(c)))}</td>'
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(chart: charts.Chart, headers: list[str], rows: list[list], *, wide: bool = False) -> str:
    """A chart and its figures: the table rows are the chart's labels and shown values first."""
    kind = "chart wide" if wide else "chart"
    return (f'<figure class="{kind}" id="{chart.name}" data-chart="{chart.name}">'
            f"<figcaption>{escape(chart.title)}</figcaption>{chart.svg}"
            f"{_table(headers, rows, set(range(1, len(headers))))}</figure>")


def build_charts(doc: dict) -> list[tuple[charts.Chart, list[str], list[list], bool]]:
    """(chart, table headers, table rows, wide) for each chart, in page order: the figures all
    come from the document."""
    weeks = doc["weeks"]
    trend = charts.trend("weekly", "Returns opened per week", [w["week"] for w in weeks], [w["opened"] for w in weeks])
    top = doc["models"]["top"]
    models = charts.bars("models", "Returns by model (top)", [inputs.visible(m["model"]) for m in top], [m["returns"] for m in top],
                         [f"{m['returns']:,} ({_pct(m['share'])})" for m in top])
    codes = doc["faults"]["by_code"]
    faults = charts.bars("faults", "Faults reported", [inputs.visible(c["code"]) for c in codes], [c["count"] for c in codes],
                         [f"{c['count']:,} ({_pct(c['share'])})" for c in codes])
    ages = doc["open_by_age"]
    age = charts.bars("ages", f"Open returns by age in days, as of {ages['as_of']}", ages["buckets"],
                      [ages["totals"][b] for b in ages["buckets"]], [f"{ages['totals'][b]:,}" for b in ages["buckets"]],
                      horizontal=False)
    risk = doc["money_at_risk"]
    risk_rows = [("card holds in force", risk["active_holds"]["count"], risk["active_holds"]["amount"]),
                 (f"expiring within {risk['holds_lapsing']['within_days']} days", risk["holds_lapsing"]["count"],
                  risk["holds_lapsing"]["amount"]),
                 ("overdue units (list value)", risk["overdue_units"]["count"], risk["overdue_units"]["list_value"]),
                 ("charged in the period", risk["charged"]["count"], risk["charged"]["amount"]),
                 ("refunded in the period", risk["refunded"]["count"], risk["refunded"]["amount"])]
    money = charts.bars("money", "Money at risk on advanced replacements (USD)", [r[0] for r in risk_rows],
                        [float(inputs.parse_money(r[2])) / 100 for r in risk_rows], [_usd(r[2]) for r in risk_rows],
                        color="#b5523b")
    return [
        (trend, ["week of", "opened"], [[w["week"], f"{w['opened']:,}"] for w in weeks], True),
        (models, ["model", "returns", "share"], [[m["model"], f"{m['returns']:,}", _pct(m["share"])] for m in top], False),
        (faults, ["fault", "returns", "share"], [[c["code"], f"{c['count']:,}", _pct(c["share"])] for c in codes], False),
        (age, ["age (days)", "open returns"], [[b, f"{ages['totals'][b]:,}"] for b in ages["buckets"]], False),
        (money, ["", "count", "amount"], [[r[0], f"{r[1]:,}", _usd(r[2])] for r in risk_rows], False),
    ]


def page(doc: dict) -> str:
    f, opened, ages = doc["findings"], doc["opened"], doc["open_by_age"]
    cards = [
        (f"{opened['total']:,}", "returns opened"),
        (_pct(f["rate"]) if f["examined"] else "–", f"no fault found ({f['no_fault_found']:,} of {f['examined']:,} examined)"),
        (f"{ages['totals']['total']:,}", f"open on {ages['as_of']}"),
        (_usd(doc["money_at_risk"]["active_holds"]["amount"]), "in card holds"),
    ]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Speco returns quality report, {doc['from']} to {doc['to']}</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Returns quality report</h1>",
        f'<p class="period">{doc["from"]} to {doc["to"]} · amounts in {doc["currency"]}</p>',
        '<div class="cards">' + "".join(f'<div class="card"><b>{escape(v)}</b><span>{escape(k)}</span></div>'
                                        for v, k in cards) + "</div>",
        '<div class="grid">',
        *(_figure(chart, headers, rows, wide=wide) for chart, headers, rows, wide in build_charts(doc)),
        "</div>",
        *_tables(doc),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _tables(doc: dict) -> list[str]:
    out = ['<div class="grid"><section>', "<h2>Returns opened by type</h2>",
           _table(["type", "returns"], [[t, f"{n:,}"] for t, n in doc["opened"]["by_type"].items()], {1}),
           "<h2>Days from open to closed</h2>",
           _table(["type", "closed", "median", "90th percentile"],
                  [[t["type"], f"{t['closed']:,}", "" if t["median_days"] is None else t["median_days"],
                    "" if t["p90_days"] is None else t["p90_days"]] for t in doc["time_to_close"]], {1, 2, 3}),
           '<p class="note">Cancelled returns are left out; percentiles by nearest rank.</p>',
           "</section><section>"]
    f = doc["findings"]
    more = len(f["by_model"]) - SHOWN
    out += ["<h2>No fault found by model</h2>",
            _table(["model", "examined", "no fault found", "rate"],
                   [[m["model"], f"{m['examined']:,}", f"{m['no_fault_found']:,}", _pct(m["rate"])]
                    for m in f["by_model"][:SHOWN]], {1, 2, 3}) if f["by_model"] else '<p class="note">No unit examined.</p>',
            f'<p class="note">{more} more model(s) in the JSON report.</p>' if more > 0 else "",
            "<h2>Findings</h2>",
            _table(["finding", "returns", "share"], [[c["code"], f"{c['count']:,}", _pct(c["share"])]
                                                    for c in f["by_code"]], {1, 2}),
            "</section></div>"]
    ages = doc["open_by_age"]
    out += [f"<h2>Open returns by state and age in days, as of {ages['as_of']}</h2>",
            _table(["state", *ages["buckets"], "total"],
                   [[s["state"], *(f"{s[b]:,}" for b in ages["buckets"]), f"{s['total']:,}"] for s in ages["states"]]
                   + [["all open", *(f"{ages['totals'][b]:,}" for b in ages["buckets"]), f"{ages['totals']['total']:,}"]],
                   set(range(1, len(ages["buckets"]) + 2)))]
    mix = doc["faults"]["by_category"]
    if mix:
        out += ["<h2>Fault mix by category</h2>",
                _table(["category", "items", "faults"],
                       [[c["category"], f"{c['items']:,}", ", ".join(f"{x['code']} {_pct(x['share'])}" for x in c["codes"])]
                        for c in mix], {1})]
    repeats = doc["repeat_serials"]
    out.append(f"<h2>Serials back again: {repeats['count']:,}</h2>")
    if repeats["serials"]:
        out.append(_table(["serial", "model", "return", "opened", "times back"],
                          [[r["serial"], r["model"], r["ra"], r["opened_on"], r["times"]] for r in repeats["serials"]],
                          {4}))
    return out


def write_html(doc: dict, path: Path, *, force: bool, protected: list) -> None:
    text = page(doc)
    with write_whole(path, force=force, protected=[p for p in protected if p], what="--html") as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
