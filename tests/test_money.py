"""Money read and written as it happened (SPEC §5, §7 "Money"): a price split by an unquoted
comma, a charge undone only at the processor, a re-authorization's new reference, the reason
on the ledger export, and the returns export as of `--to`. Through the CLI, on both engines."""

from __future__ import annotations

import csv
import functools
import io
import json

import pytest
from builders import advanced, catalog
from clihelpers import counts, ok, query, refused
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TODAY = "2026-12-31"


def csv_rows(result) -> list[dict]:
    rows = list(csv.reader(io.StringIO(result.stdout_bytes.decode("utf-8"), newline="")))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def export(cli, kind: str, *args: str, today: str = TODAY) -> list[dict]:
    return csv_rows(ok(cli("export", kind, *args, today=today)))


def ev(cli, ra: str, name: str, day: str, *args: str):
    return ok(cli(name, ra, *args, "--on", day, today=day))


# opened 09-01, linked and held the same day ("held"); shipped and delivered 09-02 ("delivered"):
# due 10-02, chargeable from 10-03
held = functools.partial(advanced, step="held", on="2026-09-01", email="a@example.com",
                         expires="2099-12-31")
delivered = functools.partial(advanced, on="2026-09-01", email="a@example.com", ship="2026-09-02",
                              expires="2099-12-31")


def show(cli, ra: str) -> dict:
    return json.loads(ok(cli("show", ra, "--json", today=TODAY)).stdout)


@pytest.fixture(autouse=True)
def _catalog(cli):
    catalog(cli, "CAM-1=250.00")


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


# --- a list price split by an unquoted comma ---------------------------------------------------------


def catalog_models(cli) -> dict[str, str]:
    return {r["model"]: r["list_price"] for r in json.loads(ok(cli("catalog", "list", "--json")).stdout)}


@pytest.mark.parametrize("header, row", [
    ("model,category,list_price,description", "DVR-8,recorder,1,299"),            # the description left out
    ("model,category,list_price,description", "DVR-8,recorder,1,299.00"),
    ("model,category,list_price,description", "DVR-8,recorder,$12,345.5"),
    ("model,list_price,description,category", "DVR-8,1,299,recorder"),             # whichever column follows
])
def test_a_price_that_could_be_split_by_an_unquoted_comma_is_refused_with_its_line(cli, db_path, tmp_path, header, row):
    before = catalog_models(cli)
    file = tmp_path / "models.csv"
    file.write_text(f"{header}\nO4B3,camera,249.99,bullet\n{row}\n" if header.startswith("model,category")
                    else f"{header}\nO4B3,249.99,bullet,camera\n{row}\n")
    lines = refused(cli("catalog", "import", str(file)))
    assert len(lines) == 1 and lines[0].startswith(f"error: {file}, line 3: list price "), lines
    assert "split by an unquoted comma" in lines[0] and "quote the price" in lines[0]
    assert catalog_models(cli) == before  # nothing imported, the good line 2 neither


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(price=st.integers(1000, 999_999), cents=st.one_of(st.none(), st.integers(0, 99)), dollar=st.booleans())
def test_no_price_written_with_a_thousands_comma_and_not_quoted_is_read_as_another(cli, tmp_path, price, cents, dollar):
    typed = ("$" if dollar else "") + f"{price:,}" + ("" if cents is None else f".{cents:02d}")
    file = tmp_path / "models.csv"
    file.write_text(f"model,category,list_price,description\nDVR-8,recorder,{typed}\n")  # description left out
    result = cli("catalog", "import", str(file))
    assert result.exit_code == 1, (typed, result.stdout)
    assert "DVR-8" not in catalog_models(cli)


def test_a_price_and_a_description_that_cannot_be_one_split_number_are_imported(cli, tmp_path):
    file = tmp_path / "models.csv"
    file.write_text('model,category,list_price,description\nDVR-8,recorder,1299,500\nDVR-9,recorder,"1,299",500\n'
                    "DVR-10,recorder,12,Model 299\nDVR-11,recorder,5,12\n")
    ok(cli("catalog", "import", str(file)))
    assert {m: p for m, p in catalog_models(cli).items() if m.startswith("DVR")} == {
        "DVR-8": "1299.00", "DVR-9": "1299.00", "DVR-10": "12.00", "DVR-11": "5.00"}


# --- a re-authorization has a new reference ----------------------------------------------------------


@pytest.mark.parametrize("again", ["AUTH-1", "auth-1"])
def test_a_re_authorization_with_a_reference_already_on_the_return_is_refused(cli, db_path, again):
    ra = held(cli, "SN-1")
    before = counts(db_path)
    lines = refused(cli("hold", ra, "--ref", again, "--on", "2026-09-03", today="2026-09-03"))
    assert lines == [f"error: reference {again} is already on {ra}'s ledger (hold-authorized on 2026-09-01): "
                     "a re-authorization has a new reference from the processor"]
    assert counts(db_path) == before
    ev(cli, ra, "hold", "2026-09-03", "--ref", "AUTH-2")  # a new one is a re-authorization
    assert [(r["hold_ref"], r["state"]) for r in export(cli, "holds")] == [
        ("AUTH-1", "released"), ("AUTH-2", "lapsed")]  # estimated: 09-10


def test_a_voided_hold_s_reference_stays_taken_on_its_return(cli, db_path):
    ra = held(cli, "SN-1")
    ok(cli("void", ra, "--reason", "hold typed on the wrong RA", today="2026-09-02"))
    lines = refused(cli("hold", ra, "--ref", "AUTH-1", "--on", "2026-09-02", today="2026-09-02"))
    assert "reference AUTH-1 is already on" in lines[0]
    other = held(cli, "SN-2", ref="AUTH-1")  # another return's ledger is its own
    assert show(cli, other)["hold_ref"] == "AUTH-1"


# --- a charge is undone at the processor, never as a slip ------------------------------------------------


def charged(cli, serial: str, *, ref: str = "AUTH-1") -> str:
    ra = delivered(cli, serial, ref=ref)
    ev(cli, ra, "charge", "2026-10-05")
    return ra


def ledger(db_path) -> list[tuple]:
    return query(db_path, "SELECT happened_on, event, amount_cents, hold_ref, reason FROM ledger ORDER BY id")


def test_void_of_a_charge_without_the_processor_s_reversal_is_refused_naming_refund_ref(cli, db_path):
    ra = charged(cli, "SN-1")
    before = counts(db_path)
    lines = refused(cli("void", ra, "--reason", "charged on the wrong RA", today="2026-10-06"))
    assert lines == ["error: a charge is money taken at the processor: it is given back only by a refund there, "
                     "recorded with `refund --ref REF` (its own reference); a charge the processor reversed is "
                     "voided by a supervisor with `void --reason TEXT --ref REF` (the reversal's reference)"]
    assert counts(db_path) == before


def test_a_charge_voided_with_the_processor_s_reversal_is_one_refunded_row_and_one_hold_row(cli, db_path):
    ra = charged(cli, "SN-1")
    result = ok(cli("void", ra, "--reason", "charged on the wrong RA", "--ref", "REV-1", "--on", "2026-10-06",
                    today="2026-10-06"))
    assert "$250.00 refunded to the card (ref REV-1)" in result.stdout and "authorized" not in result.stdout
    assert ledger(db_path) == [
        ("2026-09-01", "hold-authorized", 25000, "AUTH-1", None),
        ("2026-10-05", "charged", 25000, "AUTH-1", None),
        ("2026-10-06", "refunded", 25000, "REV-1", "void: charged on the wrong RA"),  # never a second authorization
    ]
    doc = show(cli, ra)
    assert (doc["status"], doc["hold_active"], doc["charged_on"], doc["closed_on"]) == ("replacement-delivered", False, None, None)
    assert doc["events"][-1].items() >= {"event": "void", "voided": "charge", "ref": "REV-1"}.items()
    holds = export(cli, "holds")
    assert [(h["hold_ref"], h["state"], h["charged"], h["refunded"]) for h in holds] == [("AUTH-1", "refunded", "250.00", "250.00")]
    rows = export(cli, "ledger")
    assert sum(float(r["holds_change"]) for r in rows) == 0 and sum(float(r["charges_change"]) for r in rows) == 0
    figures = json.loads(ok(cli("report", "--from", "2026-09-01", "--to", "2026-10-31", "--json", today=TODAY)).stdout)
    assert figures["balanced"] and figures["closing_holds"]["amount"] == "0.00" and figures["money_kept"]["closing"] == "0.00"
    ok(cli("doctor", today=TODAY))  # the replay writes the same rows


def test_after_a_reversed_charge_a_new_charge_needs_a_new_authorization(cli, db_path):
    ra = charged(cli, "SN-1")
    ok(cli("void", ra, "--reason", "wrong RA", "--ref", "REV-1", "--on", "2026-10-06", today="2026-10-06"))
    before = counts(db_path)
    assert refused(cli("charge", ra, "--on", "2026-10-07", today="2026-10-07"))[0].startswith(
        "error: AR-4: no card hold is in force to charge")
    assert "cannot be voided" in refused(cli("void", ra, "--reason", "undo the delivery", today="2026-10-07"))[0]
    assert counts(db_path) == before
    ev(cli, ra, "hold", "2026-10-07", "--ref", "AUTH-2")     # nothing released: the first hold was used up
    ev(cli, ra, "charge", "2026-10-08")
    assert [r[1:4] for r in ledger(db_path)[3:]] == [("hold-authorized", 25000, "AUTH-2"), ("charged", 25000, "AUTH-2")]
    holds = export(cli, "holds")
    assert [(h["hold_ref"], h["state"]) for h in holds] == [("AUTH-1", "refunded"), ("AUTH-2", "charged")]
    ok(cli("doctor", today=TODAY))


@pytest.mark.parametrize("ref, message", [
    ("AUTH-1", "reference AUTH-1 is already on"),   # the hold's own reference is not a reversal
    ("4111 1111 1111 1111", "card number"),
])
def test_a_reversal_reference_is_the_processor_s_and_new_on_the_return(cli, db_path, ref, message):
    ra = charged(cli, "SN-1")
    before = counts(db_path)
    assert message in refused(cli("void", ra, "--reason", "wrong RA", "--ref", ref, today="2026-10-06"))[0]
    assert counts(db_path) == before


def test_ref_is_refused_on_the_void_of_an_event_that_took_no_money(cli, db_path):
    ra = delivered(cli, "SN-1")
    before = counts(db_path)
    lines = refused(cli("void", ra, "--reason", "wrong date", "--ref", "REV-1", today="2026-09-03"))
    assert lines == ["error: --ref is the processor's reversal of a charge: the event voided now is `deliver` of "
                     "2026-09-02, which took no money"]
    assert counts(db_path) == before


# --- export returns as of --to ---------------------------------------------------------------------


def test_a_past_month_s_returns_export_shows_each_status_and_closed_on_as_of_to_and_never_changes(cli):
    ok(cli("catalog", "add", "CAM-2", "--category", "camera", "--list-price", "10.00"))
    done = json.loads(ok(cli("open", "--type", "standard", "--customer", "Ann", "--item", "CAM-2", "--on", "2026-11-02",
                             "--json", today="2026-11-02")).stdout)["ra"]
    ev(cli, done, "receive", "2026-11-05")
    ev(cli, done, "ship", "2026-11-09")                                  # completed on 11-09
    ok(cli("note", done, "customer called", today="2026-11-10"))
    out = delivered(cli, "SN-1")                                          # opened 09-01, delivered 09-02
    ev(cli, out, "charge", "2026-10-05")                                  # charged on 10-05
    late = held(cli, "SN-2", on="2026-11-20", ref="AUTH-2")
    ev(cli, late, "ship", "2026-11-21")
    gone = json.loads(ok(cli("open", "--type", "standard", "--customer", "Bo", "--item", "CAM-2", "--on", "2026-11-25",
                             "--json", today="2026-11-25")).stdout)["ra"]
    months = {"november": ("--from", "2026-11-01", "--to", "2026-11-30"), "autumn": ("--from", "2026-09-01", "--to", "2026-11-30")}
    before = {m: ok(cli("export", "returns", *args, today="2026-11-30")).stdout_bytes for m, args in months.items()}

    ok(cli("void", done, "--reason", "shipped on the wrong RA", "--on", "2026-12-02", today="2026-12-02"))  # unit-received
    ev(cli, out, "receive", "2026-12-03")                                 # late-return: closed_on emptied
    ok(cli("complete", out, "--note", "charge stands", "--on", "2026-12-04", today="2026-12-04"))  # closed again on 12-04
    ev(cli, late, "deliver", "2026-12-01")                                # due 12-31
    ev(cli, gone, "cancel", "2026-12-05", "--reason", "changed mind")
    after = {m: ok(cli("export", "returns", *args, today=TODAY)).stdout_bytes for m, args in months.items()}
    assert after == before  # byte for byte, on either engine
    assert [(r["ra"], r["status"], r["due_on"], r["closed_on"]) for r in csv_rows(ok(cli(
        "export", "returns", *months["autumn"], today=TODAY)))] == [
        (done, "completed", "", "2026-11-09"),                 # today: unit-received (the ship voided on 12-02)
        (out, "charged", "2026-10-02", "2026-10-05"),          # today: completed on 12-04
        (late, "replacement-shipped", "", ""),                 # today: delivered on 12-01, due 12-31
        (gone, "authorized", "", ""),                          # today: cancelled on 12-05
    ]
    # without --to, and up to today, the returns as they stand now
    now = {r["ra"]: (r["status"], r["due_on"], r["closed_on"]) for r in export(cli, "returns", "--from", "2026-09-01")}
    assert now == {out: ("completed", "2026-10-02", "2026-12-04"), done: ("unit-received", "", ""),
                   late: ("replacement-delivered", "2026-12-31", ""), gone: ("cancelled", "", "2026-12-05")}
    assert export(cli, "returns", "--from", "2026-09-01", "--to", TODAY) == export(cli, "returns", "--from", "2026-09-01")


def test_the_nightly_check_reads_the_hold_of_a_reversed_charge_as_used_up(cli):
    ra = held(cli, "SN-1")
    ev(cli, ra, "hold", "2026-09-01", "--ref", "AUTH-2", "--expires", "2026-10-09")
    ev(cli, ra, "ship", "2026-09-02")
    ev(cli, ra, "deliver", "2026-09-02")
    ev(cli, ra, "charge", "2026-10-05")
    ok(cli("void", ra, "--reason", "wrong RA", "--ref", "REV-1", "--on", "2026-10-06", today="2026-10-06"))
    rows = json.loads(ok(cli("overdue", "--as-of", "2026-10-07", "--json", today="2026-10-07")).stdout)
    assert [r["state"] for r in rows if r["ra"] == ra] == ["overdue"]  # no hold-expiring: nothing is held
