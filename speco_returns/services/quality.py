"""`report quality`: what a supervisor looks at, for a period [from, to]: returns opened by type,
week and model, the fault mix, the no-fault-found rate, time to close, the open returns by
state and age, the money at risk on advanced replacements, serials back again.

One document (`build`), read by every view: `--json` prints it, `--csv` flattens it, the
terminal tables and `--html` draw it. Its figures are sums the database makes over the
period's rows, read through indexes (db/quality.py), and the ledger's daily sums.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta

from ..db import codes as codes_db
from ..db import ledger
from ..db import quality as q
from ..db.database import Database
from ..domain import inputs, types
from ..domain.codes import NO_FAULT_FOUND
from ..errors import ReturnsError
from . import overdue as overdue_service
from .report import _holds

TOP_MODELS = 10
REPEAT_SHOWN = 20
LAPSING_DAYS = 7
# Age buckets of open returns: (label, the oldest age in days it holds; None: no limit).
AGE_BUCKETS = (("0-7", 7), ("8-14", 14), ("15-30", 30), (">30", None))
NOT_RECORDED = "(not recorded)"


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _money(count: int, cents: int) -> dict:
    return {"count": count, "amount": inputs.format_amount(cents)}


def percentile(histogram: dict[int, int], p: float) -> int | None:
    """The nearest-rank percentile of values given as {value: how many}: the smallest value
    with at least p of them at or below it."""
    total = sum(histogram.values())
    if not total:
        return None
    rank, seen = max(1, math.ceil(round(p * total, 6))), 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram)


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def build(db: Database, start: date, end: date) -> dict:
    """The `report quality --json` document (keys in the README)."""
    if start > end:
        raise ReturnsError(f"--from {start} is after --to {end}")
    first, last = start.isoformat(), end.isoformat()
    with db.read():
        if codes_db.in_use(db, "fault") is None:
            raise ReturnsError(f"{db.where} has no fault and finding codes yet: run any command once as an "
                               "account that can write it (it upgrades the database)")
        by_day = q.opened_by_day(db, first, last)
        fault_rows = q.faults(db, first, last)
        item_rows = q.items_opened(db, first, last)
        finding_rows = q.findings(db, first, last)
        finding_models = q.findings_by_model(db, first, last)
        closing = q.days_to_close(db, first, last)
        bounds = [(end - timedelta(days=days)).isoformat() for _, days in AGE_BUCKETS if days is not None]
        ages = q.open_by_age(db, last, bounds)
        until = ledger.day_sums(db, "day <= ?", [last])
        during = ledger.day_sums(db, "day BETWEEN ? AND ?", [first, last])
        lapsing = q.holds_expiring(db, last, (end + timedelta(days=LAPSING_DAYS)).isoformat())
        repeats = q.repeat_serials(db, first, last)
        titles = codes_db.titles(db)
    overdue = [r for r in overdue_service.rows(db, end, None) if r["state"] == "overdue"]
    return {
        "from": first, "to": last, "currency": "USD",
        "opened": _opened(by_day),
        "weeks": _weeks(by_day, start, end),
        "models": _models(item_rows),
        "faults": _faults(fault_rows, item_rows, titles),
        "findings": _findings(finding_rows, finding_models, titles),
        "time_to_close": _closing(closing),
        "open_by_age": _ages(ages, last),
        "money_at_risk": _at_risk(until, during, lapsing, overdue, last),
        "repeat_serials": {"count": len(repeats), "serials": sorted(repeats, key=lambda r: -r["times"])[:REPEAT_SHOWN]},
    }


def _opened(by_day: list) -> dict:
    counts = dict.fromkeys(types.TYPES, 0)
    for _, type_, n in by_day:
        counts[type_] += int(n)
    return {"total": sum(counts.values()), "by_type": counts}


def _weeks(by_day: list, start: date, end: date) -> list[dict]:
    """Returns opened per week (weeks start on Monday; the first and last may be partial)."""
    weeks: dict[date, int] = {}
    week = monday(start)
    while week <= end:
        weeks[week] = 0
        week += timedelta(days=7)
    for day, _, n in by_day:
        weeks[monday(date.fromisoformat(day))] += int(n)
    return [{"week": w.isoformat(), "opened": n} for w, n in weeks.items()]


def _models(item_rows: list) -> dict:
    returns: dict[str, int] = defaultdict(int)
    units: dict[str, int] = defaultdict(int)
    category: dict[str, str | None] = {}
    for model, cat, _, n, qty in item_rows:
        returns[model] += int(n)
        units[model] += int(qty)
        category.setdefault(model, cat)
    total = sum(returns.values())
    ranked = sorted(returns, key=lambda m: (-returns[m], m))
    top = [{"model": m, "category": category[m], "returns": returns[m], "units": units[m],
            "share": _share(returns[m], total)} for m in ranked[:TOP_MODELS]]
    rest = ranked[TOP_MODELS:]
    return {"total": total, "top": top,
            "others": {"models": len(rest), "returns": sum(returns[m] for m in rest),
                       "share": _share(sum(returns[m] for m in rest), total)}}


def _code_list(counts: dict, titles: dict, kind: str) -> list[dict]:
    total = sum(counts.values())
    return [{"code": code, "title": titles.get((kind, code), code) if code != NOT_RECORDED else "Not recorded",
             "count": n, "share": _share(n, total)}
            for code, n in sorted(counts.items(), key=lambda kv: (kv[0] == NOT_RECORDED, -kv[1], kv[0]))]


def _faults(fault_rows: list, item_rows: list, titles: dict) -> dict:
    overall = {(code or NOT_RECORDED): int(n) for code, n in fault_rows}
    by_category: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for _, cat, fault, n, _ in item_rows:
        by_category[cat or "uncategorized"][fault or NOT_RECORDED] += int(n)
    return {
        "returns": sum(overall.values()),
        "recorded": sum(n for c, n in overall.items() if c != NOT_RECORDED),
        "by_code": _code_list(overall, titles, "fault"),
        "by_category": [{"category": cat, "items": sum(counts.values()), "codes": _code_list(counts, titles, "fault")}
                        for cat, counts in sorted(by_category.items())],
    }


def _findings(finding_rows: list, finding_models: list, titles: dict) -> dict:
    overall = {code: int(n) for code, n in finding_rows}
    examined = sum(overall.values())
    nff = overall.get(NO_FAULT_FOUND, 0)
    per_model: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for model, code, n in finding_models:
        per_model[model][0] += int(n)
        if code == NO_FAULT_FOUND:
            per_model[model][1] += int(n)
    return {
        "examined": examined, "no_fault_found": nff, "rate": _share(nff, examined),
        "by_code": _code_list(overall, titles, "finding"),
        "by_model": [{"model": m, "examined": e, "no_fault_found": f, "rate": _share(f, e)}
                     for m, (e, f) in sorted(per_model.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))],
    }


def _closing(rows: list) -> list[dict]:
    histograms: dict[str, dict[int, int]] = {t: {} for t in types.TYPES}
    for type_, days, n in rows:
        histograms[type_][int(days)] = histograms[type_].get(int(days), 0) + int(n)
    return [{"type": t, "closed": sum(h.values()), "median_days": percentile(h, 0.5), "p90_days": percentile(h, 0.9)}
            for t, h in histograms.items()]


def _ages(rows: list, as_of: str) -> dict:
    labels = [label for label, _ in AGE_BUCKETS]
    states: dict[str, list[int]] = {}
    for status, bucket, n in rows:
        states.setdefault(status, [0] * len(labels))[int(bucket)] += int(n)
    totals = [sum(v[i] for v in states.values()) for i in range(len(labels))]
    return {
        "as_of": as_of, "buckets": labels,
        "states": [{"state": s, **dict(zip(labels, v, strict=True)), "total": sum(v)}
                   for s, v in sorted(states.items(), key=lambda kv: (-sum(kv[1]), kv[0]))],
        "totals": {**dict(zip(labels, totals, strict=True)), "total": sum(totals)},
    }


def _at_risk(until: dict, during: dict, lapsing: tuple[int, int], overdue: list[dict], as_of: str) -> dict:
    """Holds in force at the end of `to` (the ledger's sums, as `report` closes them), those
    whose authorization expires within LAPSING_DAYS of it, the overdue units at their list
    value (the hold AR-3 took: list price x quantity), money charged and refunded in the period."""
    holds = _holds(until)
    moved = {name: during.get(event, (0, 0, 0, 0)) for name, event in (("charged", "charged"), ("refunded", "refunded"))}
    return {
        "as_of": as_of,
        "active_holds": _money(*holds),
        "holds_lapsing": {"within_days": LAPSING_DAYS, **_money(*lapsing)},
        "overdue_units": {"count": len(overdue),
                          "list_value": inputs.format_amount(sum(inputs.parse_money(r["hold_amount"] or "0")
                                                                 for r in overdue))},
        "charged": _money(moved["charged"][0], moved["charged"][1]),
        "refunded": _money(moved["refunded"][0], moved["refunded"][1]),
    }


CSV_COLUMNS = ["from", "to", "section", "key", "figure", "value"]


def csv_rows(doc: dict) -> list[dict]:
    """`report quality --csv`: one figure a line (section, key, figure, value), each with its
    period, so months append into one sheet."""
    rows: list[tuple] = []
    rows += [("opened", t, "returns", n) for t, n in doc["opened"]["by_type"].items()]
    rows.append(("opened", "total", "returns", doc["opened"]["total"]))
    rows += [("weeks", w["week"], "opened", w["opened"]) for w in doc["weeks"]]
    for m in doc["models"]["top"]:
        rows += [("models", m["model"], f, m[f]) for f in ("returns", "units", "share")]
    rows += [("models", "(others)", f, doc["models"]["others"][f]) for f in ("models", "returns", "share")]
    for c in doc["faults"]["by_code"]:
        rows += [("faults", c["code"], f, c[f]) for f in ("count", "share")]
    for cat in doc["faults"]["by_category"]:
        rows += [(f"faults:{cat['category']}", c["code"], "count", c["count"]) for c in cat["codes"]]
    f = doc["findings"]
    rows += [("findings", "all", k, f[k]) for k in ("examined", "no_fault_found", "rate")]
    rows += [("findings", c["code"], "count", c["count"]) for c in f["by_code"]]
    for m in f["by_model"]:
        rows += [("no_fault_found_by_model", m["model"], k, m[k]) for k in ("examined", "no_fault_found", "rate")]
    for t in doc["time_to_close"]:
        rows += [("time_to_close", t["type"], k, t[k]) for k in ("closed", "median_days", "p90_days")]
    ages = doc["open_by_age"]
    for s in [*ages["states"], {"state": "total", **ages["totals"]}]:
        rows += [("open_by_age", s["state"], b, s[b]) for b in [*ages["buckets"], "total"]]
    risk = doc["money_at_risk"]
    for k in ("active_holds", "holds_lapsing", "charged", "refunded"):
        rows += [("money_at_risk", k, "count", risk[k]["count"]), ("money_at_risk", k, "amount", risk[k]["amount"])]
    rows += [("money_at_risk", "overdue_units", "count", risk["overdue_units"]["count"]),
             ("money_at_risk", "overdue_units", "list_value", risk["overdue_units"]["list_value"])]
    rows.append(("repeat_serials", "all", "count", doc["repeat_serials"]["count"]))
    return [{"from": doc["from"], "to": doc["to"], "section": s, "key": k, "figure": fig, "value": v}
            for s, k, fig, v in rows]
