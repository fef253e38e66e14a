"""The accounting CSV (SPEC §5): columns, date range, files, byte-order mark, formula safety.

CSV is read back with the csv module from the raw bytes (click's Result.stdout folds CRLF).
"""

from __future__ import annotations

import codecs
import csv
import errno
import functools
import io
import json
import os
import re
import sqlite3
import tempfile
from decimal import Decimal

import pytest
from builders import advanced, catalog
from clihelpers import ok, refused
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from speco_returns.cli import accounting as export
from speco_returns.cli import app
from speco_returns.domain.inputs import has_control

LEDGER_COLUMNS = ["date", "ra", "customer", "type", "event", "amount", "currency", "hold_ref", "agent",
                  "holds_change", "charges_change", "reason"]
RETURNS_COLUMNS = ["ra", "type", "status", "customer", "opened_on", "model", "category", "qty", "list_price", "serials",
                   "due_on", "closed_on", "fault", "finding"]
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
AMOUNT = re.compile(r"[0-9]+\.[0-9]{2}")


# --- helpers ----------------------------------------------------------------------------


def parse(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8")
    assert not text.startswith("\ufeff"), "a byte-order mark only with --bom"
    return list(csv.reader(io.StringIO(text, newline="")))


def exported(cli, kind, *args, today="2026-12-31") -> list[dict]:
    result = ok(cli("export", kind, *args, today=today))
    rows = parse(result.stdout_bytes)
    assert rows[0] == (LEDGER_COLUMNS if kind == "ledger" else RETURNS_COLUMNS)
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def event(cli, ra, name, day, *args):
    return ok(cli(name, ra, *args, today=day))


# linked and held on the day it was opened
held = functools.partial(advanced, step="held", expires="2099-12-31")


@pytest.fixture(autouse=True)
def _catalog(cli):
    catalog(cli, "CAM-1=$1,299.99", "CAM-2=0.05")


@pytest.fixture
def books(cli):
    """Money on three days and returns of every type opened on three days."""
    a = held(cli, ["A-SN00", "A-SN01"], on="2026-11-01", customer="Acme Security", ref="AUTH-100")  # RA-000001
    event(cli, a, "ship", "2026-11-02")
    event(cli, a, "deliver", "2026-11-03")
    event(cli, a, "receive", "2026-11-05")                                        # completed, hold released
    b = held(cli, "B-SN00", on="2026-11-05", customer="Bob's Cameras", ref="AUTH-200")  # RA-000002
    event(cli, b, "cancel", "2026-11-10", "--reason", "fixed on the phone")         # hold released
    ok(cli("open", "--type", "standard", "--customer", "Carl", "--item", "CAM-2:3", "--item", "OTHER",
           "--serial", "CAM-2=S-0001", "--serial", "CAM-2=S-0002", today="2026-11-10"))  # RA-000003
    ok(cli("open", "--type", "otc", "--customer", "Dana", "--item", "CAM-1", "--ticket", "TT-9", "--distributor", "ADI",
           today="2026-11-10"))
    return a, b


# --- the ledger -------------------------------------------------------------------------------


def test_ledger_columns_and_rows(cli, books):
    result = ok(cli("export", "ledger", today="2026-12-31"))
    assert result.stdout_bytes.startswith(
        b"date,ra,customer,type,event,amount,currency,hold_ref,agent,holds_change,charges_change,reason\r\n")  # RFC 4180
    rows = exported(cli, "ledger")
    assert [(r["date"], r["ra"], r["customer"], r["event"], r["amount"], r["hold_ref"]) for r in rows] == [
        ("2026-11-01", "RA-000001", "Acme Security", "hold-authorized", "2599.98", "AUTH-100"),
        ("2026-11-05", "RA-000001", "Acme Security", "hold-released", "2599.98", "AUTH-100"),
        ("2026-11-05", "RA-000002", "Bob's Cameras", "hold-authorized", "1299.99", "AUTH-200"),
        ("2026-11-10", "RA-000002", "Bob's Cameras", "hold-released", "1299.99", "AUTH-200"),
    ]
    assert {(r["type"], r["currency"], r["agent"]) for r in rows} == {("advanced", "USD", "tester")}


def test_ledger_charge_and_late_return(cli):
    """A late return is not a money movement: the charge stands in the ledger, nothing is added."""
    ra = held(cli, "A-SN00", on="2026-10-01", customer="Acme", ref="AUTH-7")
    event(cli, ra, "ship", "2026-10-02")
    event(cli, ra, "deliver", "2026-11-01")
    event(cli, ra, "charge", "2026-12-02")
    event(cli, ra, "receive", "2026-12-09")
    rows = exported(cli, "ledger")
    assert [(r["date"], r["event"], r["amount"], r["holds_change"], r["charges_change"]) for r in rows] == [
        ("2026-10-01", "hold-authorized", "1299.99", "1299.99", "0.00"),
        ("2026-12-02", "charged", "1299.99", "-1299.99", "1299.99")]


def test_ledger_range_is_inclusive(cli, books):
    def dates(*args):
        return [r["date"] for r in exported(cli, "ledger", *args)]

    assert dates("--from", "2026-11-05", "--to", "2026-11-05") == ["2026-11-05", "2026-11-05"]
    assert dates("--from", "2026-11-01", "--to", "2026-11-05") == ["2026-11-01", "2026-11-05", "2026-11-05"]
    assert dates("--from", "2026-11-02") == ["2026-11-05", "2026-11-05", "2026-11-10"]
    assert dates("--to", "2026-11-04") == ["2026-11-01"]
    assert dates("--from", "11/10/2026", "--to", "Nov 10 2026") == ["2026-11-10"]
    assert dates("--from", "2026-11-11") == []
    assert dates("--to", "2026-10-31") == []


def test_ledger_totals_match_the_hold_amounts_shown(cli):
    """Per event, the ledger's total is the sum of the hold amounts `show --json` reports for those returns."""
    released = held(cli, ["A-SN00", "A-SN01", "A-SN02"], on="2026-10-01", customer="Acme")  # 3 x 1,299.99
    event(cli, released, "ship", "2026-10-02")
    event(cli, released, "receive", "2026-10-09")
    rehold = held(cli, [f"B-SN{n:02d}" for n in range(7)], on="2026-10-01", customer="Bob", model="CAM-2")  # 7 x 0.05
    event(cli, rehold, "hold", "2026-10-05", "--ref", "AUTH-2", "--expires", "2099-12-31")
    charged = held(cli, "C-SN00", on="2026-10-01", customer="Carl")
    event(cli, charged, "ship", "2026-10-01")
    event(cli, charged, "deliver", "2026-10-02")
    event(cli, charged, "charge", "2026-11-02")
    event(cli, charged, "receive", "2026-11-03")
    cancelled = held(cli, ["D-SN00", "D-SN01"], on="2026-10-01", customer="Dana")
    event(cli, cancelled, "cancel", "2026-10-03", "--reason", "duplicate")

    hold = {ra: Decimal(json.loads(ok(cli("show", ra, "--json")).stdout)["hold_amount"])
            for ra in (released, rehold, charged, cancelled)}
    assert hold == {released: Decimal("3899.97"), rehold: Decimal("0.35"), charged: Decimal("1299.99"), cancelled: Decimal("2599.98")}

    rows = exported(cli, "ledger")
    for r in rows:
        assert Decimal(r["amount"]) == hold[r["ra"]], r
    totals: dict[str, Decimal] = {}
    for r in rows:
        totals[r["event"]] = totals.get(r["event"], Decimal(0)) + Decimal(r["amount"])
    assert totals == {
        "hold-authorized": hold[released] + 2 * hold[rehold] + hold[charged] + hold[cancelled],
        "hold-released": hold[released] + hold[rehold] + hold[cancelled],
        "charged": hold[charged],
    }
    # what is still held is exactly the re-authorized hold, counted once
    assert totals["hold-authorized"] - totals["hold-released"] - totals["charged"] == hold[rehold]
    assert sum(Decimal(r["holds_change"]) for r in rows) == hold[rehold]
    assert sum(Decimal(r["charges_change"]) for r in rows) == hold[charged]


# --- the returns -------------------------------------------------------------------------------


def test_returns_columns_and_rows(cli, books):
    result = ok(cli("export", "returns", today="2026-12-31"))
    assert result.stdout_bytes.split(b"\r\n")[0] == ",".join(RETURNS_COLUMNS).encode()
    rows = exported(cli, "returns")
    assert [tuple(r.values()) for r in rows] == [
        ("RA-000001", "advanced", "completed", "Acme Security", "2026-11-01", "CAM-1", "camera", "2", "1299.99",
         "A-SN00;A-SN01", "2026-12-03", "2026-11-05", "", ""),
        ("RA-000002", "advanced", "cancelled", "Bob's Cameras", "2026-11-05", "CAM-1", "camera", "1", "1299.99",
         "B-SN00", "", "2026-11-10", "", ""),
        ("RA-000003", "standard", "authorized", "Carl", "2026-11-10", "CAM-2", "camera", "3", "0.05",
         "S-0001;S-0002", "", "", "", ""),
        ("RA-000003", "standard", "authorized", "Carl", "2026-11-10", "OTHER", "", "1", "", "", "", "", "", ""),
        ("TT-9", "counter", "ticket-issued", "Dana", "2026-11-10", "CAM-1", "camera", "1", "1299.99", "", "", "", "", ""),
    ]


def test_returns_range_is_inclusive(cli, books):
    def ras(*args):
        return [r["ra"] for r in exported(cli, "returns", *args)]

    assert ras("--from", "2026-11-05", "--to", "2026-11-05") == ["RA-000002"]
    assert ras("--from", "2026-11-01", "--to", "2026-11-05") == ["RA-000001", "RA-000002"]
    assert ras("--from", "2026-11-10") == ["RA-000003", "RA-000003", "TT-9"]
    assert ras("--to", "2026-11-01") == ["RA-000001"]
    assert ras("--from", "2026-11-11") == []


@pytest.mark.parametrize("kind", ["ledger", "returns"])
def test_header_even_without_data(cli, kind):
    header = LEDGER_COLUMNS if kind == "ledger" else RETURNS_COLUMNS
    result = ok(cli("export", kind))
    assert result.stdout_bytes == (",".join(header) + "\r\n").encode()
    assert exported(cli, kind, "--from", "2030-01-01") == []


@pytest.mark.parametrize("kind", ["ledger", "returns"])
def test_amounts_are_plain_two_decimal_numbers(cli, books, kind):
    column = "amount" if kind == "ledger" else "list_price"
    values = [r[column] for r in exported(cli, kind) if r[column]]
    assert values and all(AMOUNT.fullmatch(v) for v in values), values
    assert "0.05" in values or kind == "ledger"


@pytest.mark.parametrize("args", [["--from", "2026-12-02", "--to", "2026-12-01"], ["--from", "yesterday-ish"], ["--to", "2026-02-30"]])
@pytest.mark.parametrize("kind", ["ledger", "returns"])
def test_bad_range(cli, tmp_path, kind, args):
    out = tmp_path / "out" / "x.csv"
    out.parent.mkdir()
    result = cli("export", kind, *args, "--output", str(out))
    assert len(refused(result)) == 1
    assert result.stdout == ""
    assert os.listdir(out.parent) == []


# --- files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ledger", "returns"])
def test_output_writes_the_file(cli, books, tmp_path, kind):
    out = tmp_path / "out" / f"{kind}.csv"
    out.parent.mkdir()
    result = ok(cli("export", kind, "--output", str(out), today="2026-12-31"))
    assert result.stdout == ""
    assert out.read_bytes() == ok(cli("export", kind, today="2026-12-31")).stdout_bytes
    assert os.listdir(out.parent) == [out.name]


def test_output_refuses_to_overwrite_without_force(cli, books, tmp_path):
    out = tmp_path / "out" / "ledger.csv"
    out.parent.mkdir()
    out.write_text("keep me\n", encoding="utf-8")
    result = cli("export", "ledger", "--output", str(out))
    assert len(refused(result)) == 1
    assert "--force" in result.stderr
    assert out.read_text(encoding="utf-8") == "keep me\n"
    assert os.listdir(out.parent) == ["ledger.csv"]

    ok(cli("export", "ledger", "--output", str(out), "--force"))
    assert parse(out.read_bytes())[0] == LEDGER_COLUMNS
    assert len(parse(out.read_bytes())) == 5
    assert os.listdir(out.parent) == ["ledger.csv"]


def test_bom(cli, books, tmp_path):
    result = ok(cli("export", "returns", "--bom"))
    assert result.stdout_bytes.startswith(codecs.BOM_UTF8 + b"ra,type,")
    assert result.stdout_bytes.count(codecs.BOM_UTF8) == 1
    plain = ok(cli("export", "returns")).stdout_bytes
    assert result.stdout_bytes == codecs.BOM_UTF8 + plain

    out = tmp_path / "ledger.csv"
    ok(cli("export", "ledger", "--bom", "--output", str(out)))
    data = out.read_bytes()
    assert data.startswith(codecs.BOM_UTF8 + b"date,ra,")
    assert data[len(codecs.BOM_UTF8):] == ok(cli("export", "ledger")).stdout_bytes


def fail_after_first_row(monkeypatch, exc: BaseException):
    """The CSV writer gets one row written, then the next one fails."""
    real = export.write_csv

    def write_csv(stream, header, rows):
        def rows_then_fail():
            for n, row in enumerate(rows):
                if n == 1:
                    stream.flush()
                    raise exc
                yield row

        return real(stream, header, rows_then_fail())

    monkeypatch.setattr(export, "write_csv", write_csv)


def database_error(backend: str) -> Exception:
    """What the engine's driver raises when the database fails while rows are read."""
    if backend == "postgres":
        import psycopg

        return psycopg.OperationalError("server closed the connection unexpectedly")
    return sqlite3.OperationalError("disk I/O error")


@pytest.mark.parametrize("kind", ["ledger", "returns"])
def test_failed_export_leaves_no_file(cli, books, tmp_path, monkeypatch, kind, backend):
    out = tmp_path / "out" / "x.csv"
    out.parent.mkdir()
    fail_after_first_row(monkeypatch, database_error(backend))
    result = cli("export", kind, "--output", str(out))
    assert len(refused(result)) == 1
    assert os.listdir(out.parent) == []


def test_failed_export_keeps_the_old_file_whole(cli, books, tmp_path, monkeypatch, backend):
    out = tmp_path / "out" / "ledger.csv"
    out.parent.mkdir()
    out.write_text("last month\n", encoding="utf-8")
    fail_after_first_row(monkeypatch, database_error(backend))
    refused(cli("export", "ledger", "--output", str(out), "--force"))
    assert out.read_text(encoding="utf-8") == "last month\n"
    assert os.listdir(out.parent) == ["ledger.csv"]


@pytest.mark.sqlite_only("a file that is not a database")
def test_export_from_an_unreadable_database_leaves_no_file(cli, db_path, tmp_path):
    db_path.write_bytes(b"this is not a database, it is a shopping list" * 100)
    for leftover in (db_path.with_name("returns.db-wal"), db_path.with_name("returns.db-shm")):
        leftover.unlink(missing_ok=True)
    out = tmp_path / "out" / "x.csv"
    out.parent.mkdir()
    for kind in ("ledger", "returns"):
        assert len(refused(cli("export", kind, "--output", str(out)))) == 1
        assert os.listdir(out.parent) == []


def test_disk_full_during_export_is_a_clear_error_and_leaves_no_file(cli, books, tmp_path, monkeypatch):
    """A full disk (or any OS error while writing) is one `error:` line, exit 1, and no file."""
    out = tmp_path / "out" / "ledger.csv"
    out.parent.mkdir()
    fail_after_first_row(monkeypatch, OSError(errno.ENOSPC, "No space left on device"))
    result = cli("export", "ledger", "--output", str(out))
    assert os.listdir(out.parent) == []
    assert len(refused(result)) == 1


def test_output_onto_a_folder_is_a_clear_error(cli, books, tmp_path):
    """`--output` naming an existing folder, even with --force: one `error:` line, the folder untouched, no temp file."""
    folder = tmp_path / "out" / "ledger.csv"
    folder.mkdir(parents=True)
    result = cli("export", "ledger", "--output", str(folder), "--force")
    assert folder.is_dir() and os.listdir(folder) == []
    assert os.listdir(folder.parent) == ["ledger.csv"]
    assert len(refused(result)) == 1


def test_output_to_a_missing_folder(cli, tmp_path):
    result = cli("export", "ledger", "--output", str(tmp_path / "no" / "such" / "x.csv"))
    assert len(refused(result)) == 1
    assert not (tmp_path / "no").exists()


# --- formula safety --------------------------------------------------------------------------------


def defused(text: str) -> str:
    return "'" + text if text.startswith(TRIGGERS) else text


def assert_no_formula(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(TRIGGERS), (cell, row)


def test_formula_cells_are_prefixed(cli):
    ok(cli("catalog", "add", "--category", "camera", "--list-price", "10", "--", "=CMD|'/C calc'!A0"))
    ok(cli("open", "--type", "ar", "--customer", '=HYPERLINK("http://x.test","pay")', "--item", "=cmd|'/c calc'!a0",
           "--serial", "-SN-0001", today="2026-12-01"))
    event(cli, "RA-000001", "link", "2026-12-01")
    refused(cli("hold", "RA-000001", "--ref", "@SUM(1+1)", today="2026-12-01"))  # a reference is never a formula
    event(cli, "RA-000001", "hold", "2026-12-01", "--ref", "AUTH/2026:12-01_x.9",
          "--expires", "2099-12-31")  # no lapse row
    event(cli, "RA-000001", "ship", "2026-12-01")
    event(cli, "RA-000001", "deliver", "2026-12-01")  # overdue from 2027-01-01
    ok(cli("open", "--type", "otc", "--customer", "+1 (555) 0100", "--item", "-X", "--ticket", "=1+2", "--distributor", "D",
           today="2026-12-01"))
    ok(cli("open", "--type", "standard", "--customer", "-Acme", "--item", "@X", today="2026-12-01"))
    ok(cli("open", "--type", "standard", "--customer", "'quoted", "--item", "A=B", today="2026-12-01"))

    ledger = parse(ok(cli("export", "ledger")).stdout_bytes)
    returns = parse(ok(cli("export", "returns")).stdout_bytes)
    assert_no_formula(ledger)
    assert_no_formula(returns)
    assert ledger[1][2] == "'" + '=HYPERLINK("http://x.test","pay")' and ledger[1][7] == "AUTH/2026:12-01_x.9"
    assert [(r[0], r[3], r[5], r[9]) for r in returns[1:]] == [
        ("RA-000001", "'" + '=HYPERLINK("http://x.test","pay")', "'=CMD|'/C CALC'!A0", "'-SN-0001"),
        ("'=1+2", "'+1 (555) 0100", "'-X", ""),
        ("RA-000002", "'-Acme", "'@X", ""),  # the counter return took no RA number
        ("RA-000003", "'quoted", "A=B", ""),  # already text: left alone
    ]
    listed = parse(ok(cli("list", "--csv", today="2026-12-01")).stdout_bytes)
    late = parse(ok(cli("overdue", "--csv", "--as-of", "2027-01-01", today="2026-12-01")).stdout_bytes)
    assert_no_formula(listed)
    assert_no_formula(late)
    assert [row[3] for row in listed[1:]] == ["'quoted", "'-Acme", "'+1 (555) 0100", "'" + '=HYPERLINK("http://x.test","pay")']
    assert [row[:3] for row in late[1:]] == [["RA-000001", "'" + '=HYPERLINK("http://x.test","pay")', "overdue"]]


# Free text as an agent might type it: anything, often led by a formula character.
# Control characters are refused at input (SPEC §6): a leading tab, CR or LF is trimmed away, others never stored.
_printable = st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs")), max_size=24)
free_text = st.one_of(
    _printable,
    st.builds(lambda lead, rest: lead + rest, st.sampled_from(["=", "+", "-", "@", "\t", "\r", "'", " ", "\n", "\t="]),
              _printable),
)


def plain(text: str) -> str:
    """Trimmed, without the control characters the tool refuses at input (issue 11)."""
    return "".join(ch for ch in text if not has_control(ch)).strip()


def few_digits(text: str) -> bool:
    """Fewer than 13 ASCII digits cannot hold a card number (SPEC §6), so the tool must accept it."""
    return sum(ch in "0123456789" for ch in text) < 13


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    # Control characters are refused at input (issue 11); tickets are ASCII (NFKC) keys.
    customer=free_text.map(plain).filter(lambda s: s and few_digits(s)),
    model=free_text.map(lambda s: s.strip().upper()).filter(lambda s: s and len(s) <= 64 and s.isprintable() and ":" not in s),
    ref=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_./:-]{0,63}", fullmatch=True).filter(few_digits),
    ticket=free_text.map(lambda s: "".join(ch for ch in s if ch.isascii() and ch.isprintable()).strip())
                    .filter(lambda s: s and len(s) <= 64 and few_digits(s) and not s.upper().startswith("RA-")),
)
def test_any_text_comes_back_from_the_csv(customer, model, ref, ticket):
    """Customer, model and ticket come back unchanged but for a leading `'` before a formula character; a
    processor reference (SPEC §5: letters, digits, `-_./:`, led by a letter or digit) comes back exactly.

    Values are given as the tool stores them (trimmed; models upper-cased, SPEC §4). Each example
    gets its own database in a fresh temporary folder: hypothesis does not reset function fixtures.
    """
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as folder:
        db = os.path.join(folder, "returns.db")

        def run(*args):
            result = runner.invoke(app, ["--db", db, *args], env={"SPECO_RETURNS_TODAY": "2026-12-10"})
            assert result.exit_code == 0, (args, result.stdout, result.stderr, result.exception)
            return result

        run("catalog", "add", "--category", "camera", "--list-price", "10", "--", model)
        run("open", "--type", "advanced", f"--customer={customer}", f"--item={model}", "--serial", "SN-0001")
        run("link", "RA-000001")
        run("hold", "RA-000001", f"--ref={ref}")
        run("open", "--type", "counter", f"--customer={customer}", "--item=X", f"--ticket={ticket}", "--distributor=D")
        files = {}
        for kind in ("ledger", "returns"):
            path = os.path.join(folder, f"{kind}.csv")
            run("export", kind, "--output", path)
            with open(path, newline="", encoding="utf-8") as handle:
                files[kind] = list(csv.reader(handle))

    ledger, returns = files["ledger"], files["returns"]
    assert ledger[0] == LEDGER_COLUMNS and returns[0] == RETURNS_COLUMNS
    assert len(ledger) == 2 and len(returns) == 3
    row = dict(zip(LEDGER_COLUMNS, ledger[1], strict=True))
    assert (row["customer"], row["hold_ref"], row["ra"]) == (defused(customer), ref, "RA-000001")
    first, second = (dict(zip(RETURNS_COLUMNS, r, strict=True)) for r in returns[1:])
    assert (first["ra"], first["customer"], first["model"]) == ("RA-000001", defused(customer), defused(model))
    assert (second["ra"], second["customer"], second["model"]) == (defused(ticket), defused(customer), "X")
    assert_no_formula(ledger)
    assert_no_formula(returns)
