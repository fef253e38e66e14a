"""A real SMTP server for the notice tests: aiosmtpd on 127.0.0.1, in this process (its own
thread)."""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.policy import default

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def msg(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.raw, policy=default)


@dataclass
class Inbox:
    """The handler: keeps what arrives; refuses the addresses in `refuse`; `gate`, when set,
    holds each message (accepted, not yet answered) until the test opens it."""

    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    delay: float = 0.0
    gate: threading.Event | None = None
    arrived: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                      envelope.original_content or envelope.content))
        self.arrived.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.gate is not None:
            while not self.gate.is_set():
                await asyncio.sleep(0.02)
        return "250 2.0.0 accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def login(user: str, password: str):
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login.decode() == user and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False)

    return authenticator


def start(inbox: Inbox, **kwargs) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


@contextmanager
def listening(**kwargs) -> Iterator[Inbox]:
    """An inbox behind a server on 127.0.0.1 for the block, its port in `inbox.port`."""
    inbox = Inbox()
    controller = start(inbox, **kwargs)
    inbox.port = controller.port
    try:
        yield inbox
    finally:
        controller.stop()
