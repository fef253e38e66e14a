"""Fault and finding codes: what the customer reports at `open` (a fault) and what Speco found
when it examined the unit (a finding). The lists are data (table `codes`): supervisors add and
retire codes; a retired code is refused for new records and stays readable where it was used.

A code is a short slug: lowercase ASCII letters and digits in words joined by single hyphens
(`no-video`), the first a letter. What a person types is read case-blind, with spaces and
underscores taken for hyphens (`No Video` is `no-video`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from ..errors import ReturnsError
from . import inputs

KINDS = ("fault", "finding")
MAX_LENGTH = 32
MAX_TITLE = 60
NO_FAULT_FOUND = "no-fault-found"

# The codes the tool ships with (migration m020 seeds them): (code, title) per kind.
SEED: dict[str, tuple[tuple[str, str], ...]] = {
    "fault": (
        ("no-video", "No video"),
        ("no-power", "No power"),
        ("ir-night", "IR / night vision"),
        ("network", "Network or connection"),
        ("ptz-motion", "PTZ motion"),
        ("recording", "Recording"),
        ("physical-damage", "Physical damage"),
        ("other", "Other"),
    ),
    "finding": (
        ("hardware-fault", "Hardware fault"),
        ("no-fault-found", "No fault found"),
        ("configuration", "Configuration"),
        ("physical-damage", "Physical damage"),
        ("missing-parts", "Missing parts"),
    ),
}

# The events whose detail may carry a finding: `receive --finding` and `finding`.
FINDING_EVENTS = ("receive", "finding")


def parse_kind(text: str) -> str:
    kind = (text or "").strip().lower()
    if kind in ("faults", "findings"):
        kind = kind[:-1]
    if kind not in KINDS:
        raise ReturnsError(f"unknown kind of code '{inputs.quote(text)}': fault or finding")
    return kind


def _is_word_char(ch: str) -> bool:
    return ch.isascii() and (ch.isdigit() or ch.islower())


def parse_code(text: str, kind: str) -> str:
    """A code as stored, from what a person typed (its shape only: whether the list holds it
    is the database's question)."""
    inputs.require_utf8(f"{kind} code", text or "")
    code = "-".join((text or "").strip().lower().replace("_", " ").replace("-", " ").split())
    words = code.split("-")
    if (not code or len(code) > MAX_LENGTH or not code[0].isascii() or not code[0].isalpha()
            or not all(w and all(_is_word_char(c) for c in w) for w in words)):
        raise ReturnsError(f"{kind} code '{inputs.quote(text or '')}' is not a code: lowercase letters and digits "
                           f"in words joined by hyphens, starting with a letter, at most {MAX_LENGTH} characters "
                           "(e.g. no-video)")
    return code


def parse_title(text: str | None, code: str) -> str:
    """A code's title (default: the code's words, the first capitalised)."""
    title = inputs.clean_text("title", text) if text is not None else None
    if not title:
        title = code.replace("-", " ").capitalize()
    if len(title) > MAX_TITLE:
        raise ReturnsError(f"the title is {len(title)} characters long: at most {MAX_TITLE}")
    return title


def finding_of(event: Mapping) -> str | None:
    """The finding an event of the history records, if any."""
    if event["event"] not in FINDING_EVENTS or not event["detail"]:
        return None
    detail = event["detail"]
    return (json.loads(detail) if isinstance(detail, str) else dict(detail)).get("finding")


def current_finding(events: Sequence[Mapping]) -> tuple[str | None, str | None]:
    """(finding, its date) as the events in force say: the latest one recorded since the unit's
    `receive` in force. `events` are lifecycle.effective()'s: a voided `receive` takes with it
    its own finding and those recorded after it (a finding needs the unit in)."""
    current: tuple[str | None, str | None] = (None, None)
    received = False  # a finding recorded while a receive was in force that is now voided has none before it
    for e in events:
        if e["event"] == "receive":
            received, current = True, (None, None)
        found = finding_of(e)
        if found and received:
            current = (found, e["happened_on"])
    return current
