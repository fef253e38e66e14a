"""Every test gets its own database, agent and terminal width; nothing touches the user's files.

A test that uses the database (it asks for `backend`, or for a fixture built on it: `cli`,
`db_path`, `db`) runs twice, each time on a migrated database of its own: a copy of a SQLite
file migrated once, and a PostgreSQL database cloned from a migrated template on one server per
session (SPECO_TEST_PG names it, as .ci/run does; else one is started here). Nothing lists the
modules: a test about SQLite itself is marked `sqlite_only(why)`, one about what only a server
has `server_only(why)`, one that starts where no database is yet `first_run(why)` (SQLite, no
file), per test or for a module (`pytestmark`). Without a server the server runs skip, but with
CI set they fail: a broken setup cannot hide as skips.
"""

from __future__ import annotations

import itertools
import os
import queue
import shutil
import threading
from pathlib import Path

import pgserver
import pytest
import typer.testing
from clihelpers import cached_command
from pgserver import with_dbname
from typer.testing import CliRunner

from speco_returns.cli import app

ENGINES = {"sqlite_only": ["sqlite"], "server_only": ["postgres"], "first_run": ["sqlite"]}


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only(why): a test about SQLite itself (its files, pragmas, planner)")
    config.addinivalue_line("markers", "server_only(why): a test about what only a server has (logins, roles, URLs)")
    config.addinivalue_line("markers", "first_run(why): the test starts where no database is yet (SQLite: no file at "
                                       "db_path; a server's database is made by its admin)")
    config.addinivalue_line("markers", "slow: starts real processes (the tool, a terminal, LibreOffice Calc, a server's "
                                       "clients): `pytest -m 'not slow'` runs the rest, CI runs all")


def pytest_generate_tests(metafunc):
    """Both engines for every test that uses the database, but where a mark says one (and why)."""
    if "backend" not in metafunc.fixturenames:
        return
    engines = ["sqlite", "postgres"]
    for name, only in ENGINES.items():
        mark = metafunc.definition.get_closest_marker(name)
        if mark is not None:
            if not (mark.args and isinstance(mark.args[0], str) and mark.args[0].strip()):
                raise pytest.UsageError(f"{metafunc.definition.nodeid}: {name}(why) says why")
            engines = only
    metafunc.parametrize("backend", engines, indirect=True)


@pytest.fixture
def backend(request, isolated, monkeypatch) -> str:
    """The test's engine and a migrated database of its own: on SQLite a copy of a file migrated
    once (none under `first_run`), on "postgres" SPECO_RETURNS_DB names a clone of a template."""
    engine = getattr(request, "param", "sqlite")
    if engine == "postgres":
        monkeypatch.setenv("SPECO_RETURNS_DB", request.getfixturevalue("pg_database"))
    elif request.node.get_closest_marker("first_run") is None:
        shutil.copy(request.getfixturevalue("sqlite_template"), isolated / "returns.db")
    return engine


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
def pg_template(pg_admin):
    """A database migrated once, cloned for each test (CREATE DATABASE ... TEMPLATE)."""
    from speco_returns.db.database import open_database

    url, conn = pg_admin
    name = f"speco_template_{os.getpid()}"
    conn.execute(f"DROP DATABASE IF EXISTS {name}")
    conn.execute(f"CREATE DATABASE {name}")
    open_database(with_dbname(url, name)).close()
    yield name
    conn.execute(f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated once, copied for each test on SQLite (migrating costs ~50 times more)."""
    from speco_returns.db.database import open_database

    path = tmp_path_factory.mktemp("template") / "returns.db"
    open_database(path).close()
    return path


class _Clones:
    """Databases cloned from the template one test ahead, and dropped after, by a thread with a
    connection of its own: CREATE DATABASE is most of a server test's setup, and the server does
    it while this process runs the test before."""

    def __init__(self, url: str, template: str):
        self.url, self.template = url, template
        self.jobs: queue.Queue = queue.Queue()
        self.ready: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._work, name="pg-clones", daemon=True)
        self.thread.start()
        self.jobs.put(("create", self._name()))

    def _name(self) -> str:
        return f"speco_test_{os.getpid()}_{next(_clones)}"

    def _work(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            for kind, name in iter(self.jobs.get, None):
                try:
                    if kind == "create":
                        conn.execute(f"CREATE DATABASE {name} TEMPLATE {self.template}")
                        self.ready.put(name)
                    else:
                        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                except Exception as e:  # noqa: BLE001 - handed to the test that waits for it
                    if kind == "create":
                        self.ready.put(e)
            while not self.ready.empty():  # the one made ahead for a test that never came
                name = self.ready.get()
                if isinstance(name, str):
                    conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def take(self) -> str:
        self.jobs.put(("create", self._name()))  # the next test's, made while this one runs
        name = self.ready.get(timeout=300)
        if isinstance(name, Exception):
            raise name
        return name

    def drop(self, name: str) -> None:
        self.jobs.put(("drop", name))

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join(timeout=300)


@pytest.fixture(scope="session")
def pg_clones(pg_admin, pg_template):
    clones = _Clones(pg_admin[0], pg_template)
    yield clones
    clones.close()


@pytest.fixture
def pg_database(pg_admin, pg_clones):
    """A fresh migrated database of its own: its URL."""
    name = pg_clones.take()
    yield with_dbname(pg_admin[0], name)
    pg_clones.drop(name)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A SQLite file that is not there yet; the `backend` fixture points at a server instead."""
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
def db_path(isolated, backend):
    """The test's database: a file's Path, or a server database's URL (str)."""
    return os.environ["SPECO_RETURNS_DB"] if backend == "postgres" else isolated / "returns.db"


def _invoker():
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, today: str | None = None):
        env = {"SPECO_RETURNS_TODAY": today} if today else None
        return runner.invoke(app, list(args), input=input, env=env)

    return invoke


@pytest.fixture
def blank_db(backend, tmp_path, request):
    """Where an older tool is about to make a database, on the test's engine: a file's Path not
    there yet, or the URL of an empty server database (no migration applied)."""
    if backend == "sqlite":
        yield tmp_path / "older.db"
        return
    url, conn = request.getfixturevalue("pg_admin")
    name = f"speco_blank_{os.getpid()}_{next(_clones)}"
    conn.execute(f"CREATE DATABASE {name}")
    yield with_dbname(url, name)
    conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def db(backend, db_path):
    """The test's database, migrated, as a command opens it (speco_returns.db.database): on a
    server a clone of the migrated template, on SQLite a copy of the file migrated once."""
    from speco_returns.db.database import open_database

    database = open_database(db_path)
    yield database
    database.close()


@pytest.fixture
def cli(backend):
    """cli("show", "RA-000001") -> Result on the test's database; stdout and stderr kept apart."""
    return _invoker()


@pytest.fixture
def bare_cli():
    """The same, for a test that opens no database (help, usage): it runs once, on no engine."""
    return _invoker()
