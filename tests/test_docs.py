"""Docs that cannot drift: every command has help and appears in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from speco_returns.cli import app

README = (Path(__file__).parent.parent / "README.md").read_text()


def _commands(typer_app: typer.Typer, prefix: str = "") -> list[tuple[str, object]]:
    found = []
    for info in typer_app.registered_commands:
        found.append((prefix + info.name, info.callback))
    for group in typer_app.registered_groups:
        found.extend(_commands(group.typer_instance, prefix + group.name + " "))
    return found


COMMANDS = _commands(app)


def test_every_spec_command_exists():
    names = {name for name, _ in COMMANDS}
    spec = {"policy", "check", "open", "serial add", "serial remove", "serial find", "show", "list", "link",
            "hold", "ship", "deliver", "unit-shipped", "receive", "charge", "complete", "cancel", "note",
            "overdue", "export ledger", "export returns", "catalog add", "catalog import", "catalog list",
            "backup", "doctor", "refund", "report", "export holds"}
    assert spec <= names


@pytest.mark.parametrize("name,callback", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_command_has_help_and_is_in_readme(name, callback):
    assert (callback.__doc__ or "").strip(), f"{name} has no help text"
    assert re.search(rf"(speco-returns |`){re.escape(name)}[ `]", README), f"{name} is not in the README"


def test_readme_set_up_commands():
    assert "python3 -m pip install . && speco-returns open" in README
    assert "python3 -m pip install -e '.[test]' && python3 -m pytest" in README


def test_help_lists_every_command(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for name, _ in COMMANDS:
        assert name.split()[0] in result.stdout
