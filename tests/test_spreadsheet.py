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

A second test reconciles a month in Calc: every money event (a re-authorization, a charge, a
late return refunded, one still in review, a cancellation after a hold, a release), both
`export ledger` and `export holds` of the month, and SUM/SUMIF/COUNTIF formulas appended
below the exported rows, computed by Calc, equal `report --json` to the cent.

Skipped when LibreOffice (`soffice`) is not installed, except in CI (the `CI` variable set),
where `.ci/run` installs `libreoffice-calc` and a missing `soffice` fails the test.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real processes: CONTRIBUTING.md

SOFFICE = shutil.which("soffice")


@pytest.fixture(autouse=True)
def _needs_soffice():
    if SOFFICE is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice is not installed (no `soffice` on PATH): CI must run the "
                        "spreadsheet tests")
        pytest.skip("LibreOffice is not installed (no `soffice` on PATH)")


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
# a processor's reference: never needs the guard (a formula-like one is refused)
HOLD_REF = "AUTH/2026:03-1"
RECEIVING_AGENT, RECEIVING_AGENT_EXPORTED = "+clerk", "'+clerk"
MODELS = {"-NEG-1": ("10", "'-NEG-1", Decimal("10")), "@AT-2": ("5", "'@AT-2", Decimal("5"))}

NUMBER_COLUMNS = {"amount", "list_price", "qty", "holds_change", "charges_change", "hold_amount",
                  "charged", "refunded"}
DATE_COLUMNS = {"date", "opened_on", "due_on", "closed_on", "authorized_on", "expires_on",
                "settled_on"}
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
        ok(cli("open", "--type", "standard", "--customer", name, "--item", "VX-100", "--yes",
               today="2026-03-02"))
    ok(cli("open", "--type", "standard", "--customer", "Model Test", "--item=-NEG-1",
           "--item=@AT-2:2", "--yes", today="2026-03-02"))

    ra = ra_of(ok(cli("open", "--type", "advanced", "--customer", ADVANCED_CUSTOMER, "--item",
                      "VX-100", "--serial", "SN12345", "--yes", today="2026-03-02")))
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
    done = subprocess.run(command, capture_output=True, text=True, timeout=CONVERT_TIMEOUT,
                          check=False)
    for source in sources:
        assert (outdir / f"{source.stem}.xlsx").is_file(), (command, done.returncode, done.stdout,
                                                            done.stderr)


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


def check_sheet(name: str, rows: list[list[str]], cells: dict, *,
                exact_unicode: bool) -> dict[str, str]:
    """Every CSV cell against Calc's cell;
    returns {csv text starting with ': how Calc kept the '}."""
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
                assert cell["type"] == "n" and Decimal(cell["value"]) == Decimal(text), (
                    f"{where}: not the number, Calc shows {shown}")
            elif r > 0 and header[col] in DATE_COLUMNS:
                serial = (date.fromisoformat(text) - CALC_EPOCH).days
                assert (cell["type"], cell["value"]) in {("n", str(serial)), ("s", text)}, (
                    f"{where}: Calc shows {shown}")
            else:
                assert cell["type"] in ("s", "inlineStr", "str"), (
                    f"{where}: not text, Calc shows {shown}")
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


@pytest.mark.sqlite_only("a hostile --agent is recorded only in a file (a server records its "
                         "login); the bytes of a server's export: test_cli_export.py")
@pytest.mark.parametrize("mode", MODES)
def test_calc_runs_no_exported_cell_and_keeps_amounts_numeric(mode, cli, tmp_path):
    build_hostile_database(cli)
    ledger = export(cli, "ledger", tmp_path / "ledger.csv")
    returns = export(cli, "returns", tmp_path / "returns.csv")

    # The exports themselves: every hostile input defused, nothing else touched.
    assert [r[2] for r in ledger[1:]] == [ADVANCED_EXPORTED, ADVANCED_EXPORTED]
    assert [(r[4], r[5], r[7], r[8], r[9], r[10]) for r in ledger[1:]] == [
        ("hold-authorized", "399.98", HOLD_REF, "tester", "399.98", "0.00"),
        ("hold-released", "399.98", HOLD_REF, RECEIVING_AGENT_EXPORTED, "-399.98", "0.00"),
    ]
    assert [r[3] for r in returns[1:]] == [*CUSTOMERS.values(), "Model Test", "Model Test",
                                           ADVANCED_EXPORTED]
    assert [(r[5], r[8]) for r in returns[1:] if r[3] == "Model Test"] == [
        (exported, str(price) + ".00") for _, exported, price in MODELS.values()]

    control = tmp_path / "control.csv"
    control.write_bytes(b"a,b\r\n=1+1,x\r\n")
    outdir = tmp_path / "xlsx"
    convert([tmp_path / "ledger.csv", tmp_path / "returns.csv", control], outdir,
            tmp_path / "lo-profile", MODES[mode])

    bare = read_xlsx(outdir / "control.xlsx").get((1, 0))
    if mode == "evaluate":
        assert bare and bare["formula"] == "1+1" and bare["value"] == "2", (
            f"Calc did not evaluate the bare =1+1: {what_calc_shows(bare)}")

    exact_unicode = mode == "evaluate"  # the default import reads UTF-8 in an 8-bit charset
    kept = check_sheet("ledger", ledger, read_xlsx(outdir / "ledger.xlsx"),
                       exact_unicode=exact_unicode)
    kept |= check_sheet("returns", returns, read_xlsx(outdir / "returns.xlsx"),
                        exact_unicode=exact_unicode)
    hostile = {*CUSTOMERS.values(), ADVANCED_EXPORTED, RECEIVING_AGENT_EXPORTED,
               *(m[1] for m in MODELS.values())}
    assert {t for t in hostile if t.startswith("'")} <= kept.keys()

    # The amounts, named: the hold and its release, and the list prices.
    ledger_cells, returns_cells = (read_xlsx(outdir / "ledger.xlsx"),
                                   read_xlsx(outdir / "returns.xlsx"))
    assert [(ledger_cells[r, 5]["type"], ledger_cells[r, 5]["value"])
            for r in (1, 2)] == [("n", "399.98"), ("n", "399.98")]
    assert [(ledger_cells[r, 9]["type"], ledger_cells[r, 9]["value"])
            for r in (1, 2)] == [("n", "399.98"), ("n", "-399.98")]
    prices = [Decimal(returns_cells[r, 8]["value"]) for r in range(1, len(returns))
              if returns_cells[r, 8]["type"] == "n"]
    assert prices == ([Decimal("399.98")] * len(CUSTOMERS)
                      + [Decimal("10"), Decimal("5"), Decimal("399.98")])

    # What Calc made of each hostile cell (shown with -rP or -s): all text, none run.
    print(f"\n[{mode}] bare =1+1 control -> {what_calc_shows(bare)}; leading ' in Calc: "
          f"{sorted(set(kept.values()))}")
    for name, rows, cells in (("returns", returns, returns_cells),
                              ("ledger", ledger, ledger_cells)):
        for (r, c), cell in sorted(cells.items()):
            text = rows[r][c]
            if r > 0 and (text.startswith("'") or not text.isascii() or '"' in text
                          or rows[0][c] in NUMBER_COLUMNS - {"qty"}):
                print(f"  {name:7} {rows[0][c]:>10} {text!r:40} -> {what_calc_shows(cell)}")


# --- a month reconciled in Calc --------------------------------------------------------------

HYPERLINK_NAME = '=HYPERLINK("http://x.test","pay here")'
MONTH = ("2026-11-01", "2026-11-30")


def build_month(cli) -> None:
    """November 2026 with every money event; three holds were taken before it (an opening
    balance)."""
    def run(*args, day):
        return ok(cli(*args, "--on", day, today=day))

    ok(cli("catalog", "add", "VX-100", "--category", "camera", "--list-price", "399.98"))
    ok(cli("catalog", "add", "VX-200", "--category", "camera", "--list-price", "1,250.05"))

    def advanced(customer, item, serials, day, ref):
        ra = ra_of(ok(cli("open", "--type", "advanced", "--customer", customer, "--item", item,
                          *(f"--serial={s}" for s in serials.split()), "--yes", "--on", day,
                          today=day)))
        run("link", ra, day=day)
        # a far expiry: the month is about money moving, not about holds that lapse
        run("hold", ra, "--ref", ref, "--expires", "2027-12-31", day=day)
        return ra

    def delivered(ra, day):
        run("ship", ra, day=day)
        run("deliver", ra, day=day)

    # held at the opening
    reauth = advanced("Re Auth Co", "VX-100", "SN-RE-1", "2026-10-20", "AUTH-OCT-1")
    # re-authorized
    run("hold", reauth, "--ref", "AUTH-NOV-1", "--expires", "2027-12-31", day="2026-11-03")
    charged = advanced("Charge Co", "VX-200:2", "SN-CH-1 SN-CH-2", "2026-09-28", "AUTH-SEP-2")
    delivered(charged, "2026-09-30")
    run("charge", charged, day="2026-11-02")  # charged in November
    refunded = advanced("Late Co", "VX-100", "SN-LATE-1", "2026-09-28", "AUTH-SEP-3")
    delivered(refunded, "2026-09-30")
    run("charge", refunded, day="2026-11-01")
    run("receive", refunded, day="2026-11-05")  # late return...
    # ...refunded in part
    run("refund", refunded, "--ref", "RF-NOV-3", "--amount", "350.50", day="2026-11-08")
    review = advanced("Review Co", "VX-100", "SN-REV-1", "2026-09-29", "AUTH-SEP-4")
    delivered(review, "2026-10-01")
    run("charge", review, day="2026-11-04")
    run("receive", review, day="2026-11-20")  # late, still in review
    cancelled = advanced("Cancel Co", "VX-200", "SN-CAN-1", "2026-11-04", "AUTH-NOV-5")
    # cancelled after a hold
    run("cancel", cancelled, "--reason", "fixed by phone", day="2026-11-06")
    released = advanced(HYPERLINK_NAME, "VX-100:2", "SN-REL-1 SN-REL-2", "2026-11-05", "AUTH-NOV-6")
    delivered(released, "2026-11-07")
    run("receive", released, day="2026-11-15")  # unit back: released
    # still held at the close
    advanced("Open Co", "VX-200", "SN-OPEN-1", "2026-11-25", "AUTH-NOV-7")


def with_formulas(source: Path, target: Path, formulas: list[str]) -> int:
    """The export, unchanged, with one formula a line below it (column A); returns the first
    formula's row."""
    data = source.read_bytes()
    lines = data.count(b"\r\n")
    quoted = ['"' + f.replace('"', '""') + '"' for f in formulas]
    target.write_bytes(data + "".join(q + "\r\n" for q in quoted).encode())
    return lines  # 0-based row of the first formula


def test_a_month_reconciles_in_calc(cli, tmp_path):
    build_month(cli)
    first, last = MONTH
    for kind in ("ledger", "holds"):
        ok(cli("export", kind, "--from", first, "--to", last, "--output",
               str(tmp_path / f"{kind}.csv"), today="2026-12-01"))
    doc = json.loads(ok(cli("report", "--json", "--from", first, "--to", last,
                            today="2026-12-01")).stdout)
    ledger = list(csv.reader((tmp_path / "ledger.csv").open(encoding="utf-8", newline="")))
    holds = list(csv.reader((tmp_path / "holds.csv").open(encoding="utf-8", newline="")))
    assert {r[4] for r in ledger[1:]} == {"hold-authorized", "hold-released", "charged", "refunded"}
    assert {r[7] for r in holds[1:]} == {"active", "released", "charged", "refunded", "cancelled"}

    n, m = len(ledger), len(holds)  # the data is rows 2..n in Calc
    L = {c: f"{chr(ord('A') + i)}2:{chr(ord('A') + i)}{n}" for i, c in enumerate(ledger[0])}
    H = {c: f"{chr(ord('A') + i)}2:{chr(ord('A') + i)}{m}" for i, c in enumerate(holds[0])}
    ledger_formulas = {}
    for name, event in (("authorized", "hold-authorized"), ("released", "hold-released"),
                        ("charged", "charged"), ("refunded", "refunded")):
        ledger_formulas[f"{name} amount"] = f'=SUMIF({L["event"]};"{event}";{L["amount"]})'
        ledger_formulas[f"{name} count"] = f'=COUNTIF({L["event"]};"{event}")'
    ledger_formulas["holds change"] = f'=SUM({L["holds_change"]})'
    ledger_formulas["charges change"] = f'=SUM({L["charges_change"]})'
    holds_formulas = {
        "active amount": f'=SUMIF({H["state"]};"active";{H["hold_amount"]})',
        "active count": f'=COUNTIF({H["state"]};"active")',
        "in review amount": f'=SUMIF({H["in_review"]};"yes";{H["charged"]})',
        "in review count": f'=COUNTIF({H["in_review"]};"yes")',
        "charged": f'=SUM({H["charged"]})',
        "refunded": f'=SUM({H["refunded"]})',
    }
    at = {"ledger": with_formulas(tmp_path / "ledger.csv", tmp_path / "ledger-sums.csv",
                                  list(ledger_formulas.values())),
          "holds": with_formulas(tmp_path / "holds.csv", tmp_path / "holds-sums.csv",
                                 list(holds_formulas.values()))}
    outdir = tmp_path / "xlsx"
    convert([tmp_path / "ledger-sums.csv", tmp_path / "holds-sums.csv"], outdir,
            tmp_path / "lo-profile", EVALUATE_FILTER)

    def computed(kind: str, formulas: dict) -> dict[str, Decimal]:
        cells = read_xlsx(outdir / f"{kind}-sums.xlsx")
        out = {}
        for i, (name, formula) in enumerate(formulas.items()):
            cell = cells.get((at[kind] + i, 0))
            assert cell and cell["formula"] and cell["type"] == "n", (
                f"{kind} {name} {formula}: Calc shows {what_calc_shows(cell)}")
            out[name] = Decimal(cell["value"]).quantize(Decimal("0.01"))
        # the exported rows themselves: text stays text (the =HYPERLINK name too),
        # numbers are numbers
        rows = ledger if kind == "ledger" else holds
        check_sheet(kind, rows, {k: c for k, c in cells.items() if k[0] < len(rows)},
                    exact_unicode=True)
        return out

    in_calc = computed("ledger", ledger_formulas) | {
        f"holds {k}": v for k, v in computed("holds", holds_formulas).items()}
    print("\nCalc:", {k: str(v) for k, v in in_calc.items()})

    def money(key):
        return Decimal(doc[key]["amount"])

    for name in ("authorized", "released", "charged", "refunded"):
        assert in_calc[f"{name} amount"] == money(name), name
        assert in_calc[f"{name} count"] == doc[name]["count"], name
    assert in_calc["holds change"] == money("closing_holds") - money("opening_holds")
    assert in_calc["charges change"] == Decimal(doc["money_kept"]["change"])
    assert in_calc["holds active amount"] == money("closing_holds")
    assert in_calc["holds active count"] == doc["closing_holds"]["count"]
    assert (in_calc["holds in review amount"] == money("in_review")
            and in_calc["holds in review count"] == doc["in_review"]["count"])
    assert (in_calc["holds charged"] == money("charged")
            and in_calc["holds refunded"] == money("refunded"))
    # and the figures are the month's, not zeros that agree with zeros:
    # held on Oct 31 399.98 (re-authorized in November) + 2 x 1,250.05 + 399.98 + 399.98;
    # authorized 399.98 + 1,250.05 + 2 x 399.98 + 1,250.05; charged 2 x 1,250.05 + 399.98 + 399.98
    assert (money("opening_holds"), money("authorized"), money("charged"), money("refunded"),
            money("in_review")) == (Decimal("3700.04"), Decimal("3700.04"), Decimal("3300.06"),
                                    Decimal("350.50"), Decimal("399.98"))
    assert money("closing_holds") == (money("opening_holds") + money("authorized")
                                      - money("released") - money("charged"))
    names = [r[1] for r in holds[1:]]
    assert "'" + HYPERLINK_NAME in names
