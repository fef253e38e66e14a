"""What the customer's e-mails say, checked against the return's facts, through the CLI on both
engines: where to send the unit and the RA number on the box, the tracking number and its
carrier's page, how to reach Speco (Reply-To, phone, hours), what the hold-expiring and overdue
notices promise and ask, and the `received` notice that ends the story."""

from __future__ import annotations

import email
import json
import os
import re
from email.policy import default

import pytest
from clihelpers import counts, ok, refused

from speco_returns.domain import inputs, tracking

TODAY = "2026-11-26"
FROM = "returns@speco.example"
ADDRESS = ["Speco Technologies", "Attn: Returns", "200 New Highway", "Amityville, NY 11701"]
SETTINGS = ("SPECO_RETURNS_SMTP", "SPECO_RETURNS_SMTP_PASSWORD", "SPECO_RETURNS_MAIL_BCC",
            "SPECO_RETURNS_RETURN_ADDRESS", "SPECO_RETURNS_REMIND", "SPECO_RETURNS_MAIL_REPLY_TO",
            "SPECO_RETURNS_SUPPORT_PHONE", "SPECO_RETURNS_SUPPORT_HOURS")


@pytest.fixture(autouse=True)
def mail(monkeypatch):
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SPECO_RETURNS_MAIL_FROM", FROM)
    return monkeypatch


def run(cli, *steps):
    for step in steps:
        ok(cli(*step, today=TODAY))


def advanced(cli, ra: str, customer: str, opened: str, *, expires: str = "2026-12-31",
             tracking: str | None = None, delivered: str | None = "2026-10-24"):
    run(cli,
        ("open", "--type", "advanced", "--customer", customer, "--email",
         f"{customer.lower()}@example.com", "--item", "O4B3", "--serial", f"SN-{ra[-1]}", "--on",
         opened, "--yes"),
        ("link", ra, "--on", opened),
        ("hold", ra, "--ref", f"AUTH-{ra[-1]}", "--expires", expires, "--on", opened),
        ("ship", ra, "--on", opened, *(("--tracking", tracking) if tracking else ())))
    if delivered:
        run(cli, ("deliver", ra, "--on", delivered))


@pytest.fixture
def seeded(cli):
    """As of 2026-11-26: RA-000001 advanced, delivered 10-24 (due 11-23: overdue), its hold
    expiring 11-28; RA-000002 standard received yesterday; TT-9 counter; RA-000003 virtual;
    RA-000004 advanced, its unit received 11-24; RA-000005 advanced, charged, its unit then
    received."""
    run(cli, ("catalog", "add", "O4B3", "--category", "camera", "--list-price", "249.99"))
    advanced(cli, "RA-000001", "Carol", "2026-10-20", expires="2026-11-28",
             tracking="1Z999AA10123456784")
    run(cli,
        ("open", "--type", "standard", "--customer", "Erin", "--email", "erin@example.com",
         "--item", "VIP-4MP", "--on", "2026-11-20", "--yes"),
        ("receive", "RA-000002", "--on", "2026-11-25"),
        ("open", "--type", "counter", "--customer", "Frank", "--email", "frank@example.com",
         "--item", "DVR-8", "--ticket", "TT-9", "--distributor", "ADI Global", "--on",
         "2026-11-20", "--yes"),
        ("open", "--type", "virtual", "--customer", "Vic", "--email", "vic@example.com", "--item",
         "O4B3", "--serial", "SN-V", "--approved-by", "Dana Lee", "--reason", "install deadline",
         "--on", "2026-11-20", "--yes"))
    advanced(cli, "RA-000004", "Gina", "2026-11-10", delivered="2026-11-12")
    run(cli, ("receive", "RA-000004", "--on", "2026-11-24"))
    advanced(cli, "RA-000005", "Hank", "2026-09-01", delivered="2026-09-05")
    run(cli, ("charge", "RA-000005", "--on", "2026-10-10"),
        ("receive", "RA-000005", "--on", "2026-11-20"))


def shown(cli, ra: str, kind: str) -> dict:
    return json.loads(ok(cli("show", ra, "--notice", kind, "--json", today=TODAY)).stdout)


DATE = (r"(?:(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), )?"
        r"(?:January|February|March|April|May|June|July|August|September|October|November|"
        r"December) [0-9]{1,2}, [0-9]{4}")


def words(text: str) -> str:
    return " ".join(text.split())


# Every notice of every return above that has it, and whether it asks for the unit back.
ASKING = [("RA-000001", k) for k in ("opened", "shipped", "delivered", "reminder", "overdue",
                                     "hold-expiring")] + [("RA-000002", "opened")]
NOT_ASKING = [("RA-000002", "received"), ("RA-000004", "received"), ("TT-9", "opened"),
              ("RA-000003", "opened")]


# --- 1. where the unit goes -----------------------------------------------------------------------


def test_every_notice_that_asks_for_the_unit_gives_the_address_and_the_ra_on_the_box(
        cli, seeded, mail):
    mail.setenv("SPECO_RETURNS_RETURN_ADDRESS", "\n".join(ADDRESS))
    for ra, kind in ASKING:
        body = shown(cli, ra, kind)["body"]
        assert "Send it to:\n" + "".join(f"    {line}\n" for line in ADDRESS) in body, (ra, kind)
        assert f"Write the RA number {ra} on the outside of the box." in words(body), (ra, kind)
    for ra, kind in NOT_ASKING:
        body = shown(cli, ra, kind)["body"]
        assert (not any(line in body for line in ADDRESS)
                and "Write the RA number" not in body), (ra, kind)
    assert ("goes back through your distributor: do not send it to Speco"
            in words(shown(cli, "TT-9", "opened")["body"]))
    assert ("You do not need to send anything to Speco"
            in words(shown(cli, "RA-000003", "opened")["body"]))


def test_without_a_return_address_the_notice_still_says_speco_and_the_ra_on_the_box(cli, seeded):
    for ra, kind in ASKING:
        assert (f"Send it back to Speco. Write the RA number {ra} on the outside of the box."
                in words(shown(cli, ra, kind)["body"]))


# --- 2. the tracking number -----------------------------------------------------------------------


@pytest.mark.parametrize("typed,carrier,page", [
    ("1Z999AA10123456784", "UPS", "https://www.ups.com/track?tracknum=1Z999AA10123456784"),
    ("1z 999 aa1 01 2345 6784", "UPS", "https://www.ups.com/track?tracknum=1Z999AA10123456784"),
    ("986578788855", "FedEx", "https://www.fedex.com/fedextrack/?trknbr=986578788855"),
    ("0414 4176 0228 964", "FedEx", "https://www.fedex.com/fedextrack/?trknbr=041441760228964"),
    ("9611020987654312345672", "FedEx",
     "https://www.fedex.com/fedextrack/?trknbr=9611020987654312345672"),
    ("9400 1112 0108 0805 4830 16", "USPS",
     "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111201080805483016"),
    ("EA123456785US", "USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels=EA123456785US"),
    ("1Z999AA10123456786", None, None),  # 1Z with a wrong check digit: no carrier vouches for it
    ("61299998820821171811", None, None),  # 20 digits: FedEx SmartPost and USPS share the form
    ("PRO-4471", None, None),  # a freight bill: as typed
])
def test_shipped_gives_the_tracking_number_and_the_carriers_page_where_its_form_names_it(
        cli, typed, carrier, page):
    run(cli, ("catalog", "add", "O4B3", "--category", "camera", "--list-price", "249.99"))
    advanced(cli, "RA-000001", "Carol", "2026-11-20", tracking=typed, delivered=None)
    body = shown(cli, "RA-000001", "shipped")["body"]
    if carrier:
        assert f"{carrier} tracking number: {typed}\nTrack it at:\n    {page}\n" in body
    else:
        assert f"Tracking number: {typed}\n" in body and "http" not in body
    assert tracking.tracking_page(typed) == ((carrier, page) if carrier else None)


def test_shipped_without_a_tracking_number_says_none_and_a_card_number_never_reaches_it(cli):
    run(cli, ("catalog", "add", "O4B3", "--category", "camera", "--list-price", "249.99"))
    advanced(cli, "RA-000001", "Carol", "2026-11-20", delivered=None)
    assert "racking" not in shown(cli, "RA-000001", "shipped")["body"]
    advanced(cli, "RA-000002", "Dora", "2026-11-20", tracking="4111111111111111", delivered=None)
    body = shown(cli, "RA-000002", "shipped")["body"]
    assert "4111111111111111" not in body and "Tracking number: ending 1111" in body


def test_a_voided_shipment_takes_its_tracking_number_with_it(cli):
    run(cli, ("catalog", "add", "O4B3", "--category", "camera", "--list-price", "249.99"))
    advanced(cli, "RA-000001", "Carol", "2026-11-20", tracking="1Z999AA10123456784", delivered=None)
    run(cli, ("void", "RA-000001", "--reason", "wrong box"),
        ("ship", "RA-000001", "--tracking", "986578788855"))
    body = shown(cli, "RA-000001", "shipped")["body"]
    assert "986578788855" in body and "1Z999AA10123456784" not in body


# --- 3. how to reach Speco ------------------------------------------------------------------------


def test_reply_to_and_a_signature_with_the_support_phone_and_hours(cli, seeded, mail, tmp_path):
    mail.setenv("SPECO_RETURNS_MAIL_REPLY_TO", "support@speco.example")
    mail.setenv("SPECO_RETURNS_SUPPORT_PHONE", "1-800-645-5516")
    mail.setenv("SPECO_RETURNS_SUPPORT_HOURS", "Monday to Friday, 8 am to 5 pm ET")
    signature = ("Speco Technical Support\n"
                 "Phone 1-800-645-5516, Monday to Friday, 8 am to 5 pm ET\n"
                 "Reply to this e-mail (support@speco.example) with any question.\n")
    for ra, kind in ASKING + NOT_ASKING:
        doc = shown(cli, ra, kind)
        assert (doc["reply_to"] == "Speco Technical Support <support@speco.example>"
                and doc["body"].endswith(signature))
    assert "(or call 1-800-645-5516)" in words(shown(cli, "RA-000001", "overdue")["body"])
    # the messages that go out carry it as a header
    ok(cli("notify", "--outbox", str(tmp_path), today=TODAY))
    sent = [email.message_from_bytes(p.read_bytes(), policy=default)
            for p in tmp_path.glob("*.eml")]
    assert (sent
            and all(m["Reply-To"].addresses[0].addr_spec == "support@speco.example" for m in sent))
    assert all(m.get_content().replace("\r\n", "\n").endswith(signature) for m in sent)


def test_without_those_settings_notices_go_out_as_before(cli, seeded, tmp_path):
    for ra, kind in ASKING + NOT_ASKING:
        doc = shown(cli, ra, kind)
        assert doc["reply_to"] is None and doc["body"].endswith("\n\nSpeco Technical Support\n")
    ok(cli("notify", "--outbox", str(tmp_path), today=TODAY))
    sent = [email.message_from_bytes(p.read_bytes(), policy=default)
            for p in tmp_path.glob("*.eml")]
    assert sent and all(m["Reply-To"] is None for m in sent)


@pytest.mark.parametrize("phone", ["+1 800 555 0100", "(800) 555-0100 x12", "800.555.0100 ext. 7",
                                   "1-800-645-5516"])
def test_a_support_phone_as_people_write_one_is_taken(cli, seeded, mail, phone):
    mail.setenv("SPECO_RETURNS_SUPPORT_PHONE", phone)
    assert f"Phone {phone}" in shown(cli, "RA-000002", "opened")["body"]


@pytest.mark.parametrize("name,value", [
    ("SPECO_RETURNS_SUPPORT_PHONE", "call after 5pm"),
    ("SPECO_RETURNS_SUPPORT_PHONE", "555-01"),
    ("SPECO_RETURNS_SUPPORT_PHONE", "1-800-FLOWERS"),
    ("SPECO_RETURNS_SUPPORT_PHONE", "800 555 0100 +1"),
    ("SPECO_RETURNS_SUPPORT_PHONE", "speco-returns notify"),
    ("SPECO_RETURNS_SUPPORT_PHONE", "800 555 0100\x1b[2J"),
    ("SPECO_RETURNS_SUPPORT_PHONE", "１８００５５５０１００"),
    ("SPECO_RETURNS_SUPPORT_HOURS", "9 to 5\nBcc: victim@evil.example"),
    ("SPECO_RETURNS_SUPPORT_HOURS", "card 4111 1111 1111 1111"),
    ("SPECO_RETURNS_MAIL_REPLY_TO", "support at speco"),
    ("SPECO_RETURNS_MAIL_REPLY_TO", "support@speco.example\r\nBcc: victim@evil.example"),
])
def test_a_contact_setting_that_is_not_what_it_names_is_one_line_and_nothing_goes_out(
        cli, seeded, mail, db_path, tmp_path, name, value):
    mail.setenv(name, value)
    before = counts(db_path)
    for args in (["notify", "--outbox", str(tmp_path)], ["notify", "--dry-run"],
                 ["show", "RA-000002", "--notice", "opened"]):
        [line] = refused(cli(*args, today=TODAY))
        assert name in line and not inputs.has_control(line) and "4111" not in line
    assert counts(db_path) == before and list(tmp_path.glob("*.eml")) == []


# --- 4 and 5. what hold-expiring and overdue promise and ask --------------------------------------


def test_hold_expiring_says_whether_a_new_link_comes_and_the_team_is_told_to_send_it(
        cli, seeded, tmp_path):
    # RA-000006: held on 11-24 until 11-28, not shipped: a replacement ships only on a hold in
    # force (AR-2)
    run(cli, ("open", "--type", "advanced", "--customer", "Ivy", "--email", "ivy@example.com",
              "--item", "O4B3", "--serial", "SN-6", "--on", "2026-11-24", "--yes"),
        ("link", "RA-000006", "--on", "2026-11-24"),
        ("hold", "RA-000006", "--ref", "AUTH-6", "--expires", "2026-11-28", "--on", "2026-11-24"))
    before_shipping = words(shown(cli, "RA-000006", "hold-expiring")["body"])
    assert "expires on November 28, 2026" in before_shipping
    assert ("Speco will send you a new e-biz link in a separate message, before the replacement "
            "ships") in before_shipping
    # RA-000001, out since 10-20: no new authorization is asked for
    shipped = words(shown(cli, "RA-000001", "hold-expiring")["body"])
    assert ("expires on November 28, 2026" in shipped
            and "Speco will not ask you for a new authorization" in shipped)
    assert "e-biz link in a separate message" not in shipped and "as a new charge" in shipped
    rows = json.loads(ok(cli("overdue", "--json", today=TODAY)).stdout)
    assert [(r["ra"], r["state"], r["action"]) for r in rows] == [
        ("RA-000001", "overdue", None), ("RA-000001", "hold-expiring", None),
        ("RA-000006", "hold-expiring", "send a new e-biz link")]
    csv_lines = ok(cli("overdue", "--csv", today=TODAY)).stdout.splitlines()
    assert csv_lines[0].endswith(
        ",unit_tracking,carrier_exception,hold_state,declined_on,action")
    assert (csv_lines[2].endswith(",lapsing,,")
            and csv_lines[3].endswith(",lapsing,,send a new e-biz link"))
    assert ("hold expires 2026-11-28: send a new e-biz link"
            in words(ok(cli("overdue", today=TODAY)).stdout))
    log = ok(cli("notify", "--outbox", str(tmp_path), today=TODAY)).stdout.splitlines()
    expiring = {ra: line for line in log if "hold-expiring" in line
                for ra in ("RA-000001", "RA-000006") if ra in line}
    assert (expiring["RA-000006"].endswith("  send a new e-biz link")
            and "e-biz" not in expiring["RA-000001"])


def test_overdue_says_from_when_the_card_may_be_charged_and_what_to_do_if_the_unit_is_on_its_way(
        cli, seeded):
    doc = shown(cli, "RA-000001", "overdue")
    body = words(doc["body"])
    assert "was due back by November 23, 2026" in body  # delivered 10-24 + 30 days
    assert "from Tuesday, November 24, 2026 the card hold of $249.99 may be charged" in body
    assert ("If the unit is already on its way back, reply with its tracking number: "
            "a unit sent back by "
            "November 23, 2026 is not late, and the card is not charged for it.") in body
    # the day from which it may be charged is the day `charge` first accepts (AR-4)
    refused(cli("charge", "RA-000001", "--on", "2026-11-23", today=TODAY))
    ok(cli("charge", "RA-000001", "--on", "2026-11-24", today=TODAY))


# --- 6. received ----------------------------------------------------------------------------------


def test_received_is_sent_once_for_a_unit_back_at_speco_and_never_for_a_late_one(
        cli, seeded, db_path, tmp_path):
    log = ok(cli("notify", "--outbox", str(tmp_path), today=TODAY)).stdout
    sent = {(m["X-Speco-Return"], str(m["X-Speco-Notice"])): m for m in
            (email.message_from_bytes(p.read_bytes(), policy=default)
             for p in tmp_path.glob("*.eml"))}
    assert ({k for k in sent if k[1] == "received"}
            == {("RA-000002", "received"), ("RA-000004", "received")})
    standard = words(sent[("RA-000002", "received")].get_content())
    assert "Speco received your unit for return RA-000002 on November 25, 2026" in standard
    assert "Speco now repairs or replaces it and ships it back to you" in standard
    advanced_ = words(sent[("RA-000004", "received")].get_content())
    assert ("Speco received the defective unit (SN-4) for return RA-000004 on November 24, 2026"
            in advanced_)
    assert ("Speco has released the card hold of $249.99, and your card will not be charged"
            in advanced_)
    assert sent[("RA-000004", "received")]["Subject"] == "RA-000004: Speco received your unit"
    # charged, then its unit came back: a supervisor's decision, no notice
    assert "RA-000005" not in log
    # recorded in the history of the closed return, once
    history = ok(cli("show", "RA-000004", "--json", today=TODAY)).stdout
    assert '"notice"' in history and json.loads(history)["status"] == "completed"
    again = ok(cli("notify", "--outbox", str(tmp_path), today=TODAY)).stdout
    assert "received" not in again
    assert json.loads(ok(cli("doctor", "--json", today=TODAY)).stdout)["ok"] is True


def test_received_is_news_for_14_days_and_a_standard_one_shipped_back_says_so(cli, tmp_path):
    run(cli,
        ("open", "--type", "standard", "--customer", "Erin", "--email", "erin@example.com",
         "--item", "VIP-4MP", "--on", "2026-11-01", "--yes"),
        ("receive", "RA-000001", "--on", "2026-11-05"),
        ("ship", "RA-000001", "--on", "2026-11-06", "--tracking", "1Z999AA10123456784"))
    body = words(shown(cli, "RA-000001", "received")["body"])
    assert "shipped the repaired or replacement unit back to you on November 6, 2026" in body
    assert "https://www.ups.com/track?tracknum=1Z999AA10123456784" in body
    assert "received" in ok(cli("notify", "--dry-run", today="2026-11-19")).stdout
    assert "received" not in ok(cli("notify", "--dry-run", today="2026-11-20")).stdout


def test_show_notice_received_refuses_what_has_not_arrived_or_cannot_arrive(cli, seeded):
    [line] = refused(cli("show", "RA-000001", "--notice", "received", today=TODAY))
    assert "has not been received" in line
    [line] = refused(cli("show", "TT-9", "--notice", "received", today=TODAY))
    assert "only standard returns and advanced replacements get the received notice" in line


# --- at an 80-column terminal, through the installed command --------------------------------------


@pytest.mark.slow
def test_every_notice_reads_whole_at_80_columns(seeded, mail):
    from ptyhelpers import screen

    mail.setenv("SPECO_RETURNS_RETURN_ADDRESS", "\n".join(ADDRESS))
    mail.setenv("SPECO_RETURNS_SUPPORT_PHONE", "1-800-645-5516")
    mail.setenv("SPECO_RETURNS_SUPPORT_HOURS", "Monday to Friday, 8 am to 5 pm ET")
    env = {**os.environ, "SPECO_RETURNS_TODAY": TODAY}
    for ra, kind in ASKING + NOT_ASKING:
        code, lines = screen(["show", ra, "--notice", kind], 80, env)
        body = [line for line in lines if not line.startswith("note: ")]
        assert code == 0 and any(ra in line for line in body), (ra, kind, lines)
        assert all(len(line) <= 72 or line.startswith("    ") for line in body
                   if not line.startswith(("Subject:", "Date:")))
        assert all(len(line) <= 80 for line in body), \
            (ra, kind, [line for line in body if len(line) > 80])
        dates = re.findall(DATE, " ".join(body))
        assert all(d in "\n".join(body) for d in dates), (ra, kind)  # never split across lines


@pytest.mark.sqlite_only("SQLite's planner")
def test_the_returns_closed_in_the_news_window_are_read_through_the_closed_index(seeded, db_path):
    from speco_returns.db import returns as db_returns
    from speco_returns.db.database import open_database

    store = open_database(db_path)
    store.raw.execute("ANALYZE")  # as a big database's statistics would make the planner weigh it
    captured = []
    store.raw.set_trace_callback(captured.append)
    found = db_returns.closed_since(store, "2026-11-12", TODAY, ("standard", "advanced"))
    store.raw.set_trace_callback(None)
    # RA-000004 completed on 11-24 (RA-000005 is open: a late return)
    assert [r["ra_no"] for r in found] == [4]
    plan = " ".join(row[3] for row in store.execute(
        "EXPLAIN QUERY PLAN " + captured[-1].replace("?", "'x'")))
    assert "USING INDEX returns_closed_type" in plan, plan
