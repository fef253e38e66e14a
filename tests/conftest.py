"""Every test gets its own database, agent and terminal width; nothing touches the user's files."""

from __future__ import annotations

import pytest
import typer.testing
from clihelpers import cached_command
from typer.testing import CliRunner

from speco_returns.cli import app


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("SPECO_RETURNS_DB", str(tmp_path / "returns.db"))
    monkeypatch.setenv("SPECO_RETURNS_AGENT", "tester")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("SPECO_RETURNS_TODAY", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


@pytest.fixture(autouse=True)
def _build_the_command_once(monkeypatch):
    monkeypatch.setattr(typer.testing, "_get_command", cached_command)


@pytest.fixture
def db_path(isolated):
    return isolated / "returns.db"


@pytest.fixture
def cli():
    """cli("show", "RA-000001") -> Result; stdout and stderr kept apart."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, today: str | None = None):
        env = {"SPECO_RETURNS_TODAY": today} if today else None
        return runner.invoke(app, list(args), input=input, env=env)

    return invoke
