"""Tracking aggregators' signed webhooks: the signatures as AfterShip and EasyPost make them
(vectors computed with openssl, not with the code under test), the events read into rows, and
`deliveries serve` as a real process on 127.0.0.1 keeping each event once until `deliveries
import --inbox` applies it through the same import."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import unicodedata
import urllib.error
import urllib.request
from datetime import date

import pytest
from clihelpers import ok
from test_deliveries import TODAY, TRACK, shipped, show  # noqa: F401 - the fixture

from speco_returns.domain import webhooks

CLI = [sys.executable, "-m", "speco_returns"]


# printf '%s' '{"event_id":"e1"}' | openssl dgst -sha256 -hmac 'as-secret' -binary | base64
# printf '%s' '{"id":"evt_1"}' | openssl dgst -sha256 -hmac 'fi-secret' -hex
AFTERSHIP_VECTOR = (b'{"event_id":"e1"}', "as-secret",
                    "+ShN+oLaGQhqwajDKzMsbTCQeEgVOzZT0mkXOJ8dhF8=")
EASYPOST_VECTOR = (b'{"id":"evt_1"}', "fi-secret",
                   "hmac-sha256-hex=16e18e3afe537caaf21ec2680ffb149e08c00051820234490a7085b1fbe25168")


def test_signatures_as_the_aggregators_make_them():
    body, secret, sig = AFTERSHIP_VECTOR
    assert webhooks.signed("aftership", body, {"aftership-hmac-sha256": sig}, secret)
    body, secret, sig = EASYPOST_VECTOR
    assert webhooks.signed("easypost", body, {"x-hmac-signature": sig}, secret)
    # EasyPost normalises the secret (NFKD): the ligature ﬁ is "fi"
    assert webhooks.signed("easypost", body, {"x-hmac-signature": sig}, "\ufb01-secret")


@pytest.mark.parametrize("source, vector", [("aftership", AFTERSHIP_VECTOR),
                                            ("easypost", EASYPOST_VECTOR)])
def test_a_signature_that_does_not_match_is_refused(source, vector):
    body, secret, sig = vector
    header = webhooks.SIGNATURE_HEADERS[source]
    assert not webhooks.signed(source, body + b" ", {header: sig}, secret)
    assert not webhooks.signed(source, body, {header: sig}, secret + "x")
    assert not webhooks.signed(source, body, {}, secret)
    assert not webhooks.signed(source, body, {header: sig}, "")


def aftership_body(event_id="ev-1", tag="Delivered", subtag="Delivered_001",
                   delivered="2026-11-05T00:30:00+09:00"):
    return json.dumps({"event": "tracking_update", "event_id": event_id, "msg": {
        "tracking_number": TRACK, "slug": "ups", "tag": tag, "subtag": subtag,
        "shipment_delivery_date": delivered,
        "checkpoints": [{"checkpoint_time": "2026-11-04T08:00:00-05:00",
                         "message": "Out for delivery"}]}}).encode()


def easypost_body(event_id="evt_1", status="delivered"):
    return json.dumps({"id": event_id, "object": "Event", "description": "tracker.updated",
                       "result": {
        "object": "Tracker", "tracking_code": TRACK, "status": status,
        "status_detail": "arrived_at_destination",
        "tracking_details": [{"status": "in_transit", "datetime": "2026-11-03T10:00:00Z"},
                             {"status": status, "datetime": "2026-11-04T21:30:00-06:00",
                              "message": "Delivered"}]}}).encode()


def test_events_read_into_rows_in_the_aggregators_formats():
    row = webhooks.row(webhooks.event("aftership", aftership_body()), 1)
    assert (row.kind, row.on, row.key) == ("delivered", date(2026, 11, 5), TRACK)
    row = webhooks.row(webhooks.event("easypost", easypost_body()), 2)
    assert (row.kind, row.on) == ("delivered", date(2026, 11, 4))  # the event's own offset
    returned = webhooks.row(
        webhooks.event("aftership", aftership_body(tag="Exception", subtag="Exception_011")), 3)
    assert (returned.kind, returned.exception, returned.on) == (
        "exception", "returned-to-sender", date(2026, 11, 4))
    with pytest.raises(ValueError, match="no Tracker"):
        webhooks.event("easypost", b'{"id": "evt_2", "result": {"object": "Batch"}}')
    with pytest.raises(ValueError, match="not JSON"):
        webhooks.event("aftership", b"\xff")


def _signed(source: str, body: bytes, secret: str) -> dict:
    if source == "aftership":
        return {"aftership-hmac-sha256": base64.b64encode(
            hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()}
    key = unicodedata.normalize("NFKD", secret).encode()
    return {"X-Hmac-Signature":
            "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()}


def _post(port: int, path: str, body: bytes, headers: dict) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode().strip()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode().strip()


@pytest.mark.slow
def test_the_receiver_keeps_each_signed_event_once_and_the_import_applies_it(
        cli, shipped, db_path):  # noqa: F811
    env = dict(os.environ, SPECO_RETURNS_DB=str(db_path), SPECO_RETURNS_TODAY=TODAY,
               SPECO_RETURNS_AGENT="webhook", SPECO_RETURNS_AFTERSHIP_WEBHOOK_SECRET="as-secret",
               SPECO_RETURNS_EASYPOST_WEBHOOK_SECRET="\ufb01-secret")
    proc = subprocess.Popen([*CLI, "deliveries", "serve", "--listen", "127.0.0.1:0"], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stderr.readline()
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", first).group(1))
        body = aftership_body()
        assert _post(port, "/aftership", body,
                     _signed("aftership", body, "as-secret")) == (200, "stored")
        assert _post(port, "/aftership", body,
                     _signed("aftership", body, "as-secret")) == (200, "duplicate")
        assert _post(port, "/aftership", body,
                     _signed("aftership", body, "wrong")) == (401, "signature does not match")
        bad = (b'{"event_id": "ev-9", "msg": {"tracking_number": "X", "tag": "Delivered", '
               b'"shipment_delivery_date": "soon"}}')
        assert _post(port, "/aftership", bad, _signed("aftership", bad, "as-secret"))[0] == 400
        ep = easypost_body("evt_7", status="return_to_sender")
        assert _post(port, "/easypost", ep, _signed("easypost", ep, "fi-secret")) == (200, "stored")
        assert _post(port, "/fedex", body, {})[0] == 404
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    # the receiver wrote nothing but the inbox
    assert show(cli, "RA-000001")["status"] == "replacement-shipped"
    doc = json.loads(ok(cli("deliveries", "import", "--inbox", "--json", today=TODAY)).stdout)
    results = {(r["file"], r["rows_by_line"][0]["result"]) for r in doc["inbox"]}
    assert results == {("aftership webhooks", "delivered"), ("easypost webhooks", "exception")}
    assert show(cli, "RA-000001")["due_on"] == "2026-12-05"
    again = json.loads(ok(cli("deliveries", "import", "--inbox", "--json", today=TODAY)).stdout)
    assert again == {"inbox": []}


def test_a_conflict_stays_in_the_inbox_until_a_supervisor_applies_it(
        cli, shipped, db_path, backend):  # noqa: F811
    """An event that meets a date an agent typed is listed as a conflict and kept, as is one no
    open return waits for: `deliveries import --inbox --force --reason` then applies it."""
    from speco_returns.db.database import open_database
    from speco_returns.services import webhooks as service

    ok(cli("deliver", "RA-000001", "--on", "2026-11-06", today=TODAY))
    unknown = aftership_body("ev-2").replace(TRACK.encode(), b"1Z0000000000000000")
    db = open_database(str(db_path) if backend == "postgres" else db_path)
    try:
        for body in (aftership_body("ev-1"), unknown):
            headers = {k.lower(): v for k, v in _signed("aftership", body, "as-secret").items()}
            assert service.receive(db, "aftership", body, headers, "as-secret",
                                   "2026-11-26T10:00:00+00:00") == (200, "stored")
    finally:
        db.close()

    def results(*args):
        doc = json.loads(ok(cli("deliveries", "import", "--inbox", "--json", *args,
                                today=TODAY)).stdout)
        return [r["result"] for report in doc["inbox"] for r in report["rows_by_line"]]

    assert results() == ["conflict", "unmatched"]
    assert results() == ["conflict", "unmatched"]  # both kept for the next run
    assert show(cli, "RA-000001")["due_on"] == "2026-12-06"
    assert results("--force", "--reason",
                   "K. Alvarez: the carrier's scan is right") == ["superseded", "unmatched"]
    assert show(cli, "RA-000001")["due_on"] == "2026-12-05"
    assert results() == ["unmatched"]


def test_an_event_holding_a_nul_is_refused_and_not_kept(
        cli, shipped, db_path, backend):  # noqa: F811
    """A server's text cannot hold U+0000: the sender is told 400 (not 503, retried for ever),
    and neither engine keeps it."""
    from speco_returns.db.database import open_database
    from speco_returns.services import webhooks as service

    body = aftership_body("ev-nul", tag="Exception", subtag="Exception_013").replace(
        b"Out for delivery", b"dam\\u0000aged")
    headers = {k.lower(): v for k, v in _signed("aftership", body, "as-secret").items()}
    db = open_database(str(db_path) if backend == "postgres" else db_path)
    try:
        code, word = service.receive(db, "aftership", body, headers, "as-secret",
                                     "2026-11-26T10:00:00+00:00")
        kept = db.scalar("SELECT count(*) FROM carrier_inbox")
    finally:
        db.close()
    assert (kept == 0
            and (code, word) == (400, "the event holds a NUL character (\\u0000): no text does"))
