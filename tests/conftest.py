"""Every test gets its own database, agent and terminal width; nothing touches the user's files.

The database-touching modules in BOTH_BACKENDS run each test twice: on a SQLite file and on a
PostgreSQL database cloned from a migrated template on one server per session (SPECO_TEST_PG
names it, as .ci/run does; else one is started here). Without a server those runs skip, but
with CI set they fail: a broken setup cannot hide as skips.
"""

from __future__ import annotations

import itertools
import os

import pgserver
import pytest
import typer.testing
from clihelpers import cached_command
from pgserver import with_dbname
from typer.testing import CliRunner

from speco_returns.cli import app

BOTH_BACKENDS = {
    "test_cli_foundation", "test_cli_returns", "test_cli_advanced", "test_cli_export", "test_accounting",
    "test_store", "test_policy_gaps", "test_notify", "test_listing", "test_void", "test_agent_day", "test_readme_tour",
    "test_ser1_index", "test_doctor_engines", "test_hostile_views", "test_hostile_env", "test_doctor_sees", "test_shell_processes",
    "test_money", "test_card_numbers", "test_hostile_text", "test_deliveries", "test_webhooks", "test_anchors",
    "test_slip", "test_scan",
}
SERVER_ONLY = {"test_pg", "test_pg_processes", "test_pg_trust"}


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only(why): a test about SQLite itself (its files, pragmas, planner)")
    config.addinivalue_line("markers", "slow: starts real processes (the tool, a terminal, LibreOffice Calc, a server's "
                                       "clients): `pytest -m 'not slow'` runs the rest, CI runs all")


def pytest_generate_tests(metafunc):
    if "backend" not in metafunc.fixturenames or metafunc.definition.get_closest_marker("sqlite_only"):
        return
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if module in BOTH_BACKENDS:
        metafunc.parametrize("backend", ["sqlite", "postgres"], indirect=True)
    elif module in SERVER_ONLY:
        metafunc.parametrize("backend", ["postgres"], indirect=True)


@pytest.fixture
def backend(request) -> str:
    return getattr(request, "param", "sqlite")


def _unavailable(why: str):
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL tests cannot run: {why}")
    pytest.skip(f"PostgreSQL: {why}")


@pytest.fixture(scope="session")
def pg_admin():
    """(URL of the server's `postgres` database, a connection to it) for the whole session."""
    url, server = os.environ.get("SPECO_TEST_PG"), None
    if not url:
        why = pgserver.available()
        if why:
            _unavailable(why)
        server = pgserver.Server()
        try:
            url = server.start()
        except Exception as e:  # noqa: BLE001 - any reason a local server cannot start
            server.stop()
            _unavailable(f"cannot start a local server: {e}")
    import psycopg

    conn = psycopg.connect(url, autocommit=True)
    yield url, conn
    conn.close()
    if server is not None:
        server.stop()


_clones = itertools.count()


@pytest.fixture(scope="session")
def pg_template(pg_admin) -> str:
    """A database migrated once, cloned for each test (CREATE DATABASE ... TEMPLATE)."""
    from speco_returns.db.database import open_database

    url, conn = pg_admin
    name = f"speco_template_{os.getpid()}"
    conn.execute(f"DROP DATABASE IF EXISTS {name}")
    conn.execute(f"CREATE DATABASE {name}")
    open_database(with_dbname(url, name)).close()
    return name


@pytest.fixture
def pg_database(pg_admin, pg_template):
    """A fresh migrated database of its own: its URL."""
    url, conn = pg_admin
    name = f"speco_test_{os.getpid()}_{next(_clones)}"
    conn.execute(f"CREATE DATABASE {name} TEMPLATE {pg_template}")
    yield with_dbname(url, name)
    conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch, backend, request):
    target = request.getfixturevalue("pg_database") if backend == "postgres" else str(tmp_path / "returns.db")
    monkeypatch.setenv("SPECO_RETURNS_DB", target)
    monkeypatch.setenv("SPECO_RETURNS_AGENT", "tester")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("SPECO_RETURNS_TODAY", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


@pytest.fixture(autouse=True)
def _build_the_command_once(monkeypatch):
    monkeypatch.setattr(typer.testing, "_get_command", cached_command)


@pytest.fixture
def db_path(isolated, backend):
    """The test's database: a file's Path, or a server database's URL (str)."""
    return os.environ["SPECO_RETURNS_DB"] if backend == "postgres" else isolated / "returns.db"


@pytest.fixture
def cli():
    """cli("show", "RA-000001") -> Result; stdout and stderr kept apart."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, today: str | None = None):
        env = {"SPECO_RETURNS_TODAY": today} if today else None
        return runner.invoke(app, list(args), input=input, env=env)

    return invoke
