"""`notify` and `show --notice` against a real SMTP server (aiosmtpd on 127.0.0.1, in process)."""

from __future__ import annotations

import email
import json
import re
from email.policy import default

import pytest
import smtpserver
from clihelpers import ok, query, raw, refused

TODAY = "2026-11-26"
FROM = "returns@speco.example"


def seed(cli):
    """As of 2026-11-26, one return per kind of notice (and one with no e-mail)."""
    steps = [
        ("catalog", "add", "O4B3", "--category", "camera", "--list-price", "249.99"),
        # RA-000001: delivered 11-03, due 12-03: the 7-day reminder falls today
        ("open", "--type", "advanced", "--customer", "Carol's CCTV", "--email", "carol@example.com",
         "--item", "O4B3:2", "--serial", "SN-3001", "--serial", "SN-3002", "--on", "2026-10-20"),
        ("link", "RA-000001", "--on", "2026-10-20"),
        ("hold", "RA-000001", "--ref", "AUTH-1", "--expires", "2026-12-31", "--on", "2026-10-21"),
        ("ship", "RA-000001", "--on", "2026-10-22"), ("deliver", "RA-000001", "--on", "2026-11-03"),
        # RA-000002: delivered 10-20, due 11-19: overdue
        ("open", "--type", "advanced", "--customer", "Dave Doe", "--email", "dave@example.com",
         "--item", "O4B3", "--serial", "SN-4001", "--on", "2026-10-10"),
        ("link", "RA-000002", "--on", "2026-10-10"),
        ("hold", "RA-000002", "--ref", "AUTH-2", "--on", "2026-10-11"),
        ("ship", "RA-000002", "--on", "2026-10-12"), ("deliver", "RA-000002", "--on", "2026-10-20"),
        # RA-000003: standard, opened yesterday
        ("open", "--type", "standard", "--customer", "Erin Eve", "--email", "erin@example.com",
         "--item", "VIP-4MP", "--on", "2026-11-25"),
        # RA-000004: standard, no e-mail: call the customer
        ("open", "--type", "standard", "--customer", "Bob Alarm", "--phone", "555-0100", "--item",
         "DVR-8", "--on", "2026-11-25"),
        # TT-9: counter
        ("open", "--type", "counter", "--customer", "Frank Co", "--email", "frank@example.com",
         "--item", "DVR-8", "--ticket", "TT-9", "--distributor", "ADI Global", "--on",
         "2026-11-20"),
        # RA-000005: advanced, replacement shipped 11-24, not yet delivered
        ("open", "--type", "advanced", "--customer", "Gina Gee", "--email", "gina@example.com",
         "--item", "O4B3", "--serial", "SN-5001", "--on", "2026-11-20"),
        ("link", "RA-000005", "--on", "2026-11-20"),
        ("hold", "RA-000005", "--ref", "AUTH-5", "--on", "2026-11-21"),
        ("ship", "RA-000005", "--on", "2026-11-24"),
    ]
    for step in steps:
        ok(cli(*step, today=TODAY))


EXPECTED = {  # (ra, kind) -> recipient
    ("RA-000001", "reminder"): "carol@example.com",
    ("RA-000002", "overdue"): "dave@example.com",
    ("RA-000003", "opened"): "erin@example.com",
    ("TT-9", "opened"): "frank@example.com",
    ("RA-000005", "shipped"): "gina@example.com",
}


@pytest.fixture
def inbox():
    with smtpserver.listening() as box:
        yield box


@pytest.fixture
def mail_env(monkeypatch, inbox):
    monkeypatch.setenv("SPECO_RETURNS_SMTP", f"smtp://127.0.0.1:{inbox.port}?tls=off")
    monkeypatch.setenv("SPECO_RETURNS_MAIL_FROM", FROM)
    for name in ("SPECO_RETURNS_SMTP_PASSWORD", "SPECO_RETURNS_MAIL_BCC",
                 "SPECO_RETURNS_RETURN_ADDRESS", "SPECO_RETURNS_REMIND"):
        monkeypatch.delenv(name, raising=False)
    return inbox


def notices_in_history(db_path) -> list[dict]:
    rows = query(db_path, "SELECT r.ra_no, r.ticket, e.detail "
                          "FROM events e JOIN returns r ON r.id = e.return_id "
                          "WHERE e.event = 'notice' ORDER BY e.id")
    return [{"ra": ticket or f"RA-{ra_no:06d}", **json.loads(detail)}
            for ra_no, ticket, detail in rows]


def notify(cli, *args, today=TODAY):
    return cli("notify", *args, today=today)


def words(msg) -> str:
    """The body with line breaks and wrapping undone, to match phrases."""
    return " ".join(msg.get_body(("plain",)).get_content().split())


def key(msg) -> tuple[str, str]:
    return msg["X-Speco-Return"], str(msg["X-Speco-Notice"]).split(";")[0]


# --- exactly the right messages -------------------------------------------------------------------


def test_sends_every_due_notice_to_the_right_customer(cli, mail_env, db_path):
    seed(cli)
    result = ok(notify(cli))
    got = {key(r.msg): r for r in mail_env.received}
    assert set(got) == set(EXPECTED)
    for k, to in EXPECTED.items():
        r = got[k]
        assert r.rcpt_tos == [to] and r.mail_from == FROM
        assert r.msg["To"].addresses[0].addr_spec == to
        assert r.msg["From"].addresses[0].addr_spec == FROM
        assert k[0] in r.msg["Subject"] and k[0] in words(r.msg)
    # what each says, from the return's facts
    reminder = got[("RA-000001", "reminder")].msg
    assert "December 3, 2026" in reminder["Subject"]
    body = words(reminder)
    assert "$499.98" in body and "SN-3001, SN-3002" in body and "Thursday, December 3, 2026" in body
    assert reminder["X-Speco-Notice"] == "reminder; days=7"
    overdue = words(got[("RA-000002", "overdue")].msg)
    assert ("November 19, 2026" in overdue
            and "from Friday, November 20, 2026 the card hold of $249.99 may be charged" in overdue)
    counter = words(got[("TT-9", "opened")].msg)
    assert ("Tech Ticket ID TT-9" in counter and "ADI Global" in counter
            and "distributor's policy governs" in counter)
    assert "RA-" not in counter
    shipped = words(got[("RA-000005", "shipped")].msg)
    assert "30 days" in shipped and "start when you receive the replacement" in shipped
    standard = words(got[("RA-000003", "opened")].msg)
    assert "Return Authorization RA-000003" in standard and "VIP-4MP x1" in standard
    # the no-e-mail return is listed for a call, not sent
    assert ("Call the customer" in result.stdout and "RA-000004" in result.stdout
            and "555-0100" in result.stdout)
    assert "5 sent" in result.stdout and "1 no e-mail" in result.stdout
    # recorded in the history with the Message-ID that went out
    history = notices_in_history(db_path)
    assert {(h["ra"], h["kind"]) for h in history} == set(EXPECTED)
    sent_ids = {r.msg["Message-ID"] for r in mail_env.received}
    assert {h["message_id"] for h in history} == sent_ids and len(sent_ids) == 5
    assert all(h["via"] == "smtp" for h in history)


def test_the_second_run_sends_nothing(cli, mail_env, db_path):
    seed(cli)
    ok(notify(cli))
    assert len(mail_env.received) == 5
    again = ok(notify(cli))
    assert len(mail_env.received) == 5
    assert "sent" not in again.stdout.split("Call the customer")[0]
    assert len(notices_in_history(db_path)) == 5


def test_json_lists_each_notice(cli, mail_env):
    seed(cli)
    doc = json.loads(ok(notify(cli, "--json")).stdout)
    assert (doc["summary"]["sent"] == 5 and doc["summary"]["no-email"] == 1
            and doc["summary"]["failed"] == 0)
    by_key = {(n["ra"], n["kind"]): n for n in doc["notices"]}
    assert (by_key[("RA-000001", "reminder")]["days"] == 7
            and by_key[("RA-000001", "reminder")]["about"] == "2026-12-03")
    assert (by_key[("RA-000004", "opened")]["status"] == "no-email"
            and by_key[("RA-000004", "opened")]["phone"] == "555-0100")
    assert {n["message_id"] for n in doc["notices"]
            if n["status"] == "sent"} == {r.msg["Message-ID"] for r in mail_env.received}


def test_bcc_gets_a_copy_the_customer_does_not_see(cli, mail_env, monkeypatch):
    seed(cli)
    monkeypatch.setenv("SPECO_RETURNS_MAIL_BCC", "support@speco.example")
    ok(notify(cli))
    for r in mail_env.received:
        assert "support@speco.example" in r.rcpt_tos and len(r.rcpt_tos) == 2
        assert r.msg["Bcc"] is None and b"support@speco.example" not in r.raw


def test_dry_run_sends_and_records_nothing(cli, mail_env, db_path):
    seed(cli)
    result = ok(notify(cli, "--dry-run"))
    assert mail_env.received == [] and notices_in_history(db_path) == []
    assert result.stdout.count("would-send") == 5
    ok(notify(cli))
    assert len(mail_env.received) == 5  # nothing was marked sent by the dry run


# --- failures -------------------------------------------------------------------------------------


def test_a_refused_recipient_leaves_the_others_sent_and_itself_pending(cli, mail_env, db_path):
    seed(cli)
    mail_env.refuse.add("dave@example.com")
    result = notify(cli)
    lines = refused(result, code=4)
    assert (len(lines) == 1 and "RA-000002" in lines[0] and "dave@example.com" in lines[0]
            and "550" in lines[0])
    assert {key(r.msg) for r in mail_env.received} == set(EXPECTED) - {("RA-000002", "overdue")}
    assert ("RA-000002", "overdue") not in {(h["ra"], h["kind"])
                                            for h in notices_in_history(db_path)}
    # the next run tries that one again, and only that one
    mail_env.refuse.clear()
    ok(notify(cli))
    assert [key(r.msg) for r in mail_env.received[4:]] == [("RA-000002", "overdue")]
    assert len(notices_in_history(db_path)) == 5


def test_a_server_that_is_down_gives_exit_4_and_records_nothing(cli, monkeypatch, db_path):
    seed(cli)
    monkeypatch.setenv("SPECO_RETURNS_SMTP", f"smtp://127.0.0.1:{smtpserver.free_port()}?tls=off")
    monkeypatch.setenv("SPECO_RETURNS_MAIL_FROM", FROM)
    result = notify(cli, "--json")
    assert result.exit_code == 4
    doc = json.loads(result.stdout)
    assert doc["summary"]["failed"] == 5 and doc["summary"]["sent"] == 0
    assert all("cannot reach the mail server" in n["error"] for n in doc["notices"]
               if n["status"] == "failed")
    [line] = result.stderr.splitlines()  # one cause, one line
    assert line.startswith("error: cannot reach the mail server") and "5 notices not sent" in line
    assert "Traceback" not in result.output
    assert notices_in_history(db_path) == []
    assert query(db_path, "SELECT count(*) FROM notices") == [(0,)]  # nothing even claimed


def test_a_missed_night_still_sends_what_is_due(cli, mail_env):
    seed(cli)
    # nobody ran notify on 11-26 or 11-27: on 11-28 the 7-day reminder (due 12-03) still goes
    ok(notify(cli, today="2026-11-28"))
    assert ("RA-000001", "reminder") in {key(r.msg) for r in mail_env.received}
    # on 12-01 the 2-day reminder goes; on 12-04 the overdue notice; each once
    ok(notify(cli, today="2026-12-01"))
    ok(notify(cli, today="2026-12-02"))
    ok(notify(cli, today="2026-12-04"))
    carol = [r.msg["X-Speco-Notice"] for r in mail_env.received
             if r.msg["X-Speco-Return"] == "RA-000001"]
    assert carol == ["reminder; days=7", "reminder; days=2", "overdue"]


def test_no_reminder_once_the_unit_is_on_its_way_back(cli, mail_env):
    seed(cli)
    ok(cli("unit-shipped", "RA-000001", "--on", "2026-11-25", today=TODAY))
    ok(notify(cli))
    assert ("RA-000001", "reminder") not in {key(r.msg) for r in mail_env.received}


def test_remind_days_are_configurable(cli, mail_env, monkeypatch):
    seed(cli)
    ok(notify(cli, "--remind", "10", today="2026-11-23"))
    assert "reminder; days=10" in [r.msg["X-Speco-Notice"] for r in mail_env.received]
    monkeypatch.setenv("SPECO_RETURNS_REMIND", "3")
    ok(notify(cli, today="2026-11-30"))
    assert "reminder; days=3" in [r.msg["X-Speco-Notice"] for r in mail_env.received]
    assert refused(notify(cli, "--remind", "30"))[0].startswith("error: --remind")


# --- the outbox -----------------------------------------------------------------------------------


def test_outbox_files_parse_back_with_the_email_package(cli, mail_env, tmp_path, db_path):
    seed(cli)
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    result = ok(notify(cli, "--outbox", str(outbox)))
    assert mail_env.received == []  # written, not sent
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 5 and "5 written" in result.stdout
    parsed = {}
    for path in files:
        with open(path, "rb") as handle:
            msg = email.message_from_binary_file(handle, policy=default)
        assert not msg.defects
        parsed[key(msg)] = msg
    assert set(parsed) == set(EXPECTED)
    for k, to in EXPECTED.items():
        assert parsed[k]["To"].addresses[0].addr_spec == to and parsed[k]["Message-ID"]
    assert "$499.98" in words(parsed[("RA-000001", "reminder")])
    assert {h["message_id"] for h in notices_in_history(db_path)} == {
        m["Message-ID"] for m in parsed.values()}
    ok(notify(cli, "--outbox", str(outbox)))  # recorded: not written again
    assert len(list(outbox.glob("*.eml"))) == 5 and len(notices_in_history(db_path)) == 5


def test_dry_run_outbox_writes_files_for_review_and_records_nothing(cli, tmp_path, db_path,
                                                                    monkeypatch):
    seed(cli)
    monkeypatch.setenv("SPECO_RETURNS_MAIL_FROM", FROM)
    outbox = tmp_path / "review"
    outbox.mkdir()
    ok(notify(cli, "--dry-run", "--outbox", str(outbox)))
    assert len(list(outbox.glob("*.eml"))) == 5 and notices_in_history(db_path) == []


def test_outbox_names_never_share_a_file_across_tickets(cli, mail_env, tmp_path, db_path):
    """Tickets that differ only in a character a file name cannot keep each get their own file."""
    tickets = ["TT/1", "TT_1", "TT:1", "TT-1", "TT.1", "TT_2f1"]
    for ticket in tickets:
        ok(cli("open", "--type", "counter", "--customer", "Frank Co", "--email",
               "frank@example.com", "--item", "DVR-8", "--ticket", ticket, "--distributor", "ADI",
               "--on", "2026-11-25", today=TODAY))
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    ok(notify(cli, "--outbox", str(outbox)))
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == len(tickets)
    written = {}
    for path in files:
        with open(path, "rb") as handle:
            msg = email.message_from_binary_file(handle, policy=default)
        written[msg["X-Speco-Return"]] = msg["Message-ID"]
        assert all(ch.isascii() and (ch.isalnum() or ch in "-_.") for ch in path.name)
    assert set(written) == set(tickets)
    # each recorded with its own file
    assert {h["ra"]: h["message_id"] for h in notices_in_history(db_path)} == written


def test_outbox_never_overwrites_another_message(cli, mail_env, tmp_path, db_path):
    seed(cli)
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    ok(notify(cli, "--dry-run", "--outbox", str(outbox)))
    [review] = outbox.glob("RA-000003-*.eml")
    before = review.read_bytes()
    for other in outbox.glob("*.eml"):
        if other != review:
            other.unlink()
    [line] = refused(notify(cli, "--outbox", str(outbox)), code=4)
    assert "RA-000003" in line and "exists and holds another message" in line
    assert review.read_bytes() == before  # the file there is kept
    assert len(list(outbox.glob("*.eml"))) == 5 and len(notices_in_history(db_path)) == 4
    review.unlink()  # moved away: the next run writes it
    ok(notify(cli, "--outbox", str(outbox)))
    assert len(notices_in_history(db_path)) == 5


def test_a_retry_rewrites_its_own_file(tmp_path):
    """A run killed between writing and recording leaves its file; the retry (same Message-ID)
    replaces it."""
    from email.message import EmailMessage

    from speco_returns import mailer

    box = mailer.Outbox(tmp_path)
    msg = EmailMessage()
    msg["Message-ID"] = "<1.RA-000001@speco.example>"
    msg.set_content("first")
    box.send(msg, "RA-000001-opened-2026-11-26")
    msg.set_content("again")
    box.send(msg, "RA-000001-opened-2026-11-26")
    assert b"again" in (tmp_path / "RA-000001-opened-2026-11-26.eml").read_bytes()
    other = EmailMessage()
    other["Message-ID"] = "<2.RA-000001@speco.example>"
    other.set_content("another")
    with pytest.raises(mailer.Failed, match="holds another message"):
        box.send(other, "RA-000001-opened-2026-11-26")


# --- the log (cron) -------------------------------------------------------------------------------


def test_every_log_line_starts_with_the_run_time_and_as_of_day(cli, mail_env, db_path):
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 as-of 2026-11-26  "
    ok(cli("catalog", "add", "O4B3", "--category", "camera", "--list-price", "249.99"))
    [line] = ok(notify(cli)).stdout.splitlines()
    assert re.match(stamp + "No notice is due.$", line), line
    seed(cli)
    for args in ((), ("--dry-run",), ()):
        lines = notify(cli, *args).stdout.splitlines()
        assert len(lines) > 1 and all(re.match(stamp, line) for line in lines), lines
        assert len({line[:25] for line in lines}) == 1  # one run, one time
    assert "Call the customer" in lines[0] and lines[-1].endswith("  1 no e-mail")
    logged = notify(cli, "--dry-run", "--as-of", "2026-12-01").stdout.splitlines()
    assert all(" as-of 2026-12-01  " in line for line in logged)


# --- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize("env,expected", [
    ({"SPECO_RETURNS_SMTP": None}, "SPECO_RETURNS_SMTP is not set"),
    ({"SPECO_RETURNS_MAIL_FROM": None}, "SPECO_RETURNS_MAIL_FROM is not set"),
    ({"SPECO_RETURNS_MAIL_FROM": "returns"}, "SPECO_RETURNS_MAIL_FROM is not an e-mail address"),
    ({"SPECO_RETURNS_MAIL_BCC": "a@b.example\r\nX: y"},
     "SPECO_RETURNS_MAIL_BCC is not an e-mail address"),
    ({"SPECO_RETURNS_SMTP": "http://mail.example"}, "SPECO_RETURNS_SMTP is not a URL"),
    ({"SPECO_RETURNS_SMTP": "smtp://mail.example:99999"}, "SPECO_RETURNS_SMTP is not a URL"),
    ({"SPECO_RETURNS_SMTP": "smtp://ann:Secr3t-pw@mail.example"},
     "put it in SPECO_RETURNS_SMTP_PASSWORD"),
    ({"SPECO_RETURNS_SMTP": "smtp://ann@mail.example"}, "SPECO_RETURNS_SMTP_PASSWORD is not set"),
    ({"SPECO_RETURNS_SMTP_PASSWORD": "Secr3t-pw"}, "names no user"),
    ({"SPECO_RETURNS_SMTP": "smtp://mail.example?tls=off"}, "only for a relay on this machine"),
])
def test_bad_settings_exit_1_and_send_nothing(cli, mail_env, monkeypatch, db_path, env, expected):
    seed(cli)
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    result = notify(cli)
    lines = refused(result)
    assert len(lines) == 1 and expected in lines[0]
    assert "Secr3t-pw" not in result.output
    assert mail_env.received == [] and notices_in_history(db_path) == []


def test_a_future_as_of_is_only_a_preview(cli, mail_env):
    seed(cli)
    assert "in the future" in refused(notify(cli, "--as-of", "2026-12-04"))[0]
    result = ok(notify(cli, "--as-of", "2026-12-04", "--dry-run"))
    assert "RA-000001  overdue" in result.stdout and mail_env.received == []


# --- safe headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("field,value", [
    ("--customer", "Mallory\r\nBcc: victim@evil.example"),
    ("--customer", "Mallory\nSubject: free money"),
    ("--email", "mallory@evil.example\r\nBcc: victim@evil.example"),
    ("--email", "mallory@evil.example, victim@evil.example"),
    ("--email", "Mallory <mallory@evil.example>"),
    ("--email", "not-an-address"),
])
def test_line_breaks_and_extra_addresses_are_refused_at_input(cli, db_path, field, value):
    args = {"--customer": "Acme", "--email": "ops@acme.example", field: value}
    result = cli("open", "--type", "standard", "--customer", args["--customer"], "--email",
                 args["--email"], "--item", "X", today=TODAY)
    assert len(refused(result)) == 1


def test_a_stored_name_with_line_breaks_cannot_forge_headers(cli, mail_env, db_path):
    """A row written before input refused control characters: encoded on output, never a header."""
    seed(cli)
    with raw(db_path) as conn:
        conn.execute("UPDATE returns SET customer = ? WHERE ra_no = 3",
                     ["Erin\r\nBcc: victim@evil.example\r\nSubject: pwned"])
    ok(notify(cli))
    erin = [r for r in mail_env.received if r.msg["X-Speco-Return"] == "RA-000003"]
    assert len(erin) == 1 and erin[0].rcpt_tos == ["erin@example.com"]
    msg = erin[0].msg
    assert msg["Bcc"] is None and "pwned" not in msg["Subject"] and len(msg.get_all("Subject")) == 1
    assert msg["To"].addresses[0].addr_spec == "erin@example.com"
    assert b"\r\nBcc:" not in erin[0].raw and b"\r\nSubject: pwned" not in erin[0].raw


def test_a_name_beyond_ascii_is_encoded(cli, mail_env):
    ok(cli("open", "--type", "standard", "--customer", "Zoë Ñúñez", "--email", "zoe@example.com",
           "--item", "X", today=TODAY))
    ok(notify(cli))
    [r] = mail_env.received
    assert r.raw.isascii()  # RFC 2047 headers, quoted-printable body
    assert r.msg["To"].addresses[0].display_name == "Zoë Ñúñez"
    assert "Hello Zoë Ñúñez," in words(r.msg)


def test_a_serial_that_looks_like_a_card_number_never_reaches_a_message(cli, mail_env):
    card = "4111111111111111"
    ok(cli("open", "--type", "standard", "--customer", "Acme", "--email", "ops@acme.example",
           "--item", "X", "--serial", card, today=TODAY))
    ok(notify(cli))
    [r] = mail_env.received
    assert card not in r.raw.decode() and "ending 1111" in words(r.msg)


# --- show --notice --------------------------------------------------------------------------------


def test_show_notice_prints_the_message_as_it_would_be_sent(cli, mail_env, monkeypatch):
    seed(cli)
    monkeypatch.setenv("SPECO_RETURNS_RETURN_ADDRESS",
                       "Speco Technologies\nReturns Dept.\n200 New Highway")
    shown = ok(cli("show", "RA-000001", "--notice", "delivered", today=TODAY)).stdout
    assert shown.startswith(f"From: Speco Technical Support <{FROM}>\nTo: Carol's CCTV "
                            "<carol@example.com>\nSubject: ")
    assert "December 3, 2026" in shown and "$499.98" in shown and "    200 New Highway" in shown
    doc = json.loads(ok(cli("show", "RA-000001", "--notice", "reminder", "--json",
                            today=TODAY)).stdout)
    assert (doc["to"] == "Carol's CCTV <carol@example.com>" and "RA-000001" in doc["subject"]
            and "$499.98" in doc["body"])
    # the same text goes out
    ok(notify(cli))
    sent = {key(r.msg): r.msg for r in mail_env.received}
    assert words(sent[("RA-000001", "reminder")]) == " ".join(doc["body"].split())


@pytest.mark.parametrize("ra,kind,expected", [
    ("RA-000003", "shipped", "only advanced replacements get the shipped notice"),
    ("RA-000005", "delivered", "no delivery is recorded"),
    ("RA-000001", "thanks", "unknown notice"),
])
def test_show_notice_refuses_what_the_return_cannot_get(cli, ra, kind, expected):
    seed(cli)
    lines = refused(cli("show", ra, "--notice", kind, today=TODAY))
    assert len(lines) == 1 and expected in lines[0]


@pytest.mark.parametrize("ra,kind", [("RA-000001", "opened"), ("RA-000001", "shipped"),
                                     ("RA-000001", "delivered"), ("RA-000001", "reminder"),
                                     ("RA-000001", "overdue"), ("RA-000001", "hold-expiring"),
                                     ("RA-000003", "opened"), ("TT-9", "opened"),
                                     ("RA-000004", "opened")])
def test_show_notice_every_kind(cli, ra, kind):
    seed(cli)
    shown = ok(cli("show", ra, "--notice", kind, today=TODAY)).stdout
    assert ra in shown and shown.rstrip().endswith("Speco Technical Support")


# --- TLS and login -------------------------------------------------------------------------------

PASSWORD = "Tr0ub4dor&3-not-printed"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made by the openssl command."""
    import os
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        if os.environ.get("CI"):
            pytest.fail("openssl is needed for the TLS tests")
        pytest.skip("no openssl command")
    folder = tmp_path_factory.mktemp("tls")
    cert, key_file = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                    str(key_file), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key_file


def _server_context(certificate):
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def tls_env(monkeypatch, certificate):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # the client trusts our test authority
    monkeypatch.setenv("SPECO_RETURNS_MAIL_FROM", FROM)
    monkeypatch.setenv("SPECO_RETURNS_SMTP_PASSWORD", PASSWORD)
    for name in ("SPECO_RETURNS_MAIL_BCC", "SPECO_RETURNS_RETURN_ADDRESS", "SPECO_RETURNS_REMIND"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_starttls_and_login_by_default(cli, tls_env, certificate, db_path):
    box = smtpserver.Inbox()
    controller = smtpserver.start(box, tls_context=_server_context(certificate),
                                  require_starttls=True, auth_required=True,
                                  authenticator=smtpserver.login("ann@speco.example", PASSWORD))
    try:
        seed(cli)
        tls_env.setenv("SPECO_RETURNS_SMTP",
                       f"smtp://ann%40speco.example@127.0.0.1:{controller.port}")
        result = ok(notify(cli))
        assert {key(r.msg) for r in box.received} == set(EXPECTED)
        assert PASSWORD not in result.output
    finally:
        controller.stop()


def test_smtps_is_implicit_tls(cli, tls_env, certificate):
    box = smtpserver.Inbox()
    # aiosmtpd does not count implicit TLS as TLS for AUTH: allow it
    # (the connection is TLS from the start)
    controller = smtpserver.start(box, ssl_context=_server_context(certificate),
                                  auth_require_tls=False,
                                  authenticator=smtpserver.login("ann", PASSWORD))
    try:
        seed(cli)
        tls_env.setenv("SPECO_RETURNS_SMTP", f"smtps://ann@127.0.0.1:{controller.port}")
        ok(notify(cli))
        assert len(box.received) == 5
    finally:
        controller.stop()


def test_a_server_without_starttls_is_refused_not_sent_in_clear(cli, tls_env, db_path):
    box = smtpserver.Inbox()
    controller = smtpserver.start(box)  # no TLS at all
    try:
        seed(cli)
        tls_env.delenv("SPECO_RETURNS_SMTP_PASSWORD")
        tls_env.setenv("SPECO_RETURNS_SMTP", f"smtp://127.0.0.1:{controller.port}")
        lines = refused(notify(cli), code=4)
        assert ("does not offer STARTTLS" in lines[0] and box.received == []
                and notices_in_history(db_path) == [])
    finally:
        controller.stop()


def test_a_wrong_password_fails_without_printing_it(cli, tls_env, certificate, db_path):
    box = smtpserver.Inbox()
    controller = smtpserver.start(box, tls_context=_server_context(certificate),
                                  require_starttls=True, auth_required=True,
                                  authenticator=smtpserver.login("ann", "the-right-one"))
    try:
        seed(cli)
        tls_env.setenv("SPECO_RETURNS_SMTP", f"smtp://ann@127.0.0.1:{controller.port}")
        for args in ((), ("--json",)):
            result = notify(cli, *args)
            assert result.exit_code == 4 and PASSWORD not in result.output
        assert "refused the login for ann" in result.stderr
        assert box.received == [] and notices_in_history(db_path) == []
    finally:
        controller.stop()


def test_an_untrusted_certificate_is_refused(cli, tls_env, certificate, db_path):
    tls_env.delenv("SSL_CERT_FILE")
    tls_env.setenv("SSL_CERT_FILE", "/nonexistent/ca.pem")
    box = smtpserver.Inbox()
    controller = smtpserver.start(box, tls_context=_server_context(certificate),
                                  require_starttls=True)
    try:
        seed(cli)
        tls_env.delenv("SPECO_RETURNS_SMTP_PASSWORD")
        tls_env.setenv("SPECO_RETURNS_SMTP", f"smtp://127.0.0.1:{controller.port}")
        lines = refused(notify(cli), code=4)
        assert "cannot reach the mail server" in lines[0] and box.received == []
    finally:
        controller.stop()


# --- stored addresses the `email` package cannot carry: that notice fails, the others go ----------

# Each passed `open` before it checked addresses with the message builder's own rules.
UNCARRIABLE = ["dave..doe@example.com", ".dave@example.com", "dave.@example.com",
               "dave@example..com", "dave@.example.com", "dave@example.com.", "dävé@example.com",
               "ｄａｖｅ@example.com", "=?utf-8?q?dave?=@example.com", "dave@exämple.com",
               "dave at example dot com"]


def two_returns(cli):
    for name, address in (("Dave Doe", "dave@example.com"), ("Erin Eve", "erin@example.com")):
        ok(cli("open", "--type", "standard", "--customer", name, "--email", address, "--item",
               "DVR-8", "--on", "2026-11-25", today=TODAY))


@pytest.mark.parametrize("address", UNCARRIABLE)
def test_a_stored_address_the_email_package_refuses_fails_its_notice_only(
        cli, mail_env, db_path, tmp_path, address):
    two_returns(cli)
    with raw(db_path) as conn:  # as a row from before the check holds it
        conn.execute("UPDATE returns SET email = ? WHERE ra_no = 1", [address])
    for args in (("--dry-run", "--json"), ("--dry-run",)):
        result = notify(cli, *args)
        assert result.exit_code == 4 and "Traceback" not in result.output, result.output
    doc = json.loads(notify(cli, "--dry-run", "--json").stdout)
    assert [(n["ra"], n["status"]) for n in doc["notices"]] == [("RA-000001", "failed"),
                                                                ("RA-000002", "would-send")]
    assert ("To: header" in doc["notices"][0]["error"]
            and "edit RA-000001 --email" in doc["notices"][0]["error"])
    [line] = refused(cli("show", "RA-000001", "--notice", "opened", today=TODAY))
    assert "RA-000001 opened" in line and "To: header" in line
    ok(cli("show", "RA-000002", "--notice", "opened", today=TODAY))
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    refused(notify(cli, "--dry-run", "--outbox", str(outbox)), code=4)
    assert [p.name for p in outbox.iterdir()] == ["RA-000002-opened-2026-11-25.eml"]
    [line] = refused(notify(cli), code=4)
    assert line.startswith("error: RA-000001 opened to ") and "To: header" in line
    assert [r.msg["X-Speco-Return"] for r in mail_env.received] == ["RA-000002"]
    assert query(db_path, "SELECT state, attempts FROM notices ORDER BY return_id") == [
        ("failed", 1), ("sent", 1)]


def test_an_address_that_cannot_be_carried_is_recorded_failed_named_by_doctor_and_goes_once_fixed(
        cli, mail_env, db_path):
    seed(cli)
    bad = {1: "carol..c@example.com", 3: "érin@example.com"}
    with raw(db_path) as conn:
        for ra_no, address in bad.items():
            conn.execute("UPDATE returns SET email = ? WHERE ra_no = ?", [address, ra_no])
        conn.execute("UPDATE returns SET email = ? WHERE ticket = 'TT-9'",
                     ["=?utf-8?q?frank?=@example.com"])
    lines = refused(notify(cli), code=4)
    assert len(lines) == 3 and all("To: header" in line for line in lines)
    assert {key(r.msg) for r in mail_env.received} == {("RA-000002", "overdue"),
                                                       ("RA-000005", "shipped")}
    failed = query(db_path, "SELECT last_error FROM notices WHERE state = 'failed'")
    assert len(failed) == 3 and all("To: header" in error for (error,) in failed)
    refused(notify(cli), code=4)  # tried again each run; what went is not sent again
    assert len(mail_env.received) == 2
    assert query(db_path, "SELECT DISTINCT attempts FROM notices WHERE state = 'failed'") == [(2,)]
    result = cli("doctor")
    assert result.exit_code == 1 and "Traceback" not in result.output
    named = [line for line in result.stderr.splitlines() if "e-mail on file" in line]
    assert [line.split(":")[1].strip() for line in named] == ["RA-000001", "RA-000003", "TT-9"]
    assert "edit RA-000001 --email" in named[0]
    ok(cli("edit", "RA-000001", "--email", "carol@example.com", today=TODAY))
    refused(notify(cli), code=4)
    assert ("RA-000001", "reminder") in {key(r.msg) for r in mail_env.received}
    named = [line for line in cli("doctor").stderr.splitlines() if "e-mail on file" in line]
    assert [line.split(":")[1].strip() for line in named] == ["RA-000003", "TT-9"]


def test_doctor_names_at_most_five_returns_and_counts_the_rest(cli, mail_env, db_path):
    for n in range(7):
        ok(cli("open", "--type", "standard", "--customer", f"C{n}", "--email", f"c{n}@example.com",
               "--item", "DVR-8", "--on", "2026-11-25", today=TODAY))
    with raw(db_path) as conn:
        conn.execute("UPDATE returns SET email = 'c..c@example.com'")
    refused(notify(cli), code=4)
    named = [line for line in cli("doctor").stderr.splitlines() if "e-mail on file" in line]
    assert len(named) == 6 and "2 more open return(s)" in named[-1]


def test_a_message_the_email_package_cannot_build_fails_its_notice_only(cli, mail_env, db_path):
    """Any stored value, not only the address: a ticket with a line break cannot be a header."""
    seed(cli)
    with raw(db_path) as conn:
        conn.execute("UPDATE returns SET ticket = ? WHERE ticket = 'TT-9'",
                     ["TT-9\nBcc: x@example.com"])
    result = notify(cli, "--dry-run", "--json")
    assert result.exit_code == 4 and "Traceback" not in result.output
    [tt] = [n for n in json.loads(result.stdout)["notices"] if n["ra"].startswith("TT-9")]
    assert tt["status"] == "failed" and "cannot be built" in tt["error"]
    refused(notify(cli), code=4)
    assert (len(mail_env.received) == 5 - 1 and all("x@example.com" not in r.rcpt_tos
                                                    for r in mail_env.received))


def test_a_notice_changes_no_state_and_does_not_bound_later_dates(cli, mail_env):
    seed(cli)
    before = json.loads(ok(cli("show", "RA-000001", "--json", today=TODAY)).stdout)
    ok(notify(cli))
    after = json.loads(ok(cli("show", "RA-000001", "--json", today=TODAY)).stdout)
    assert after["status"] == before["status"] and after["events"][-1]["event"] == "notice"
    [reminder] = [r.msg for r in mail_env.received if key(r.msg) == ("RA-000001", "reminder")]
    assert after["events"][-1]["message_id"] == reminder["Message-ID"]
    # a unit shipped back yesterday can still be recorded with yesterday's date
    ok(cli("unit-shipped", "RA-000001", "--on", "2026-11-25", today=TODAY))
