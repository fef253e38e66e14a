"""The accounting CSV opened in a real spreadsheet (SPEC §5): LibreOffice Calc runs no cell.

The database is built through the CLI with hostile text (formula-looking customers, a DDE
hold reference, catalog models starting with `-` and `@`, a hostile agent), both exports are
written, and `soffice --headless --convert-to xlsx` imports them as Calc would. The xlsx is
read back with zipfile + ElementTree: no cell may hold a formula (`<f>`), every text cell
must be text equal to the CSV's (its leading `'` shown, or consumed as Calc's text marker),
and amounts must be numbers.

Two imports are checked:
- `default`: `--convert-to xlsx` with no filter options, what a headless double-click gets.
  Calc 7.4 evaluates a cell starting with `=` here, and reads the file in a legacy 8-bit
  charset (UTF-8 text, and a byte-order mark, come out garbled), so non-ASCII cells are only
  checked to be text in this mode.
- `evaluate`: `--infilter` with UTF-8 and token 13 ("Evaluate formulas") on. A control file
  holding a bare `=1+1` proves, in the same run, that Calc does evaluate formulas and that
  this reader sees them.

Skipped when LibreOffice (`soffice`) is not installed.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

SOFFICE = shutil.which("soffice")
pytestmark = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed (no `soffice` on PATH)")

CONVERT_TIMEOUT = 180  # seconds for one soffice run (first start builds a fresh profile)
# Comma, double quote, UTF-8 (76), from line 1, no column formats, system language, quoted
# field not forced to text, no special-number detection, three export-only tokens, sheet -1,
# then token 13: Evaluate formulas = true.
EVALUATE_FILTER = "Text - txt - csv (StarCalc):44,34,76,1,,0,false,false,false,false,false,-1,true"
MODES = {"default": None, "evaluate": EVALUATE_FILTER}

# What an agent types -> what the export must hold (the CLI trims the tab and the CR).
CUSTOMERS = {
    "=1+1": "'=1+1",
    '=HYPERLINK("http://x","click")': '\'=HYPERLINK("http://x","click")',
    "+1+2": "'+1+2",
    "-2+3": "'-2+3",
    "@SUM(1,2)": "'@SUM(1,2)",
    "\t=2+5": "'=2+5",
    "\r-7+8": "'-7+8",
    'Smith, "Bob" & Co': 'Smith, "Bob" & Co',
    "Zoë Ünïcødé 株式会社": "Zoë Ünïcødé 株式会社",
}
ADVANCED_CUSTOMER, ADVANCED_EXPORTED = "=10*10", "'=10*10"
HOLD_REF, HOLD_REF_EXPORTED = "=cmd|calc", "'=cmd|calc"
RECEIVING_AGENT, RECEIVING_AGENT_EXPORTED = "+clerk", "'+clerk"
MODELS = {"-NEG-1": ("10", "'-NEG-1", Decimal("10")), "@AT-2": ("5", "'@AT-2", Decimal("5"))}

NUMBER_COLUMNS = {"amount", "list_price", "qty"}
DATE_COLUMNS = {"date", "opened_on", "due_on", "closed_on"}
CALC_EPOCH = date(1899, 12, 30)
NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


# --- building the database through the CLI ------------------------------------------------


def ok(result):
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def ra_of(result) -> str:
    line = next(line for line in result.stdout.splitlines() if line.startswith("RA number: "))
    return line.removeprefix("RA number: ").strip()


def build_hostile_database(cli) -> None:
    ok(cli("catalog", "add", "VX-100", "--category", "camera", "--list-price", "399.98"))
    for model, (price, _, _) in MODELS.items():
        ok(cli("catalog", "add", "--category", "other", "--list-price", price, "--", model))
    for name in CUSTOMERS:
        ok(cli("open", "--type", "standard", "--customer", name, "--item", "VX-100", "--yes", today="2026-03-02"))
    ok(cli("open", "--type", "standard", "--customer", "Model Test", "--item=-NEG-1", "--item=@AT-2:2", "--yes", today="2026-03-02"))

    ra = ra_of(ok(cli("open", "--type", "advanced", "--customer", ADVANCED_CUSTOMER, "--item", "VX-100",
                      "--serial", "SN12345", "--yes", today="2026-03-02")))
    ok(cli("link", ra, today="2026-03-03"))
    ok(cli("hold", ra, "--ref", HOLD_REF, today="2026-03-03"))
    ok(cli("ship", ra, "--tracking", "1Z999", today="2026-03-04"))
    ok(cli("deliver", ra, today="2026-03-06"))
    ok(cli("--agent", RECEIVING_AGENT, "receive", ra, today="2026-03-09"))


def export(cli, kind: str, target: Path) -> list[list[str]]:
    ok(cli("export", kind, "--output", str(target), today="2026-03-10"))
    with target.open(encoding="utf-8", newline="") as stream:
        return list(csv.reader(stream))


# --- LibreOffice and the xlsx it writes ---------------------------------------------------


def convert(sources: list[Path], outdir: Path, profile: Path, infilter: str | None) -> None:
    command = [SOFFICE, "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}"]
    if infilter:
        command.append(f"--infilter={infilter}")
    command += ["--convert-to", "xlsx", "--outdir", str(outdir), *map(str, sources)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=CONVERT_TIMEOUT, check=False)
    for source in sources:
        assert (outdir / f"{source.stem}.xlsx").is_file(), (command, done.returncode, done.stdout, done.stderr)


def column_index(ref: str) -> int:
    letters = ref.rstrip("0123456789")
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - ord("A") + 1
    return index - 1


def read_xlsx(path: Path) -> dict[tuple[int, int], dict]:
    """(row, column) from 0 -> {type, value, formula, quote_prefix} for the first sheet."""
    with zipfile.ZipFile(path) as book:
        names = set(book.namelist())
        shared = []
        if "xl/sharedStrings.xml" in names:
            for si in ET.fromstring(book.read("xl/sharedStrings.xml")).iter(f"{NS}si"):
                shared.append("".join(t.text or "" for t in si.iter(f"{NS}t")))
        formats = ET.fromstring(book.read("xl/styles.xml")).find(f"{NS}cellXfs")
        quoted = [xf.get("quotePrefix") in ("1", "true") for xf in formats.iter(f"{NS}xf")]
        sheet = ET.fromstring(book.read("xl/worksheets/sheet1.xml"))
    cells = {}
    for c in sheet.iter(f"{NS}c"):
        kind, v, f = c.get("t", "n"), c.find(f"{NS}v"), c.find(f"{NS}f")
        value = v.text if v is not None else None
        if kind == "s":
            value = shared[int(value)]
        elif kind == "inlineStr":
            value = "".join(t.text or "" for t in c.iter(f"{NS}t"))
        row = int(c.get("r").lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")) - 1
        cells[row, column_index(c.get("r"))] = {
            "type": kind, "value": value, "formula": None if f is None else (f.text or ""),
            "quote_prefix": quoted[int(c.get("s", "0"))],
        }
    return cells


def what_calc_shows(cell: dict | None) -> str:
    if cell is None:
        return "(empty)"
    if cell["formula"] is not None:
        return f"FORMULA ={cell['formula']} -> {cell['value']!r}"
    return f"{cell['type']}:{cell['value']!r}" + (" [quotePrefix]" if cell["quote_prefix"] else "")


def check_sheet(name: str, rows: list[list[str]], cells: dict, *, exact_unicode: bool) -> dict[str, str]:
    """Every CSV cell against Calc's cell; returns {csv text starting with ': how Calc kept the '}."""
    formulas = {k: what_calc_shows(c) for k, c in cells.items() if c["formula"] is not None}
    assert not formulas, f"{name}: Calc made formulas of {formulas}"
    header, apostrophes = rows[0], {}
    for r, row in enumerate(rows):
        for col, text in enumerate(row):
            cell, where = cells.get((r, col)), f"{name} row {r + 1} {header[col]} from CSV {text!r}"
            shown = what_calc_shows(cell)
            if text == "":
                assert cell is None or cell["value"] in (None, ""), f"{where}: Calc shows {shown}"
                continue
            assert cell is not None, f"{where}: Calc shows nothing"
            if r > 0 and header[col] in NUMBER_COLUMNS:
                assert cell["type"] == "n" and Decimal(cell["value"]) == Decimal(text), f"{where}: not the number, Calc shows {shown}"
            elif r > 0 and header[col] in DATE_COLUMNS:
                serial = (date.fromisoformat(text) - CALC_EPOCH).days
                assert (cell["type"], cell["value"]) in {("n", str(serial)), ("s", text)}, f"{where}: Calc shows {shown}"
            else:
                assert cell["type"] in ("s", "inlineStr", "str"), f"{where}: not text, Calc shows {shown}"
                if not exact_unicode and not text.isascii():
                    continue
                if text.startswith("'") and cell["value"] == text[1:]:
                    apostrophes[text] = "consumed as text marker"
                else:
                    assert cell["value"] == text, f"{where}: Calc shows {shown}"
                    if text.startswith("'"):
                        apostrophes[text] = "shown"
    return apostrophes


# --- the test -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_calc_runs_no_exported_cell_and_keeps_amounts_numeric(mode, cli, tmp_path):
    build_hostile_database(cli)
    ledger = export(cli, "ledger", tmp_path / "ledger.csv")
    returns = export(cli, "returns", tmp_path / "returns.csv")

    # The exports themselves: every hostile input defused, nothing else touched.
    assert [r[2] for r in ledger[1:]] == [ADVANCED_EXPORTED, ADVANCED_EXPORTED]
    assert [(r[4], r[5], r[7], r[8]) for r in ledger[1:]] == [
        ("hold-authorized", "399.98", HOLD_REF_EXPORTED, "tester"),
        ("hold-released", "399.98", HOLD_REF_EXPORTED, RECEIVING_AGENT_EXPORTED),
    ]
    assert [r[3] for r in returns[1:]] == [*CUSTOMERS.values(), "Model Test", "Model Test", ADVANCED_EXPORTED]
    assert [(r[5], r[8]) for r in returns[1:] if r[3] == "Model Test"] == [(exported, str(price) + ".00") for _, exported, price in MODELS.values()]

    control = tmp_path / "control.csv"
    control.write_bytes(b"a,b\r\n=1+1,x\r\n")
    outdir = tmp_path / "xlsx"
    convert([tmp_path / "ledger.csv", tmp_path / "returns.csv", control], outdir, tmp_path / "lo-profile", MODES[mode])

    bare = read_xlsx(outdir / "control.xlsx").get((1, 0))
    if mode == "evaluate":
        assert bare and bare["formula"] == "1+1" and bare["value"] == "2", f"Calc did not evaluate the bare =1+1: {what_calc_shows(bare)}"

    exact_unicode = mode == "evaluate"  # the default import reads UTF-8 in an 8-bit charset
    kept = check_sheet("ledger", ledger, read_xlsx(outdir / "ledger.xlsx"), exact_unicode=exact_unicode)
    kept |= check_sheet("returns", returns, read_xlsx(outdir / "returns.xlsx"), exact_unicode=exact_unicode)
    hostile = {*CUSTOMERS.values(), ADVANCED_EXPORTED, HOLD_REF_EXPORTED, RECEIVING_AGENT_EXPORTED, *(m[1] for m in MODELS.values())}
    assert {t for t in hostile if t.startswith("'")} <= kept.keys()

    # The amounts, named: the hold and its release, and the list prices.
    ledger_cells, returns_cells = read_xlsx(outdir / "ledger.xlsx"), read_xlsx(outdir / "returns.xlsx")
    assert [(ledger_cells[r, 5]["type"], ledger_cells[r, 5]["value"]) for r in (1, 2)] == [("n", "399.98"), ("n", "399.98")]
    prices = [Decimal(returns_cells[r, 8]["value"]) for r in range(1, len(returns)) if returns_cells[r, 8]["type"] == "n"]
    assert prices == [Decimal("399.98")] * len(CUSTOMERS) + [Decimal("10"), Decimal("5"), Decimal("399.98")]

    # What Calc made of each hostile cell (shown with -rP or -s): all text, none run.
    print(f"\n[{mode}] bare =1+1 control -> {what_calc_shows(bare)}; leading ' in Calc: {sorted(set(kept.values()))}")
    for name, rows, cells in (("returns", returns, returns_cells), ("ledger", ledger, ledger_cells)):
        for (r, c), cell in sorted(cells.items()):
            text = rows[r][c]
            if r > 0 and (text.startswith("'") or not text.isascii() or '"' in text or rows[0][c] in NUMBER_COLUMNS - {"qty"}):
                print(f"  {name:7} {rows[0][c]:>10} {text!r:40} -> {what_calc_shows(cell)}")
