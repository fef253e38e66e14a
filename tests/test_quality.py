"""`report quality`: the document's figures from a month of known returns (both engines), and
every view of it (terminal tables, CSV, the HTML page) saying the same figures."""

from __future__ import annotations

import csv
import io
import json

import pytest
from clihelpers import ok, refused
from hypothesis import given
from hypothesis import strategies as st
from quality_pages import Page
from rich.cells import cell_len

from speco_returns.cli import quality_html
from speco_returns.services.quality import percentile

TODAY = "2026-11-30"
PERIOD = ("--from", "2026-11-01", "--to", TODAY)

# A month of returns whose figures are worked out by hand below (the comments name them).
MONTH = [
    ("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "100"),
    ("catalog", "add", "PTZ-1", "--category", "ptz", "--list-price", "500"),
    ("catalog", "add", "NVR-1", "--category", "recorder", "--list-price", "300"),
    # RA-000001: back in 4 days, no fault found
    ("open", "-t", "standard", "-c", "One", "-i", "CAM-1", "-s", "SN-1", "--fault", "no-video", "--on", "2026-11-02"),
    ("receive", "RA-000001", "--finding", "no-fault-found", "--on", "2026-11-05"),
    ("ship", "RA-000001", "--on", "2026-11-06"),
    # RA-000002: 10 days, a configuration
    ("open", "-t", "standard", "-c", "Two", "-i", "CAM-1", "-s", "SN-2", "--fault", "network", "--on", "2026-11-03"),
    ("receive", "RA-000002", "--finding", "configuration", "--on", "2026-11-10"),
    ("ship", "RA-000002", "--on", "2026-11-13"),
    # RA-000003: open (unit-received), 21 days old
    ("open", "-t", "standard", "-c", "Three", "-i", "PTZ-1", "-s", "SN-3", "--fault", "ptz-motion", "--on", "2026-11-09"),
    ("receive", "RA-000003", "--finding", "hardware-fault", "--on", "2026-11-12"),
    # RA-000004: an advanced replacement shipped, its hold expiring 2026-12-03; 14 days old
    ("open", "-t", "ar", "-c", "Four", "-i", "CAM-1", "-s", "SN-4", "--fault", "no-power", "--on", "2026-11-16"),
    ("link", "RA-000004", "--on", "2026-11-16"),
    ("hold", "RA-000004", "--ref", "AUTH-4", "--expires", "2026-12-03", "--on", "2026-11-16"),
    ("ship", "RA-000004", "--on", "2026-11-17"),
    # TT-1: a counter return, no fault recorded, 10 days old
    ("open", "-t", "otc", "-c", "Five", "-i", "NVR-1", "--ticket", "TT-1", "--distributor", "ADI", "--on", "2026-11-20"),
    # RA-000005: SN-1 back a second time, 6 days old
    ("open", "-t", "standard", "-c", "One", "-i", "CAM-1", "-s", "SN-1", "--fault", "no-video", "--on", "2026-11-24"),
    # RA-000006: a virtual return closed the day it opened
    ("open", "-t", "virtual", "-c", "Six", "-i", "CAM-1", "-s", "SN-V1", "--fault", "other", "--approved-by", "Sue",
     "--reason", "DOA", "--on", "2026-11-25"),
    ("ship", "RA-000006", "--on", "2026-11-25"),
    # RA-000007: opened before the period, delivered 2026-10-03, overdue since 2026-11-02
    ("open", "-t", "ar", "-c", "Seven", "-i", "CAM-1", "-s", "SN-7", "--on", "2026-10-01"),
    ("link", "RA-000007", "--on", "2026-10-01"),
    ("hold", "RA-000007", "--ref", "AUTH-7", "--on", "2026-10-01"),
    ("ship", "RA-000007", "--on", "2026-10-02"),
    ("deliver", "RA-000007", "--on", "2026-10-03"),
    # RA-000008: cancelled (left out of the time to close)
    ("open", "-t", "standard", "-c", "Eight", "-i", "CAM-1", "--on", "2026-11-04"),
    ("cancel", "RA-000008", "--reason", "fixed on the phone", "--on", "2026-11-05"),
]


@pytest.fixture
def month(cli):
    for args in MONTH:
        ok(cli(*args, today=TODAY))


def report(cli, *args) -> dict:
    return json.loads(ok(cli("report", "quality", *PERIOD, *args, "--json", today=TODAY)).stdout)


def test_the_document_has_the_months_figures(cli, month):
    doc = report(cli)
    assert (doc["from"], doc["to"]) == ("2026-11-01", TODAY)
    assert doc["opened"] == {"total": 8, "by_type": {"standard": 5, "counter": 1, "advanced": 1, "virtual": 1}}
    assert [(w["week"], w["opened"]) for w in doc["weeks"]] == [
        ("2026-10-26", 0), ("2026-11-02", 3), ("2026-11-09", 1), ("2026-11-16", 2), ("2026-11-23", 2), ("2026-11-30", 0)]
    # (RA-000008 opened on 2026-11-04 and TT-1 on 11-20: weeks of 11-02 and 11-16)
    assert [(m["model"], m["category"], m["returns"], m["share"]) for m in doc["models"]["top"]] == [
        ("CAM-1", "camera", 6, 0.75), ("NVR-1", "recorder", 1, 0.125), ("PTZ-1", "ptz", 1, 0.125)]
    faults = doc["faults"]
    assert (faults["returns"], faults["recorded"]) == (8, 6)
    assert [(c["code"], c["count"]) for c in faults["by_code"]] == [
        ("no-video", 2), ("network", 1), ("no-power", 1), ("other", 1), ("ptz-motion", 1), ("(not recorded)", 2)]
    camera = next(c for c in faults["by_category"] if c["category"] == "camera")
    assert {c["code"]: c["count"] for c in camera["codes"]} == {
        "no-video": 2, "network": 1, "no-power": 1, "other": 1, "(not recorded)": 1}
    f = doc["findings"]
    assert (f["examined"], f["no_fault_found"], f["rate"]) == (3, 1, 0.3333)
    assert [(m["model"], m["examined"], m["no_fault_found"], m["rate"]) for m in f["by_model"]] == [
        ("CAM-1", 2, 1, 0.5), ("PTZ-1", 1, 0, 0.0)]
    assert {t["type"]: (t["closed"], t["median_days"], t["p90_days"]) for t in doc["time_to_close"]} == {
        "standard": (2, 4, 10), "counter": (0, None, None), "advanced": (0, None, None), "virtual": (1, 0, 0)}
    ages = doc["open_by_age"]
    assert ages["totals"] == {"0-7": 1, "8-14": 2, "15-30": 1, ">30": 1, "total": 5}
    assert {s["state"]: s["total"] for s in ages["states"]} == {
        "unit-received": 1, "replacement-shipped": 1, "ticket-issued": 1, "authorized": 1, "replacement-delivered": 1}
    risk = doc["money_at_risk"]
    assert risk["active_holds"] == {"count": 2, "amount": "200.00"}
    assert risk["holds_lapsing"] == {"within_days": 7, "count": 1, "amount": "100.00"}
    assert risk["overdue_units"] == {"count": 1, "list_value": "100.00"}
    assert risk["charged"] == risk["refunded"] == {"count": 0, "amount": "0.00"}
    assert doc["repeat_serials"] == {"count": 1, "serials": [
        {"serial": "SN-1", "model": "CAM-1", "ra": "RA-000005", "opened_on": "2026-11-24", "times": 2}]}


def test_an_empty_period_is_all_zeros(cli, month):
    doc = json.loads(ok(cli("report", "quality", "--from", "2026-01-01", "--to", "2026-01-31", "--json",
                            today=TODAY)).stdout)
    assert doc["opened"]["total"] == 0 and doc["models"]["top"] == [] and doc["findings"]["rate"] == 0.0
    assert all(t["median_days"] is None for t in doc["time_to_close"])


def test_the_default_period_is_this_month_to_date(cli, month):
    doc = json.loads(ok(cli("report", "quality", "--json", today=TODAY)).stdout)
    assert (doc["from"], doc["to"]) == ("2026-11-01", TODAY)


@pytest.mark.parametrize("args, says", [
    (("--from", "2026-11-30", "--to", "2026-11-01"), "is after"),
    (("--from", "yesterday-ish"), "date"),
])
def test_a_bad_period_is_one_line(cli, month, args, says):
    [line] = refused(cli("report", "quality", *args, today=TODAY))
    assert says in line


def test_the_money_report_still_runs_as_report(cli, month):
    doc = json.loads(ok(cli("report", *PERIOD, "--json", today=TODAY)).stdout)
    assert doc["balanced"] is True and doc["opened"]["total"] == 8


def test_the_terminal_tables_fit_80_columns_and_say_the_documents_figures(cli, month, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    text = ok(cli("report", "quality", *PERIOD, today=TODAY)).stdout
    assert max(cell_len(line) for line in text.splitlines()) <= 80, text
    doc = report(cli)
    assert f"Returns opened: {doc['opened']['total']}" in text
    assert "No fault found: 1 of 3 examined (33.3%)" in text
    assert "█" in text  # the bars
    for m in doc["models"]["top"]:
        assert m["model"] in text
    assert "$200.00" in text and "SN-1" in text


def test_the_csv_is_the_documents_figures_one_a_line(cli, month):
    doc = report(cli)
    rows = list(csv.DictReader(io.StringIO(ok(cli("report", "quality", *PERIOD, "--csv", today=TODAY)).stdout)))
    figures = {(r["section"], r["key"], r["figure"]): r["value"] for r in rows}
    assert all((r["from"], r["to"]) == ("2026-11-01", TODAY) for r in rows)
    assert figures[("opened", "total", "returns")] == str(doc["opened"]["total"])
    assert figures[("findings", "all", "rate")] == str(doc["findings"]["rate"])
    assert figures[("money_at_risk", "active_holds", "amount")] == "200.00"
    assert figures[("open_by_age", "total", ">30")] == "1"
    assert figures[("time_to_close", "standard", "p90_days")] == "10"


def test_the_html_page_is_a_view_of_the_document(cli, month, tmp_path):
    doc = report(cli)
    target = tmp_path / "quality.html"
    result = ok(cli("report", "quality", *PERIOD, "--html", str(target), today=TODAY))
    assert result.stdout == "" and "wrote" in result.stderr
    page = Page(target.read_text())
    assert "script" not in page.tags and "iframe" not in page.tags and "img" not in page.tags
    assert page.csp and "default-src 'none'" in page.csp
    assert all(a.startswith("#") for a in page.addresses), page.addresses  # nothing outside the page
    expected = {chart.name: (chart.title, rows) for chart, _, rows, _ in quality_html.build_charts(doc)}
    assert set(page.charts) == {"weekly", "models", "faults", "ages", "money"} == set(expected)
    for name, chart in page.charts.items():
        title, rows = expected[name]
        assert chart["caption"] == title and chart["svg"], name
        assert title in chart["svg_text"], name  # drawn in the chart too
        assert chart["rows"][1:] == [[str(c) for c in row] for row in rows], name  # the header row, then the figures
    assert [r[0] for r in page.charts["models"]["rows"][1:]] == [m["model"] for m in doc["models"]["top"]]
    assert page.charts["faults"]["rows"][1] == ["no-video", "2", "25.0%"]
    assert page.charts["money"]["rows"][1] == ["card holds in force", "2", "$200.00"]
    for label in ("CAM-1", "no-video", "0-7", "$200.00", "2 (25.0%)"):  # labels and values drawn in the SVGs
        assert any(label in t for chart in page.charts.values() for t in chart["svg_text"]), label


def test_html_is_written_whole_and_not_over_a_file_without_force(cli, month, tmp_path):
    target = tmp_path / "quality.html"
    target.write_text("keep me")
    [line] = refused(cli("report", "quality", "--html", str(target), today=TODAY))
    assert "--force" in line and target.read_text() == "keep me"
    ok(cli("report", "quality", "--html", str(target), "--force", today=TODAY))
    assert target.read_text().startswith("<!DOCTYPE html>")
    assert cli("report", "quality", "--html", str(target), "--json", today=TODAY).exit_code == 2


def test_user_text_in_the_page_is_text(cli, tmp_path):
    ok(cli("catalog", "add", "<b>$X$</b>", "--category", "camera", "--list-price", "10"))
    ok(cli("open", "-t", "standard", "-c", "A", "-i", "<b>$X$</b>", "--on", "2026-11-02", today=TODAY))
    target = tmp_path / "q.html"
    ok(cli("report", "quality", *PERIOD, "--html", str(target), today=TODAY))
    text = target.read_text()
    assert "<B>" not in text and "&lt;B&gt;$X$&lt;/B&gt;" in text  # model names are kept upper-case
    page = Page(text)
    assert page.charts["models"]["rows"][1][0] == "<B>$X$</B>"
    assert "<B>$X$</B>" in page.charts["models"]["svg_text"]  # text in the chart, never markup or math


@given(st.dictionaries(st.integers(0, 400), st.integers(1, 50), min_size=1), st.sampled_from([0.5, 0.9]))
def test_percentile_is_the_nearest_rank(histogram, p):
    values = sorted(v for v, n in histogram.items() for _ in range(n))
    rank = -(-len(values) * int(p * 10) // 10)  # ceil(p * n) in integers
    assert percentile(histogram, p) == values[max(1, rank) - 1]


def test_the_chart_library_is_imported_by_the_html_report_only():
    import subprocess
    import sys

    code = ("import sys; from speco_returns.cli import root, quality_view, accounting, returns, events; "
            "from speco_returns.services import quality; print(any(m.startswith('matplotlib') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_month_names_the_whole_period(cli):
    ok(cli("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "100"))
    doc = json.loads(ok(cli("report", "quality", "--month", "2026-11", "--json", today="2026-12-07")).stdout)
    assert (doc["from"], doc["to"]) == ("2026-11-01", "2026-11-30")
    assert cli("report", "quality", "--month", "2026-11", "--from", "2026-11-02", today="2026-12-07").exit_code == 2
