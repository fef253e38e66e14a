"""Where notices go: an SMTP server (smtplib) or an outbox folder of .eml files.

Settings come from the environment (read by the CLI and passed in here):

    SPECO_RETURNS_SMTP           smtp://[user@]host[:port]   STARTTLS, required (port 587)
                                 smtps://[user@]host[:port]  implicit TLS (port 465)
                                 smtp://host:port?tls=off    no TLS: a relay on this machine only
    SPECO_RETURNS_SMTP_PASSWORD  the user's password (never printed)
    SPECO_RETURNS_MAIL_FROM      the From address, e.g. returns@speco.example
    SPECO_RETURNS_MAIL_BCC       optional: a copy of every notice, e.g. the support mailbox
    SPECO_RETURNS_RETURN_ADDRESS optional: where customers send units (shown in the notices)
    SPECO_RETURNS_MAIL_ATTACHMENTS  on (default) or off: the RA slip (PDF) on the `opened`
                                 notice of a type that ships to Speco; off for mail systems
                                 that strip attachments
    SPECO_RETURNS_SLIP_PAPER     letter (default) or a4: the slip's paper, attached or printed
    SPECO_RETURNS_SLIP_FONT      optional: a TrueType font for slip text Latin-1 lacks
    SPECO_RETURNS_MAIL_REPLY_TO  optional: the Reply-To address, e.g. support@speco.example
    SPECO_RETURNS_SUPPORT_PHONE  optional: the support phone in every notice's signature
    SPECO_RETURNS_SUPPORT_HOURS  optional: its hours, e.g. "Monday to Friday, 8 am to 5 pm ET"

Server certificates are checked against the system's trusted authorities (`SSL_CERT_FILE`
points elsewhere, as for any OpenSSL program).
"""

from __future__ import annotations

import ipaddress
import os
import re
import smtplib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .db.urls import shown as without_password
from .domain import inputs
from .domain.notices import Contact
from .errors import ReturnsError
from .files import write_whole

TIMEOUT_S = 30  # per SMTP command: a server that hangs fails the notice, never the night


@dataclass(frozen=True)
class Settings:
    url: str | None  # without the password
    scheme: str | None = None  # smtp | smtps
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = None
    tls: bool = True
    sender: str | None = None
    bcc: str | None = None
    contact: Contact = Contact()  # the return address, the support phone and hours, the Reply-To
    attachments: bool = True
    slip_paper: str = "letter"
    slip_font: str | None = None

    def __repr__(self) -> str:  # a settings object in a log or a traceback never shows the password
        return f"Settings(url={self.url!r}, sender={self.sender!r}, bcc={self.bcc!r})"

    @property
    def domain(self) -> str:
        return self.sender.rpartition("@")[2] if self.sender else "speco-returns.invalid"


def settings_from(env: Mapping[str, str]) -> Settings:
    """Parse the settings; a malformed one is ReturnsError (exit 1) naming the variable."""
    sender = _address(env, "SPECO_RETURNS_MAIL_FROM")
    bcc = _address(env, "SPECO_RETURNS_MAIL_BCC")
    address = (env.get("SPECO_RETURNS_RETURN_ADDRESS") or "").strip() or None
    # a postal address: lines of text, a line break between them
    for line in (address or "").split("\n"):
        inputs.refuse_control("SPECO_RETURNS_RETURN_ADDRESS", line)
    contact = Contact(return_address=address, phone=_phone(env, "SPECO_RETURNS_SUPPORT_PHONE"),
                      hours=inputs.clean_text("SPECO_RETURNS_SUPPORT_HOURS",
                                              env.get("SPECO_RETURNS_SUPPORT_HOURS")),
                      reply_to=_address(env, "SPECO_RETURNS_MAIL_REPLY_TO"))
    password = env.get("SPECO_RETURNS_SMTP_PASSWORD") or None
    if password:
        inputs.refuse_control("SPECO_RETURNS_SMTP_PASSWORD", password, secret=True)
    slip = _slip_settings(env)
    raw = (env.get("SPECO_RETURNS_SMTP") or "").strip()
    # a DEL in the host reached the resolver
    inputs.refuse_control("SPECO_RETURNS_SMTP", raw, shown=without_password(raw))
    if not raw:
        return Settings(url=None, sender=sender, bcc=bcc, contact=contact, password=password,
                        **slip)
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise ReturnsError("SPECO_RETURNS_SMTP is not a URL: "
                           "write smtp://user@host:587 or smtps://user@host:465") from None
    if (parts.scheme not in ("smtp", "smtps") or not parts.hostname
            or parts.path not in ("", "/")):
        raise ReturnsError("SPECO_RETURNS_SMTP is not a URL: "
                           "write smtp://user@host:587 or smtps://user@host:465")
    if parts.password is not None:
        raise ReturnsError("SPECO_RETURNS_SMTP holds a password: "
                           "put it in SPECO_RETURNS_SMTP_PASSWORD instead")
    query = parse_qs(parts.query)
    unknown = set(query) - {"tls"}
    tls_value = query.get("tls", ["on"])[-1].lower()
    if unknown or tls_value not in ("on", "off"):
        raise ReturnsError("SPECO_RETURNS_SMTP: the only option is ?tls=off "
                           "(a relay on this machine)")
    tls = tls_value == "on"
    if parts.scheme == "smtps" and not tls:
        raise ReturnsError("SPECO_RETURNS_SMTP: smtps:// is TLS; "
                           "use smtp://host:port?tls=off for a local relay")
    if not tls and not _loopback(parts.hostname):
        raise ReturnsError("SPECO_RETURNS_SMTP: ?tls=off only for a relay on this machine, "
                           f"not {parts.hostname}")
    user = unquote(parts.username) if parts.username else None
    if user and not password:
        raise ReturnsError(f"SPECO_RETURNS_SMTP names user {inputs.quote(user)} "
                           "but SPECO_RETURNS_SMTP_PASSWORD is not set")
    if password and not user:
        raise ReturnsError("SPECO_RETURNS_SMTP_PASSWORD is set "
                           "but SPECO_RETURNS_SMTP names no user (smtp://user@host)")
    shown = (f"{parts.scheme}://{parts.username + '@' if parts.username else ''}"
             f"{parts.hostname}:{port or ''}")
    return Settings(url=shown.rstrip(":"), scheme=parts.scheme, host=parts.hostname,
                    port=port or (465 if parts.scheme == "smtps" else 587), user=user,
                    password=password, tls=tls, sender=sender, bcc=bcc, contact=contact, **slip)


def _slip_settings(env: Mapping[str, str]) -> dict:
    """The RA slip's settings (attached or not, its paper, its font); a wrong value is
    ReturnsError."""
    found = {}
    for name, field, choices in (("SPECO_RETURNS_MAIL_ATTACHMENTS", "attachments",
                                  ("on", "off")),
                                 ("SPECO_RETURNS_SLIP_PAPER", "slip_paper", ("letter", "a4"))):
        value = (env.get(name) or "").strip().lower()
        if value and value not in choices:
            raise ReturnsError(f"{name} is '{inputs.quote(value)}': one of {', '.join(choices)}")
        if value:
            found[field] = value == "on" if field == "attachments" else value
    font = (env.get("SPECO_RETURNS_SLIP_FONT") or "").strip()
    if font:
        inputs.refuse_control("SPECO_RETURNS_SLIP_FONT", font)
        found["slip_font"] = font
    return found


def _address(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if not value or not value.strip():
        return None
    try:
        return inputs.parse_email(value)
    except ReturnsError:
        raise ReturnsError(f"{name} is not an e-mail address: "
                           "write it like returns@example.com") from None


_PHONE_SIGNS = set("0123456789+-.() /")
_EXTENSION = re.compile(r"\s*(?:x|ext\.?)\s*[0-9]{1,6}", re.IGNORECASE)


def _phone(env: Mapping[str, str], name: str) -> str | None:
    """A phone number as people write one: digits (7 to 15, as E.164 allows), the usual
    separators, `+` first for an international one, an extension `x123` or `ext. 123` last."""
    value = (env.get(name) or "").strip()
    if not value:
        return None
    inputs.refuse_control(name, value)
    number = (value[:m.start()] if (m := _EXTENSION.search(value)) and m.end() == len(value)
              else value)
    digits = sum(ch.isascii() and ch.isdigit() for ch in number)
    if not set(number) <= _PHONE_SIGNS or "+" in number[1:] or not 7 <= digits <= 15:
        raise ReturnsError(f"{name} is not a phone number: "
                           "write it like +1 800 555 0100 or (800) 555-0100 x12")
    return value


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def message_id(settings: Settings, ra: str) -> str:
    # a ticket's `:` would end the id
    return make_msgid(idstring=plain_key(ra), domain=settings.domain)


def plain_key(key: str) -> str:
    """An RA number or ticket as a file name and a Message-ID can carry it, one to one: ASCII
    letters, digits and `-` stay, every other character is `_` and its UTF-8 bytes in hex
    (`/` is `_2f`, `_` itself `_5f`), so two keys never come out the same."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch == "-")
                   else "".join(f"_{b:02x}" for b in ch.encode())
                   for ch in key)


class Failed(Exception):
    """One notice did not go out (a refused address, a dropped connection): tried next run."""


class Down(Failed):
    """The server cannot be reached or refuses us: no notice can go out this run."""


class Smtp:
    """One connection for the run, opened on the first notice, reopened once if it drops."""

    via = "smtp"

    def __init__(self, settings: Settings):
        self.s = settings
        self.conn: smtplib.SMTP | None = None

    def connect(self) -> None:
        if self.conn is not None:
            return
        s = self.s
        try:
            if s.scheme == "smtps":
                conn = smtplib.SMTP_SSL(s.host, s.port, timeout=TIMEOUT_S,
                                        context=ssl.create_default_context())
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=TIMEOUT_S)
            try:
                conn.ehlo()
                if s.scheme == "smtp" and s.tls:
                    if not conn.has_extn("starttls"):
                        raise Down(f"{s.url} does not offer STARTTLS: use smtps:// for a TLS port")
                    conn.starttls(context=ssl.create_default_context())
                    conn.ehlo()
                if s.user:
                    conn.login(s.user, s.password or "")
            except BaseException:
                conn.close()
                raise
        except smtplib.SMTPAuthenticationError as e:
            raise Down(f"{s.url} refused the login for {s.user} ({e.smtp_code})") from None
        except (OSError, smtplib.SMTPException) as e:
            # refused, unreachable, timed out, bad certificate
            raise Down(f"cannot reach the mail server {s.url}: {_reason(e)}") from None
        self.conn = conn

    def send(self, msg: EmailMessage, name: str) -> None:
        del name
        self.connect()
        try:
            # takes Bcc out of the message and sends to it too
            refused = self.conn.send_message(msg)
        except smtplib.SMTPRecipientsRefused as e:
            raise Failed(f"the server refused {', '.join(_refusals(e.recipients))}") from None
        except smtplib.SMTPServerDisconnected as e:
            self.conn = None  # the next notice reconnects
            raise Failed(f"the server closed the connection: {_reason(e)}") from None
        except smtplib.SMTPResponseException as e:
            raise Failed("the server refused the message: "
                         f"{e.smtp_code} {_text(e.smtp_error)}") from None
        except (OSError, smtplib.SMTPException) as e:
            self.conn = None
            raise Failed(f"sending failed: {_reason(e)}") from None
        to = msg["To"].addresses[0].addr_spec if msg["To"] else None
        if to in refused:
            raise Failed(f"the server refused {', '.join(_refusals({to: refused[to]}))}")

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self.conn = None


class Outbox:
    """Each notice as NAME.eml in a folder, written whole (for review or a pick-up service)."""

    via = "outbox"

    def __init__(self, folder: Path):
        self.folder = folder.expanduser()
        if not self.folder.is_dir():
            raise ReturnsError(f"--outbox {folder}: no such folder")

    def connect(self) -> None:
        pass

    def send(self, msg: EmailMessage, name: str) -> None:
        """Write NAME.eml whole. A file already there is replaced only when it is this very
        message (its Message-ID: a retry after a crash); any other is never overwritten, the
        notice fails."""
        path = self.folder / f"{name}.eml"
        taken = f"{path} exists and holds another message: move it away (it is never overwritten)"
        same = path.is_file() and _message_id(path) == msg["Message-ID"]
        if path.exists() and not same:
            raise Failed(taken)
        try:
            with write_whole(path, force=same) as tmp:
                with open(tmp, "wb") as handle:
                    handle.write(msg.as_bytes())
        except ReturnsError:  # written meanwhile by another program: still never overwritten
            raise Failed(taken) from None
        except OSError as e:
            raise Failed(f"cannot write {path}: {_reason(e)}") from None

    def close(self) -> None:
        pass


def _message_id(path: Path) -> str | None:
    from email.parser import BytesHeaderParser

    try:
        with open(path, "rb") as handle:
            return BytesHeaderParser().parse(handle)["Message-ID"]
    except (OSError, ValueError):
        return None


def _reason(e: BaseException) -> str:
    if isinstance(e, socket.timeout):
        return f"no answer within {TIMEOUT_S} s"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return _text(str(e)) or type(e).__name__


def _text(value) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())[:200]


def _refusals(recipients: Mapping) -> list[str]:
    return [f"{addr} ({code} {_text(text)})" for addr, (code, text) in recipients.items()]


def claimant() -> str:
    """Who holds a claim: this host and process (see notify.is_stale)."""
    return f"{socket.gethostname()}:{os.getpid()}"
