"""Tracking aggregators' signed webhooks: `deliveries serve` receives them (the signature checked,
each event kept once in the inbox, nothing else written) and `deliveries import --inbox` applies
the inbox as a report's rows, through the same import.

The receiver is a plain HTTP server meant for 127.0.0.1 behind a reverse proxy that holds the
TLS certificate (docs/admin.md, "Carrier webhooks")."""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer

from ..db import inbox
from ..db.database import Database
from ..domain import webhooks
from ..domain.clock import Now
from ..errors import ReturnsError
from . import deliveries

# What stays in the inbox after a run: a parcel not yet recorded shipped, a date a person decides.
KEPT = ("unmatched", "conflict")


def receive(db: Database, source: str, body: bytes, headers: dict[str, str], secret: str,
            stamp: str) -> tuple[int, str]:
    """(HTTP status, a word for the sender): 200 stored or duplicate, 401 a signature that does not
    match, 400 an event the import could not apply, 503 the database busy (the sender retries)."""
    if len(body) > webhooks.MAX_BODY:
        return 413, "too large"
    if not webhooks.signed(source, body, headers, secret):
        return 401, "signature does not match"
    try:
        event = webhooks.event(source, body)
        webhooks.row(event, 0)
    except ValueError as e:
        return 400, str(e)
    try:
        with db.write():
            new = inbox.store(db, event, stamp)
    except ReturnsError:
        return 503, "database busy, try again"
    return 200, "stored" if new else "duplicate"


def apply_inbox(db: Database, now: Now, *, dry_run: bool = False, force_reason: str | None = None,
                zones=None) -> list[deliveries.Report]:
    """Every event kept and not yet applied, one import per aggregator (its rows numbered by
    their inbox id). An event no open return waits for stays in the inbox for the next run
    (the parcel may be recorded shipped after its first scan), and so does a conflict (a date an
    agent typed: a supervisor's run with `force_reason` applies it); the others are marked
    applied in the import's transaction."""
    with db.read():
        waiting = inbox.pending(db)
    reports = []
    for source in webhooks.SOURCES:
        kept = [w for w in waiting if w["source"] == source]
        if not kept:
            continue
        rows = [webhooks.row(webhooks.Event(source, w["event_id"], w["tracking"],
                                            tuple(json.loads(w["words"])), w["at"], w["detail"]),
                             w["id"], zones) for w in kept]

        def mark(db: Database, report: deliveries.Report) -> None:
            done = [o.line for o in report.outcomes if o.result not in KEPT]
            inbox.applied(db, done, now.stamp)

        reports.append(deliveries.import_rows(db, rows, f"{source} webhooks", source, now,
                                              dry_run=dry_run, force_reason=force_reason,
                                              after=mark))
    return reports


def serve(db: Database, secrets: dict[str, str], host: str, port: int, stamp: Callable[[], str],
          log: Callable[[str], None], ready: Callable[[tuple], None]) -> None:
    """Receive POST /aftership and POST /easypost (each only with its secret set) until stopped."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            source = self.path.split("?", 1)[0].strip("/")
            if source not in secrets:
                return self._answer(404, "no such receiver")
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                return self._answer(411, "length required")
            if length < 0 or length > webhooks.MAX_BODY:
                return self._answer(413, "too large")
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            code, word = receive(db, source, body, headers, secrets[source], stamp())
            self._answer(code, word, source)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(405, "POST only")

        def _answer(self, code: int, word: str, source: str = "-") -> None:
            data = (word + "\n").encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            log(f"{stamp()} {source} {code} {word}")

        def log_message(self, format, *args) -> None:  # noqa: A002 - ours logs each answer once
            pass

    server = HTTPServer((host, port), Handler)
    try:
        ready(server.server_address)
        server.serve_forever()
    finally:
        server.server_close()
