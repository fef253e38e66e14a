"""Money read and written as it happened (SPEC §5, §7 "Money"): a price split by an unquoted
comma, a charge undone only at the processor, a re-authorization's new reference, the reason
on the ledger export, and the returns export as of `--to`. Through the CLI, on both engines."""

from __future__ import annotations

import csv
import io
import json

import pytest
from clihelpers import counts, ok, query, refused

TODAY = "2026-12-31"


def csv_rows(result) -> list[dict]:
    rows = list(csv.reader(io.StringIO(result.stdout_bytes.decode("utf-8"), newline="")))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def export(cli, kind: str, *args: str, today: str = TODAY) -> list[dict]:
    return csv_rows(ok(cli("export", kind, *args, today=today)))


def ev(cli, ra: str, name: str, day: str, *args: str):
    return ok(cli(name, ra, *args, "--on", day, today=day))


def advanced(cli, serial: str, opened: str = "2026-09-01", *, ref: str = "AUTH-1") -> str:
    doc = json.loads(ok(cli("open", "--type", "ar", "--customer", "Acme", "--email", "a@example.com",
                            "--item", "CAM-1", f"--serial={serial}", "--on", opened, "--json", today=opened)).stdout)
    ev(cli, doc["ra"], "link", opened)
    ev(cli, doc["ra"], "hold", opened, "--ref", ref)
    return doc["ra"]


def delivered(cli, serial: str, *, ref: str = "AUTH-1") -> str:
    """Held 09-01, shipped and delivered 09-02: due 10-02, chargeable from 10-03."""
    ra = advanced(cli, serial, ref=ref)
    ev(cli, ra, "ship", "2026-09-02")
    ev(cli, ra, "deliver", "2026-09-02")
    return ra


def show(cli, ra: str) -> dict:
    return json.loads(ok(cli("show", ra, "--json", today=TODAY)).stdout)


@pytest.fixture(autouse=True)
def catalog(cli):
    ok(cli("catalog", "add", "CAM-1", "--category", "camera", "--list-price", "250.00"))


# --- the reason of a charge on the ledger export ---------------------------------------------------


def test_a_stalled_parcel_s_charge_reason_is_the_ledger_export_s_last_column(cli):
    ra = delivered(cli, "SN-1")
    ev(cli, ra, "unit-shipped", "2026-09-20")                       # in time; stalled from 10-04
    ev(cli, ra, "charge", "2026-10-05", "--reason", "=Dana Lee: parcel lost, carrier claim 7781")
    result = ok(cli("export", "ledger", today=TODAY))
    assert result.stdout_bytes.startswith(
        b"date,ra,customer,type,event,amount,currency,hold_ref,agent,holds_change,charges_change,reason\r\n")
    rows = csv_rows(result)
    # free text: formula-guarded like the other text cells; rows with no reason leave it empty
    assert [(r["event"], r["reason"]) for r in rows] == [
        ("hold-authorized", ""), ("charged", "'=Dana Lee: parcel lost, carrier claim 7781")]
